# Snakemake job: compile_storyboard (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "compile_storyboard")  # noqa: F821
