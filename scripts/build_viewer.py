# Snakemake job: build_viewer (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "build_viewer")  # noqa: F821
