# Paths, config validation and every input function (the flat checkpoint shape of
# docs/snakemake-checkpoints.md: per-scene steps are plain rules, each consumer calls exactly
# one checkpoint get()).
import json
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from spark_video import gates as sv_gates  # noqa: E402
from spark_video import frozen as sv_frozen  # noqa: E402
from spark_video import inputcheck as sv_inputcheck  # noqa: E402
from spark_video import written as sv_written  # noqa: E402
from spark_video.paths import EpisodePaths  # noqa: E402
from spark_video.paths import workdir_relative as sv_workdir_relative  # noqa: E402
from spark_video.project import media_path  # noqa: E402
from spark_video.providers.base import secrets_needed  # noqa: E402
from spark_video.settings import resolve  # noqa: E402
from spark_video.storyboard import chain_groups as sv_chain_groups  # noqa: E402
from spark_video.storyboard import load_storyboard  # noqa: E402


def _config():
    """The merged config (file, --config, environment) as one model; a bad value stops the
    run with one line naming the field, before Snakemake plans anything."""
    from spark_video.io import InputError

    try:
        cfg = resolve(config)
    except InputError as e:
        print(f"invalid configuration: {e.detail} (set in config/config.yaml, --config or a "
              "SPARK_VIDEO_* variable); fix it and run again", file=sys.stderr)
        sys.exit(1)
    validate(config, schema="../schemas/config.schema.json")
    return cfg


CFG = _config()


def workdir_relative(path):
    """Paths under the working directory are written relative to it, so rule outputs and
    logs are clean relative paths whether projects_dir was given relative or absolute."""
    return sv_workdir_relative(path, Path.cwd())


try:
    EP = EpisodePaths.of(CFG.project, CFG.episode, root=workdir_relative(CFG.projects_dir))
except ValueError as e:  # paths.PathError: a project or episode name that is not a safe folder
    print(f"invalid configuration: {e} (--config project=... episode=...)", file=sys.stderr)
    sys.exit(1)
if workflow.storage_settings.default_storage_provider is None and \
        not EP.project_paths.root.is_dir():  # (with remote storage the project is in the bucket)
    print(f"no project '{CFG.project}' in {Path(CFG.projects_dir).resolve()}: projects_dir "
          f"(config/config.yaml, --config projects_dir=DIR or VIDEOGEN_PROJECTS_DIR) is "
          f"relative to the working directory {Path.cwd()}. Run from the repository, add "
          "--directory REPO, or point projects_dir at the folder holding the project "
          f"(a new one: spark-video new {CFG.project} --premise TEXT)", file=sys.stderr)
    sys.exit(1)
SECRETS = secrets_needed(CFG)
E = str(EP.root)
P = str(EP.project_paths.root)
LOGS = f"{E}/logs/jobs"

OUTLINE = str(EP.outline)
SCRIPT = str(EP.script)
STORYBOARD = str(EP.storyboard)
ESTIMATE = str(EP.estimate)
SHOTS_STATE = str(EP.shots_state)
FINAL_MP4 = str(EP.final_mp4)
FINAL_SRT = str(EP.final_srt)
FINAL_OTIO = str(EP.final_otio)
VIEWER = str(EP.viewer)
# a cast/set/prop folder, relative to the project folder
PORTRAIT_FOLDERS = r"(?:episode-\d+[/])?(?:cast|movie-set|props)[/][^/]+"
MANIFESTS = [str(EP.cast_manifest), str(EP.set_manifest), str(EP.props_manifest)]


wildcard_constraints:
    num=r"\d{2}",
    shot=r"S\d{2}-\d{3}[a-z]?",
    gate=r"[a-z]+",


