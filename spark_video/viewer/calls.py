"""The model-call log in the viewer: every call, what each role was told, and the money spent
(summed by `budget.spend_of`, the one owner of "spend so far")."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import ValidationError

from ..base.io import InputError, format_validation_error, read_jsonl
from ..base.models import ModelCall
from ..providers.budget import spend_of
from .common import READ_ERRORS, Locator, Note, fmt_cost, fmt_duration_ms

MAX_LOG_BYTES = 64 * 1024 * 1024  # the call log of a long episode can exceed MAX_INPUT_BYTES
MAX_LOG_ROWS = 5000  # raw rows shown; counts and sums always cover every line
DEFAULT_CURRENCY = "CNY"  # the price table's currency when a line does not name one


class CallLogReader(Locator):
    def model_calls(self) -> dict[str, Any]:
        p = self.paths.model_calls
        out: dict[str, Any] = {"calls": [], "records": [], "bad": [], "note": None,
                               "source": self.show_path(p)}
        if not p.exists():
            out["note"] = Note("missing", "No model calls logged yet.")
            return out
        try:
            size = p.stat().st_size
            if size > MAX_LOG_BYTES:
                raise InputError(p, f"file is {size} bytes, more than the {MAX_LOG_BYTES} shown")
            records = read_jsonl(p)
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        for n, data in records:
            if isinstance(data, str):
                out["bad"].append((n, data))
                continue
            try:
                call = ModelCall.model_validate(data)
                pf = call.prompt_file or ""
                if pf and not re.fullmatch(r"logs/prompts/[A-Za-z0-9_.-]+\.md", pf):
                    call = call.model_copy(update={"prompt_file": None})  # only our own files
                out["calls"].append(call)
                out["records"].append(data)
            except ValidationError as e:
                out["bad"].append((n, format_validation_error(e)))
        return out


def currency_of(calls: list[ModelCall], fallback: str | None = None) -> str:
    """The one currency the page states money in: the calls' own, else the estimate's."""
    named = Counter(c.currency for c in calls if c.cost is not None and c.currency)
    return named.most_common(1)[0][0] if named else (fallback or DEFAULT_CURRENCY)


def _is_submit(c: ModelCall) -> bool:
    # the submit line of an async task: its price is on the task's settling line
    return bool(c.task_id) and (c.endpoint or "").endswith("(submit)")


def call_summary(calls: list[ModelCall], records: list[dict[str, Any]],
                 currency: str) -> dict[str, Any]:
    """Counts and the money spent, as one figure with its currency ("no price data" when no
    call has a price, "nothing spent yet" before the first call)."""
    phases: Counter[str] = Counter(c.phase for c in calls)
    providers: Counter[str] = Counter(c.provider for c in calls)
    priced = [c for c in calls if c.cost is not None]
    unpriced = sum(1 for c in calls if c.cost is None and not _is_submit(c)
                   and c.status != "intent")
    if not calls:
        spent = "nothing spent yet"
    elif not priced:
        spent = "no price data"
    else:
        spent = f"{fmt_cost(spend_of(records))} {currency}"
    return {
        "count": len(calls),
        "errors": sum(1 for c in calls if c.status == "error"),
        "phases": sorted(phases.items()),
        "providers": sorted(providers.items()),
        "duration": fmt_duration_ms(sum(c.duration_ms for c in calls)),
        "spent": spent,
        "unpriced": unpriced,
    }
