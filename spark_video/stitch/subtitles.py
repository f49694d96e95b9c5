"""Subtitles: one SRT cue per dialog line and per narration sentence, timed on the final cut.

The stitch plan knows where every shot sits in the final cut (after crossfades, continuation
joins and narration fitting); this module turns that into cues:

- narration: the narration text is split into sentences, spread over the time the (fitted)
  TTS audio actually plays, proportionally to their length;
- dialog: the shot's lines start at the shot's start in the cut and follow each other, each
  shown for a reading time (about 15 characters per second, 1.2 s to 7 s), squeezed into the
  shot's span when they would not fit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

READ_CPS = 15.0  # characters per second a viewer reads comfortably
MIN_CUE_S = 1.2
MAX_CUE_S = 7.0
GAP_S = 0.04  # between consecutive cues of one shot, so players never show two at once

_SENTENCE = re.compile(r"(?<=[.!?。！？…])\s+|(?<=[。！？])")


class Cue(BaseModel):
    index: int = 0
    start: float
    end: float
    text: str
    shot: str | None = None
    kind: str = "dialog"  # dialog | narration


def split_sentences(text: str, max_chars: int = 90) -> list[str]:
    """Sentences of `text`; sentences longer than max_chars are cut at commas or spaces."""
    parts = [p.strip() for p in _SENTENCE.split(text.strip()) if p and p.strip()]
    out: list[str] = []
    for p in parts:
        while len(p) > max_chars:
            cut = max(p.rfind(", ", 0, max_chars), p.rfind("，", 0, max_chars),
                      p.rfind(" ", 0, max_chars))
            cut = cut if cut > max_chars // 3 else max_chars
            out.append(p[: cut + 1].strip())
            p = p[cut + 1:].strip()
        if p:
            out.append(p)
    return out or ([text.strip()] if text.strip() else [])


def _weight(text: str) -> float:
    # CJK characters take about twice as long to read (and speak) as a Latin letter
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text if not ch.isspace()) or 1.0


def spread(texts: list[str], start: float, end: float) -> list[tuple[float, float, str]]:
    """Fill [start, end] with `texts`, each getting a share proportional to its length."""
    if not texts or end <= start:
        return []
    total = sum(_weight(t) for t in texts)
    out: list[tuple[float, float, str]] = []
    t = start
    for i, text in enumerate(texts):
        d = (end - start) * _weight(text) / total
        e = end if i == len(texts) - 1 else t + d
        out.append((t, max(t + 0.1, e - (GAP_S if i < len(texts) - 1 else 0)), text))
        t = e
    return out


def dialog_cues(shot_id: str, lines: Iterable[tuple[str, str]], start: float,
                end: float) -> list[Cue]:
    """Cues for (speaker, text) dialog lines of one shot spanning [start, end] in the cut."""
    items = [(sp, tx) for sp, tx in lines if tx and tx.strip()]
    if not items or end <= start:
        return []
    texts = [f"{sp}: {tx}" if sp and sp.strip() else tx for sp, tx in items]
    reading = [min(MAX_CUE_S, max(MIN_CUE_S, _weight(tx) / READ_CPS + 0.4)) for _, tx in items]
    span = end - start
    if sum(reading) > span:
        timed = spread(texts, start, end)
    else:
        timed, t = [], start
        for text, d in zip(texts, reading, strict=True):
            timed.append((t, t + d - GAP_S, text))
            t += d
    return [Cue(start=s, end=e, text=tx, shot=shot_id, kind="dialog") for s, e, tx in timed]


def narration_cues(shot_id: str, text: str, start: float, end: float) -> list[Cue]:
    return [Cue(start=s, end=e, text=tx, shot=shot_id, kind="narration")
            for s, e, tx in spread(split_sentences(text), start, end)]


def number(cues: list[Cue]) -> list[Cue]:
    cues = sorted(cues, key=lambda c: (c.start, c.end))
    for i, c in enumerate(cues, 1):
        c.index = i
    return cues


def srt_time(t: float) -> str:
    ms = max(0, int(round(t * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = []
    for i, c in enumerate(number(list(cues)), 1):
        text = "\n".join(line for line in c.text.replace("\r", "").split("\n") if line.strip())
        blocks.append(f"{i}\n{srt_time(c.start)} --> {srt_time(c.end)}\n{text}\n")
    return "\n".join(blocks)


_SRT_TIME = re.compile(r"(\d+):(\d+):(\d+),(\d+)\s*-->\s*(\d+):(\d+):(\d+),(\d+)")


def parse_srt(text: str) -> list[Cue]:
    """Read an SRT back (used by tests and the viewer)."""
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        if len(lines) < 2:
            continue
        m = _SRT_TIME.search(lines[1])
        if not m:
            continue
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append(Cue(index=int(lines[0]) if lines[0].isdigit() else 0, start=start, end=end,
                        text="\n".join(lines[2:])))
    return cues
