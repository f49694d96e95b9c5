"""The `offline` provider's media capabilities: animatic video, technical review, TTS, images.

No network, no keys, deterministic. The animatic renderer makes a real H.264/AAC
clip of the exact duration and canvas, in the scene colour, with the shot text, the cast
portraits, first-frame continuity and the spoken dialog; the technical reviewer measures
the clip (duration, canvas, black and frozen frames, audio loudness, first-frame match,
portraits) and maps the findings onto the six review axes.

Fault injection (tests of the retry loop): `SPARK_VIDEO_OFFLINE_FAULTS` is a
comma-separated list of `SHOT:VERSIONS=FAULT`, VERSIONS being `1|2` or `*`, FAULT one of
black (all-black video), silent (no audio stream), short (half the duration),
frozen (a still image). Example: `S01-002:1=black,S02-001:1|2=silent,S01-003:*=short`.
"""

from __future__ import annotations

from typing import Any

from ..offline_text import OfflineText
from .card import draw_card
from .faults import FAULTS_ENV, fault_for, parse_faults
from .image import OfflineImage, placeholder_image
from .review import OfflineReview
from .speech import estimate_speech_seconds, speech_track
from .tts import OfflineTTS
from .video import OfflineVideo, animatic_command


def make(capability: str, name: str, cfg: Any) -> Any:
    """The offline provider of one capability (no network, no keys)."""
    return {"text": OfflineText, "video": OfflineVideo, "review": OfflineReview,
            "tts": OfflineTTS, "image": OfflineImage}[capability]()


__all__ = ["FAULTS_ENV", "OfflineImage", "OfflineReview", "OfflineTTS", "OfflineText",
           "OfflineVideo", "animatic_command", "draw_card", "estimate_speech_seconds", "fault_for",
           "make", "parse_faults", "placeholder_image", "speech_track"]
