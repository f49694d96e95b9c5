# Snakemake job: export_timeline (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "export_timeline")  # noqa: F821
