# Snakemake job: vfx_review (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "vfx_review")  # noqa: F821
