# Snakemake job: direction (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "direction")  # noqa: F821
