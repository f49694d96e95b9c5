# The Snakemake job of every rule: spark_video.jobs.job_<rule>, picked by snakemake.rule.
from spark_video.jobs import run

run(snakemake)  # noqa: F821
