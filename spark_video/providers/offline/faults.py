"""Fault injection for tests of the retry loop.

`SPARK_VIDEO_OFFLINE_FAULTS` is a comma-separated list of `SHOT:VERSIONS=FAULT`, VERSIONS
being `1|2` or `*`, FAULT one of black (all-black video), silent (no audio stream), short
(half the duration), frozen (a still image).
Example: `S01-002:1=black,S02-001:1|2=silent,S01-003:*=short`.
"""

from __future__ import annotations

import os
import re

from ..base import ProviderError
from .common import FAULT_KINDS, FAULTS_ENV


def parse_faults(text: str | None) -> dict[str, list[tuple[set[int] | None, str]]]:
    """`S01-002:1|2=black,S01-003:*=short` -> {shot: [(versions or None for *, fault)]}."""
    out: dict[str, list[tuple[set[int] | None, str]]] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        m = re.fullmatch(r"(S\d{2}-\d{3}[a-z]?):([\d|*\s]+)=(\w+)", item)
        if not m or m.group(3) not in FAULT_KINDS:
            raise ProviderError(
                f"{FAULTS_ENV}: cannot read {item!r}; expected SHOT:VERSIONS=FAULT such as "
                f"S01-002:1|2=black (faults: {', '.join(FAULT_KINDS)})")
        vs = m.group(2).replace(" ", "")
        versions = None if vs == "*" else {int(v) for v in vs.split("|") if v}
        out.setdefault(m.group(1), []).append((versions, m.group(3)))
    return out


def fault_for(shot_id: str, version: int | None, environ=None) -> str | None:
    """The fault injected for this shot and version, if any (first matching entry wins)."""
    env = os.environ if environ is None else environ
    version = version or 1
    for versions, fault in parse_faults(env.get(FAULTS_ENV)).get(shot_id, []):
        if versions is None or version in versions:
            return fault
    return None
