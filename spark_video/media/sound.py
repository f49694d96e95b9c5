"""Sound: loudness targets, narration fitting, TTS cache, BGM choice and tracks, ducking.

Levels (EBU R128):
- speech (clip dialog + narration) is normalised to -16 LUFS integrated;
- music to -30 LUFS (14 LU under the voice) at the default `bgm.volume` 0.25; the volume
  moves that reference: `music dB = -30 + 20·log10(volume / 0.25)` (0.5 → -24, 1.0 → -18,
  0 → muted). With no speech at all the music alone sits at -16 LUFS (as the original did);
- music is ducked under speech by a sidechain compressor, faded in and out;
- the master goes through a 4x-oversampled limiter, so its true peak stays <= -1.5 dBTP.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from ..base.io import load_model
from ..base.models import BGMConfig, NarrationSettings, Shot, Storyboard, WorkflowConfig
from ..base.paths import AUDIO_EXTS, EpisodePaths
from ..media import SILENCE_LUFS

VOICE_LUFS = -16.0
MUSIC_LUFS = -30.0
TRUE_PEAK_DBTP = -1.5
TRUE_PEAK_MAX_DBTP = -1.0  # every final, measured on its encoded AAC (stitch.build_master)
LIMIT_DBFS = -2.0  # limiter ceiling at 192 kHz: 0.5 dB of margin for the AAC encoder
DEFAULT_VOLUME = 0.25

MAX_TEMPO = 1.8  # narration speed-up cap (the original's)
FIT_TOLERANCE_S = 0.05
MAX_TAIL_S = 1.0  # a narration shot ends at most this long after its TTS

SAMPLE_RATE = 48000

# sidechain ducking of the music under speech (speech sits around -19 dBFS RMS at -16 LUFS):
# ~8-10 dB of gain reduction while someone speaks, back within half a second after.
DUCK = "threshold=0.03:ratio=5:attack=15:release=450:knee=3:detection=rms"

NO_MUSIC_PROMPT = (
    "No background music, no score, no soundtrack: only diegetic sound, ambience and dialog."
)
NO_MUSIC_NEGATIVE = "background music, score, melody, BGM, music, soundtrack"


class SoundError(RuntimeError):
    pass


# --------------------------------------------------------------------------- forbid_model_bgm


def apply_forbid_model_bgm(prompt: str, negative_prompt: str | None) -> tuple[str, str]:
    """Add the no-music instruction to a video prompt and its negative prompt (idempotent)."""
    prompt = (prompt or "").rstrip()
    if NO_MUSIC_PROMPT not in prompt:
        prompt = f"{prompt} {NO_MUSIC_PROMPT}".strip() if prompt else NO_MUSIC_PROMPT
    neg = (negative_prompt or "").strip().rstrip(",").strip()
    if NO_MUSIC_NEGATIVE not in neg:
        neg = f"{neg}, {NO_MUSIC_NEGATIVE}" if neg else NO_MUSIC_NEGATIVE
    return prompt, neg


# --------------------------------------------------------------------------- BGM choice


def load_bgm_config(paths: EpisodePaths, storyboard: Storyboard | None = None) -> BGMConfig:
    """The episode's music choice: bgm-config.json (the latest GATE 0.5 answer, so a music
    change needs only a re-stitch), else storyboard.bgm, else off."""
    if paths.bgm_config.exists():
        return load_model(BGMConfig, paths.bgm_config)
    if storyboard is not None and storyboard.bgm is not None:
        return storyboard.bgm
    return BGMConfig()


def music_enabled(bgm: BGMConfig) -> bool:
    return bool(bgm.enabled and bgm.mode != "off" and bgm.volume > 0)


def list_bgm_tracks(paths: EpisodePaths) -> dict[str, Path]:
    """Available tracks by stem; the episode's bgm/ overrides the project's bgm/."""
    out: dict[str, Path] = {}
    for folder in (paths.project_paths.bgm_dir, paths.bgm_dir):
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if p.is_file() and p.suffix.lower() in AUDIO_EXTS and not p.name.startswith("."):
                    out[p.stem] = p
    return out


def resolve_bgm_track(paths: EpisodePaths, name: str) -> Path:
    """A track name (stem, or file name with extension) → its file: episode bgm/ first."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise SoundError(f"bgm track {name!r} is not a plain track name")
    for folder in (paths.bgm_dir, paths.project_paths.bgm_dir):
        exact = folder / name
        if exact.is_file() and exact.suffix.lower() in AUDIO_EXTS:
            return exact
        for ext in AUDIO_EXTS:
            p = folder / f"{name}{ext}"
            if p.is_file():
                return p
    have = ", ".join(sorted(list_bgm_tracks(paths))) or "none"
    raise SoundError(
        f"bgm track {name!r} not found in {paths.bgm_dir} or {paths.project_paths.bgm_dir} "
        f"(available: {have}); fix bgm-config.json / the scene's bgm_track, or add the file"
    )


