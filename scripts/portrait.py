# Snakemake job: portrait (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "portrait")  # noqa: F821
