"""A person's words are never overwritten: the build's record of what it wrote.

Every job that writes one of the episode's written files (the outline, the scenes, the
script, the direction, the shot lists, the storyboard and its per-shot specs
`shots/<id>.json`: `is_guarded`) records the content it wrote (sha256, size, mtime) in
`.written/<path>.json` beside the episode's files, one record per file (parallel jobs never
share one). Comparing a file with its record tells who wrote
what is there now:

- `build`: the build's own output, unchanged since; regenerated freely;
- `edited`: the build wrote it, a person changed it since;
- `person`: the build never wrote it (hand-written, or brought by `spark-video import`).

Two rules follow, for plain `snakemake` as for the CLI (the Snakefile calls `keep_pass`
before Snakemake plans anything, and the job rules ask `is_persons`):

- Files the build never wrote are inputs, not outputs: the inputs of the job that would make
  an `AUTHORED` file (outline, scene markdown, direction, shot list) are `ancient()` while
  the file on disk is a person's, so it is kept and used. A producer's note (`revise`) is
  still an input: asking for a rewrite rewrites. With hand-written scenes and no outline,
  the outline is derived from the scenes (`derive_outline`), never written by a model.
- Before any job replaces a person's version of a file (edited, or never written by the
  build), the version is in history/: Snakemake deletes a job's outputs right before the
  job runs, so the pass run before the DAG copies every such version, once per content, into
  history/<time>-yours/ and names it (the record notes the copy); the job that then replaces
  it names it again, and its new record forgets the copy. The shot specs are no rule's
  output (Snakemake never deletes them) and there may be thousands: the storyboard job
  itself keeps a person's version just before it replaces one (`keep_replaced`).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path

from .. import gates
from ..base.io import InputError, atomic_write_json, sha256_file
from ..base.models import Outline, OutlineScene
from ..base.paths import EpisodePaths, parse_scene_file
from ..base.project import KIND_DIRS, cast_entities, load_premise
from ..base.scenefmt import parse_scene_md
from ..gates.revisions import keep_history

RECORDS = ".written"
HISTORY_LABEL = "yours"
# the files a model writes: a person's version of one is an input of the build
AUTHORED_NAMES = ("outline.json", "direction.json")
# the files the build compiles from the others: a person's version goes to history/ first
COMPILED_NAMES = ("script.md", "storyboard.json")
SHOTS_DIR = "shots"  # shots/<id>.json: compiled by the storyboard step (`keep_replaced`)
SAME_COMPILE_NS = 5_000_000_000  # a spec written within 5 s after storyboard.json: that compile
# the image the portrait rule makes for a cast/set/prop folder with none (rules/cast.smk); it
# lives in the project (both tiers), so its record is the project's: <project>/.written/
PORTRAIT = "portrait.png"


def guarded(paths: EpisodePaths) -> list[Path]:
    """The episode's written files that exist now, and the portraits of its cast, sets and
    props (project and episode tiers)."""
    out = [paths.root / n for n in (*AUTHORED_NAMES, *COMPILED_NAMES)]
    out += paths.scene_files("md") + paths.scene_files("json")
    out += [f / PORTRAIT for kind in KIND_DIRS for f in cast_entities(paths, kind)]
    return [p for p in out if p.is_file()]


def _relative(root: Path, f: Path) -> Path | None:
    """`f` relative to `root`, or None when it is outside: as given, then both absolute,
    then with symlinks resolved (once per pair and process: the input functions ask this
    for the same files many times, and resolve() is a syscall per path component)."""
    return _relative_str(str(root), str(f))


@functools.lru_cache(maxsize=65536)
def _relative_str(root: str, f: str) -> Path | None:
    for r, p in ((root, f), (os.path.abspath(root), os.path.abspath(f))):
        try:
            return Path(p).relative_to(r)
        except ValueError:
            continue
    try:
        return Path(f).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None


def _rel(paths: EpisodePaths, f: Path) -> Path | None:
    return _relative(paths.root, Path(f))


def _project_rel(paths: EpisodePaths, f: Path) -> Path | None:
    return _relative(paths.project_paths.root, Path(f))


def is_portrait(paths: EpisodePaths, f: Path) -> bool:
    """<project>/[episode-X/]{cast,movie-set,props}/<name>/portrait.png."""
    rel = _project_rel(paths, f)
    if rel is None or rel.name != PORTRAIT:
        return False
    parts = rel.parts
    if len(parts) == 4 and parts[0].startswith("episode-"):
        parts = parts[1:]
    return len(parts) == 3 and parts[0] in KIND_DIRS.values() and not parts[1].startswith(".")


def _label(paths: EpisodePaths, f: Path) -> Path:
    """How a line names the file: from the episode, or (a project portrait) the project."""
    rel = _rel(paths, f)
    if rel is not None:
        return rel
    prel = _project_rel(paths, f)
    return Path(paths.project_paths.project) / prel if prel is not None else Path(f)


def is_guarded(paths: EpisodePaths, f: Path) -> bool:
    if is_portrait(paths, f):
        return True
    rel = _rel(paths, f)
    if rel is None:
        return False
    if rel.as_posix() in (*AUTHORED_NAMES, *COMPILED_NAMES):
        return True
    return (rel.parent.as_posix() == "scenes" and parse_scene_file(rel.name) is not None) \
        or is_shot_spec(paths, f)


def is_shot_spec(paths: EpisodePaths, f: Path) -> bool:
    """shots/<id>.json, the per-shot spec the storyboard step compiles (a guarded file that
    the pass does not scan: see `keep_replaced`)."""
    rel = _rel(paths, f)
    return rel is not None and rel.parent.as_posix() == SHOTS_DIR and rel.suffix == ".json" \
        and not rel.name.startswith(".")


def is_authored(paths: EpisodePaths, f: Path) -> bool:
    """A guarded file a job makes from nothing a person wrote there (a model's text, a
    placeholder portrait): a person's version of it is an input."""
    if is_portrait(paths, f):
        return True
    rel = _rel(paths, f)
    return rel is not None and is_guarded(paths, f) and rel.as_posix() not in COMPILED_NAMES \
        and not is_shot_spec(paths, f)