def repair_published():
    """Before Snakemake looks at any file: a rendered shot's clip or last frame that is
    missing, 0-byte or cut short is put back from its take (spark_video.render
    restore_published; a copy, never a paid call). Done here, not by a job: behind the
    storyboard checkpoint a missing last frame is not seen by `final`
    (docs/snakemake-checkpoints.md). Costs a listing and a few small reads per shot."""
    from spark_video.media import looks_whole

    states = EP.root / "state"
    if not states.is_dir():
        return
    listed = {d: set(os.listdir(d)) if d.is_dir() else set()
              for d in (EP.root / "clips", EP.root / "frames")}
    bad = []
    for name in os.listdir(states):
        shot = name[:-5]
        if not name.endswith(".json") or not re.fullmatch(r"S\d{2}-\d{3}[a-z]?", shot):
            continue
        for p in (EP.clip(shot), EP.last_frame(shot)):
            if p.name not in listed[p.parent] or not looks_whole(p):
                bad.append(shot)
                break
    if not bad:
        return
    try:
        with open(STORYBOARD, encoding="utf-8") as fh:
            ids = {s["id"] for s in json.load(fh)["shots"]}
    except (OSError, ValueError, KeyError, TypeError):
        return
    from spark_video.render import restore_published

    for shot in (s for s in bad if s in ids):
        for line in restore_published(EP, shot):
            print(line, file=sys.stderr)


repair_published()
# a person's files: kept in history/ before any job replaces them (spark_video/written.py)
for _line in sv_written.keep_pass(EP, CFG.mode, sv_written.snakemake_made(Path.cwd())):
    print(_line, file=sys.stderr)


