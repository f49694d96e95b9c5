# Snakemake job: manifests (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "manifests")  # noqa: F821
