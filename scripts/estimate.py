# Snakemake job: estimate (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "estimate")  # noqa: F821