def kept(output, paths):
    """The inputs of the job that makes `output`: ancient() while `output` is a file the
    build never wrote, which is then an input, used as it is (spark_video/written.py)."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    return [ancient(p) for p in paths] if sv_written.is_persons(EP, Path(output)) else paths


def barrier(gate):
    """A closed gate adds a target whose job fails with the approve command; an open gate
    adds nothing, so approving never changes what the jobs behind it depend on. GATE 3 also
    counts as closed when this build will re-render approved clips, so the stitch never
    starts (and never deletes the previous final) on renders nobody has seen."""
    # a missing clip also closes GATE 3: its barrier job (which waits for the clip to be
    # restored or rebuilt) is what makes `final` see a deleted clip through the storyboard
    # checkpoint (tests/test_workflow.py)
    return [str(EP.gate_barrier(gate))] if holds(gate) else []


def _stat_key(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


_PER_VERSION = {}


def per_version(name, watched, compute):
    """compute(), once per version (mtime and size) of the files and folders `watched`: the
    input functions ask the same questions once per job they plan (a 1000-shot episode:
    thousands of times per run). A job's outputs, a stamp and every write of ours rename
    into their folders, which changes the folders' mtime, so a pass after a job has run
    sees the new answer; a job re-checks what it depends on when it starts."""
    key = (name, *map(_stat_key, watched))
    if key not in _PER_VERSION:
        _PER_VERSION[key] = compute()
    return _PER_VERSION[key]


_WATCHED = {g: [str(p) for p in sv_gates.GATE[g].watched(EP)] for g in sv_gates.GATES}
APPROVALS = str(EP.approvals_dir)


def holds(gate):
    """sv_gates.holds_build, once per version of what the gate watches (its table entry):
    the answer needs a stat of every clip, shot state and spec."""
    return per_version(("holds", gate), _WATCHED[gate], lambda: sv_gates.holds_build(EP, gate))


def optional(*paths):
    return [str(p) for p in paths if Path(p).exists()]


def is_frozen(gate):
    return per_version(("frozen", gate), [APPROVALS], lambda: sv_frozen.is_frozen(EP, gate))


def frozen(gate, paths, output=None, like=None):
    """Upstream sources (lore, premise, cast cards, manifests, media) as inputs of a job
    behind `gate`. Once the gate was approved they are ancient(): a change to them alone
    never regenerates approved work (spark_video/frozen.py names the change and the revise
    command that applies it). With `output` and `like`, the sources are the ones the
    approved output was made from (Snakemake's record), so adding or replacing a source
    file -- a new cast card, an episode premise -- does not change the job's input set
    (which would rerun it) either."""
    paths = [str(p) for p in paths]
    if not is_frozen(gate):
        return paths
    if output is not None and like is not None:
        try:
            recorded = workflow.persistence.input(output)
        except Exception:  # noqa: BLE001 - no record: the current sources
            recorded = None
        if recorded is not None:
            paths = [p for p in recorded if like(p) and Path(p).exists()]
    return [ancient(p) for p in paths]


def is_premise(p):
    return p in (str(EP.premise), str(EP.project_paths.premise))


def is_lore(p):
    return p == str(EP.project_paths.lore)


def is_cast_card(p):
    return Path(p).parent.parent == EP.project_paths.cast_dir


for _line in sv_frozen.changes(EP):  # once per run, before any job
    print(_line, file=sys.stderr)


def check_token(path):
    return f"{LOGS}/checks/{sv_inputcheck.token_name(EP, Path(path))}.bad"


def checked(*paths):
    """A check_input job for each bad file among `paths` (nothing when all are fine or
    absent): the job that reads them then never starts, so it cannot cost its last good
    output (Snakemake deletes a job's outputs before it runs). The check job fails with the
    message naming the file and the field (spark_video/inputcheck.py)."""
    return [check_token(p) for p in paths if p and sv_inputcheck.problem(EP, Path(p))]


def input_checks(wildcards):
    """For the targets (final, script, storyboard, clips, viewer): a check job for every bad
    user-editable file, so a bad file is named even when no job needs it this run (a check
    token asked for by an up-to-date job alone is not built: it is a temp() file). Shot
    specs are checked per clip instead (clip_inputs), only when they would re-render one."""
    files = [EP.premise, EP.project_paths.premise, EP.project_paths.lore, EP.bgm_config,
             EP.outline, EP.storyboard, EP.direction, *EP.scene_files("md")]
    for d in ("notes", "takes"):
        files += sorted((EP.root / d).glob("*.json"))
    bad = checked(*files) + entity_checks()
    scene = sv_inputcheck.scenes_problem(EP, EP.scene_files("json"))
    return bad + ([check_token(scene[0])] if scene else [])


def scene_nums():
    """The outlined scene numbers; None when outline.json is unreadable (its consumers then
    wait on its check job instead)."""
    path = checkpoints.outline.get().output[0]
    approved = per_version("approved scenes", [APPROVALS, str(EP.scenes_dir)],
                           lambda: sv_frozen.approved_scenes(EP))
    if approved:  # after GATE 1: the approved scenes, whatever outline.json says now
        return approved
    if sv_inputcheck.problem(EP, Path(path)):
        return None
    with open(path, encoding="utf-8") as fh:
        return [s["num"] for s in json.load(fh)["scenes"]]


def scene_mds(wildcards):
    nums = scene_nums()
    if nums is None:
        return checked(OUTLINE)
    files = [str(EP.scene_md(n)) for n in nums]
    return files + checked(*files)


def scene_jsons(wildcards):
    nums = scene_nums()
    if nums is None:
        return checked(OUTLINE)
    files = [EP.scene_json(n) for n in nums]
    bad = sv_inputcheck.scenes_problem(EP, files)
    return [str(f) for f in files] + barrier("bgm") + ([check_token(bad[0])] if bad else [])


_STORYBOARD_READ = {}


def storyboard_shots():
    """The storyboard's shots, read once per version of the file (not once per clip: the
    input functions of a 1000-shot episode ask 1000 times per run). An unreadable
    storyboard.json has no shots; its consumers add its check job (`storyboard_check`).
    The checkpoint is asked until it answers (until then Snakemake defers the asking job);
    its set of finished outputs only grows within a run, so one answer stands."""
    if "path" not in _STORYBOARD_READ:
        _STORYBOARD_READ["path"] = checkpoints.compile_storyboard.get().output[0]
    path = _STORYBOARD_READ["path"]
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if _STORYBOARD_READ.get("key") != key:
        shots, bad = [], checked(path)
        if not bad:
            with open(path, encoding="utf-8") as fh:
                shots = json.load(fh)["shots"]
        _STORYBOARD_READ.update(key=key, shots=shots, ids={s["id"] for s in shots}, bad=bad)
    return _STORYBOARD_READ["shots"]


def storyboard_check():
    storyboard_shots()
    return _STORYBOARD_READ["bad"]


def spec_check(spec, clip):
    """The shot spec's check job when it is bad and newer than the clip (the render job would
    run and delete the clip before finding out); a spec older than its clip was rendered."""
    try:
        newer = spec.stat().st_mtime_ns > clip.stat().st_mtime_ns
    except FileNotFoundError:
        newer = True
    return checked(spec) if newer else []


def take_requests():
    """The names in takes/ (spark-video render --shot writes takes/<shot>.json), listed once
    per version of the folder instead of three look-ups per clip."""
    d = EP.root / "takes"
    return per_version("takes", [d], lambda: set(os.listdir(d)) if d.is_dir() else set())


_MEDIA = {}


def shot_media(rel):
    """project.media_path once per manifest image and run: most shots of a long episode name
    the same few portraits, and resolving the path (a stat per folder) costs more than the
    rest of clip_inputs."""
    if rel not in _MEDIA:
        _MEDIA[rel] = str(media_path(EP, rel))
    return _MEDIA[rel]


def clip_inputs(wildcards):
    if storyboard_check():
        return {"check": storyboard_check()}
    spec_file = EP.shot_spec(wildcards.shot)
    spec_path = str(spec_file)
    if wildcards.shot not in _STORYBOARD_READ["ids"]:
        # a shot the storyboard does not have: its spec is missing, and Snakemake says so
        # (MissingInputException names the file) without an input-function traceback
        return {"spec": spec_path}
    request = EP.take_request(wildcards.shot)
    requested = request.name in take_requests()
    bad = spec_check(spec_file, EP.clip(wildcards.shot)) + (checked(request) if requested else [])
    bad += checked(EP.shot_state(wildcards.shot))  # a spoiled state never costs the clip
    if not bad:
        try:
            with open(spec_file, encoding="utf-8") as fh:
                spec = json.load(fh)
            media = [shot_media(m) for m in spec["media"]]
        except (OSError, ValueError, KeyError, TypeError):  # spoiled, mtime kept
            bad = [check_token(spec_file)]
    if bad:  # the render job never starts, so its clip and last frame stay
        return {"spec": spec_path, "check": bad}
    inputs = {"spec": spec_path,
              "media": frozen("render", media),
              # takes/<shot>.json (spark-video render --shot): a newer request re-renders
              "request": optional(request) if requested else [],
              "gate": barrier("storyboard")}
    prev = spec.get("prev_shot")
    if prev:  # with chain_cascade false the job restores its take instead of re-rendering
        inputs["first_frame"] = str(EP.last_frame(prev))
    return inputs


def render_priority(wildcards):
    """How many shots the render's chain still has from this shot on (itself included).
    Snakemake starts ready jobs in priority order, so the chains' first links render first
    and a build does not end on one chain whose last links wait on each other while the
    other provider slots stand idle (bench/makespan_bench.py). Asked only for jobs that
    will run."""
    storyboard_shots()
    return per_version("chains", [_STORYBOARD_READ["path"]], chain_left).get(wildcards.shot, 1)


def chain_left():
    if storyboard_check():
        return {}
    return {shot: len(chain) - i for chain in sv_chain_groups(load_storyboard(EP))
            for i, shot in enumerate(chain)}


def all_clips(wildcards):
    return [str(EP.clip(s["id"])) for s in storyboard_shots()] + storyboard_check()


def narration_shots():
    return [s["id"] for s in storyboard_shots()
            if s.get("role") == "narration" and s.get("narration_text")]


def narration_inputs(wildcards):
    """A narration voice is paid for at the stitch's point of the build: behind GATE 3."""
    if wildcards.shot not in narration_shots():
        raise ValueError(f"{wildcards.shot} is not a narration shot of {STORYBOARD}")
    return {"storyboard": STORYBOARD, "gate": barrier("render") + barrier("bgm"),
            "settings": optional(EP.narration_settings), "check": storyboard_check()}


