"""The price table (config/models.jsonl) and the render cost estimate.

Unknown price -> "no price data": never guess, never borrow another model's price.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from pydantic import BaseModel, Field

from .settings import REPO_ROOT

PRICE_TABLE = REPO_ROOT / "config" / "models.jsonl"

# which concrete model renders each shot kind, per provider family
VIDEO_MODELS: dict[str, dict[str, str]] = {
    "bl": {"t2v": "happyhorse-1.0-t2v", "i2v": "happyhorse-1.0-i2v", "r2v": "happyhorse-1.0-r2v"},
    "wan27": {"t2v": "wan2.7-t2v-2026-04-25", "i2v": "wan2.7-i2v-2026-04-25",
              "r2v": "wan2.7-r2v"},
    "offline": {"t2v": "offline-animatic", "i2v": "offline-animatic", "r2v": "offline-animatic"},
}
FREE_MODELS = {"offline-animatic", "offline-tts", "offline-text", "offline-technical",
               "offline-portrait", "espeak-ng"}


class Price(BaseModel):
    type: str
    unit: str
    price: float
    # a token tier: this price holds while the request's input tokens are at most this many
    # (qwen-plus: up to 128k; qwen3-vl-plus: up to 32k); None = no bound
    max_input_tokens: int | None = None


class PricedModel(BaseModel):
    model: str
    name: str = ""
    family: str = ""
    currency: str = "CNY"
    prices: list[Price] = Field(default_factory=list)
    source: str = ""  # the public page the prices come from


@functools.cache
def price_table(path: Path = PRICE_TABLE) -> dict[str, PricedModel]:
    out: dict[str, PricedModel] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                m = PricedModel.model_validate(json.loads(line))
            except Exception as e:  # noqa: BLE001 - report the line, whatever went wrong
                raise ValueError(f"{path}:{n}: bad price line: {e}") from e
            out[m.model] = m
    return out


def video_price_type(resolution: str) -> str:
    return f"video_ratio_{resolution.lower()}"


def _price(model: str, match) -> float | None:
    """The first price of `model` that `match` accepts; 0.0 for our free offline models,
    None when there is no price data."""
    if model in FREE_MODELS:
        return 0.0
    entry = price_table().get(model)
    return next((p.price for p in entry.prices if match(p)), None) if entry else None


def unit_price(model: str, price_type: str) -> float | None:
    return _price(model, lambda p: p.type == price_type)


def currency(model: str) -> str:
    entry = price_table().get(model)
    return entry.currency if entry else "CNY"


def video_cost(model: str, resolution: str, seconds: float) -> float | None:
    price = unit_price(model, video_price_type(resolution))
    return None if price is None else round(price * seconds, 4)


def tts_cost(model: str, chars: int) -> float | None:
    price = _price(model, lambda p: p.unit == "10k_chars")
    return None if price is None else round(price * chars / 10000, 4)


def tts_billed_chars(text: str) -> int:
    """DashScope bills each CJK character as 2."""
    return sum(2 if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1
               for ch in text)


def token_price(model: str, price_type: str, input_tokens: int) -> float | None:
    """Price per 1M tokens of `price_type` for a request with `input_tokens` input tokens: the
    lowest tier that holds it; None when no tier does (no price data beyond the catalog's)."""
    entry = price_table().get(model)
    if not entry:
        return None
    tiers = sorted((p for p in entry.prices if p.type == price_type and p.unit == "1M_tokens"),
                   key=lambda p: p.max_input_tokens or float("inf"))
    return next((p.price for p in tiers if p.max_input_tokens is None
                 or input_tokens <= p.max_input_tokens), None)


def token_cost(model: str, usage: dict) -> float | None:
    """Cost of one chat call from its `usage` (prompt/completion tokens, audio input priced
    apart where the model has an audio price); None = no price data."""
    if model in FREE_MODELS:
        return 0.0
    if not usage:
        return None
    pin = int(usage.get("prompt_tokens") or 0)
    pout = int(usage.get("completion_tokens") or 0)
    p_in = token_price(model, "input_token", pin)
    p_out = token_price(model, "output_token", pin)
    if p_in is None or p_out is None:
        return None
    details = usage.get("prompt_tokens_details") or {}
    audio_in = int(details.get("audio_tokens") or 0) if isinstance(details, dict) else 0
    p_audio = token_price(model, "input_token_audio", pin)
    cost = (pin - audio_in) * p_in + pout * p_out + audio_in * (p_in if p_audio is None
                                                                   else p_audio)
    return round(cost / 1e6, 6)
