#!/usr/bin/env bash
# cancel JOBID...: stop jobs started by submit.sh (by their recorded process id only).
q=.snakemake/localq
for id in "$@"; do
  [ -f "$q/$id.pid" ] && kill "$(cat "$q/$id.pid")" 2>/dev/null || true
done
