# Snakemake job: render_clip (logic in spark_video.jobs)
from spark_video.jobs import run

run(snakemake, "render_clip")  # noqa: F821
