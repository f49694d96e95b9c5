# Snakemake job: stitch (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "stitch")  # noqa: F821
