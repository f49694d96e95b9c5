"""Every user-editable file the build reads, checked BEFORE the job that would replace an
output starts.

Snakemake deletes a job's old outputs before the job runs (and again when it fails), so a
job that only then finds its input bad has already cost the last good result. The input
functions in rules/common.smk therefore ask `problem()` about each file a job reads; a bad
file adds a `check_input` job for it to that job's inputs (like a closed gate's barrier).
That job fails with the one clear message naming the file, the field and the fix, and the
job that would have replaced the output never starts. Answers are memoised by path, size and
mtime, so asking once per planned job costs one read per file version.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from .. import gates
from ..base.io import InputError, load_model, parse_model, read_json, read_text_checked
from ..base.models import (
    BGMConfig,
    Lore,
    Notes,
    Outline,
    ShotSpec,
    ShotState,
    Storyboard,
    TakeRequest,
)
from ..base.paths import EpisodePaths, PathError, check_entity_name, parse_scene_file
from ..base.project import KIND_CARDS, load_manifest, media_path, split_front_matter
from ..base.scenefmt import parse_scene_md
from ..media.sound import SoundError, list_bgm_tracks, resolve_bgm_track
from ..render import unreadable_state
from ..roles import scene_name_problems
from ..storyboard import load_fragments

FIX = "fix or restore the file, then run the build again (nothing was replaced)"
CARDS = {name for names in KIND_CARDS.values() for name in names}


def _front_matter_file(model: type | None) -> Callable[[EpisodePaths, Path], None]:
    def check(paths: EpisodePaths, path: Path) -> None:
        data, _ = split_front_matter(path, read_text_checked(path))
        if model is not None:
            parse_model(model, {"title": paths.project, **data}, path)
    return check


def _text(paths: EpisodePaths, path: Path) -> None:
    read_text_checked(path)


def _model(model: type) -> Callable[[EpisodePaths, Path], None]:
    def check(paths: EpisodePaths, path: Path) -> None:
        got = gates.read_model(model, path)  # the read the gates use too
        if isinstance(got, InputError):
            raise got
    return check


def _line_of(text: str, *needles: str) -> int:
    """The 1-based line of `text` holding the first of `needles` found (1 when none is)."""
    lines = text.splitlines()
    for needle in needles:
        for i, line in enumerate(lines, 1):
            if needle and needle in line:
                return i
    return 1


def _scene_md(paths: EpisodePaths, path: Path) -> None:
    """A scene's markdown, as script.md is compiled from it: not empty, in the scene format
    (scenefmt), its speakers in the cast. The message gives the line and what is wrong."""
    text = read_text_checked(path)
    if not text.strip():
        raise InputError(path, "line 1: the scene is empty; restore it or rewrite it with "
                         "uv run spark-video revise script --scene N --note \"...\"")
    try:
        scene = parse_scene_md(text, path)
    except InputError as e:
        quoted = re.findall(r"'([^']+)'", e.detail)
        where = _line_of(text, *quoted) if "cannot read line" in e.detail else (
            _line_of(text, "**" + e.detail.split(":")[0].removeprefix("field ")) if
            e.detail.startswith("field ") else 1)
        raise InputError(path, f"line {where}: {e.detail}") from None
    problems = scene_name_problems(scene, load_manifest(paths, "cast"))
    if problems:
        name = re.search(r"'([^']+)'", problems[0])
        who = name.group(1) if name else ""
        raise InputError(path, f"line {_line_of(text, f'{who}:', who)}: {problems[0]}")


def _bgm_config(paths: EpisodePaths, path: Path) -> None:
    """bgm-config.json: its fields (volume 0-1, fades 0-10 s) and a track inside bgm/."""
    cfg = load_model(BGMConfig, path)
    if cfg.track and cfg.enabled and cfg.mode != "off":
        try:
            resolve_bgm_track(paths, cfg.track)
        except SoundError as e:
            found = ", ".join(sorted(list_bgm_tracks(paths))) or "none"
            raise InputError(path, f"field track: {e}; name a track of "
                             f"{paths.project_paths.bgm_dir} or {paths.bgm_dir} "
                             f"(found: {found})") from None


def _shot_state(paths: EpisodePaths, path: Path) -> None:
    got = gates.read_model(ShotState, path)  # the read GATE 3 uses too (failed_shots)
    if isinstance(got, InputError):  # its message gives the command that rebuilds it
        raise unreadable_state(paths, path.stem, got)


def _scene_json(paths: EpisodePaths, path: Path) -> None:
    # every scene file together: a shot id may be duplicated across two of them
    scenes_problem(paths, paths.scene_files("json"), raise_it=True)


def _shot_spec(paths: EpisodePaths, path: Path) -> None:
    spec = load_model(ShotSpec, path)
    for m in spec.media:
        media_path(paths, m, source=path)


def _entity_folder(paths: EpisodePaths, path: Path) -> None:
    try:
        check_entity_name(path.name)
    except PathError as e:
        raise InputError(path, f"folder name: {e}") from None


def _json_object(paths: EpisodePaths, path: Path) -> None:
    if not isinstance(read_json(path), dict):
        raise InputError(path, "field (root): must be a JSON object")


def _inside_project(paths: EpisodePaths, path: Path) -> None:
    """A symlink must resolve to an existing file inside the project folder."""
    if not path.is_symlink():
        return
    root = paths.project_paths.root.resolve()
    target = path.resolve()
    if not target.exists():
        raise InputError(path, f"is a symlink to {os.readlink(path)}, which does not exist")
    if not target.is_relative_to(root):
        raise InputError(path, f"is a symlink to {target}, outside the project {root}: "
                         "copy the file into the project instead")


# the episode's per-shot folders and their files' check. The build asks for several files of
# every shot, so checker() answers these from the folder's name first; the chain after it
# builds a dozen paths per call. A file named like one the chain decides earlier by name
# (NAMED) goes through the chain.
ITEM_FOLDERS: dict[str, Callable[[EpisodePaths, Path], None]] = {
    "shots": _shot_spec, "state": _shot_state, "takes": _model(TakeRequest),
    "notes": _model(Notes)}
NAMED = CARDS | {"premise.md", "bgm-config.json"}


def checker(paths: EpisodePaths, path: Path) -> Callable[[EpisodePaths, Path], None] | None:
    """The check for one file, chosen by where it lives and what it is called."""
    name = path.name
    if path.is_dir():
        return _entity_folder
    parent = path.parent
    item = ITEM_FOLDERS.get(parent.name)
    if item is not None and name not in NAMED and parent.parent == paths.root and (
            parent.name != "state" or path.suffix == ".json"):
        return item
    if path == paths.project_paths.lore:
        return _front_matter_file(Lore)
    if name == "premise.md":
        return _text
    if name in CARDS:
        return _front_matter_file(None)
    if name == "bgm-config.json":
        return _bgm_config
    if path == paths.outline:
        return _model(Outline)
    if path == paths.storyboard:
        return _model(Storyboard)
    if path.parent == paths.scenes_dir and (parsed := parse_scene_file(name)):
        return _scene_md if parsed[1] == "md" else _scene_json
    if path.parent == paths.root / "shots":
        return _shot_spec
    if path.parent == paths.root / "state" and path.suffix == ".json":
        return _shot_state
    if path.parent == paths.root / "takes":
        return _model(TakeRequest)
    if path.parent == paths.root / "notes":
        return _model(Notes)
    if path.suffix == ".json":
        return _json_object
    if path.suffix in (".md", ".txt"):
        return _text
    return None


def check(paths: EpisodePaths, path: Path) -> None:
    """Raise InputError (naming the file, the field and the fix) when `path` is bad."""
    path = Path(path)
    fn = checker(paths, path)
    if fn is None or not (path.exists() or path.is_symlink()):
        return
    try:
        _inside_project(paths, path)
        fn(paths, path)
    except InputError as e:
        raise InputError(e.path or path, f"{e.detail}; {FIX}") from None
    except PathError as e:
        raise InputError(path, f"{e}; {FIX}") from None
    except (OSError, ValueError) as e:  # unreadable, a dangling symlink, a broken model
        raise InputError(path, f"cannot be read ({e}); {FIX}") from None


_memo: dict[tuple[str, int, int], str | None] = {}


def problem(paths: EpisodePaths, path: Path) -> str | None:
    """The message `check()` would raise for `path` (None: fine or absent), memoised."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        if not path.is_symlink():
            return None
        st = path.lstat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _memo:
        try:
            check(paths, path)
            _memo[key] = None
        except InputError as e:
            _memo[key] = str(e)
    return _memo[key]


_scenes_memo: dict[tuple, tuple[Path, str] | None] = {}


def scenes_problem(paths: EpisodePaths, files: list[Path], *,
                   raise_it: bool = False) -> tuple[Path, str] | None:
    """The first bad scene-NN.json among `files` (checked together: the storyboard is
    compiled from all of them), as (file, message); memoised by every file's size and mtime."""
    files = [Path(f) for f in files if Path(f).exists()]
    key = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if raise_it or key not in _scenes_memo:
        try:
            if files:
                load_fragments(paths, files)
            _scenes_memo[key] = None
        except InputError as e:
            if raise_it:
                raise
            _scenes_memo[key] = (e.path or files[0], f"{e}; {FIX}")
    return _scenes_memo[key]


def token_name(paths: EpisodePaths, path: Path) -> str:
    """The `check_input` job's name for a file: its path inside the project folder."""
    return str(Path(path).relative_to(paths.project_paths.root))


def source_of(paths: EpisodePaths, name: str) -> Path:
    return paths.project_paths.root / name
