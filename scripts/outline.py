# Snakemake job: outline (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "outline")  # noqa: F821
