# Snakemake job: storyboard (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "storyboard")  # noqa: F821