def stitch_inputs(wildcards):
    clips = all_clips(wildcards)
    takes = [str(t) for t in EP.continuation_takes([s["id"] for s in storyboard_shots()]).values()]
    music = [str(p) for p in sv_gates.bgm_tracks(EP)]
    return {"clips": clips, "takes": takes, "state": SHOTS_STATE, "storyboard": STORYBOARD,
            "narration": [str(EP.narration(s)) for s in narration_shots()],
            "narration_settings": optional(EP.narration_settings),
            "gate": barrier("render") + barrier("bgm"),
            "bgm": optional(EP.bgm_config), "music": music,
            "check": storyboard_check() + checked(EP.bgm_config)}


def shown_at(gate):
    """What must exist before a gate can be shown to the user."""
    if gate == "render":
        storyboard_shots()  # the clips are known once the storyboard checkpoint has run
    return [str(p) for p in sv_gates.gate_of(gate).shown(EP, CFG)]


def gate_inputs(wildcards):
    """A closed gate is shown after its files and after viewer.html shows them."""
    return shown_at(wildcards.gate) + [VIEWER]


# the gates in the order the build meets them (the music gate holds the director, not the
# screenwriter)
BUILD_ORDER = ("mode", "script", "bgm", "storyboard", "render", "final")


def stop_gate():
    """The first gate that holds this build (None: none does, the episode is finished)."""
    return next((g for g in BUILD_ORDER
                 if sv_gates.GATE[g].in_use(EP) and holds(g)), None)


