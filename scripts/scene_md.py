# Snakemake job: scene_md (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "scene_md")  # noqa: F821
