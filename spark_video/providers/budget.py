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

import json
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..base.io import atomic_write_text, read_jsonl
from ..base.pricing import price_table
from .base import BudgetExceeded, CallContext


def read_calls(log: Path) -> list[dict[str, Any]]:
    """The call log's records; a torn last line after a crash is not spend."""
    return [rec for _, rec in read_jsonl(log) if isinstance(rec, dict)]


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
    return round(total, 6)  # token calls cost fractions of a cent


def spend_so_far(paths: Any) -> float:
    """Spend of one episode (EpisodePaths) or of one call log file (Path)."""
    log = paths if isinstance(paths, Path) else paths.model_calls
    return spend_of(read_calls(log))


LOCK_STALE_S = 30.0  # the budget mutex is held for a check and one small write: milliseconds
RESERVATION_TTL_S = 86400.0


def _reservations_dir(paths: Any) -> Path:
    return paths.logs_dir / "reservations"


def _reserved(paths: Any, records: list[dict[str, Any]]) -> float:
    """Cost held by reservations whose paid call has no line in the call log yet (a job is
    submitting, or died between reserving and logging: counted until it ages out)."""
    d = _reservations_dir(paths)
    if not d.is_dir():
        return 0.0
    logged = {r.get("intent") for r in records if r.get("intent") and r.get("status") != "intent"}
    total = 0.0
    now = time.time()
    for f in d.glob("*.json"):
        try:
            res = json.loads(f.read_text(encoding="utf-8"))
            age = now - f.stat().st_mtime
        except (OSError, ValueError):
            continue  # being written or removed right now
        if res.get("intent") in logged or age > RESERVATION_TTL_S:
            f.unlink(missing_ok=True)
            continue
        total += float(res.get("cost") or 0.0)
    return total


@contextmanager
def _budget_mutex(paths: Any) -> Iterator[None]:
    """A cross-node mutex from an O_EXCL file (no flock: shared file systems such as NFS
    between SLURM nodes do not all honour it). A holder that died is detected by age."""
    lock = paths.logs_dir / ".budget.mutex"
    lock.parent.mkdir(parents=True, exist_ok=True)
    token = f"{socket.gethostname()} {os.getpid()} {uuid.uuid4().hex}"
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime > LOCK_STALE_S:
                    lock.unlink(missing_ok=True)  # its holder died
                    continue
            except FileNotFoundError:
                continue
            time.sleep(random.uniform(0.005, 0.05))
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        break
    try:
        yield
    finally:
        try:
            if lock.read_text() == token:
                lock.unlink()
        except FileNotFoundError:
            pass


@contextmanager
def reserve(ctx: CallContext, cost: float | None, *, what: str, model: str | None,
            intent: str) -> Iterator[None]:
    """Check the budget and hold `cost` as a reservation file until the paid call's line
    (carrying `intent`) is in the call log. Parallel jobs, on any node, each see the others'
    reservations, so together they never pass the cap. Without a budget: nothing to do."""
    if ctx.cfg.budget is None:
        yield
        return
    d = _reservations_dir(ctx.paths)
    d.mkdir(parents=True, exist_ok=True)
    f = d / f"{intent}.json"
    with _budget_mutex(ctx.paths):
        ensure_budget(ctx, cost, what=what, model=model)
        atomic_write_text(f, json.dumps({"intent": intent, "cost": cost, "what": what,
                                         "model": model, "host": socket.gethostname(),
                                         "pid": os.getpid()}))
    try:
        yield
    finally:
        f.unlink(missing_ok=True)


def new_intent(fingerprint: str) -> str:
    """An id for one paid request about to be sent: its fingerprint plus a unique tail."""
    return f"{fingerprint[:16]}-{uuid.uuid4().hex[:8]}"


def ensure_budget(ctx: CallContext, next_cost: float | None, *, what: str = "the next job",
                  model: str | None = None) -> None:
    """Raise BudgetExceeded if spend so far + `next_cost` would exceed the budget."""
    budget = ctx.cfg.budget
    if budget is None:
        return
    cur = _currency(model)
    records = read_calls(ctx.paths.model_calls)
    spent = spend_of(records) + _reserved(ctx.paths, records)
    if next_cost is None:
        raise BudgetExceeded(
            f"budget {budget:.2f} {cur} is set but there is no price data for "
            f"{model or what}, so its cost cannot be checked; add the model to "
            "config/models.jsonl or remove the budget", code="BudgetNoPrice")
    if spent + next_cost > budget + 1e-9:
        raise BudgetExceeded(
            f"budget reached: spent {_money(spent)} {cur} so far (from "
            f"{ctx.paths.model_calls}, with the calls other jobs are making now); "
            f"{what} would cost about {_money(next_cost)} {cur}, taking the total to "
            f"{_money(spent + next_cost)} over the budget of {_money(budget)} {cur}. Nothing was "
            "submitted. Raise the budget (config budget / SPARK_VIDEO_BUDGET) to continue.",
            code="BudgetExceeded")


def _money(x: float) -> str:
    """2 decimals, or 6 for the fractions of a cent that token calls cost."""
    return f"{x:.2f}" if abs(x) >= 0.01 or x == 0 else f"{x:.6f}"


def _currency(model: str | None) -> str:
    entry = price_table().get(model or "")
    return entry.currency if entry else "CNY"