def music_gain_db(measured_lufs: float, volume: float, speech_present: bool) -> float:
    target = (MUSIC_LUFS if speech_present else VOICE_LUFS) + 20 * math.log10(
        max(volume, 1e-6) / DEFAULT_VOLUME)
    if not math.isfinite(measured_lufs) or measured_lufs <= SILENCE_LUFS:
        return 0.0
    return target - measured_lufs


def speech_gain_db(measured_lufs: float) -> float:
    if not math.isfinite(measured_lufs) or measured_lufs <= SILENCE_LUFS:
        return 0.0
    return VOICE_LUFS - measured_lufs


# --------------------------------------------------------------------------- narration


@dataclass(frozen=True)
class NarrationFit:
    tts_s: float  # the TTS audio as synthesized
    tempo: float  # atempo factor applied (1.0 = none; at most MAX_TEMPO)
    spoken_s: float  # TTS length after the speed-up
    span_s: float  # the shot's length in the cut (voice plays from its start)
    freeze_s: float  # last frame held this long because the voice outlasts the clip
    cut_s: float  # clip footage dropped because the clip outlasts voice + 1 s


def fit_narration(tts_s: float, clip_s: float) -> NarrationFit:
    """The original's fitting: speed up (≤1.8×) when the voice is longer than the clip; final
    length = min(max(voice, clip), voice + 1 s): freeze the last frame or cut the clip."""
    tempo = 1.0
    if tts_s > clip_s + FIT_TOLERANCE_S and clip_s > 0:
        # rounded up to what is written in the graph, so the voice never outlasts the clip
        tempo = min(MAX_TEMPO, math.ceil(tts_s / clip_s * 1e4) / 1e4)
    spoken = tts_s / tempo
    span = min(max(spoken, clip_s), spoken + MAX_TAIL_S)
    freeze = max(0.0, span - clip_s)
    if freeze < 1e-3:
        freeze = 0.0
    return NarrationFit(tts_s, tempo, spoken, span, freeze, max(0.0, clip_s - span))


def atempo_factors(tempo: float) -> list[float]:
    """atempo accepts 0.5..100 per instance in recent ffmpeg; keep the chain form anyway."""
    if abs(tempo - 1.0) < 1e-4:
        return []
    parts = []
    t = tempo
    while t > 2.0:
        parts.append(2.0)
        t /= 2.0
    parts.append(round(t, 5))
    return parts


def atempo_chain(tempo: float) -> str:
    return ",".join(f"atempo={f:.5f}" if f != 2.0 else "atempo=2.0"
                    for f in atempo_factors(tempo))


def load_narration_settings(paths: EpisodePaths) -> NarrationSettings:
    """The producer's narration settings (narration-settings.json), else the defaults."""
    if paths.narration_settings.exists():
        return load_model(NarrationSettings, paths.narration_settings)
    return NarrationSettings()


def with_narration_settings(paths: EpisodePaths, cfg: WorkflowConfig,
                            storyboard: Storyboard) -> tuple[WorkflowConfig, Storyboard]:
    """The config and storyboard the narration is spoken from once the producer's settings
    apply: their speech rate beats the config's, their voice every shot's and the
    storyboard's (so each narration shot is synthesized again, once, with it)."""
    ns = load_narration_settings(paths)
    if ns.speech_rate is not None:
        cfg = cfg.model_copy(update={"narrator_speech_rate": ns.speech_rate})
    if ns.voice:
        storyboard = storyboard.model_copy(update={
            "narrator_voice": ns.voice,
            "shots": [s.model_copy(update={"narrator_voice": None}) for s in storyboard.shots]})
    return cfg, storyboard


def narrator_voice(shot: Shot, storyboard: Storyboard, cfg: WorkflowConfig) -> str:
    return shot.narrator_voice or storyboard.narrator_voice or cfg.narrator_voice


def tts_cache_key(text: str, voice: str, rate: float, model: str, provider: str = "") -> str:
    blob = "\x1f".join([text.strip(), voice, f"{rate:.4f}", model, provider])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]