def record_path(paths: EpisodePaths, f: Path) -> Path:
    if is_portrait(paths, f):
        return paths.project_paths.root / RECORDS / f"{_project_rel(paths, f).as_posix()}.json"
    rel = _rel(paths, f)
    if rel is None:
        raise ValueError(f"{f} is not in the episode folder {paths.root}")
    return paths.root / RECORDS / f"{rel.as_posix()}.json"


def _read_record(paths: EpisodePaths, f: Path) -> dict:
    try:
        data = json.loads(record_path(paths, f).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(paths: EpisodePaths, files: list[Path]) -> list[Path]:
    """The build wrote these files (a job's outputs, the import's compiled script): their
    content is the build's from now on (a person's version the pass kept is forgotten: it
    is in history/). Files outside `GUARDED` are ignored."""
    done = []
    for f in map(Path, files):
        if not f.is_file() or not is_guarded(paths, f):
            continue
        st = f.stat()
        atomic_write_json(record_path(paths, f), {"sha256": sha256_file(f), "size": st.st_size,
                                                  "mtime_ns": st.st_mtime_ns})
        done.append(f)
    return done


def who_wrote(paths: EpisodePaths, f: Path) -> str:
    """'absent', 'build', 'edited' or 'person' (see the module's docstring). A stat and a
    small read when the file is as the build left it; a hash only when its date moved."""
    f = Path(f)
    try:
        st = f.stat()
    except FileNotFoundError:
        return "absent"
    rec = _read_record(paths, f)
    if not rec.get("sha256"):
        return "person"
    if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
        return "build"
    if rec.get("size") == st.st_size and rec["sha256"] == sha256_file(f):
        return "build"
    return "edited"


def is_persons(paths: EpisodePaths, output: Path) -> bool:
    """The output a job would make is a file the build never wrote, of a kind a model
    writes: the job's inputs are ancient() and the file is used as it is. A portrait a
    person put in place of the build's placeholder is theirs too, for good (a placeholder is
    made only where there is no image; a card edited later does not bring it back)."""
    if not is_authored(paths, output):
        return False
    state = who_wrote(paths, output)
    return state == "person" or (state == "edited" and is_portrait(paths, output))


def keep_pass(paths: EpisodePaths, cfg_mode: str = "drama",
              built: Callable[[Path], bool] | None = None) -> list[str]:
    """Run before the build plans anything (rules/common.smk). Returns the lines to show.

    - A guarded file with no record that Snakemake's own metadata says a job made (an
      episode built before this record existed: `built`) is adopted as the build's.
    - Every person's version of a guarded file (edited, or never written by the build and
      compiled from the others) is copied into history/<time>-yours/, once per content.
    - Hand-written scenes and no outline.json: the outline is derived from the scenes."""
    if not paths.root.is_dir():
        return []
    lines: list[str] = []
    todo: list[Path] = []
    states: dict[Path, str] = {}
    for f in guarded(paths):
        state = who_wrote(paths, f)
        if state == "person" and built is not None and built(f):
            record(paths, [f])
            state = "build"
        states[f] = state
        if state == "edited" or (state == "person" and not is_authored(paths, f)):
            todo.append(f)
    recs = {f: _read_record(paths, f) for f in todo}
    shas = {f: sha256_file(f) for f in todo}
    new = [f for f in todo if recs[f].get("kept") != shas[f]]
    copies = _keep(paths, new)
    if copies:
        for f in new:
            copy = copies[f]
            atomic_write_json(record_path(paths, f), {**recs[f], "kept": shas[f],
                                                      "kept_in": str(copy)})
            why = ("edited since the build wrote it" if states[f] == "edited"
                   else "the build never wrote it")
            lines.append(f"{_label(paths, f)}: your version ({why}) is kept in {copy} before "
                         "any job replaces it")
    line = derive_outline_if_missing(paths, cfg_mode)
    if line:
        lines.append(line)
    return lines


def keep_replaced(paths: EpisodePaths, files: list[Path]) -> list[str]:
    """For a job about to replace `files` itself (the storyboard step rewriting the shot
    specs whose content changes; Snakemake never deletes them, they are no rule's output,
    so the pass, which runs before every plan, need not scan thousands of them): each
    person's version among them is copied into history/<time>-yours/ first, and named.

    A person's version: edited since the build recorded it, or a spec with no record dated
    after the last compile (the build rewrites storyboard.json at every compile and its
    changed specs just after it, so a spec with no record dated no later than that is the
    build's, from before the specs had a record; a person's edit still in place now was made
    after the last compile, or that compile would have replaced it)."""
    sb = paths.storyboard
    try:
        sb_ns = sb.stat().st_mtime_ns
    except FileNotFoundError:
        sb_ns = None
    todo: list[tuple[Path, str]] = []
    for f in map(Path, files):
        state = who_wrote(paths, f)
        if state == "person" and is_shot_spec(paths, f) and sb_ns is not None \
                and f.stat().st_mtime_ns <= sb_ns + SAME_COMPILE_NS:
            continue
        if state in ("edited", "person"):
            todo.append((f, "edited since the build wrote it" if state == "edited"
                         else "the build never wrote it"))
    copies = _keep(paths, [f for f, _ in todo])
    return [f"{_label(paths, f)}: your version ({why}) is kept in {copies[f]}; the build "
            "replaces it" for f, why in todo if f in copies]


def _history_rel(paths: EpisodePaths, f: Path) -> Path:
    """Where a kept version goes in history/<time>-yours/: an episode file at its path in the
    episode, a project portrait under project/."""
    rel = _rel(paths, f)
    return rel if rel is not None else Path("project") / _project_rel(paths, f)


def _keep(paths: EpisodePaths, files: list[Path]) -> dict[Path, Path]:
    """Copy these versions into history/<UTC time>-yours/; returns each one's copy."""
    dest = keep_history(paths, HISTORY_LABEL, files, rel=lambda f: _history_rel(paths, f))
    return {} if dest is None else {f: dest / _history_rel(paths, f) for f in files
                                    if f.is_file()}


def replaced_lines(paths: EpisodePaths, outputs: list[Path]) -> list[str]:
    """For a job about to write `outputs` (Snakemake has just deleted them): the person's
    versions among them the pass kept in history/, named so the user sees what was
    replaced and where it is."""
    out = []
    for f in map(Path, outputs):
        if not is_guarded(paths, f):
            continue
        rec = _read_record(paths, f)
        if rec.get("kept") and rec.get("kept_in"):
            out.append(f"{_label(paths, f)}: the build replaces your version; it is kept in "
                       f"{rec['kept_in']}")
    return out


def derive_outline(paths: EpisodePaths, mode: str, premise: str) -> Outline | None:
    """outline.json from the scene files (their headings and fields), marked imported; None
    when there is no scene file. Raises InputError when a scene cannot be read."""
    scenes = []
    for md in paths.scene_files("md"):
        s = parse_scene_md(md.read_text(encoding="utf-8"), md)
        scenes.append(OutlineScene(num=s.num, id=f"S{s.num:02d}",
                                   title=s.location or f"Scene {s.num}", location=s.location,
                                   time_of_day=s.time_of_day, summary=s.backstory or "(imported)",
                                   characters=s.characters,
                                   target_duration_s=max(2, s.estimated_duration or 30)))
    if not scenes:
        return None
    o = Outline(project=paths.project, episode=paths.episode, mode=mode,
                title=f"{paths.project} (imported)", premise=premise or "(imported)",
                target_duration_s=sum(s.target_duration_s for s in scenes), scenes=scenes)
    atomic_write_json(paths.outline, o)
    return o


def derive_outline_if_missing(paths: EpisodePaths, cfg_mode: str) -> str | None:
    """No outline.json, and scene files a person wrote: the outline is derived from them
    (dated before them, so nothing downstream is rebuilt for it) instead of a model writing
    one whose scenes would replace theirs. A scene that cannot be read leaves the outline to
    the build (its check job names the file)."""
    mds = paths.scene_files("md")
    if paths.outline.exists() or not mds or not any(
            who_wrote(paths, f) == "person" for f in mds):
        return None
    try:
        premise = load_premise(paths)
    except InputError:
        premise = ""
    try:
        o = derive_outline(paths, gates.episode_mode(paths, cfg_mode), premise)
    except (InputError, ValueError):
        return None
    if o is None:
        return None
    t = min(f.stat().st_mtime_ns for f in mds) - 1_000_000_000
    os.utime(paths.outline, ns=(t, t))
    return (f"{paths.outline}: derived from your {len(o.scenes)} scene file(s) (they are kept "
            "and used as written)")


def snakemake_made(workdir: Path) -> Callable[[Path], bool]:
    """Whether Snakemake holds a metadata record for a file (an episode built before this
    record existed): its file-backed store keeps one file per output, named by the output's
    path as the rule gave it (`.snakemake/metadata/<urlsafe base64 of the path>`)."""
    meta = Path(workdir) / ".snakemake" / "metadata"

    def made(f: Path) -> bool:
        name = base64.urlsafe_b64encode(str(f).encode()).decode()
        return len(name) < 250 and (meta / name).is_file()

    return made
