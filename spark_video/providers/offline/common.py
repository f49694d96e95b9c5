"""Constants and small helpers shared by the offline capabilities."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

FPS = 24
SAMPLE_RATE = 48000
FAULTS_ENV = "SPARK_VIDEO_OFFLINE_FAULTS"
FAULT_KINDS = ("black", "silent", "short", "frozen")
ANIMATIC_MODEL = "offline-animatic"
REVIEW_MODEL = "offline-technical"
TTS_MODEL = "espeak-ng"
IMAGE_MODEL = "offline-placeholder"

HOLD_S = 0.25  # a chained clip holds the previous shot's last frame this long...
FADE_S = 0.75  # ...then cross-fades into the card over this long
DURATION_TOLERANCE_S = 0.25
FIRST_FRAME_MAX_DIFF = 10.0  # mean abs diff (0-255) of 64x36 greyscale thumbnails
SILENT_LUFS = -50.0  # integrated loudness below this counts as no audible audio
BED_AMPLITUDE = 0.25  # pink noise alone (low-passed, stereo): about -30 LUFS
BED_UNDER_SPEECH = 0.06  # pink noise under speech: about -42 LUFS
SPEECH_GAIN_DB = 3.0

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def atomic_target(out: Path, suffix: str) -> Path:
    """A fresh hidden temporary file next to `out` (os.replace it into place when done)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    return Path(tmp)
