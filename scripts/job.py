# The Snakemake job of every rule: spark_video.workflow.jobs.job_<rule>, picked by snakemake.rule.
from spark_video.workflow.jobs import run

run(snakemake)  # noqa: F821
