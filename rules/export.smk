# Exports of the final cut for editors (README: Exports), each read from the .otio the stitch
# writes: NLE timelines through OpenTimelineIO's adapters, an MLT project, a CapCut/Jianying
# draft. Asked for with --config timelines=fcpxml,fcp7,edl,kdenlive,mlt,jianying (the
# `final` target builds them; `exports` builds only them).
# the formats asked for, each checked (known, its extra installed) before anything runs;
# spark_video.stitch (its ffmpeg graphs, ~0.15 s) is imported only when some are: a run that
# exports nothing (a no-op too) does not pay for it (tests/test_dag_imports.py)
EXPORTS = []
if config.get("timelines") not in (None, "", False):  # (exports.requested: none asked for)
    from spark_video.stitch import exports as sv_exports  # noqa: E402

    EXPORTS = [str(sv_exports.output_path(EP, f))
               for f in sv_exports.requested_or_exit(config.get("timelines"))]
# under `snakemake --report` (which runs no job) the estimate and the VFX review join the
# final's graph, so the report holds them; a build never asks for them through the final
# (the VFX review is a paid call that belongs to GATE 2)
REPORT_EXTRAS = optional(ESTIMATE, EP.vfx_review) if "--report" in sys.argv else []


rule export_timeline:
    output:
        f"{E}/final/{EP.name}.{{ext,fcpxml|fcp7[.]xml|edl|kdenlive|mlt}}",
    input:
        otio=FINAL_OTIO,
    log:
        f"{LOGS}/export-{{ext}}.log",
    script:
        "../scripts/job.py"


rule jianying_draft:
    output:
        directory(f"{E}/final/{EP.name}.draft"),
    input:
        otio=FINAL_OTIO,
        mp4=FINAL_MP4,
        bgm=optional(EP.bgm_config),
    log:
        f"{LOGS}/export-draft.log",
    script:
        "../scripts/job.py"


rule exports:
    input:
        EXPORTS,

