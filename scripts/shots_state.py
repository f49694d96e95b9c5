# Snakemake job: shots_state (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "shots_state")  # noqa: F821
