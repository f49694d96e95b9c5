# Snakemake job: script_md (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "script_md")  # noqa: F821
