"""Spoken dialog for animatics and offline TTS: espeak-ng when installed, else timed
silence."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import wave
from pathlib import Path

from ...base.models import ShotSpec
from .common import _CJK


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def _espeak_voice(voice: str | None, text: str) -> str:
    lang = "cmn" if _CJK.search(text) else "en-us"
    if voice and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*(\+[\w-]+)?", voice):
        return voice
    if voice and re.fullmatch(r"\+?[mf]\d", voice):
        return f"{lang}+{voice.lstrip('+')}"
    return lang


def _espeak(text: str, out: Path, *, voice: str, wpm: int) -> bool:
    """Speak `text` into the wav `out`; False when espeak-ng is missing or fails."""
    exe = espeak_path()
    if not exe or not text.strip():
        return False
    wpm = max(80, min(450, int(wpm)))
    for v in dict.fromkeys([voice, "cmn" if _CJK.search(text) else "en-us"]):
        proc = subprocess.run([exe, "-w", str(out), "-s", str(wpm), "-v", v, "--stdin"],
                              input=text.encode("utf-8"), capture_output=True)
        if proc.returncode == 0 and out.exists() and out.stat().st_size > 44:
            return True
    return False


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def _write_silence(path: Path, seconds: float, rate: int = 24000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(round(seconds * rate)))


def estimate_speech_seconds(text: str, rate: float = 1.0) -> float:
    """Speaking time: CJK characters at 3 per second, other words at 2.5 per second."""
    cjk = len(_CJK.findall(text or ""))
    words = len(_CJK.sub(" ", text or "").split())
    return max(0.5, (cjk / 3.0 + words / 2.5) / max(0.1, rate))


_VARIANTS = ("m1", "f2", "m3", "f4", "m7", "f1", "m2", "f3")


def _speaker_voice(speaker: str, text: str) -> str:
    lang = "cmn" if _CJK.search(text) else "en-us"
    if speaker.lower() in ("narrator", "旁白"):
        return f"{lang}+m3"
    k = int(hashlib.sha256(speaker.encode("utf-8")).hexdigest(), 16) % len(_VARIANTS)
    return f"{lang}+{_VARIANTS[k]}"


def _spoken_lines(spec: ShotSpec) -> list[tuple[str, str]]:
    shot = spec.shot
    lines = [(ln.speaker, ln.text) for ln in shot.dialog if ln.text.strip()]
    if shot.narration_text and shot.narration_text.strip():
        lines.append(("Narrator", shot.narration_text.strip()))
    return lines


def speech_track(spec: ShotSpec, workdir: Path, max_s: float) -> Path | None:
    """The shot's dialog/narration as one mono wav no longer than `max_s` (None: no
    words, or espeak-ng not installed). Each speaker keeps one espeak voice variant."""
    lines = _spoken_lines(spec)
    if not lines or not espeak_path() or max_s <= 0.3:
        return None
    wpm = 175
    for _ in range(3):
        parts: list[Path] = []
        for i, (speaker, text) in enumerate(lines):
            p = workdir / f"line{i}.wav"
            if _espeak(text, p, voice=_speaker_voice(speaker, text), wpm=wpm):
                parts.append(p)
        if not parts:
            return None
        out = workdir / "speech.wav"
        gap = 0.25
        with wave.open(str(parts[0]), "rb") as w0:
            params = w0.getparams()
        with wave.open(str(out), "wb") as wo:
            wo.setparams(params)
            for i, p in enumerate(parts):
                with wave.open(str(p), "rb") as wi:
                    wo.writeframes(wi.readframes(wi.getnframes()))
                if i < len(parts) - 1:
                    wo.writeframes(b"\x00" * params.sampwidth * int(gap * params.framerate))
        total = _wav_seconds(out)
        if total <= max_s or wpm >= 400:
            return out
        wpm = int(min(400, wpm * total / max_s * 1.05 + 1))
    return out
