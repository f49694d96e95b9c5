"""Per-model capability tables (video, images, TTS, chat), checked before any paid call.

DashScope silently truncates over-long prompts and fails a task (after queueing it) on a bad
duration or resolution, so every request is checked here first.

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

import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..base.pricing import VIDEO_MODELS
from ..media import MediaError, probe
from .base import ProviderError

Protocol_ = Literal["media", "legacy"]

PAGES_DIR = Path(__file__).resolve().parent / "models"


@functools.cache
def pages() -> dict[str, dict[str, Any]]:
    """model -> its entry in the published-page data (providers/models/<family>.json): each
    limit is {"value", "source", ...}; `family` and `protocol` come from the file."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted(PAGES_DIR.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for name, m in doc["models"].items():
            out[name] = {**m, "family": doc["family"], "protocol": doc.get("protocol"),
                         "file": f.name}
    return out


def page_value(model: str, limit: str, default: Any = None) -> Any:
    lim = pages().get(model, {}).get(limit)
    return lim["value"] if isinstance(lim, dict) and "value" in lim else default


def page_source(model: str, limit: str) -> str:
    lim = pages().get(model, {}).get(limit)
    return lim.get("source", "") if isinstance(lim, dict) else ""


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
    sizes: dict[str, dict[str, str]] | None = None  # resolution -> ratio -> "W*H" (wan2.6)
    reference_name: str | None = None  # how the prompt names reference n ("character{n}")


def _video_caps(model: str) -> VideoCaps:
    """A video model's capabilities, from its page data."""
    m = pages()[model]
    fam = m["family"]
    if fam == "happyhorse":
        fam = "happyhorse-" + model.split("-")[1]
    dur = page_value(model, "durations")
    media = page_value(model, "media")
    ratios = page_value(model, "ratios")
    sizes = page_value(model, "sizes")
    return VideoCaps(
        model=model, family=fam, kind=m["kind"], protocol=m["protocol"], min_s=dur[0],
        max_s=dur[1], resolutions=tuple(page_value(model, "resolutions")),
        ratios=tuple(ratios) if ratios else None, media_min=media[0], media_max=media[1],
        prompt_max=page_value(model, "prompt_max"),
        cjk_weight=m["prompt_max"].get("cjk_weight", 1),
        first_frame_with_refs=bool(page_value(model, "first_frame_with_refs", False)),
        sizes={r: dict(v) for r, v in sizes.items()} if sizes else None,
        reference_name=page_value(model, "reference_names"))


VIDEO_CAPS: dict[str, VideoCaps] = {name: _video_caps(name) for name, m in pages().items()
                                    if m.get("kind") in ("t2v", "i2v", "r2v")}


@dataclass(frozen=True)
class VoiceLimits:
    """What a model takes as a reference image's or video's `reference_voice` (its page)."""

    formats: tuple[str, ...]  # file extensions, without the dot
    min_s: float
    max_s: float
    max_bytes: int
    source: str

    def refusal(self, path: Path, seconds: float | None, size: int) -> str | None:
        """Why the model would refuse this sample (naming the limit), or None."""
        ext = path.suffix.lower().lstrip(".")
        if ext not in self.formats:
            return f"its format is {ext or 'unknown'}; the model takes {'/'.join(self.formats)}"
        if size > self.max_bytes:
            return (f"it is {size / 2**20:.1f} MB; the model takes at most "
                    f"{self.max_bytes // 2**20} MB")
        if seconds is None:
            return "it is not a readable audio file"
        if not self.min_s <= seconds <= self.max_s:
            return (f"it lasts {seconds:.1f} s; the model takes {self.min_s:g}-{self.max_s:g} s")
        return None

    def check(self, path: Path) -> str | None:
        """`refusal()` of the file on disk (its size, and its length as ffmpeg reads it)."""
        try:
            size = path.stat().st_size
        except OSError:
            return "the file is missing"
        try:
            seconds: float | None = probe(path).duration
        except MediaError:
            seconds = None
        return self.refusal(path, seconds, size)


