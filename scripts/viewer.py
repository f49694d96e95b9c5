# Snakemake job: viewer (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "viewer")  # noqa: F821
