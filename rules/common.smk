# Paths, config validation and every input function (the flat checkpoint shape of
# docs/snakemake-checkpoints.md: per-scene steps are plain rules, each consumer calls exactly
# one checkpoint get()).
import json
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from spark_video import gates as sv_gates  # noqa: E402
from spark_video.paths import EpisodePaths  # noqa: E402
from spark_video.paths import workdir_relative as sv_workdir_relative  # noqa: E402
from spark_video.project import media_path  # noqa: E402
from spark_video.providers.base import secrets_needed  # noqa: E402
from spark_video.settings import resolve  # noqa: E402


validate(config, schema="../schemas/config.schema.json")
CFG = resolve(config)


def workdir_relative(path):
    """Paths under the working directory are written relative to it, so rule outputs and
    logs are clean relative paths whether projects_dir was given relative or absolute."""
    return sv_workdir_relative(path, Path.cwd())


EP = EpisodePaths.of(CFG.project, CFG.episode, root=workdir_relative(CFG.projects_dir))
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
VIEWER = str(EP.viewer)
# a cast/set/prop folder, relative to the project folder
PORTRAIT_FOLDERS = r"(?:episode-\d+[/])?(?:cast|movie-set|props)[/][^/]+"
MANIFESTS = [str(EP.cast_manifest), str(EP.set_manifest), str(EP.props_manifest)]


wildcard_constraints:
    num=r"\d{2}",
    shot=r"S\d{2}-\d{3}[a-z]?",
    gate=r"[a-z]+",


def barrier(gate):
    """A closed gate adds a target whose job fails with the approve command; an open gate
    adds nothing, so approving never changes what the jobs behind it depend on. GATE 3 also
    counts as closed when this build will re-render approved clips, so the stitch never
    starts (and never deletes the previous final) on renders nobody has seen."""
    # a missing clip also closes GATE 3: its barrier job (which waits for the clip to be
    # restored or rebuilt) is what makes `final` see a deleted clip through the storyboard
    # checkpoint (tests/test_workflow.py)
    return [str(EP.gate_barrier(gate))] if sv_gates.holds_build(EP, gate) else []


def _stat_key(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


_STORYBOARD_GATE = {}


def storyboard_barrier():
    """barrier("storyboard"), asked once per clip: answered once per version of the stamp,
    the scenes folder (atomic writes rename into it) and storyboard.json, so a 1000-shot
    episode does not hash its scene files 1000 times per run. The render job checks the
    gate again when it starts."""
    key = (_stat_key(EP.approval("storyboard")), _stat_key(EP.scenes_dir), _stat_key(STORYBOARD))
    if _STORYBOARD_GATE.get("key") != key:
        _STORYBOARD_GATE.update(key=key, barrier=barrier("storyboard"))
    return _STORYBOARD_GATE["barrier"]


def optional(*paths):
    return [str(p) for p in paths if Path(p).exists()]


def scene_nums():
    with checkpoints.outline.get().output[0].open() as fh:
        return [s["num"] for s in json.load(fh)["scenes"]]


def scene_mds(wildcards):
    return [str(EP.scene_md(n)) for n in scene_nums()]


def scene_jsons(wildcards):
    files = [EP.scene_json(n) for n in scene_nums()]
    validate_scenes([f for f in files if f.exists()])
    return [str(f) for f in files] + barrier("bgm")


def validate_scenes(files):
    """Refuse bad director output before any job runs (a failing job would delete its old
    storyboard.json): the error names the file and the field."""
    from spark_video.io import InputError
    from spark_video.storyboard import load_fragments

    if files:
        try:
            load_fragments(EP, files)
        except InputError as e:
            raise WorkflowError(f"invalid scene file: {e}") from None


_STORYBOARD_READ = {}


def storyboard_shots():
    """The storyboard's shots, read once per version of the file (not once per clip: the
    input functions of a 1000-shot episode ask 1000 times per run)."""
    path = checkpoints.compile_storyboard.get().output[0]
    st = os.stat(path)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if _STORYBOARD_READ.get("key") != key:
        with open(path, encoding="utf-8") as fh:
            shots = json.load(fh)["shots"]
        _STORYBOARD_READ.update(key=key, shots=shots, ids={s["id"] for s in shots})
    return _STORYBOARD_READ["shots"]


def read_spec(shot):
    with open(EP.shot_spec(shot), encoding="utf-8") as fh:
        return json.load(fh)


def clip_inputs(wildcards):
    storyboard_shots()
    if wildcards.shot not in _STORYBOARD_READ["ids"]:
        raise ValueError(f"{wildcards.shot} is not a shot of {STORYBOARD}")
    spec = read_spec(wildcards.shot)
    inputs = {"spec": str(EP.shot_spec(wildcards.shot)),
              "media": [str(media_path(EP, m)) for m in spec["media"]],
              # takes/<shot>.json (spark-video render --shot): a newer request re-renders
              "request": optional(EP.take_request(wildcards.shot)),
              "gate": storyboard_barrier()}
    prev = spec.get("prev_shot")
    if prev:  # with chain_cascade false the job restores its take instead of re-rendering
        inputs["first_frame"] = str(EP.last_frame(prev))
    return inputs


def all_clips(wildcards):
    return [str(EP.clip(s["id"])) for s in storyboard_shots()]


def narration_shots():
    return [s["id"] for s in storyboard_shots()
            if s.get("role") == "narration" and s.get("narration_text")]


def narration_inputs(wildcards):
    """A narration voice is paid for at the stitch's point of the build: behind GATE 3."""
    if wildcards.shot not in narration_shots():
        raise ValueError(f"{wildcards.shot} is not a narration shot of {STORYBOARD}")
    return {"storyboard": STORYBOARD, "gate": barrier("render") + barrier("bgm")}


def stitch_inputs(wildcards):
    clips = all_clips(wildcards)
    takes = [str(t) for t in EP.continuation_takes([s["id"] for s in storyboard_shots()]).values()]
    music = [str(p) for p in sv_gates.bgm_tracks(EP)]
    return {"clips": clips, "takes": takes, "state": SHOTS_STATE, "storyboard": STORYBOARD,
            "narration": [str(EP.narration(s)) for s in narration_shots()],
            "gate": barrier("render") + barrier("bgm"),
            "bgm": optional(EP.bgm_config), "music": music}


def gate_inputs(wildcards):
    """What must exist before a closed gate can be shown to the user."""
    if wildcards.gate == "render":
        storyboard_shots()  # the clips are known once the storyboard checkpoint has run
    return [str(p) for p in sv_gates.gate_of(wildcards.gate).shown(EP, CFG)]


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
    from spark_video.project import cast_entities

    out = []
    for kind in ("cast", "set", "prop"):
        for folder in cast_entities(EP, kind):
            card = folder / "cast.md"
            if card.exists() and "\nnpc: true\n" in card.read_text(encoding="utf-8"):
                continue  # made by cast_check in this build: already an input through it
            out += [str(p) for p in sorted(folder.iterdir())
                    if p.is_file() and not p.name.startswith(".") and p.name != "portrait.png"]
    return out


def portrait_targets():
    """A placeholder portrait for every cast/set/prop folder that has no image yet."""
    from spark_video.paths import IMAGE_EXTS
    from spark_video.project import cast_entities

    out = []
    for kind in ("cast", "set", "prop"):
        for folder in cast_entities(EP, kind):
            if not any(p.suffix.lower() in IMAGE_EXTS and p.name != "portrait.png"
                       for p in folder.iterdir()):
                out.append(str(folder / "portrait.png"))
    return out
