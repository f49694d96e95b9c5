# Snakemake job: jianying_draft (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "jianying_draft")  # noqa: F821
