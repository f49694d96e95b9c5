"""Per-model video capability table, checked before any paid submission.

DashScope silently truncates over-long prompts and fails a task (after queueing it) on a bad
duration or resolution, so every request is checked here first (reference/dashscope.md §1).

Clamp rules (documented, deterministic, applied by `check_request`):
- duration: clamped into the model's [min, max] range (a 2 s shot on happyhorse, whose
  minimum is 3 s, is rendered and billed as 3 s; `effective_duration()` gives the same number
  to the cost estimate so the estimate matches the bill).
- ratio: dropped (None) for models whose aspect follows the first frame (i2v); for the others
  an unsupported ratio is an error, never silently changed.
Everything else out of range raises `CapabilityError` (a non-retryable ProviderError):
unknown model, wrong kind, unsupported resolution, too many/few media, prompt over the limit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from .pricing import VIDEO_MODELS
from .providers.base import ProviderError

Protocol_ = Literal["media", "legacy"]

HH_RATIOS = ("16:9", "9:16", "3:4", "4:3", "4:5", "5:4", "1:1")
WAN_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4")


class CapabilityError(ProviderError):
    """The request is outside what the model accepts; refused before paying."""

    def __init__(self, message: str):
        super().__init__(message, code="CapabilityCheck", retryable=False)


@dataclass(frozen=True)
class VideoCaps:
    model: str
    family: str  # happyhorse-1.0 | happyhorse-1.1 | wan2.6 | wan2.7
    kind: str  # t2v | i2v | r2v
    protocol: Protocol_  # media = input.media[] array; legacy = img_url/reference_urls/size
    min_s: int
    max_s: int
    resolutions: tuple[str, ...]
    ratios: tuple[str, ...] | None  # None: aspect follows the first frame, ratio not sent
    media_min: int = 0
    media_max: int = 0
    prompt_max: int = 5000  # characters (CJK characters weigh `cjk_weight`)
    cjk_weight: int = 1
    first_frame_with_refs: bool = False  # r2v also takes a first_frame (wan2.7)
    watermark_default: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


def _hh(version: str, kind: str) -> VideoCaps:
    res = ("720P", "1080P") if version == "1.0" else ("480P", "720P", "1080P")
    ratios: tuple[str, ...] | None = HH_RATIOS
    if version == "1.1" and kind == "t2v":
        ratios = HH_RATIOS + ("9:21", "21:9")
    mm = {"t2v": (0, 0), "i2v": (1, 1), "r2v": (1, 9)}[kind]
    return VideoCaps(
        model=f"happyhorse-{version}-{kind}", family=f"happyhorse-{version}", kind=kind,
        protocol="media", min_s=3, max_s=15, resolutions=res,
        ratios=None if kind == "i2v" else ratios, media_min=mm[0], media_max=mm[1],
        prompt_max=5000, cjk_weight=2, watermark_default=True)


def _wan26(kind: str) -> VideoCaps:
    mm = {"t2v": (0, 0), "i2v": (1, 1), "r2v": (1, 5)}[kind]
    return VideoCaps(
        model=f"wan2.6-{kind}", family="wan2.6", kind=kind, protocol="legacy", min_s=2,
        max_s=10 if kind == "r2v" else 15, resolutions=("720P", "1080P"),
        ratios=None if kind == "i2v" else WAN_RATIOS, media_min=mm[0], media_max=mm[1],
        prompt_max=1500)


def _wan27(model: str, kind: str) -> VideoCaps:
    # i2v: first_frame (+ last_frame); r2v: 1-5 references (+ one first_frame)
    mm = {"t2v": (0, 0), "i2v": (1, 2), "r2v": (1, 5)}[kind]
    return VideoCaps(
        model=model, family="wan2.7", kind=kind, protocol="media", min_s=2, max_s=15,
        resolutions=("720P", "1080P"), ratios=None if kind == "i2v" else WAN_RATIOS,
        media_min=mm[0], media_max=mm[1], prompt_max=5000, first_frame_with_refs=kind == "r2v")


VIDEO_CAPS: dict[str, VideoCaps] = {}
for _k in ("t2v", "i2v", "r2v"):
    for _v in ("1.0", "1.1"):
        VIDEO_CAPS[f"happyhorse-{_v}-{_k}"] = _hh(_v, _k)
    VIDEO_CAPS[f"wan2.6-{_k}"] = _wan26(_k)
    VIDEO_CAPS[f"wan2.7-{_k}"] = _wan27(f"wan2.7-{_k}", _k)
VIDEO_CAPS["wan2.7-t2v-2026-04-25"] = _wan27("wan2.7-t2v-2026-04-25", "t2v")
VIDEO_CAPS["wan2.7-i2v-2026-04-25"] = _wan27("wan2.7-i2v-2026-04-25", "i2v")

FAMILIES = {
    "happyhorse-1.0": {k: f"happyhorse-1.0-{k}" for k in ("t2v", "i2v", "r2v")},
    "happyhorse-1.1": {k: f"happyhorse-1.1-{k}" for k in ("t2v", "i2v", "r2v")},
    "wan2.6": {k: f"wan2.6-{k}" for k in ("t2v", "i2v", "r2v")},
    "wan2.7": dict(VIDEO_MODELS["wan27"]),
}


def caps(model: str) -> VideoCaps:
    c = VIDEO_CAPS.get(model)
    if c is None:
        raise CapabilityError(
            f"video model {model!r} is not in the capability table; known models: "
            f"{', '.join(sorted(VIDEO_CAPS))}")
    return c


def video_family(provider: str, cfg: Any = None) -> str:
    """The model family a provider renders with: SPARK_VIDEO_VIDEO_MODEL / config video_model
    (a family name such as wan2.6, or any model of that family), else the provider default."""
    choice = os.environ.get("SPARK_VIDEO_VIDEO_MODEL") or getattr(cfg, "video_model", None)
    if choice:
        if choice in FAMILIES:
            return choice
        if choice in VIDEO_CAPS:
            return VIDEO_CAPS[choice].family
        raise CapabilityError(f"SPARK_VIDEO_VIDEO_MODEL={choice!r} is neither a model family "
                              f"({', '.join(FAMILIES)}) nor a known video model")
    return "wan2.7" if provider == "wan27" else "happyhorse-1.0"


def plan(provider: str, kind: str, *, first_frame: bool, cfg: Any = None) -> tuple[str, str]:
    """(model, effective kind) for a shot. A chained shot always really gets its first frame:
    t2v + first frame renders as i2v; r2v + first frame stays r2v where the model takes a
    first_frame next to references (wan2.7), otherwise it renders as i2v from that frame."""
    fam = video_family(provider, cfg)
    eff = kind
    if first_frame and kind == "t2v":
        eff = "i2v"
    elif first_frame and kind == "r2v" and not caps(FAMILIES[fam]["r2v"]).first_frame_with_refs:
        eff = "i2v"
    return FAMILIES[fam][eff], eff


def prompt_weight(prompt: str, cjk_weight: int) -> int:
    return sum(cjk_weight if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1
               for ch in prompt)


def effective_duration(model: str, duration: float) -> int:
    """The seconds the model will render and bill for a requested duration (clamped)."""
    c = caps(model)
    return int(min(max(round(duration), c.min_s), c.max_s))


@dataclass(frozen=True)
class CheckedRequest:
    model: str
    kind: str
    duration: int
    resolution: str
    ratio: str | None
    notes: tuple[str, ...] = ()


def check_request(model: str, kind: str, duration: float, resolution: str, ratio: str | None,
                  prompt: str, media_count: int, *, first_frame: bool = False) -> CheckedRequest:
    """Check (and clamp, see module doc) one video request; raise CapabilityError if the model
    cannot take it. `media_count` counts every media item sent (first frame included);
    `first_frame` says one of them is a first frame next to r2v references (wan2.7)."""
    c = caps(model)
    notes: list[str] = []
    if c.kind != kind:
        raise CapabilityError(f"{model} renders {c.kind}, not {kind}")
    dur = effective_duration(model, duration)
    if dur != round(duration):
        notes.append(f"duration {duration}s clamped to {dur}s ({model}: {c.min_s}-{c.max_s}s)")
    res = (resolution or "").upper()
    if res not in c.resolutions:
        raise CapabilityError(f"{model} does not render {resolution!r}; it takes "
                              f"{' | '.join(c.resolutions)}")
    out_ratio: str | None = ratio
    if c.ratios is None:
        if ratio:
            notes.append(f"ratio {ratio} not sent: {model} follows the first frame's aspect")
        out_ratio = None
    elif ratio and ratio not in c.ratios:
        raise CapabilityError(f"{model} does not take ratio {ratio!r}; it takes "
                              f"{' | '.join(c.ratios)}")
    if not prompt or not prompt.strip():
        raise CapabilityError(f"{model}: the prompt is empty")
    w = prompt_weight(prompt, c.cjk_weight)
    if w > c.prompt_max:
        raise CapabilityError(
            f"{model}: the prompt is {w} characters (CJK counted x{c.cjk_weight}), over the "
            f"model's limit of {c.prompt_max}; the API would silently truncate it. Shorten it.")
    media_max = c.media_max + (1 if first_frame and c.first_frame_with_refs else 0)
    if not c.media_min <= media_count <= media_max:
        raise CapabilityError(f"{model} takes {c.media_min}-{c.media_max} media items for "
                              f"{kind}, got {media_count}")
    return CheckedRequest(model, kind, dur, res, out_ratio, tuple(notes))