def voice_limits(model: str) -> VoiceLimits | None:
    """The model's `reference_voice` limits, or None when its page has no reference voice."""
    v = page_value(model, "reference_voice")
    if not v:
        return None
    return VoiceLimits(formats=tuple(v["formats"]), min_s=v["seconds"][0],
                       max_s=v["seconds"][1], max_bytes=int(v["max_mb"] * 2**20),
                       source=page_source(model, "reference_voice"))


def video_size(model: str, resolution: str, ratio: str) -> str:
    """The W*H the model's page lists for `resolution` and `ratio` (legacy wan2.6 `size`)."""
    c = caps(model)
    by_ratio = (c.sizes or {}).get(resolution.upper()) or {}
    if ratio not in by_ratio:
        raise CapabilityError(f"{model} has no size for {resolution} at {ratio}; it takes "
                              f"{', '.join(f'{a} ({s})' for a, s in by_ratio.items())} "
                              f"(source: {page_source(model, 'sizes')})")
    return by_ratio[ratio]


FAMILIES = {
    "happyhorse-1.0": {k: f"happyhorse-1.0-{k}" for k in ("t2v", "i2v", "r2v")},
    "happyhorse-1.1": {k: f"happyhorse-1.1-{k}" for k in ("t2v", "i2v", "r2v")},
    "wan2.6": {k: f"wan2.6-{k}" for k in ("t2v", "i2v", "r2v")},
    "wan2.7": dict(VIDEO_MODELS["wan27"]),
}


def _known(table: dict, model: str, what: str, hint: str = ""):
    """The table's entry for `model`, or an error naming the models it knows."""
    if model not in table:
        raise CapabilityError(f"{what} model {model!r} is not in the capability table; known "
                              f"models: {', '.join(sorted(table))}{hint}")
    return table[model]


def caps(model: str) -> VideoCaps:
    return _known(VIDEO_CAPS, model, "video")


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


# --------------------------------------------------------------------------- images
# Sizes are "W*H". Three shapes of rule:
# - area: total pixels between min_px and max_px and aspect between 1:max_aspect and
#   max_aspect:1 (wan2.6-t2i: 1280*1280..1440*1440, 1:4..4:1; wan2.5-t2i: 768*768..1440*1440);
# - sides: each side between min_side and max_side, total pixels at most max_px (wan2.2 /
#   wanx2.1 t2i: 512..1440 per side, 2 Mpx; qwen-image edit models 512..2048; qwen-image-2.0
#   up to about 2048*2048 in total);
# - fixed: only the listed sizes (qwen-image, qwen-image-plus);
# - tiers: a tier name instead of pixels (wan2.7-image / wan2.6-image: 1K | 2K, pro adds 4K).
# The older wan t2i models run as async tasks (text2image/image-synthesis); the others answer
# synchronously on multimodal-generation.


@dataclass(frozen=True)
class ImageCaps:
    model: str
    rule: Literal["area", "sides", "fixed", "tiers"]
    protocol: Literal["sync", "async"] = "sync"
    min_px: int = 0
    max_px: int = 0
    max_aspect: float = 4.0
    min_side: int = 0
    max_side: int = 0
    fixed: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    n_max: int = 1
    prompt_max: int = 800
    step: int = 16  # sizes are rounded to multiples of this


def _img(**kw: Any) -> ImageCaps:
    return ImageCaps(**kw)


QWEN_IMAGE_SIZES = ("1664*928", "1472*1140", "1328*1328", "1140*1472", "928*1664")

