#!/usr/bin/env bash
# status JOBID: print running, success or failed (what the cluster-generic plugin expects).
q=.snakemake/localq
if [ -f "$q/$1.rc" ]; then
  [ "$(cat "$q/$1.rc")" = 0 ] && echo success || echo failed
elif [ -f "$q/$1.pid" ] && kill -0 "$(cat "$q/$1.pid")" 2>/dev/null; then
  echo running
else
  echo failed   # vanished without an exit code
fi
