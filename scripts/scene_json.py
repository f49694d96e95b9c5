# Snakemake job: scene_json (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "scene_json")  # noqa: F821
