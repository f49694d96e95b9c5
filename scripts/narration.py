# Snakemake job: narration (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "narration")  # noqa: F821