IMAGE_CAPS: dict[str, ImageCaps] = {c.model: c for c in (
    _img(model="wan2.6-t2i", rule="area", min_px=1280 * 1280, max_px=1440 * 1440,
         max_aspect=4.0, n_max=4, prompt_max=2100),
    _img(model="wan2.5-t2i-preview", rule="area", protocol="async", min_px=768 * 768,
         max_px=1440 * 1440, max_aspect=4.0, n_max=4, prompt_max=2000),
    _img(model="wan2.2-t2i-plus", rule="sides", protocol="async", min_side=512, max_side=1440,
         max_px=2_000_000, n_max=4, prompt_max=800),
    _img(model="wan2.2-t2i-flash", rule="sides", protocol="async", min_side=512,
         max_side=1440, max_px=2_000_000, n_max=4, prompt_max=800),
    _img(model="wanx2.1-t2i-turbo", rule="sides", protocol="async", min_side=512,
         max_side=1440, max_px=2_000_000, n_max=4, prompt_max=800),
    _img(model="wanx2.1-t2i-plus", rule="sides", protocol="async", min_side=512,
         max_side=1440, max_px=2_000_000, n_max=4, prompt_max=800),
    _img(model="wan2.7-image", rule="tiers", tiers=("1K", "2K"), n_max=4, prompt_max=5000),
    _img(model="wan2.7-image-pro", rule="tiers", tiers=("1K", "2K", "4K"), n_max=4,
         prompt_max=5000),
    _img(model="wan2.6-image", rule="tiers", tiers=("1K", "2K"), n_max=4, prompt_max=2000),
    _img(model="qwen-image", rule="fixed", fixed=QWEN_IMAGE_SIZES, prompt_max=800),
    _img(model="qwen-image-plus", rule="fixed", fixed=QWEN_IMAGE_SIZES, prompt_max=800),
    _img(model="qwen-image-2.0", rule="sides", min_side=512, max_side=2688,
         max_px=2048 * 2048, n_max=1, prompt_max=800),
    _img(model="qwen-image-2.0-pro", rule="sides", min_side=512, max_side=2688,
         max_px=2048 * 2048, n_max=1, prompt_max=800),
    _img(model="qwen-image-edit-plus", rule="sides", min_side=512, max_side=2048,
         max_px=2048 * 2048, n_max=1, prompt_max=800),
    _img(model="qwen-image-edit-max", rule="sides", min_side=512, max_side=2048,
         max_px=2048 * 2048, n_max=1, prompt_max=800),
)}


def image_caps(model: str) -> ImageCaps:
    return _known(IMAGE_CAPS, model, "image",
                  " (config image_model / SPARK_VIDEO_IMAGE_MODEL)")


def parse_size(size: str) -> tuple[int, int] | None:
    parts = size.replace("x", "*").replace("×", "*").split("*")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def parse_ratio(ratio: str) -> float:
    try:
        a, b = (float(x) for x in ratio.split(":"))
        if a <= 0 or b <= 0:
            raise ValueError
    except ValueError:
        raise CapabilityError(f"ratio {ratio!r} is not W:H (e.g. 3:4)") from None
    return a / b


def image_size_problem(model: str, size: str) -> str | None:
    """Why `model` refuses `size`, or None when it takes it."""
    c = image_caps(model)
    if c.rule == "tiers":
        return None if size in c.tiers else f"takes size {' | '.join(c.tiers)}"
    if c.rule == "fixed":
        return None if size in c.fixed else f"takes only the sizes {', '.join(c.fixed)}"
    wh = parse_size(size)
    if wh is None:
        return "needs a size written W*H"
    w, h = wh
    if c.rule == "area":
        if not c.min_px <= w * h <= c.max_px:
            return (f"needs a total pixel count between {c.min_px} and {c.max_px} "
                    f"({w}*{h} = {w * h})")
        if max(w / h, h / w) > c.max_aspect + 1e-9:
            return f"needs an aspect ratio between 1:{c.max_aspect:g} and {c.max_aspect:g}:1"
        return None
    if not (c.min_side <= w <= c.max_side and c.min_side <= h <= c.max_side):
        return f"needs each side between {c.min_side} and {c.max_side} px"
    if w * h > c.max_px:
        return f"needs at most {c.max_px} pixels in total ({w}*{h} = {w * h})"
    return None


