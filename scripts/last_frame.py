# Snakemake job: last_frame (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "last_frame")  # noqa: F821
