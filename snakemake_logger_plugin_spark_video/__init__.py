"""Snakemake logger plugin `spark-video` (`snakemake --logger spark-video`).

It writes one JSON line per job event (job started, finished, failed; progress; run
summary) to the file named by the environment variable SPARK_VIDEO_EVENTS, so the
`spark-video` command can show a live progress view while Snakemake's own text log goes
to a log file. It does not write to the terminal: Snakemake keeps its normal text
handler, which the command sends to the log file.
"""

from __future__ import annotations

import json
import os
from logging import LogRecord

from snakemake_interface_logger_plugins.base import LogHandlerBase

EVENTS_ENV = "SPARK_VIDEO_EVENTS"


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        path = os.environ.get(EVENTS_ENV)
        self._out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    def emit(self, record: LogRecord) -> None:
        if self._out is None:
            return
        event = str(getattr(record, "event", "") or "")
        ev: dict | None = None
        if event == "job_info":
            ev = {"jobid": record.jobid, "rule": record.rule_name,
                  "wildcards": dict(record.wildcards or {}), "log": list(record.log or [])}
        elif event == "job_finished":
            ev = {"jobid": record.job_id}
        elif event == "job_error":
            ev = {"jobid": record.jobid, "rule": record.rule_name,
                  "log": list(record.log or [])}
        elif event == "progress":
            ev = {"done": record.done, "total": record.total}
        elif event == "run_info":
            ev = {"stats": {str(k): v for k, v in dict(record.stats or {}).items()}}
        elif event == "error":
            ev = {"msg": record.getMessage()[:2000]}
        if ev is None:
            return
        try:
            self._out.write(json.dumps({"event": event, **ev}, default=str) + "\n")
            self._out.flush()
        except (OSError, ValueError):
            self._out = None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False
