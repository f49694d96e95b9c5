"""Provider readiness for `spark-video doctor`: key present, base URL reachable, key accepted.

Never prints the key: only whether it is set and how long it is.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ..base.settings import CAPABILITIES, provider_for
from .dashscope_http import DEFAULT_BASE_URL, derive_compatible_base


def _probe(url: str, key: str | None, timeout: float) -> tuple[bool, str]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        r = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        return False, f"unreachable ({type(e).__name__})"
    if r.status_code in (401, 403):
        return False, f"reachable, but the key was refused (HTTP {r.status_code})"
    return True, f"reachable (HTTP {r.status_code})"


def _key_detail(var: str) -> tuple[bool, str]:
    val = os.environ.get(var, "").strip()
    return (True, f"{var} is set ({len(val)} characters)") if val else \
        (False, f"{var} is not set")


def doctor(cfg: Any, *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """One row per check: {name, check, provider, ok, detail}. Offline needs nothing."""
    used: dict[str, list[str]] = {}
    for cap in CAPABILITIES:
        used.setdefault(provider_for(cfg, cap), []).append(cap)
    rows: list[dict[str, Any]] = []
    for provider, caps in used.items():
        who = f"{provider} ({', '.join(caps)})"
        if provider == "offline":
            rows.append({"check": "provider", "provider": who, "ok": True,
                         "detail": "offline: no key or network needed"})
            continue
        if provider in ("bl", "wan27"):
            ok, detail = _key_detail("DASHSCOPE_API_KEY")
            rows.append({"check": "api key", "provider": who, "ok": ok, "detail": detail})
            key = os.environ.get("DASHSCOPE_API_KEY", "").strip() or None
            base = (os.environ.get("DASHSCOPE_HTTP_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
            compat = (os.environ.get("DASHSCOPE_COMPATIBLE_BASE_URL")
                      or derive_compatible_base(base)).rstrip("/")
            # an unknown task id answers 200 UNKNOWN: free, and proves the key works
            ok, detail = _probe(f"{base}/tasks/spark-video-doctor-probe", key, timeout)
            rows.append({"check": "native base URL", "provider": who, "ok": ok,
                         "detail": f"{base}: {detail}"})
            if {"text", "review"} & set(caps):
                ok, detail = _probe(f"{compat}/models", key, timeout)
                rows.append({"check": "compatible base URL", "provider": who, "ok": ok,
                             "detail": f"{compat}: {detail}"})
        elif provider == "openai":
            ok, detail = _key_detail("OPENAI_API_KEY")
            rows.append({"check": "api key", "provider": who, "ok": ok, "detail": detail})
            base = (os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
            if not base:
                rows.append({"check": "base URL", "provider": who, "ok": False,
                             "detail": "OPENAI_BASE_URL is not set"})
            else:
                ok, detail = _probe(f"{base}/models",
                                    os.environ.get("OPENAI_API_KEY", "").strip() or None,
                                    timeout)
                rows.append({"check": "base URL", "provider": who, "ok": ok,
                             "detail": f"{base}: {detail}"})
            bad = sorted(set(caps) - {"text", "review"})
            if bad:
                rows.append({"check": "capabilities", "provider": who, "ok": False,
                             "detail": f"openai serves text and review only, not {bad}"})
    for r in rows:
        r["name"] = f"{r['provider']}: {r['check']}"
    return rows
