# The config, the paths, the wildcard constraints and one thin input function per name the
# rules use. What the input functions answer (their memo, the frozen sources, the check jobs,
# the repair pass before the DAG) is spark_video/workflow/__init__.py, unit-tested without
# Snakemake.
import sys
from pathlib import Path

from snakemake.io import IOFile
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from spark_video import gates as sv_gates  # noqa: E402
from spark_video.gates import frozen as sv_frozen  # noqa: E402
from spark_video import workflow as sv_workflow  # noqa: E402
from spark_video.workflow import written as sv_written  # noqa: E402
from spark_video.base.paths import EpisodePaths  # noqa: E402
from spark_video.base.paths import workdir_relative as sv_workdir_relative  # noqa: E402
from spark_video.providers.base import secrets_needed  # noqa: E402
from spark_video.base.settings import resolve  # noqa: E402


def _config():
    """The merged config (file, --config, environment) as one model; a bad value stops the
    run with one line naming the field, before Snakemake plans anything."""
    from spark_video.base.io import InputError

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


class _Checkpoints:
    """The checkpoints' answers for spark_video.workflow (raises until one has run)."""

    def output(self, name):
        return getattr(checkpoints, name).get().output[0]


WF = sv_workflow.Workflow(
    EP, CFG, _Checkpoints(),
    recorded_inputs=lambda output: workflow.persistence.input(IOFile(output)),  # its record
    ancient=ancient, viewer_as_is=bool(config.get("viewer_as_is")))

# before Snakemake looks at any file: clips and last frames put back from their takes
for _line in sv_workflow.repair_published(EP):
    print(_line, file=sys.stderr)
# a person's files: kept in history/ before any job replaces them (spark_video/workflow/written.py)
for _line in sv_written.keep_pass(EP, CFG.mode, sv_written.snakemake_made(Path.cwd())):
    print(_line, file=sys.stderr)
# once per run, before any job: upstream changes that approved work does not follow
for _line in sv_frozen.changes(EP):
    print(_line, file=sys.stderr)


# helpers the rules call (spark_video/workflow/__init__.py says what each answers)
APPROVALS = WF.approvals
BUILD_ORDER = sv_workflow.BUILD_ORDER
optional = sv_workflow.optional
card_files = sv_workflow.card_files
per_version = WF.memo.get
holds = WF.holds
barrier = WF.barrier
stop_gate = WF.stop_gate
shown_at = WF.shown_at
is_frozen = WF.is_frozen
kept = WF.kept
frozen = WF.frozen
is_premise = WF.is_premise
is_lore = WF.is_lore
is_cast_card = WF.is_cast_card
check_token = WF.check_token
checked = WF.checked
spec_check = WF.spec_check
scene_nums = WF.scene_nums
storyboard_shots = WF.storyboard_shots
storyboard_check = WF.storyboard_check
take_requests = WF.take_requests
shot_media = WF.shot_media
chain_left = WF.chain_left
narration_shots = WF.narration_shots
project_cast_cards = WF.project_cast_cards
entity_folders = WF.entity_folders
entity_files = WF.entity_files
portrait_targets = WF.portrait_targets
entity_checks = WF.entity_checks


# input functions: the rules' wildcards in, the workflow's answer out


def input_checks(wildcards):
    return WF.input_checks()


def scene_mds(wildcards):
    return WF.scene_mds()


def scene_jsons(wildcards):
    return WF.scene_jsons()


def clip_inputs(wildcards):
    return WF.clip_inputs(wildcards.shot)


def render_priority(wildcards):
    return WF.render_priority(wildcards.shot)


def all_clips(wildcards):
    return WF.all_clips()


def narration_inputs(wildcards):
    return WF.narration_inputs(wildcards.shot)


def stitch_inputs(wildcards):
    return WF.stitch_inputs()


def gate_inputs(wildcards):
    return WF.gate_inputs(wildcards.gate)


def viewer_inputs(wildcards):
    return WF.viewer_inputs()
