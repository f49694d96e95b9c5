"""The spend cap: spend so far comes from the episode's call log, never from a side ledger.

How a paid async task appears in logs/model_calls.jsonl (written by the DashScope client):
- a submit line (endpoint "<path> (submit)", task_id, billed_units = requested seconds,
  unit "second", cost None) — the task is *in flight*;
- one settling line for the same task_id (endpoint "tasks/<id>", billed_units set: the
  billed seconds, 0 for a FAILED task; cost from the price table).
A settled task counts its recorded cost; an in-flight task counts the requested seconds at
the model's highest per-second price (conservative: it may still be billed). Lines without a
task_id (chat, TTS, images) count their own cost. `cost_by_task()` gives the same numbers per
task for anyone summing costs (e.g. the viewer): sum settled costs, never submit lines.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .pricing import price_table
from .providers.base import BudgetExceeded, CallContext


def read_calls(log: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not log.exists():
        return out
    for line in log.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line after a crash is not spend
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _max_second_price(model: str | None) -> float:
    entry = price_table().get(model or "")
    if not entry:
        return 0.0
    prices = [p.price for p in entry.prices if p.unit == "second"]
    return max(prices) if prices else 0.0


def is_settling(rec: dict[str, Any]) -> bool:
    return bool(rec.get("task_id")) and str(rec.get("endpoint") or "").startswith("tasks/") \
        and rec.get("billed_units") is not None


def cost_by_task(records: list[dict[str, Any]]) -> dict[str, float]:
    """task_id -> cost (settled cost, or the conservative in-flight estimate)."""
    settled: dict[str, float] = {}
    inflight: dict[str, float] = {}
    for r in records:
        tid = r.get("task_id")
        if not tid:
            continue
        if is_settling(r):
            settled[tid] = float(r.get("cost") or 0.0)
        elif str(r.get("endpoint") or "").endswith("(submit)") and tid not in inflight:
            inflight[tid] = float(r.get("billed_units") or 0.0) * _max_second_price(r.get("model"))
    return {**inflight, **settled}


def spend_of(records: list[dict[str, Any]]) -> float:
    total = sum(cost_by_task(records).values())
    total += sum(float(r.get("cost") or 0.0) for r in records if not r.get("task_id"))
    return round(total, 4)


def spend_so_far(paths: Any) -> float:
    """Spend of one episode (EpisodePaths) or of one call log file (Path)."""
    log = paths if isinstance(paths, Path) else paths.model_calls
    return spend_of(read_calls(log))


@contextmanager
def budget_lock(paths: Any) -> Iterator[None]:
    """Serialise check + submit + log line across the episode's parallel jobs (flock; released
    by the kernel if the process dies)."""
    lock = paths.logs_dir / ".budget.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def ensure_budget(ctx: CallContext, next_cost: float | None, *, what: str = "the next job",
                  model: str | None = None) -> None:
    """Raise BudgetExceeded if spend so far + `next_cost` would exceed the budget."""
    budget = ctx.cfg.budget
    if budget is None:
        return
    cur = _currency(model)
    spent = spend_so_far(ctx.paths)
    if next_cost is None:
        raise BudgetExceeded(
            f"budget {budget:.2f} {cur} is set but there is no price data for "
            f"{model or what}, so its cost cannot be checked; add the model to "
            "config/models.jsonl or remove the budget", code="BudgetNoPrice")
    if spent + next_cost > budget + 1e-9:
        raise BudgetExceeded(
            f"budget reached: spent {spent:.2f} {cur} so far (from {ctx.paths.model_calls}); "
            f"{what} would cost about {next_cost:.2f} {cur}, taking the total to "
            f"{spent + next_cost:.2f} over the budget of {budget:.2f} {cur}. Nothing was "
            "submitted. Raise the budget (config budget / SPARK_VIDEO_BUDGET) to continue.",
            code="BudgetExceeded")


def _currency(model: str | None) -> str:
    entry = price_table().get(model or "")
    return entry.currency if entry else "CNY"