def image_size(model: str, ratio: str = "3:4") -> str:
    """A size `model` accepts for an aspect `ratio` (W:H): the nearest the model allows, in
    the middle of its pixel range, rounded to its step. Never a fixed pixel size."""
    c = image_caps(model)
    r = parse_ratio(ratio)
    if c.rule == "tiers":
        return c.tiers[0]
    if c.rule == "fixed":
        return min(c.fixed, key=lambda s: abs(_log_ratio(s) - _log(r)))
    r = min(max(r, 1 / c.max_aspect), c.max_aspect) if c.rule == "area" else r
    if c.rule == "area":
        target = (c.min_px + c.max_px) / 2
    else:
        target = min(c.max_px, 1024 * 1024 * 1.5)
    for _ in range(64):
        w = max(c.step, round(math.sqrt(target * r) / c.step) * c.step)
        h = max(c.step, round(math.sqrt(target / r) / c.step) * c.step)
        if c.rule == "sides":
            w, h = (min(max(x, c.min_side), c.max_side) for x in (w, h))
        size = f"{w}*{h}"
        if image_size_problem(model, size) is None:
            return size
        target *= 0.97 if w * h > (c.max_px or w * h) else 1.01
    raise CapabilityError(f"{model}: no valid size for ratio {ratio}")


def _log(x: float) -> float:
    return math.log(x)


def _log_ratio(size: str) -> float:
    wh = parse_size(size)
    assert wh
    return _log(wh[0] / wh[1])


def check_image_request(model: str, size: str, n: int, prompt: str) -> ImageCaps:
    c = image_caps(model)
    why = image_size_problem(model, size)
    if why:
        raise CapabilityError(f"image model {model} {why}; got size {size!r}. Ask for "
                              f"an aspect ratio instead (3:4 gives {image_size(model)}).")
    if not 1 <= n <= c.n_max:
        raise CapabilityError(f"image model {model} makes 1-{c.n_max} images per request, "
                              f"asked for {n}")
    if not prompt.strip():
        raise CapabilityError(f"image model {model}: the prompt is empty")
    if len(prompt) > c.prompt_max:
        raise CapabilityError(f"image model {model}: the prompt is {len(prompt)} characters, "
                              f"over the model's limit of {c.prompt_max}; the API would "
                              "truncate it. Shorten the card's description.")
    return c


# --------------------------------------------------------------------------- TTS

COSY_V3_VOICES = ("longanyang", "longanhuan", "longyingjing_v3", "longanhuan_v3.6",
                  "longxiaochun_v3", "longwan_v3", "longcheng_v3", "longhua_v3",
                  "longshu_v3", "loongbella_v3")
COSY_V2_VOICES = ("longxiaochun_v2", "longwan_v2", "longcheng_v2", "longhua_v2",
                  "longshu_v2", "loongbella_v2", "longxiaoxia_v2", "longyue_v2")
QWEN_TTS_VOICES = ("Cherry", "Serena", "Ethan", "Chelsie", "Momo", "Vivian", "Moon", "Maia",
                   "Kai", "Nofish", "Bella", "Jennifer", "Ryan", "Katerina", "Elias")


@dataclass(frozen=True)
class TTSCaps:
    model: str
    max_chars: int  # per request, CJK characters counting 2 (from the model's page data)
    voices: tuple[str, ...]
    rate: tuple[float, float] | None  # None: no rate parameter (stretched afterwards)
    voice_rule: str = ""


def _tts(model: str, *rest: Any) -> TTSCaps:
    return TTSCaps(model, page_value(model, "text_max"), *rest)


TTS_CAPS: dict[str, TTSCaps] = {c.model: c for c in (
    _tts("cosyvoice-v3-flash", COSY_V3_VOICES, (0.5, 2.0),
            "a v3 system voice (e.g. longanyang) or a cloned voice id (cosyvoice-...)"),
    _tts("cosyvoice-v3-plus", COSY_V3_VOICES, (0.5, 2.0),
            "a v3 system voice (e.g. longanyang) or a cloned voice id (cosyvoice-...)"),
    _tts("cosyvoice-v2", COSY_V2_VOICES, (0.5, 2.0),
            "a v2 system voice (e.g. longxiaochun_v2) or a cloned voice id (cosyvoice-...)"),
    _tts("qwen3-tts-flash", QWEN_TTS_VOICES, None, "a Qwen-TTS voice (e.g. Cherry)"),
    _tts("qwen-tts", QWEN_TTS_VOICES, None, "a Qwen-TTS voice (e.g. Cherry)"),
)}


