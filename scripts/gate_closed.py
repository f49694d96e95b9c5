# Snakemake job: gate_closed (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "gate_closed")  # noqa: F821
