"""Offline TTS: espeak-ng (175 wpm × rate) when installed, else a timed silence."""

from __future__ import annotations

import os
from pathlib import Path

from ... import media
from ..base import CallContext
from .common import TTS_MODEL, atomic_target
from .speech import _espeak, _espeak_voice, _write_silence, espeak_path, estimate_speech_seconds


class OfflineTTS:
    """espeak-ng when installed (speed 175 wpm × rate), else a timed silence."""

    name = "offline"

    def synthesize(self, ctx: CallContext, text: str, out: Path, *, voice: str,
                   rate: float) -> Path:
        out = Path(out)
        rate = rate if rate and rate > 0 else 1.0
        engine = TTS_MODEL if espeak_path() else "offline-silence"
        with ctx.timed("offline", engine, "tts", prompt=text) as log:
            tmp = atomic_target(out, ".part")
            try:
                ok = _espeak(text, tmp, voice=_espeak_voice(voice, text),
                             wpm=round(175 * rate))
                if not ok:
                    _write_silence(tmp, estimate_speech_seconds(text, rate))
                if out.suffix.lower() not in ("", ".wav"):
                    conv = atomic_target(out, out.suffix)
                    try:
                        media.run(["-y", "-i", str(tmp), str(conv)],
                                  what=f"converting speech to {out.suffix}")
                    except BaseException:
                        conv.unlink(missing_ok=True)
                        raise
                    tmp.unlink(missing_ok=True)
                    tmp = conv
                secs = round(media.probe(tmp).duration, 3)
                os.replace(tmp, out)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            log.update(billed_units=secs, unit="second", cost=0.0)
        return out
