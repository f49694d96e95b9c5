# Snakemake job: check_input (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "check_input")  # noqa: F821
