# Snakemake job: cast_check (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "cast_check")  # noqa: F821