def tts_caps(model: str) -> TTSCaps:
    c = TTS_CAPS.get(model)
    if c is None:
        raise CapabilityError(f"TTS model {model!r} is not in the capability table; known "
                              f"models: {', '.join(sorted(TTS_CAPS))} (narrator_tts_model)")
    return c


def check_tts_request(model: str, text: str, voice: str, rate: float) -> TTSCaps:
    c = tts_caps(model)
    if not text.strip():
        raise CapabilityError(f"TTS {model}: the text is empty")
    w = prompt_weight(text, 2)
    if w > c.max_chars:
        raise CapabilityError(f"TTS {model}: the text is {w} characters (CJK counted x2), "
                              f"over the model's limit of {c.max_chars} per request "
                              f"({page_source(model, 'text_max')}); split the narration line")
    cloned = voice.startswith("cosyvoice-") and model.startswith("cosyvoice")
    if voice not in c.voices and not cloned:
        raise CapabilityError(f"TTS {model} has no voice {voice!r}; it takes {c.voice_rule}: "
                              f"{', '.join(c.voices)} (narrator_voice)")
    lo, hi = c.rate or (0.5, 2.0)  # without a rate parameter the audio is stretched (atempo)
    if not lo <= rate <= hi:
        raise CapabilityError(f"TTS {model}: speech rate {rate} is outside {lo}-{hi} "
                              "(narrator_speech_rate)")
    return c


# --------------------------------------------------------------------------- chat
# Context windows in tokens (input + output). Tokens are estimated conservatively from the
# text (one token per CJK character, one per 3 other characters), and a user message that
# would not fit is trimmed in its middle with a visible marker, always the same way.

CHAT_CONTEXT: dict[str, int] = {
    "qwen-plus": 131072, "qwen-max": 32768, "qwen3-max": 262144, "qwen3.5-plus": 1000000,
    "qwen3.6-plus": 1000000, "qwen3.6-flash": 1000000, "qwen-flash": 1000000,
    "qwen-turbo": 1000000, "qwen-long": 10000000, "qwen3-vl-plus": 262144,
    "qwen3-vl-flash": 262144, "qwen-vl-max": 131072, "qwen-vl-plus": 131072,
    "qwen3-omni-flash": 65536, "qwen3.5-omni-plus": 65536, "qwen3.5-omni-flash": 65536,
    "qwen-omni-turbo": 32768, "qwen3.8-omni-flash": 1000000,
}
DEFAULT_CONTEXT = 32768
OUTPUT_RESERVE = 8192


def estimate_tokens(text: str) -> int:
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef")
    return cjk + (len(text) - cjk + 2) // 3


def chat_budget(model: str) -> int:
    """Input tokens a chat to `model` may use (its context minus room for the answer)."""
    ctx = CHAT_CONTEXT.get(model, DEFAULT_CONTEXT)
    return max(1024, ctx - min(OUTPUT_RESERVE, ctx // 4))


def trim_for_context(model: str, system: str, user: str) -> tuple[str, int]:
    """(user, characters removed): the user text cut in its middle, with a marker, so that
    system + user fit the model's input budget. Deterministic for the same inputs."""
    budget = chat_budget(model) - estimate_tokens(system) - 64
    if estimate_tokens(user) <= budget:
        return user, 0
    if budget <= 256:
        raise CapabilityError(f"chat {model}: the system prompt alone fills the context")
    lo, hi = 0, len(user)
    while lo < hi:  # the most characters kept (half head, half tail) that fit
        mid = (lo + hi + 1) // 2
        if estimate_tokens(user[: mid // 2] + user[len(user) - (mid - mid // 2):]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    keep = lo
    head, tail = user[: keep // 2], user[len(user) - (keep - keep // 2):]
    removed = len(user) - keep
    return f"{head}\n[... {removed} characters trimmed to fit {model}'s context ...]\n{tail}", \
        removed
