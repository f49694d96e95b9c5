#!/usr/bin/env bash
# submit JOBSCRIPT: run the job script Snakemake generated in the background and print its
# job id (a real site replaces this with `qsub`/`bsub` and prints the scheduler's id).
# State lives in .snakemake/localq/ under the working directory (the repository root).
set -euo pipefail
jobscript=$1
q=.snakemake/localq
mkdir -p "$q"
id=$(date +%s%N)
( bash "$jobscript" >"$q/$id.log" 2>&1; echo $? >"$q/$id.rc.tmp"; mv "$q/$id.rc.tmp" "$q/$id.rc" ) \
  </dev/null >/dev/null 2>&1 &
echo $! >"$q/$id.pid"
echo "$id"