def viewer_inputs(wildcards):
    """viewer.html shows the episode where the build stops: it is written after the files
    the stopping gate is shown with (the final cut and its timeline when no gate stops it),
    and again whenever a record it shows changes (a stamp, a producer's note, a model call,
    the music choice, the premise). `--config viewer_as_is=true` (with --forcerun) shows
    what exists now and builds nothing for it."""
    records = [*sorted(EP.root.glob("approvals/*.json")), *sorted(EP.notes_dir.glob("*.json")),
               EP.model_calls, EP.bgm_config, EP.premise, EP.project_paths.premise,
               EP.project_paths.lore]
    if config.get("viewer_as_is"):
        return {"records": optional(*records)}
    gate = stop_gate()
    shown = [FINAL_MP4, FINAL_OTIO] if gate in (None, "final") else shown_at(gate)
    return {"shown": shown, "records": optional(*records)}


def project_cast_cards():
    """The screenwriter's cast: the project tier's cards (episode-tier NPCs made from the
    script's CAST CHECK come after the script and must not rewrite it)."""
    from spark_video.project import KIND_CARDS

    d = EP.project_paths.cast_dir
    if not d.is_dir():
        return []
    return [str(p) for f in sorted(d.iterdir()) if f.is_dir() and not f.name.startswith(".")
            for p in (f / c for c in KIND_CARDS["cast"]) if p.exists()]


def entity_files():
    """Every card and image of every cast/set/prop folder: the manifests depend on them, so
    `spark-video cast add` (or a dropped-in photo) rebuilds them."""
    out = []
    for folder in entity_folders():
        card = folder / "cast.md"
        # (a card that is not UTF-8 is named by its check job, entity_checks)
        if card.is_file() and "\nnpc: true\n" in card.read_text(encoding="utf-8",
                                                                 errors="replace"):
            continue  # made by cast_check in this build: already an input through it
        out += [str(p) for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".") and p.name != "portrait.png"]
    return out


def portrait_targets():
    """A placeholder portrait for every cast/set/prop folder that has no image yet."""
    from spark_video.paths import IMAGE_EXTS

    out = []
    for folder in entity_folders():
        if not checked(folder):
            if not any(p.suffix.lower() in IMAGE_EXTS and p.name != "portrait.png"
                       for p in folder.iterdir()):
                out.append(str(folder / "portrait.png"))
    return out


def entity_folders():
    from spark_video.project import cast_entities

    return [f for kind in ("cast", "set", "prop") for f in cast_entities(EP, kind)]


def card_files(folder):
    return [Path(folder, n) for n in ("cast.md", "soul.md", "set.md", "prop.md")]


def entity_checks():
    """The cast/set/prop folders and cards the manifests job reads, checked first (a bad
    card would otherwise cost cast.json, movie_set.json and props.json)."""
    return checked(*(p for f in entity_folders() for p in (f, *card_files(f))))
