# spark-video: premise -> script -> storyboard -> clips -> final episode, gated by approvals.
# Stages live in rules/*.smk; the logic lives in the spark_video package.
from snakemake.utils import min_version

min_version("9.25")


# the repository's defaults, whatever the working directory (--directory); a user's own
# --configfile / --config still override them
configfile: f"{workflow.basedir}/config/config.yaml"


# `snakemake --report report.zip`: the results of each stage (report/*.rst captions)
report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/checks.smk"
include: "rules/cast.smk"
include: "rules/writing.smk"
include: "rules/storyboard.smk"
include: "rules/render.smk"
include: "rules/stitch.smk"
include: "rules/viewer.smk"
include: "rules/gates.smk"
include: "rules/export.smk"


# provider keys (only those the configured providers read): checked before any job starts,
# handed to cluster jobs by the executor, never written into a job script or a log
envvars:
    *SECRETS


# jobs that must run on the submitting host: the targets, the gate barrier (its message is
# for the user's terminal) and the cheap bookkeeping steps that read the whole episode
localrules:
    final,
    script,
    storyboard,
    clips,
    viewer,
    gate_closed,
    check_input,
    manifests,
    script_md,
    compile_storyboard,
    estimate,
    shots_state,
    build_viewer,


rule final:
    default_target: True
    input:
        input_checks,
        FINAL_MP4,
        FINAL_OTIO,
        VIEWER,
        EXPORTS,  # --config timelines=... (rules/export.smk)
        REPORT_EXTRAS,


rule script:
    input:
        input_checks,
        SCRIPT,


rule storyboard:
    input:
        input_checks,
        # storyboard.json, the estimate and the reviews the config opts into (--vfx)
        [str(p) for p in sv_gates.GATE["storyboard"].shown(EP, CFG)],


rule clips:
    input:
        input_checks,
        all_clips,
        SHOTS_STATE,


rule viewer:
    input:
        input_checks,
        VIEWER,


# The parsed workflow (modules, rules, config) lives as long as the run: out of the garbage
# collector's sight, so the DAG's many small objects do not make it walk them again and again
# (bench/noop_bench.py: about 0.7 s of a 1000-shot no-op).
import gc  # noqa: E402

gc.freeze()
