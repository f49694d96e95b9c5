# spark-video: premise -> script -> storyboard -> clips -> final episode, gated by approvals.
# Stages live in rules/*.smk; the logic lives in the spark_video package.
from snakemake.utils import min_version

min_version("9.25")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/cast.smk"
include: "rules/writing.smk"
include: "rules/storyboard.smk"
include: "rules/render.smk"
include: "rules/stitch.smk"
include: "rules/viewer.smk"
include: "rules/gates.smk"


localrules:
    final,
    script,
    storyboard,
    clips,
    viewer,


rule final:
    default_target: True
    input:
        FINAL_MP4,
        VIEWER,


rule script:
    input:
        SCRIPT,


rule storyboard:
    input:
        STORYBOARD,
        ESTIMATE,


rule clips:
    input:
        all_clips,
        SHOTS_STATE,


rule viewer:
    input:
        VIEWER,
