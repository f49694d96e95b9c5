"""Stitch and sound: every shot's winner onto one canvas, in reels of bounded memory.

The plan (`plan_stitch`) decides, before any encoding, where every shot sits in the final
cut: clip lengths (frame-exact), continuation takes (joined with a 1 s crossfade), narration
fitting (speed-up ≤1.8×, freeze or cut so the shot lasts [TTS, TTS + 1 s]), crossfades
between shots, music runs (global, or per scene with crossfades at scene boundaries). The
SRT is written from the same plan, so cues match the cut.

The render is cut into reels of `REEL_SHOTS` shots by shot index (`plan_reels`), so no
ffmpeg process holds more than a reel's clips open, the peak memory does not grow with the
episode, and a new take moves no reel boundary. A reel change falls in the plain body of a
shot, just after its crossfade in: the reel before renders that crossfade (with the head of
the next reel's first shot), so every transition, continuation join and narration fit is
rendered whole inside one reel.

Every part is a file kept in final/ with a key beside it (`part_key`: the ffmpeg arguments
that make it, the size and mtime of every file they read, this code); a part whose key has
not changed is not made again:

1. final/sound/speech-NN.f32: each reel's speech bus, audio only (clip sound joined by
   `acrossfade`, or `concat` for hard cuts; narration laid in at sample-exact offsets, a
   voice that starts in the reel before coming in part-way). Read as one stream through
   ffmpeg's concat protocol; its loudness is kept in speech.json.
2. final/sound/master.m4a: speech gain, music ducked under the speech with
   `sidechaincompress`, master fades, a true-peak limiter, AAC; the encoded AAC is measured
   (integrated, true peak) and encoded again only when off (-16 LUFS, <= -1 dBTP); the
   gains found are kept in mix.json.
3. final/reels/reel-NN.mp4, beside the sound: every clip decoded once, letterboxed onto the
   canvas at a constant frame rate, joined by local alpha-fade transitions + `concat`, the
   fades from and to black and the burned subtitles (the reel's own SRT) on the reel's own
   clock; encoded with the final settings (libx264 veryfast).
4. The reels joined by the concat demuxer with a stream copy (packets put back on the frame
   grid), muxed with the master: no picture is encoded for the final itself.

Nothing in clips/ is ever written: a music change remakes the master and the mux only. The
final mp4 and srt are written to temporary files and renamed into place.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import json
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from .. import media
from ..base.io import InputError, atomic_write_bytes, atomic_write_text, load_model
from ..base.models import BGMConfig, Shot, StitchRequest, Storyboard, WorkflowConfig
from ..base.paths import AUDIO_EXTS, EpisodePaths
from ..media import MediaError, MediaInfo, canvas_size, probe, sound
from ..providers import get_provider
from ..providers.base import CallContext
from ..stitch import subtitles
from ..storyboard import load_storyboard

if TYPE_CHECKING:
    from ffmpeg.dag.nodes import OutputStream
    from ffmpeg.streams.audio import AudioStream
    from ffmpeg.streams.video import VideoStream


class _Deferred:
    """A module imported on first use. Snakemake imports this package when it parses the
    workflow (the reels are planned here) and makes no graph then: typed-ffmpeg, ~0.15 s of
    every run's parse, loads only when a job builds one (tests/test_dag_imports.py)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


ffmpeg = _Deferred("ffmpeg")
ff = _Deferred("ffmpeg.filters")
ffmpeg_schema = _Deferred("ffmpeg.schema")

SR = sound.SAMPLE_RATE
CONTINUATION_XFADE_S = 1.0
SCENE_MUSIC_XFADE_S = 1.5
MIX_TOLERANCE_LU = 0.3
DEFAULT_FPS = Fraction(24)
X264_PRESET = "veryfast"
X264_CRF = 20
AUDIO_BITRATE = "192k"
PROBES_AT_ONCE = 4
REEL_SHOTS = 8  # shots per reel (one ffmpeg process each): bounds the inputs open at once
SUB_STYLE = ("FontName=DejaVu Sans,FontSize=16,PrimaryColour=&H00FFFFFF,OutlineColour=&H80000000,"
             "BorderStyle=1,Outline=1.2,Shadow=0,MarginV=18")


class StitchError(RuntimeError):
    """The episode cannot be stitched as it is; the message says what to do."""


# --------------------------------------------------------------------------- results


class Freeze(BaseModel):
    shot: str
    seconds: float


class Speedup(BaseModel):
    shot: str
    factor: float


class Placement(BaseModel):
    shot: str
    scene: str
    start: float = Field(description="segment start in the cut (the crossfade in begins here)")
    end: float
    span_start: float = Field(description="the shot's own start: middle of its crossfade in")
    span_end: float
    clips: list[str]
    narration: bool = False


class StitchResult(BaseModel):
    final_path: str
    srt_path: str
    duration_s: float
    shots_count: int
    size_bytes: int
    width: int
    height: int
    fps: float
    crossfade: float
    bgm_mode: str = "off"
    bgm_tracks: list[str] = Field(default_factory=list)
    speech_lufs: float | None = None
    freezes: list[Freeze] = Field(default_factory=list)
    speedups: list[Speedup] = Field(default_factory=list)
    cues: list[subtitles.Cue] = Field(default_factory=list)
    timeline: list[Placement] = Field(default_factory=list)
    elapsed_s: float = 0.0
    passes: int = 1
    reels: int = 1
    reels_made: list[int] = Field(default_factory=list, description="reels encoded again (1-based)")
    speech_made: list[int] = Field(default_factory=list)
    mix_made: bool = True


# --------------------------------------------------------------------------- plan


@dataclass
class ClipIn:
    path: Path
    info: MediaInfo
    frames: int  # length in frames at the episode's fps

    def seconds(self, fps: Fraction) -> float:
        return float(self.frames / fps)


@dataclass
class Segment:
    shot: Shot
    clips: list[ClipIn]
    video_s: float  # what the footage gives (continuation joined)
    length: float = 0.0  # length in the graph (crossfade overlaps included)
    start: float = 0.0
    c_in: float = 0.0
    c_out: float = 0.0
    fit: sound.NarrationFit | None = None
    tts_path: Path | None = None
    tts_gain_db: float = 0.0

    @property
    def narration(self) -> bool:
        return self.fit is not None

    @property
    def end(self) -> float:
        return self.start + self.length

    @property
    def span_start(self) -> float:
        return self.start + self.c_in / 2

    @property
    def span_end(self) -> float:
        return self.end - self.c_out / 2

    @property
    def freeze_s(self) -> float:
        return max(0.0, self.length - self.video_s)


@dataclass
class MusicRun:
    track: Path
    start: float
    end: float
    gain_db: float = 0.0
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass
class Plan:
    storyboard: Storyboard
    segments: list[Segment]
    width: int
    height: int
    fps: Fraction
    crossfade: float
    bgm: BGMConfig
    music: list[MusicRun] = field(default_factory=list)
    fade_in: float = 0.0
    fade_out: float = 0.0
    crossfade_asked: float = 0.0  # as asked, before it is put on the frame grid (reel_borders)

    @property
    def duration(self) -> float:
        return self.segments[-1].end if self.segments else 0.0


def _fps_of(infos: list[MediaInfo]) -> Fraction:
    counts: dict[Fraction, int] = {}
    for info in infos:
        f = info.fps
        if not f or f <= 0 or f > 120:
            continue
        if abs(f - 23.976) < 0.01:
            fr = Fraction(24000, 1001)
        elif abs(f - 29.97) < 0.01:
            fr = Fraction(30000, 1001)
        elif abs(f - 59.94) < 0.01:
            fr = Fraction(60000, 1001)
        elif abs(f - round(f)) < 0.02:
            fr = Fraction(round(f))
        else:
            fr = Fraction(f).limit_denominator(1001)
        counts[fr] = counts.get(fr, 0) + 1
    if not counts:
        return DEFAULT_FPS
    return max(counts, key=lambda k: (counts[k], k))


def _canvas(storyboard: Storyboard, infos: list[MediaInfo]) -> tuple[int, int]:
    """The storyboard's ratio at its resolution, shrunk so no clip gets upscaled for nothing
    (offline 320x180 clips stitch at 320x180, not 1280x720). Always even."""
    try:
        w, h = canvas_size(storyboard.resolution, storyboard.ratio)
    except (MediaError, ValueError, ZeroDivisionError):
        w, h = 1280, 720
    fit = 0.0
    for info in infos:
        if info.width and info.height:
            fit = max(fit, min(info.width / w, info.height / h))
    if 0 < fit < 1:
        w, h = w * fit, h * fit
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


def _frames(seconds: float, fps: Fraction) -> int:
    return max(1, int(round(seconds * fps)))


def _ceil_frames(seconds: float, fps: Fraction) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def plan_stitch(paths: EpisodePaths, cfg: WorkflowConfig, *, crossfade: float | None = None,
                storyboard: Storyboard | None = None, bgm: BGMConfig | None = None) -> Plan:
    """Decide the whole cut (no encoding, no paid call): the narration audio must exist
    (`narrate`, the `narration` rule)."""
    sb = storyboard or load_storyboard(paths)
    c_req = float(cfg.crossfade if crossfade is None else crossfade)
    if c_req < 0 or c_req > 3:
        raise StitchError(f"crossfade {c_req} s is out of range (0 to 3 s)")
    _require_winners(paths, sb)
    footage = _probe_footage(paths, sb)
    infos = [cl.info for clips in footage for cl in clips]
    fps = _fps_of(infos)
    width, height = _canvas(sb, infos)
    c = float(round(c_req * fps) / fps)  # a whole number of frames: video and audio agree
    segs = _segments(sb, footage, fps, c)
    for seg in segs:
        if seg.shot.role == "narration" and seg.shot.narration_text:
            _fit_narration(paths, seg)
    _lay_out(segs, fps, c)

    bgm_cfg = bgm or sound.load_bgm_config(paths, sb)
    plan = Plan(sb, segs, width, height, fps, c, bgm_cfg, crossfade_asked=c_req)
    total = plan.duration
    plan.fade_in = min(bgm_cfg.fade_in_s, total / 4)
    plan.fade_out = min(bgm_cfg.fade_out_s, total / 4)
    if sound.music_enabled(bgm_cfg):
        plan.music = _music_runs(paths, plan)
    return plan


def _require_winners(paths: EpisodePaths, sb: Storyboard) -> None:
    missing = [s.id for s in sb.shots if not paths.clip(s.id).is_file()]
    if missing:
        cmds = "; ".join(f"`spark-video render --shot {m}`" for m in missing[:5])
        more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
        raise StitchError(
            f"{len(missing)} shot(s) have no winner clip: {', '.join(missing)} (expected "
            f"{paths.clip(missing[0])}); render them first: {cmds}{more}")


def _probe_footage(paths: EpisodePaths, sb: Storyboard) -> list[list[ClipIn]]:
    """Every shot's winner and continuation take, probed (a few at a time: each probe is
    an ffmpeg start-up). `frames` is filled in once the episode's frame rate is known."""
    takes = paths.continuation_takes([s.id for s in sb.shots])
    files = [[paths.clip(s.id), *([takes[s.id]] if s.id in takes else [])] for s in sb.shots]

    store = paths.final_mp4.parent / "reels" / "probes.json"
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    seen: dict[str, Any] = {}

    def look(shot_id: str, f: Path) -> ClipIn:
        try:
            st = f.stat()
            sig = f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}"
            row = known.get(sig) if isinstance(known, dict) else None
            if isinstance(row, dict):
                try:
                    info = MediaInfo(path=f, **row)
                except TypeError:
                    info = probe(f)
            else:
                info = probe(f)
            seen[sig] = {k: v for k, v in vars(info).items() if k != "path"}
        except MediaError as e:
            raise StitchError(f"shot {shot_id}: {e}; re-render it with "
                              f"`spark-video render --shot {shot_id}`") from None
        if not info.has_video or info.duration <= 0:
            raise StitchError(f"shot {shot_id}: {f} has no video stream; re-render it with "
                              f"`spark-video render --shot {shot_id}`")
        return ClipIn(f, info, 0)

    with ThreadPoolExecutor(max_workers=PROBES_AT_ONCE) as pool:
        futures = [[pool.submit(look, s.id, f) for f in fs]
                   for s, fs in zip(sb.shots, files, strict=True)]
        footage = [[fu.result() for fu in fs] for fs in futures]
    if seen != known:  # every clip's probe, kept by file version: a re-stitch probes none
        store.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(store, json.dumps(seen))
    return footage


def _segments(sb: Storyboard, footage: list[list[ClipIn]], fps: Fraction,
              c: float) -> list[Segment]:
    """One segment per shot: its clips at the episode's frame rate, continuation takes
    joined (1 s crossfade), crossfade in and out."""
    segs: list[Segment] = []
    for s, clips in zip(sb.shots, footage, strict=True):
        for cl in clips:
            cl.frames = _frames(cl.info.duration, fps)
        if len(clips) > 1:
            for cl in clips:
                if cl.seconds(fps) <= CONTINUATION_XFADE_S:
                    raise StitchError(f"shot {s.id}: {cl.path.name} is {cl.seconds(fps):.2f} s, "
                                      f"too short for the {CONTINUATION_XFADE_S} s continuation "
                                      "crossfade")
        video = sum(cl.seconds(fps) for cl in clips) - CONTINUATION_XFADE_S * (len(clips) - 1)
        segs.append(Segment(shot=s, clips=clips, video_s=video))
    n = len(segs)
    for k, seg in enumerate(segs):
        seg.c_in = c if k > 0 else 0.0
        seg.c_out = c if k < n - 1 else 0.0
    return segs


def _fit_narration(paths: EpisodePaths, seg: Segment) -> None:
    """The shot's narration audio (made before the stitch by `narrate`), fitted to it."""
    shot = seg.shot
    audio = paths.narration(shot.id)
    if not audio.is_file():
        raise StitchError(f"shot {shot.id}: no narration audio ({audio}); make it with "
                          f"`snakemake {audio}` (the narration rule) or `spark-video stitch`")
    seg.tts_path = audio
    tts_s = probe(audio).duration
    usable = seg.video_s - seg.c_in / 2 - seg.c_out / 2
    seg.fit = sound.fit_narration(tts_s, max(0.1, usable))
    seg.tts_gain_db = (sound.speech_gain_db(_voice_loudness(paths, audio))
                       + sound.load_narration_settings(paths).volume_db)


def _voice_loudness(paths: EpisodePaths, audio: Path) -> float:
    """A narration file's integrated loudness, kept in final/sound/voices.json by file
    version: every part's build job plans the whole cut, and measures no voice twice."""
    store = paths.final_mp4.parent / "sound" / "voices.json"
    st = audio.stat()
    sig = f"{audio.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    try:
        known = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    got = known.get(sig)
    if isinstance(got, (int, float)):
        return float(got)
    lufs = media.file_loudness(audio).integrated
    known[sig] = lufs if math.isfinite(lufs) else media.SILENCE_LUFS - 1
    store.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(store, json.dumps(known))
    return float(known[sig])


def _lay_out(segs: list[Segment], fps: Fraction, c: float) -> None:
    """Each shot's length (a narration shot lasts its voice, up to 1 s more) and start."""
    n = len(segs)
    for seg in segs:
        if seg.fit is not None:
            want = seg.fit.span_s + seg.c_in / 2 + seg.c_out / 2
            seg.length = float(_ceil_frames(want, fps) / fps)
        else:
            seg.length = seg.video_s
        if seg.length <= c + 1e-6 and n > 1:
            raise StitchError(
                f"shot {seg.shot.id} lasts {seg.length:.2f} s, not longer than the {c} s "
                "crossfade; use a shorter --crossfade (or 0 for hard cuts)")
    t = 0.0
    for k, seg in enumerate(segs):
        seg.start = t
        t = seg.start + seg.length - (c if k < n - 1 else 0.0)


def cached_tts(paths: EpisodePaths, cfg: WorkflowConfig, shot: Shot, storyboard: Storyboard,
               tts: object) -> Path:
    """The narration audio of one shot, synthesized once per (text, voice, rate, model)."""
    text = (shot.narration_text or "").strip()
    voice = sound.narrator_voice(shot, storyboard, cfg)
    rate = cfg.narrator_speech_rate
    provider = str(getattr(tts, "name", type(tts).__name__))
    key = sound.tts_cache_key(text, voice, rate, cfg.narrator_tts_model, provider)
    folder = paths.tts_dir
    folder.mkdir(parents=True, exist_ok=True)
    # narration jobs run in parallel and two shots may speak the same line: the folder is
    # locked from the cache look-up to the rename, so a line is synthesized (paid) once
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for p in sorted(folder.glob(f"{key}.*")):
            if p.suffix.lower() in AUDIO_EXTS and p.stat().st_size > 0:
                return p
        tmp = folder / f".{key}.{os.getpid()}.partial.wav"
        ctx = CallContext(paths, cfg, phase="tts", shot=shot.id)
        try:
            produced = Path(tts.synthesize(ctx, text, tmp, voice=voice, rate=rate))
            info = probe(produced)
            if not info.has_audio or info.duration <= 0:
                raise sound.SoundError(f"TTS for shot {shot.id} produced no audio ({produced})")
            final = folder / f"{key}{produced.suffix.lower() or '.wav'}"
            produced.replace(final)
        finally:
            tmp.unlink(missing_ok=True)
        return final
    finally:
        os.close(fd)


def narrate(paths: EpisodePaths, cfg: WorkflowConfig, *, tts: Any = None,
            shots: list[str] | None = None, storyboard: Storyboard | None = None) -> list[Path]:
    """The narration audio of every narration shot (or of `shots`): the one paid step of the
    stitch, run before it (the `narration` rule runs it per shot). Synthesized once per
    (text, voice, rate, model); a shot's file is rewritten only when its audio changed."""
    sb = storyboard or load_storyboard(paths)
    todo = [s for s in sb.shots if s.role == "narration" and s.narration_text
            and (shots is None or s.id in shots)]
    unknown = sorted(set(shots or []) - {s.id for s in sb.shots})
    if unknown:
        raise StitchError(f"{', '.join(unknown)}: not a shot of {paths.storyboard}")
    if todo and tts is None:
        tts = get_provider("tts", cfg)
    out = []
    for s in todo:
        cached = cached_tts(paths, cfg, s, sb, tts)
        target = paths.narration(s.id)
        if not (target.is_file() and target.read_bytes() == cached.read_bytes()):
            atomic_write_bytes(target, cached.read_bytes())
        out.append(target)
    return out


def _music_runs(paths: EpisodePaths, plan: Plan) -> list[MusicRun]:
    bgm, sb, total = plan.bgm, plan.storyboard, plan.duration
    runs: list[MusicRun] = []
    if bgm.mode == "global":
        if not bgm.track:
            raise StitchError("bgm.mode=global needs bgm.track (bgm-config.json)")
        runs.append(MusicRun(sound.resolve_bgm_track(paths, bgm.track), 0.0, total))
    elif bgm.mode == "scene":
        # consecutive shots of scenes with the same track make one run; scenes without a
        # track are silent; the track changes at the scene's first shot (its crossfade middle)
        cur: tuple[str | None, float] | None = None
        spans: list[tuple[str, float, float]] = []
        for k, seg in enumerate(plan.segments):
            scene = sb.scene(seg.shot.scene)
            name = (scene.bgm_track if scene else None) or None
            boundary = 0.0 if k == 0 else seg.span_start
            if cur is None:
                cur = (name, boundary)
            elif name != cur[0]:
                if cur[0]:
                    spans.append((cur[0], cur[1], boundary))
                cur = (name, boundary)
        if cur and cur[0]:
            spans.append((cur[0], cur[1], total))
        for name, a, b in spans:
            runs.append(MusicRun(sound.resolve_bgm_track(paths, name), a, b))
    xf = SCENE_MUSIC_XFADE_S
    for i, r in enumerate(runs):
        first, last = r.start <= 1e-6, r.end >= total - 1e-6
        # widen inner boundaries by half the crossfade on each side so the tracks overlap
        if not first:
            r.start = max(0.0, r.start - xf / 2)
        if not last:
            r.end = min(total, r.end + xf / 2)
        r.fade_in = plan.fade_in if first else min(xf, (r.end - r.start) / 2)
        r.fade_out = plan.fade_out if last else min(xf, (r.end - r.start) / 2)
        runs[i] = r
    return [r for r in runs if r.end - r.start > 0.05]


# --------------------------------------------------------------------------- subtitles


def build_cues(plan: Plan) -> list[subtitles.Cue]:
    cues: list[subtitles.Cue] = []
    for seg in plan.segments:
        s = seg.shot
        if seg.fit is not None and s.narration_text:
            a = seg.span_start
            cues += subtitles.narration_cues(s.id, s.narration_text, a, a + seg.fit.spoken_s)
        if s.dialog:
            # clip audio starts where the segment starts (fading in under the crossfade)
            a, b = seg.start, seg.end - seg.c_out
            cues += subtitles.dialog_cues(s.id, [(d.speaker, d.text) for d in s.dialog], a, b)
    return subtitles.number(cues)


# --------------------------------------------------------------------------- reels


@dataclass
class Reel:
    """A stretch of the cut rendered by one ffmpeg process, so memory does not grow with the
    episode: shots `first`..`stop - 1` whole, except that a shot with a predecessor starts
    after its head (that crossfade belongs to the reel before), plus the head of shot `stop`
    when the cut goes on. So every crossfade, continuation join and narration fit lies inside
    one reel, and a reel change always falls in the plain body of a shot."""
    index: int
    first: int
    stop: int
    frame0: int  # first frame of the reel in the cut
    frames: int
    sample0: int  # first sample of the reel's speech in the cut
    samples: int

    def shots(self, n: int, crossfade: bool) -> range:
        """Indices of the shots whose footage the reel decodes (the next shot's head too)."""
        return range(self.first, min(n, self.stop + 1) if crossfade else self.stop)


def shot_frames(plan: Plan) -> list[int]:
    return [_frames(s.length, plan.fps) for s in plan.segments]


def reel_borders(durations: list[float], crossfade: float,
                 shots_per_reel: int | None = None) -> list[int]:
    """Where the reels change, from the storyboard alone (each shot's planned duration and
    the cut's crossfade), so the build knows every reel and the shots it reads before any
    clip exists: reel k starts at shot k·N, and a new take of one shot (any length) moves no
    boundary. Only when the shot at a boundary is planned no longer than two crossfades (its
    head and tail would touch) does that boundary move on to the next shot that is.
    Returns [0, b1, ..., n]."""
    n = len(durations)
    if n == 0:
        return [0]
    step = max(1, shots_per_reel or REEL_SHOTS)
    borders = [0]
    for m in range(1, math.ceil(n / step)):
        k = m * step
        while k < n and crossfade > 0 and durations[k] <= 2 * crossfade + 1e-6:
            k += 1
        if k < n and k > borders[-1]:
            borders.append(k)
    borders.append(n)
    return borders


def reel_reads(borders: list[int], index: int, crossfade: float) -> range:
    """The shots whose footage (and narration) reel `index` reads: its own, plus the next
    reel's first shot when there are crossfades (the reel renders that shot's head)."""
    a, b = borders[index], borders[index + 1]
    n = borders[-1]
    return range(a, min(n, b + 1) if crossfade > 0 else b)


@dataclass(frozen=True)
class ReelTarget:
    """One reel as the build sees it before any clip exists: the inputs and settings of
    its picture job (final/reels/reel-NN.mp4) and its speech job (final/sound/speech-NN.f32)."""
    num: str  # "01": the reel's number in its file names
    shots: tuple[str, ...]  # the shots whose clips and narration it reads (next reel's first too)
    picture: str  # key of the cut settings its picture uses (canvas, crossfade, subtitles...)
    speech: str  # key of the settings its speech bus uses


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reel_targets(shots: list[dict[str, Any]], *, crossfade: float, burn: bool,
                 canvas: tuple[str, str], fades: tuple[float, float],
                 shots_per_reel: int | None = None) -> list[ReelTarget]:
    """The cut's reels from the storyboard's shots (as in storyboard.json), the crossfade
    and burn-in asked (`cut_request`), the storyboard's canvas (resolution, ratio) and the
    master fades (fade in, fade out): which shots each reel reads, and a key of every
    setting each of its two parts uses besides those files. The reel rules take the
    shots' clips, takes and narration as inputs and the keys as params, so a setting that
    changes remakes exactly the reels it reaches (Snakemake's params rerun trigger)."""
    borders = reel_borders([float(s.get("duration") or 0) for s in shots], crossfade,
                           shots_per_reel)
    count = len(borders) - 1
    out = []
    for i in range(count):
        read = [shots[k] for k in reel_reads(borders, i, crossfade)]
        # not the reel count: shots added at the end remake the last reel only
        common = [crossfade, i == 0, i == count - 1,
                  [[s.get("id"), s.get("duration"), s.get("role"),
                    s.get("narration_text") or ""] for s in read]]
        picture = [*common, list(canvas), burn, fades[0] if i == 0 else None,
                   fades[1] if i == count - 1 else None,
                   [[[d.get("speaker"), d.get("text")] for d in s.get("dialog") or []]
                    for s in read] if burn else None]
        out.append(ReelTarget(f"{i + 1:02d}", tuple(str(s.get("id")) for s in read),
                              _digest(picture), _digest(common)))
    return out


def episode_reel_targets(paths: EpisodePaths, cfg: WorkflowConfig,
                         shots: list[dict[str, Any]]) -> list[ReelTarget]:
    """`reel_targets` for the episode: its stitch request, storyboard canvas and fades
    (bgm-config.json, else the storyboard's bgm). `shots` as the build read them."""
    # a bad request or bgm-config.json is named by its check job (and by the part's job,
    # which reads them strictly): the plan here falls back to the defaults
    try:
        crossfade, burn = cut_request(paths, cfg)
    except InputError:
        crossfade, burn = float(cfg.crossfade), bool(cfg.burn_subtitles)
    try:
        raw = json.loads(paths.storyboard.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    raw = raw if isinstance(raw, dict) else {}
    bgm = BGMConfig()
    try:
        if paths.bgm_config.is_file():
            bgm = load_model(BGMConfig, paths.bgm_config)
        elif isinstance(raw.get("bgm"), dict):
            bgm = BGMConfig.model_validate(raw["bgm"])
    except (InputError, ValueError):
        bgm = BGMConfig()
    canvas = (str(raw.get("resolution", "")), str(raw.get("ratio", "")))
    return reel_targets(shots, crossfade=crossfade, burn=burn, canvas=canvas,
                        fades=(bgm.fade_in_s, bgm.fade_out_s), shots_per_reel=cfg.reel_shots)


def plan_reels(plan: Plan, shots_per_reel: int | None = None) -> list[Reel]:
    """Cut the plan into reels at `reel_borders` (from the storyboard's durations, as the
    build planned them). A boundary shot that turns out, in the cut, no longer than two
    crossfades cannot open a reel (its crossfades would overlap across the join): a clear
    error naming the shot and the fix."""
    n, fps, c = len(plan.segments), plan.fps, plan.crossfade
    if n == 0:
        return []
    frames = shot_frames(plan)
    cf = _frames(c, fps) if c > 0 else 0
    cs = int(round(c * SR)) if c > 0 else 0
    samples = [int(round(s.length * SR)) for s in plan.segments]
    starts = [0]  # each shot's first frame / sample in the cut (crossfades overlap)
    sstarts = [0]
    for k in range(n - 1):
        starts.append(starts[-1] + frames[k] - cf)
        sstarts.append(sstarts[-1] + samples[k] - cs)
    total_frames = _frames(plan.duration, fps)
    total_samples = int(round(plan.duration * SR))
    borders = reel_borders([float(s.shot.duration) for s in plan.segments],
                           plan.crossfade_asked if c > 0 else 0.0, shots_per_reel)
    for k in borders[1:-1]:
        if cf and frames[k] <= 2 * cf:
            seg = plan.segments[k]
            raise StitchError(
                f"shot {seg.shot.id} lasts {seg.length:.2f} s in the cut (its storyboard "
                f"duration is {seg.shot.duration} s), not longer than two {c} s crossfades, "
                f"and it opens reel {borders.index(k) + 1}: use a shorter crossfade "
                f"(`spark-video stitch --crossfade {max(0.0, round(seg.length / 2 - 0.05, 2))}`)"
                " or re-render the shot at its planned length")
    reels = []
    for i, (a, b) in enumerate(zip(borders, borders[1:], strict=False)):
        f0 = starts[a] + (cf if a > 0 else 0)
        f1 = starts[b] + cf if b < n else total_frames
        s0 = sstarts[a] + (cs if a > 0 else 0)
        s1 = sstarts[b] + cs if b < n else total_samples
        reels.append(Reel(i, a, b, f0, f1 - f0, s0, s1 - s0))
    return reels


# --------------------------------------------------------------------------- graph
# The filter graphs are built with typed-ffmpeg: every filter is a typed method, the graph
# text (labels, escaping) is its compiler's.


def _fps_str(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


PCM = {"f": "f32le", "ar": SR, "ac": 2}  # the speech bus between passes


def _afmt(a: AudioStream) -> AudioStream:
    return a.aformat(sample_fmts="fltp", sample_rates=str(SR), channel_layouts="stereo")


def _silence(samples: int) -> AudioStream:
    return _afmt(ffmpeg.sources.anullsrc(sample_rate=SR, channel_layout="stereo")
                 ).atrim(end_sample=samples)


def _clip_picture(cl: ClipIn, plan: Plan) -> VideoStream:
    w, h = plan.width, plan.height
    v = ffmpeg.input(str(cl.path.resolve())).video_stream(0)
    v = v.setpts(expr="PTS-STARTPTS").fps(fps=_fps_str(plan.fps))
    if (cl.info.width, cl.info.height) != (w, h):
        v = v.scale(w=w, h=h, force_original_aspect_ratio="decrease", force_divisible_by=2)
        v = v.pad(width=w, height=h, x="(ow-iw)/2", y="(oh-ih)/2", color="black")
    return (v.setsar(sar="1").format(pix_fmts="yuv420p")
            .tpad(stop_mode="clone", stop_duration=1)
            .trim(end_frame=cl.frames).setpts(expr="PTS-STARTPTS"))


def _clip_sound(cl: ClipIn, plan: Plan) -> AudioStream:
    samples = int(round(cl.seconds(plan.fps) * SR))
    if not cl.info.has_audio:
        return _silence(samples)
    a = ffmpeg.input(str(cl.path.resolve())).audio_stream(0)
    return _afmt(a.asetpts(expr="PTS-STARTPTS").aresample(sample_rate=SR)).apad(
        ).atrim(end_sample=samples)


def _shot_picture(plan: Plan, k: int) -> VideoStream:
    """One shot on the canvas: its clips letterboxed, a continuation take joined with a 1 s
    crossfade, the last frame held while narration runs on."""
    seg, fps = plan.segments[k], plan.fps
    cur = _clip_picture(seg.clips[0], plan)
    off = seg.clips[0].seconds(fps)
    for cl in seg.clips[1:]:
        off -= CONTINUATION_XFADE_S
        cur = cur.xfade(_clip_picture(cl, plan), transition="fade",
                        duration=CONTINUATION_XFADE_S, offset=round(off, 6))
        off += cl.seconds(fps)
    if abs(seg.length - seg.video_s) > 0.5 / float(fps):
        cur = (cur.tpad(stop_mode="clone", stop_duration=round(seg.freeze_s + 1.0, 6))
               .trim(end_frame=_frames(seg.length, fps)).setpts(expr="PTS-STARTPTS"))
    return cur


def _shot_sound(plan: Plan, k: int) -> AudioStream:
    """One shot's own sound (silence under narration: the voice replaces the clip's sound),
    a continuation take joined with a 1 s crossfade, padded to the shot's length."""
    seg = plan.segments[k]
    samples = int(round(seg.length * SR))
    if seg.narration:
        return _silence(samples)
    cur = _clip_sound(seg.clips[0], plan)
    for cl in seg.clips[1:]:
        cur = _acrossfade([cur, _clip_sound(cl, plan)], CONTINUATION_XFADE_S)
    return cur.apad().atrim(end_sample=samples)


def _acrossfade(sounds: list[AudioStream], seconds: float) -> AudioStream:
    """Sounds joined by crossfades (qsin both ways). typed-ffmpeg declares `acrossfade`
    with no inputs, so it is applied as a custom filter with the inputs typed here."""
    audio = ffmpeg_schema.StreamType.audio
    return ffmpeg.afilter(*sounds, name="acrossfade", input_typings=(audio,) * len(sounds),
                          n=len(sounds),
                          d=round(seconds, 6), c1="qsin", c2="qsin")


def _join_pictures(plan: Plan, reel: Reel, shots: list[VideoStream]) -> VideoStream:
    """The reel's shots joined: hard cuts or crossfades, the head of the reel's first shot
    dropped (the reel before shows it), only the head of the next reel's first shot kept
    (its crossfade in is rendered here)."""
    n, fps, c = len(plan.segments), plan.fps, plan.crossfade
    if c <= 0 or len(shots) == 1:
        return ff.concat(*shots, n=len(shots), v=1, a=0).video(0) if len(shots) > 1 \
            else shots[0]
    cf = _frames(c, fps)
    every = shot_frames(plan)
    lens = [every[k] for k in reel.shots(n, True)]
    if reel.stop < n:  # the next reel's first shot: its head only
        shots[-1] = shots[-1].trim(end_frame=cf).setpts(expr="PTS-STARTPTS")
        lens[-1] = cf
    whole = lens[:-1] if reel.stop < n else lens
    if all(f > 2 * cf for f in whole):
        joined = _xfade_local(shots, lens, cf, c, last_is_head=reel.stop < n)
    else:  # transitions overlap (a shot shorter than two crossfades)
        joined, _ = _xfade_tree(shots, [f / fps for f in lens], c)
    if reel.first > 0:
        joined = joined.trim(start_frame=cf)
    return joined.setpts(expr="PTS-STARTPTS")


def _join_sounds(plan: Plan, reel: Reel, sounds: list[AudioStream]) -> AudioStream:
    """The reel's shot sounds joined, cut exactly where the pictures are."""
    n, c = len(plan.segments), plan.crossfade
    if c <= 0 or len(sounds) == 1:
        return ff.concat(*sounds, n=len(sounds), v=0, a=1).audio(0) if len(sounds) > 1 \
            else sounds[0]
    cs = int(round(c * SR))
    if reel.stop < n:
        sounds[-1] = sounds[-1].atrim(end_sample=cs).asetpts(expr="PTS-STARTPTS")
    joined = _acrossfade(sounds, c)
    if reel.first > 0:
        joined = joined.atrim(start_sample=cs).asetpts(expr="PTS-STARTPTS")
    return joined


def _voices_heard(plan: Plan, reel: Reel) -> list[tuple[Segment, int, int]]:
    """The narration voices heard in the reel: (segment, first sample, end sample) on the
    cut's clock, the voice laid at its shot's span start. One owner for the reel's graph and
    for its key."""
    r0, r1 = reel.sample0, reel.sample0 + reel.samples
    heard = []
    for seg in plan.segments:
        if seg.fit is None or seg.tts_path is None:
            continue
        v0 = int(round(seg.span_start * SR))
        v1 = v0 + int(round(seg.fit.spoken_s * SR)) + 1
        if v1 > r0 and v0 < r1:
            heard.append((seg, v0, v1))
    return heard


def _voices(plan: Plan, reel: Reel) -> list[AudioStream]:
    """Narration voices heard in the reel, laid at their shots' span starts (sample-exact);
    a voice that starts in the reel before comes in part-way."""
    voices = []
    r0 = reel.sample0
    for seg, v0, v1 in _voices_heard(plan, reel):
        a = ffmpeg.input(str(seg.tts_path.resolve())).audio_stream(0)
        a = _afmt(a.asetpts(expr="PTS-STARTPTS").aresample(sample_rate=SR))
        a = a.volume(volume=f"{seg.tts_gain_db:.2f}dB")
        for factor in sound.atempo_factors(seg.fit.tempo):
            a = a.atempo(tempo=factor)
        a = a.atrim(end_sample=v1 - v0)
        if v0 < r0:
            a = a.atrim(start_sample=r0 - v0).asetpts(expr="PTS-STARTPTS")
        elif v0 > r0:
            a = a.adelay(delays=f"{v0 - r0}S", all=True)
        voices.append(a)
    return voices


def _reel_picture(plan: Plan, reel: Reel, v: VideoStream,
                  subtitles_file: str | None) -> VideoStream:
    """What applies to the whole cut's picture, applied to one reel: the fades from and to
    black on the reel's own clock (the cut's clock only when a fade crosses a reel
    boundary), the burned subtitles from the reel's own SRT (`reel_srt`, reel times). So a
    reel's picture depends on its own shots only, not on where the cut places it."""
    fps, total = plan.fps, plan.duration
    t0 = float(reel.frame0 / fps)
    t1 = float((reel.frame0 + reel.frames) / fps)
    if plan.fade_in > 0 and t0 < plan.fade_in:
        if reel.frame0:
            v = v.setpts(expr=f"PTS+{reel.frame0}/({_fps_str(fps)})/TB")
        v = v.fade(type="in", duration=round(plan.fade_in, 6))
        if reel.frame0:
            v = v.setpts(expr="PTS-STARTPTS")
    if plan.fade_out > 0 and t1 > total - plan.fade_out:
        local = round(total - plan.fade_out - t0, 6)
        if local >= 0:
            v = v.fade(type="out", start_time=local, duration=round(plan.fade_out, 6))
        else:
            v = v.setpts(expr=f"PTS+{reel.frame0}/({_fps_str(fps)})/TB")
            v = v.fade(type="out", start_time=round(total - plan.fade_out, 6),
                       duration=round(plan.fade_out, 6))
            v = v.setpts(expr="PTS-STARTPTS")
    if subtitles_file:
        v = v.subtitles(filename=subtitles_file, force_style=SUB_STYLE)
    return v.tpad(stop_mode="clone", stop_duration=1).trim(end_frame=reel.frames)


def reel_cues(plan: Plan, reel: Reel, cues: list[subtitles.Cue]) -> list[subtitles.Cue]:
    """The cues seen in the reel, on the reel's clock (cut at its edges)."""
    t0 = float(reel.frame0 / plan.fps)
    t1 = float((reel.frame0 + reel.frames) / plan.fps)
    out = []
    for cue in cues:
        a, b = max(cue.start, t0), min(cue.end, t1)
        if b - a > 1e-6:
            out.append(cue.model_copy(update={"start": round(a - t0, 6),
                                              "end": round(b - t0, 6)}))
    return subtitles.number(out)


def reel_picture(plan: Plan, reel: Reel, subtitles_file: str | None = None) -> VideoStream:
    """One reel's finished picture."""
    ks = reel.shots(len(plan.segments), plan.crossfade > 0)
    joined = _join_pictures(plan, reel, [_shot_picture(plan, k) for k in ks])
    return _reel_picture(plan, reel, joined, subtitles_file)


def reel_speech(plan: Plan, reel: Reel) -> AudioStream:
    """One reel's speech bus (clip sound and narration, before any gain); audio only."""
    ks = reel.shots(len(plan.segments), plan.crossfade > 0)
    joined = _join_sounds(plan, reel, [_shot_sound(plan, k) for k in ks])
    voices = _voices(plan, reel)
    if voices:
        joined = ff.amix(joined, *voices, inputs=len(voices) + 1, normalize=False,
                         duration="first", dropout_transition=0)
    return joined.apad().atrim(end_sample=reel.samples)


def _duck_options() -> dict[str, float | str]:
    opts: dict[str, float | str] = {}
    for kv in sound.DUCK.split(":"):
        key, _, val = kv.partition("=")
        opts[key] = float(val) if val.replace(".", "", 1).isdigit() else val
    return opts


def master_sound(plan: Plan, speech: AudioStream, *, speech_gain_db: float = 0.0,
                 music_gains: list[float] | None = None) -> AudioStream:
    """The whole cut's sound from its speech bus: speech gain, music runs ducked under the
    speech, master fades, a 4x oversampled limiter (≈ true peak)."""
    total_samples = int(round(plan.duration * SR))
    mix = _afmt(speech).volume(volume=f"{speech_gain_db:.2f}dB")
    if plan.music:
        music = _music(plan, music_gains or [0.0] * len(plan.music), total_samples)
        sp = mix.asplit(outputs=2)
        ducked = ff.sidechaincompress(music, sp.audio(1), **_duck_options())
        mix = ff.amix(sp.audio(0), ducked, inputs=2, normalize=False, duration="first")
    mix = _master_fades(plan, mix)
    limit = 10 ** (sound.LIMIT_DBFS / 20)
    mix = (mix.aresample(sample_rate=SR * 4)
           .alimiter(limit=round(limit, 4), attack=1, release=60, level=False, latency=True)
           .aresample(sample_rate=SR))
    return _afmt(mix).apad().atrim(end_sample=total_samples)


def _music(plan: Plan, gains: list[float], total_samples: int) -> AudioStream:
    runs = []
    for run, gain in zip(plan.music, gains, strict=True):
        length = run.end - run.start
        a = ffmpeg.input(str(run.track.resolve()), stream_loop=-1).audio_stream(0)
        a = _afmt(a.aresample(sample_rate=SR)).atrim(end_sample=int(round(length * SR)))
        a = a.asetpts(expr="PTS-STARTPTS").volume(volume=f"{gain:.2f}dB")
        if run.fade_in > 0:
            a = a.afade(type="in", duration=round(run.fade_in, 6), curve="qsin")
        if run.fade_out > 0:
            a = a.afade(type="out", start_time=round(max(0.0, length - run.fade_out), 6),
                        duration=round(run.fade_out, 6), curve="qsin")
        ms = int(round(run.start * 1000))
        if ms > 0:
            a = a.adelay(delays=str(ms), all=True)
        runs.append(a)
    music = runs[0] if len(runs) == 1 else ff.amix(*runs, inputs=len(runs), normalize=False,
                                                    duration="longest")
    return music.apad().atrim(end_sample=total_samples)


def _master_fades(plan: Plan, a: AudioStream) -> AudioStream:
    if plan.fade_in > 0:
        a = a.afade(type="in", duration=round(plan.fade_in, 6))
    if plan.fade_out > 0:
        a = a.afade(type="out", start_time=round(plan.duration - plan.fade_out, 6),
                    duration=round(plan.fade_out, 6))
    return a


def _xfade_local(shots: list[VideoStream], frames: list[int], cf: int, c: float, *,
                 last_is_head: bool = False) -> VideoStream:
    """Crossfades as local joins: every shot is split into head | body | tail (frame-exact
    trims of one decoded stream); each transition is the next head, its alpha fading in,
    overlaid on the tail; one `concat` strings bodies and transitions together. Compared with
    chained `xfade`s this keeps everything in yuv420p (xfade works in 4:4:4, so every
    transition frame would be converted twice), never buffers a whole shot, and lets no frame
    pass through more than one blend: about 30 % less filter CPU on a 40-shot episode.
    `last_is_head`: the last shot is only a head (the next reel's first shot)."""
    n = len(shots)
    parts: list[VideoStream] = []
    tail: VideoStream | None = None
    for k, (v, nf) in enumerate(zip(shots, frames, strict=True)):
        body = not (last_is_head and k == n - 1)
        want = [k > 0, body, k < n - 1]
        outs = iter([v] if sum(want) == 1 else
                    [v.split(outputs=sum(want)).video(i) for i in range(sum(want))])
        head = next(outs).trim(end_frame=cf).setpts(expr="PTS-STARTPTS") if k > 0 else None
        if head is not None and tail is not None:
            # the incoming head, alpha fading in, over the outgoing tail: same picture as
            # xfade=fade, but in yuv420p (xfade would convert every frame to 4:4:4 and back)
            faded = head.format(pix_fmts="yuva420p").fade(type="in", alpha=True, start_time=0,
                                                          duration=round(c, 6))
            parts.append(tail.overlay(faded, format="yuv420", shortest=True,
                                      eof_action="pass").format(pix_fmts="yuv420p"))
        if body:
            b0, b1 = (cf if k > 0 else 0), (nf - cf if k < n - 1 else nf)
            parts.append(next(outs).trim(start_frame=b0, end_frame=b1)
                         .setpts(expr="PTS-STARTPTS"))
        if k < n - 1:
            tail = next(outs).trim(start_frame=nf - cf).setpts(expr="PTS-STARTPTS")
    return ff.concat(*parts, n=len(parts), v=1, a=0).video(0)


def _xfade_tree(shots: list[VideoStream], lengths: list[float],
                c: float) -> tuple[VideoStream, float]:
    """Join shots with crossfades as a balanced tree of `xfade`s, not a chain: in a chain
    every frame of shot k passes through the n-k later xfades (O(n²) filter calls, seconds
    for 40 shots); in a tree at most log2(n). Returns the joined stream and its length."""
    if len(shots) == 1:
        return shots[0], lengths[0]
    mid = len(shots) // 2
    a, la = _xfade_tree(shots[:mid], lengths[:mid], c)
    b, lb = _xfade_tree(shots[mid:], lengths[mid:], c)
    return a.xfade(b, transition="fade", duration=round(c, 6), offset=round(la - c, 6)), \
        la + lb - c


def video_options(fps: Fraction) -> dict[str, Any]:
    gop = max(1, int(round(float(fps) * 2)))
    return {"vcodec": "libx264", "pix_fmt": "yuv420p", "r": _fps_str(fps), "fps_mode": "cfr",
            "extra_options": {"preset": X264_PRESET, "crf": X264_CRF, "profile:v": "high",
                              "g": gop}}


def audio_options() -> dict[str, Any]:
    return {"acodec": "aac", "ar": SR, "ac": 2, "extra_options": {"b:a": AUDIO_BITRATE}}


def encode_args(fps: Fraction) -> list[str]:
    """The encoder settings of the final cut (also used by the benchmark's plain re-encode)."""
    gop = max(1, int(round(float(fps) * 2)))
    return ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF),
            "-pix_fmt", "yuv420p", "-profile:v", "high", "-g", str(gop),
            "-r", _fps_str(fps), "-fps_mode", "cfr",
            "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(SR), "-ac", "2",
            "-movflags", "+faststart"]


def _on_frame_grid(fps: Fraction) -> str:
    """A bitstream filter that puts every packet back on the frame grid: the concat demuxer
    offsets each reel by its duration in microseconds, a few ticks off a whole frame."""
    r = f"{fps.numerator}/{fps.denominator}"
    return (f"setts=pts=round(PTS*TB*{r})/({r}*TB):"
            f"dts=round(DTS*TB*{r})/({r}*TB)")


def _args(*outputs: OutputStream) -> list[str]:
    """The ffmpeg arguments of a graph's outputs (without the program name)."""
    node = outputs[0] if len(outputs) == 1 else ffmpeg.merge_outputs(*outputs)
    return node.overwrite_output().compile()[1:]


def _loudness(a: AudioStream, what: str) -> media.Loudness:
    """EBU R128 loudness of an audio stream: the graph's own arguments, measured by sound."""
    args = _args(ffmpeg.output(a, filename="-", f="null"))
    i = args.index("-filter_complex")
    label = args[args.index("-map", i) + 1].strip("[]")
    return media.measure_graph(args[1:i], args[i + 1], label, what=what)


# --------------------------------------------------------------------------- running


def _default_progress() -> Callable[[float], None]:
    tty = sys.stderr.isatty()
    last = [-1]

    def report(frac: float) -> None:
        pct = int(frac * 100)
        if tty:
            if pct != last[0]:
                sys.stderr.write(f"\rstitch {pct:3d}%")
                if pct >= 100:
                    sys.stderr.write("\n")
                sys.stderr.flush()
        elif pct // 10 != last[0] // 10 or (pct >= 100 > last[0]):
            sys.stderr.write(f"stitch {pct:3d}%\n")
            sys.stderr.flush()
        last[0] = pct

    return report


def run_ffmpeg_progress(args: list[str], *, expected_s: float, what: str,
                        progress: Callable[[float], None] | None, cwd: Path | None = None) -> None:
    """Run ffmpeg reporting out_time / expected_s (through media.run, the one runner)."""
    media.run(args, what=what, progress=progress, expected_s=expected_s, cwd=cwd)


def _bus(path: Path) -> AudioStream:
    return ffmpeg.input(str(path), **PCM).audio_stream(0)


def measure_speech(plan: Plan, speech: Path) -> media.Loudness:
    """Loudness of the speech bus (clip audio + narration, with the master fades) as it will
    be mixed: read from the bus the reels wrote, no video is decoded."""
    return _loudness(_master_fades(plan, _bus(speech)), "measuring the speech loudness")


PICTURE_SHARE = 0.97  # of the progress bar: the reels' pictures; the rest is the muxing

# --------------------------------------------------------------------------- build targets
# Every part of the cut is a file in final/ with a key beside it (the hash of the ffmpeg
# arguments that make it, the version -- size, mtime -- of every file they read, and this
# code): a part whose key has not changed is not made again. A music change remakes the
# master and the mux only; a new take remakes the reel that shows the shot (and its speech);
# a narration change its reel's speech and the master. Deleting final/ remakes everything.

_CODE_KEY: list[str] = []


def _code_key() -> str:
    """This module's and sound's source: a change to the code that makes a part remakes it."""
    if not _CODE_KEY:
        h = hashlib.sha256()
        for mod in (__file__, sound.__file__, subtitles.__file__):
            h.update(Path(mod).read_bytes())
        _CODE_KEY.append(h.hexdigest())
    return _CODE_KEY[0]


def _inputs_of(args: list[str]) -> list[str]:
    files = []
    for i, a in enumerate(args[:-1]):
        if a == "-i":
            name = args[i + 1]
            files += name[len("concat:"):].split("|") if name.startswith("concat:") else [name]
    return files


def part_key(args: list[str], extra: str = "") -> str:
    """The key of a part: its ffmpeg arguments, every input file's version, the code."""
    h = hashlib.sha256(_code_key().encode())
    h.update(json.dumps(args).encode())
    for f in _inputs_of(args):
        st = os.stat(f)
        h.update(f"\0{f}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    h.update(extra.encode())
    return h.hexdigest()[:32]


def _current(path: Path, key: str) -> bool:
    keyf = path.with_name(path.name + ".key")
    try:
        return path.is_file() and keyf.read_text(encoding="utf-8") == key
    except OSError:
        return False


def _partial(path: Path) -> Path:
    """The hidden file beside `path` that ffmpeg writes before it is renamed into place."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def _make(path: Path, key: str, args_for: Callable[[Path], list[str]], *, what: str,
          expected_s: float = 0, progress: Callable[[float], None] | None = None) -> None:
    """Run ffmpeg into a partial file beside `path`, then rename it and write its key."""
    tmp = _partial(path)
    keyf = path.with_name(path.name + ".key")
    keyf.unlink(missing_ok=True)
    try:
        run_ffmpeg_progress(args_for(tmp), expected_s=expected_s, what=what,
                            progress=progress, cwd=path.parent)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_text(keyf, key)


def _sig(path: Path) -> list[Any]:
    st = os.stat(path)
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _segment_desc(seg: Segment) -> list[Any]:
    """Everything of one shot that its reel's graphs read (its clips' versions included)."""
    clips = [[*_sig(c.path), c.frames, c.info.width, c.info.height, c.info.has_audio]
             for c in seg.clips]
    fit = None if seg.fit is None else [seg.fit.tempo, seg.fit.spoken_s, seg.fit.span_s]
    return [clips, seg.video_s, seg.length, seg.c_in, seg.c_out, fit,
            _sig(seg.tts_path) if seg.tts_path is not None and seg.fit is not None else None,
            round(seg.tts_gain_db, 2)]


def reel_key(plan: Plan, reel: Reel, kind: str, extra: str = "") -> str:
    """The key of a reel's picture or speech without building its graph (compiling a
    reel's graph costs about a tenth of a second): everything `reel_picture` /
    `reel_speech` read, i.e. its shots and the next reel's first shot, the canvas, frame
    rate and crossfade, where the reel starts and ends inside the shots, the fades that
    reach it, the narration voices heard in it (relative to the reel), and this code."""
    n, fps = len(plan.segments), plan.fps
    ks = reel.shots(n, plan.crossfade > 0)
    t0 = float(reel.frame0 / fps)
    t1 = float((reel.frame0 + reel.frames) / fps)
    desc: list[Any] = [kind, plan.width, plan.height, str(fps), plan.crossfade,
                       reel.first > 0, reel.stop < n, reel.frames, reel.samples,
                       [_segment_desc(plan.segments[k]) for k in ks]]
    if kind == "picture":
        if plan.fade_in > 0 and t0 < plan.fade_in:
            desc.append(["in", plan.fade_in, reel.frame0])
        if plan.fade_out > 0 and t1 > plan.duration - plan.fade_out:
            local = round(plan.duration - plan.fade_out - t0, 6)
            desc.append(["out", plan.fade_out, local,
                         [reel.frame0, round(plan.duration, 6)] if local < 0 else None])
    else:
        r0 = reel.sample0
        for seg, v0, v1 in _voices_heard(plan, reel):
            desc.append([v0 - r0, v1 - v0, _sig(seg.tts_path), round(seg.tts_gain_db, 2),
                         seg.fit.tempo])
    h = hashlib.sha256(_code_key().encode())
    h.update(json.dumps(desc).encode())
    h.update(extra.encode())
    return h.hexdigest()[:32]


def reel_file(paths: EpisodePaths, num: str) -> Path:
    """final/reels/reel-NN.mp4: reel `num`'s picture (the `reel` rule's output)."""
    return paths.final_mp4.parent / "reels" / f"reel-{num}.mp4"


def speech_file(paths: EpisodePaths, num: str) -> Path:
    """final/sound/speech-NN.f32: reel `num`'s speech bus (the `speech` rule's output)."""
    return paths.final_mp4.parent / "sound" / f"speech-{num}.f32"


def master_file(paths: EpisodePaths) -> Path:
    """final/sound/master.m4a: the finished sound (the `master` rule's output)."""
    return paths.final_mp4.parent / "sound" / "master.m4a"


def reels_dir(paths: EpisodePaths) -> Path:
    return reel_file(paths, "01").parent.resolve()


def sound_dir(paths: EpisodePaths) -> Path:
    return master_file(paths).parent.resolve()


def reel_name(reel: Reel) -> str:
    return f"reel-{reel.index + 1:02d}"


@dataclass
class Built:
    """What one stitch made again (the rest was up to date)."""
    reels: list[int] = field(default_factory=list)
    speech: list[int] = field(default_factory=list)
    mix: bool = False
    passes: int = 0


EVENTS_ENV = "SPARK_VIDEO_EVENTS"  # the job events file of `spark-video`'s progress view


def _say(line: str, *, event: bool = True) -> None:
    """What the stitch is making now: to the job's stderr, and as a `stage` event to the
    progress view of the `spark-video` command that runs the build (build.Progress)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    events = os.environ.get(EVENTS_ENV)
    if events and event:
        try:
            with open(events, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"event": "stage", "text": f"stitch: {line}"}) + "\n")
        except OSError:
            pass


def build_reel_picture(plan: Plan, reel: Reel, n_reels: int, cues: list[subtitles.Cue],
                       burn: bool, folder: Path, report: Callable[[float], None],
                       name: str) -> bool:
    """final/reels/reel-NN.mp4 (picture only), made again only when its key changed."""
    mp4 = folder / f"{reel_name(reel)}.mp4"
    local = reel_cues(plan, reel, cues) if burn else []
    srt_text = subtitles.to_srt(local) if local else ""
    sub_name = f"{reel_name(reel)}.srt" if local else None

    def args_for(out: Path) -> list[str]:
        return _args(ffmpeg.output(reel_picture(plan, reel, sub_name), filename=str(out),
                                   an=True, f="mp4", **video_options(plan.fps)))

    key = reel_key(plan, reel, "picture", srt_text)
    if _current(mp4, key):
        return False
    if sub_name:
        atomic_write_text(folder / sub_name, srt_text)
    t0, length = float(reel.frame0 / plan.fps), float(reel.frames / plan.fps)
    total = plan.duration

    def part(f: float) -> None:
        report(PICTURE_SHARE * min(1.0, (t0 + f * length) / total))

    _say(f"reel {reel.index + 1} of {n_reels}: picture (shots {reel.first + 1}-{reel.stop})")
    _make(mp4, key, args_for, expected_s=length, progress=part,
          what=f"stitching {name}, reel {reel.index + 1} of {n_reels} "
               f"(shots {reel.first + 1}-{reel.stop})")
    return True


def build_reel_speech(plan: Plan, reel: Reel, n_reels: int, folder: Path, name: str) -> bool:
    """final/sound/speech-NN.f32: the reel's speech bus (clip sound + narration)."""
    pcm = folder / f"speech-{reel.index + 1:02d}.f32"

    def args_for(out: Path) -> list[str]:
        return _args(ffmpeg.output(reel_speech(plan, reel), filename=str(out),
                                   acodec="pcm_f32le", **PCM))

    key = reel_key(plan, reel, "speech")
    if _current(pcm, key):
        return False
    _say(f"reel {reel.index + 1} of {n_reels}: speech")
    _make(pcm, key, args_for, what=f"mixing the speech of {name} (shots {reel.first + 1}-"
                                   f"{reel.stop})")
    return True


def speech_bus(paths: EpisodePaths, reels: list[Reel]) -> Path:
    """The whole cut's speech bus: the reels' speech files one after the other (ffmpeg's
    concat protocol reads them as one raw stream; nothing is copied)."""
    folder = sound_dir(paths)
    return Path("concat:" + "|".join(str(folder / f"speech-{r.index + 1:02d}.f32")
                                     for r in reels))


def _bus_key(bus: Path) -> str:
    return part_key(["-i", str(bus)])


def _cached_json(path: Path, key: str) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def cached_speech_loudness(plan: Plan, bus: Path, folder: Path) -> media.Loudness:
    """measure_speech, kept in final/sound/speech.json under the speech bus's key (and the
    master fades): a music change measures no speech again."""
    key = hashlib.sha256(json.dumps([_bus_key(bus), plan.fade_in, plan.fade_out,
                                     plan.duration]).encode()).hexdigest()[:32]
    store = folder / "speech.json"
    got = _cached_json(store, key)
    if got is not None:
        return media.Loudness(*got["loudness"])
    speech = measure_speech(plan, bus)
    atomic_write_text(store, json.dumps({"key": key, "loudness": [
        speech.integrated, speech.true_peak, speech.lra]}))
    return speech


def build_master(plan: Plan, bus: Path, folder: Path, speech: media.Loudness,
                 name: str) -> tuple[Path, int]:
    """final/sound/master.m4a: the finished sound (speech gain, music ducked under the
    speech, fades, limiter) in AAC. Gains first from the speech's and the tracks'
    loudness; then the encoded AAC itself is measured, as a player decodes it: its
    integrated loudness is brought to -16 LUFS (the limiter and the music move it) and its
    true peak under TRUE_PEAK_MAX_DBTP (the AAC encoder overshoots the limiter's ceiling),
    each by encoding again. Returns the file and the encodes run (0: it was up to date)."""
    m4a = folder / "master.m4a"
    present = math.isfinite(speech.integrated) and speech.integrated > media.SILENCE_LUFS
    # the gains found last time for the same speech, music and volume (final/sound/mix.json)
    music = [(str(r.track.resolve()), os.stat(r.track).st_mtime_ns, r.start, r.end,
              r.fade_in, r.fade_out) for r in plan.music]
    mix_key = hashlib.sha256(json.dumps([_bus_key(bus), music, plan.bgm.volume, plan.fade_in,
                                         plan.fade_out, plan.duration]).encode()).hexdigest()
    store = folder / "mix.json"
    base = hashlib.sha256(json.dumps([_bus_key(bus), music, plan.fade_in, plan.fade_out,
                                      plan.duration]).encode()).hexdigest()[:32]
    known = _cached_json(store, mix_key[:32])
    try:
        last = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        last = None
    if known is not None:
        sgain, mgains, trim = known["speech_gain"], known["music_gains"], known["trim"]
        if _current(m4a, _master_key(plan, bus, m4a, sgain, mgains, trim)):
            return m4a, 0  # made and measured by the master job: nothing to decode again
    elif isinstance(last, dict) and last.get("base") == base and last.get("volume", 0) > 0 \
            and plan.bgm.volume > 0:
        # only the music volume changed: the last gains, the music moved by the change
        step = 20 * math.log10(plan.bgm.volume / last["volume"])
        sgain, trim = last["speech_gain"], last["trim"]
        mgains = [m + step for m in last["music_gains"]]
    else:
        sgain = sound.speech_gain_db(speech.integrated)
        tracks = [media.file_loudness(r.track) for r in plan.music]
        mgains = [sound.music_gain_db(t.integrated, plan.bgm.volume, present) for t in tracks]
        trim = 0.0
    passes = 0
    got = media.Loudness(float("nan"), float("nan"))
    for _ in range(5):
        def args_for(out: Path, sgain: float = sgain, mgains: list[float] = mgains,
                     trim: float = trim) -> list[str]:
            return _master_args(plan, bus, out, sgain, mgains, trim)

        key = _master_key(plan, bus, m4a, sgain, mgains, trim)
        if not _current(m4a, key):
            _make(m4a, key, args_for, what=f"mixing the sound of {name}")
            passes += 1
        got = media.file_loudness(m4a)
        if math.isfinite(got.true_peak) and got.true_peak > sound.TRUE_PEAK_MAX_DBTP:
            trim -= round(got.true_peak - sound.TRUE_PEAK_MAX_DBTP + 0.2, 2)
            continue
        off = sound.VOICE_LUFS - got.integrated
        if trim or not (present or plan.music) or not math.isfinite(off) \
                or abs(off) <= MIX_TOLERANCE_LU:
            atomic_write_text(store, json.dumps({"key": mix_key[:32], "base": base,
                                                 "volume": plan.bgm.volume,
                                                 "speech_gain": sgain,
                                                 "music_gains": mgains, "trim": trim}))
            return m4a, passes
        delta = round(max(-6.0, min(6.0, off)), 2)
        sgain = sgain + delta if present else sgain
        mgains = [m + delta for m in mgains]
    if not math.isfinite(got.true_peak) or got.true_peak <= sound.TRUE_PEAK_MAX_DBTP:
        atomic_write_text(store, json.dumps({"key": mix_key[:32], "base": base,
                                             "volume": plan.bgm.volume, "speech_gain": sgain,
                                             "music_gains": mgains, "trim": trim}))
        return m4a, passes
    raise StitchError(f"{m4a}: true peak {got.true_peak:.2f} dBTP stays over "
                      f"{sound.TRUE_PEAK_MAX_DBTP} dBTP after {passes} encodes")


def _master_key(plan: Plan, bus: Path, m4a: Path, sgain: float, mgains: list[float],
                trim: float) -> str:
    """The master's part key: its ffmpeg arguments as `_make` runs them (into m4a's partial)."""
    return part_key(_master_args(plan, bus, _partial(m4a), sgain, mgains, trim))


def _master_args(plan: Plan, bus: Path, out: Path, sgain: float, mgains: list[float],
                 trim: float) -> list[str]:
    """The ffmpeg arguments of the master, writing `out`."""
    mix = master_sound(plan, _bus(bus), speech_gain_db=sgain, music_gains=mgains)
    if trim:
        mix = mix.volume(volume=f"{trim:.2f}dB")
    return _args(ffmpeg.output(mix, filename=str(out), f="mp4", **audio_options()))


@dataclass
class Cut:
    """One stitch's plan and where its parts go: what every part builder reads. Made by
    `prepare_cut`, for the whole stitch (`stitch_episode`) or for one part's build job."""
    paths: EpisodePaths
    plan: Plan
    cues: list[subtitles.Cue]
    reels: list[Reel]
    burn: bool
    rdir: Path
    sdir: Path
    report: Callable[[float], None]

    def reel(self, num: str | int) -> Reel:
        """Reel `num` (1-based, as in final/reels/reel-NN.mp4)."""
        i = int(num) - 1
        if not 0 <= i < len(self.reels):
            raise StitchError(f"the cut has {len(self.reels)} reel(s), not a reel {num}: "
                              "build `final` (the storyboard changed since this was planned)")
        return self.reels[i]


def cut_request(paths: EpisodePaths, cfg: WorkflowConfig) -> tuple[float, bool]:
    """The crossfade and burn-in the cut is made with: final/stitch-request.json (what
    `spark-video stitch` asked) over the config. Every part's build reads this one answer."""
    req = StitchRequest()
    if paths.stitch_request.is_file():
        req = load_model(StitchRequest, paths.stitch_request)
    crossfade = float(cfg.crossfade if req.crossfade is None else req.crossfade)
    burn = bool(cfg.burn_subtitles if req.burn_subtitles is None else req.burn_subtitles)
    return crossfade, burn


def prepare_cut(paths: EpisodePaths, cfg: WorkflowConfig, *, crossfade: float | None = None,
                burn_subtitles: bool | None = None, shots_per_reel: int | None = None,
                progress: Callable[[float], None] | None = None) -> Cut:
    """Plan the cut and its reels (no encoding) and make final/'s part folders."""
    plan = plan_stitch(paths, cfg, crossfade=crossfade)
    burn = cfg.burn_subtitles if burn_subtitles is None else burn_subtitles
    reels = plan_reels(plan, shots_per_reel or cfg.reel_shots)
    rdir, sdir = reels_dir(paths), sound_dir(paths)
    for d in (rdir, sdir):
        d.mkdir(parents=True, exist_ok=True)
    _drop_stale(rdir, sdir, len(reels))
    return Cut(paths, plan, build_cues(plan), reels, burn, rdir, sdir,
               progress or _default_progress())


def make_reel_picture(cut: Cut, reel: Reel) -> bool:
    """final/reels/reel-NN.mp4, made again only when its key changed."""
    return build_reel_picture(cut.plan, reel, len(cut.reels), cut.cues, cut.burn, cut.rdir,
                              cut.report, cut.paths.name)


def make_reel_speech(cut: Cut, reel: Reel) -> bool:
    """final/sound/speech-NN.f32, made again only when its key changed."""
    return build_reel_speech(cut.plan, reel, len(cut.reels), cut.sdir, cut.paths.name)


def make_master(cut: Cut) -> tuple[media.Loudness, Path, int]:
    """final/sound/master.m4a from the reels' speech (each made first if it is stale) and
    the music: (the speech's loudness, the file, the encodes run)."""
    for reel in cut.reels:
        make_reel_speech(cut, reel)
    bus = speech_bus(cut.paths, cut.reels)
    speech = cached_speech_loudness(cut.plan, bus, cut.sdir)
    m4a, passes = build_master(cut.plan, bus, cut.sdir, speech, cut.paths.name)
    if passes:
        _say("mix")
    return speech, m4a, passes


def stitch_episode(paths: EpisodePaths, cfg: WorkflowConfig, *, crossfade: float | None = None,
                   burn_subtitles: bool | None = None,
                   progress: Callable[[float], None] | None = None,
                   tts: Any = None, shots_per_reel: int | None = None) -> StitchResult:
    """Stitch the episode into paths.final_mp4 (+ paths.final_srt). See the module docstring.

    Every part (reel picture, reel speech, master sound) is kept in final/ and made again
    only when its key changed (in the Snakemake build each part is its own job before this
    one, which then finds them current); the final is then a mux (stream copy) of the reels
    and the master. `tts`: narrate with this TTS provider first (direct callers and tests;
    the Snakemake build narrates in its own per-shot rule, before the stitch).
    """
    t0 = time.monotonic()
    if tts is not None:
        narrate(paths, cfg, tts=tts)
    cut = prepare_cut(paths, cfg, crossfade=crossfade, burn_subtitles=burn_subtitles,
                      shots_per_reel=shots_per_reel, progress=progress)
    plan, reels = cut.plan, cut.reels
    srt_text = subtitles.to_srt(cut.cues)
    # absolute: ffmpeg runs in the reels' folder (for the subtitles files), so no path
    # handed to it may depend on the caller's working directory (a relative projects_dir)
    final = paths.final_mp4.resolve()
    built = Built()
    failed: list[BaseException] = []
    sound_out: list[Any] = []

    def make_sound() -> None:
        try:
            for reel in reels:
                if make_reel_speech(cut, reel):
                    built.speech.append(reel.index)
            speech, m4a, mpasses = make_master(cut)
            built.mix = mpasses > 0
            built.passes += mpasses + len(built.speech)
            sound_out.extend([speech, m4a])
        except BaseException as e:  # noqa: BLE001 - re-raised below, in this thread
            failed.append(e)

    mixer = threading.Thread(target=make_sound, name="stitch-sound")
    mixer.start()
    try:
        for reel in reels:
            if make_reel_picture(cut, reel):
                built.reels.append(reel.index)
    finally:
        mixer.join()
    if failed:
        raise failed[0]
    speech, m4a = sound_out
    _say("mux")
    listing = cut.rdir / "reels.txt"
    atomic_write_text(listing, "".join(f"file '{reel_name(r)}.mp4'\n" for r in reels))
    _mux(plan, listing, m4a, final, cut.rdir, cut.report, paths.name)
    atomic_write_text(paths.final_srt.resolve(), srt_text)
    _say(f"stitched {paths.name}: {len(built.reels)} of {len(reels)} reel(s) made again"
         f"{', the mix' if built.mix else ''}, the mux", event=False)
    return _result(paths, plan, cut.cues, speech, elapsed_s=time.monotonic() - t0,
                   passes=len(built.reels) + built.passes + 1, reels=len(reels),
                   rebuilt=built)


def _drop_stale(rdir: Path, sdir: Path, count: int) -> None:
    """Reels past the cut's end (the storyboard lost shots) are removed."""
    for folder, prefix in ((rdir, "reel-"), (sdir, "speech-")):
        for p in folder.glob(f"{prefix}*"):
            num = p.name[len(prefix):].split(".")[0]
            if num.isdigit() and int(num) > count:
                p.unlink(missing_ok=True)


def _mux(plan: Plan, listing: Path, sound_mp4: Path, final: Path, tdir: Path,
         report: Callable[[float], None], name: str) -> None:
    """Join the picture reels (stream copy) with the sound into `final`, atomically."""
    tmp_mp4 = _partial(final)
    args = ["-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(sound_mp4),
            "-map", "0:v:0", "-map", "1:a:0", "-c", "copy",
            "-bsf:v", _on_frame_grid(plan.fps), "-movflags", "+faststart",
            "-metadata", f"title={plan.storyboard.title}", "-f", "mp4", str(tmp_mp4)]
    try:
        run_ffmpeg_progress(args, expected_s=plan.duration, what=f"muxing {name}",
                            progress=lambda f: report(PICTURE_SHARE + (1 - PICTURE_SHARE) * f),
                            cwd=tdir)
        info = probe(tmp_mp4)
        if not info.has_video or not info.has_audio:
            raise StitchError(f"stitched file {tmp_mp4} lacks a stream")
        os.replace(tmp_mp4, final)
    finally:
        tmp_mp4.unlink(missing_ok=True)


def _result(paths: EpisodePaths, plan: Plan, cues: list, speech: media.Loudness, *,
            elapsed_s: float, passes: int, reels: int, rebuilt: Built) -> StitchResult:
    speech_present = math.isfinite(speech.integrated) and speech.integrated > media.SILENCE_LUFS
    return StitchResult(
        final_path=str(paths.final_mp4), srt_path=str(paths.final_srt),
        duration_s=round(plan.duration, 3),
        shots_count=len(plan.segments), size_bytes=paths.final_mp4.stat().st_size,
        width=plan.width, height=plan.height, fps=round(float(plan.fps), 3),
        crossfade=plan.crossfade,
        bgm_mode=plan.bgm.mode if plan.music else "off",
        bgm_tracks=[str(r.track) for r in plan.music],
        speech_lufs=round(speech.integrated, 2) if speech_present else None,
        freezes=[Freeze(shot=s.shot.id, seconds=round(s.freeze_s, 3))
                 for s in plan.segments if s.narration and s.freeze_s > 0.01],
        speedups=[Speedup(shot=s.shot.id, factor=s.fit.tempo)
                  for s in plan.segments if s.fit is not None and s.fit.tempo > 1.0],
        cues=cues,
        timeline=[Placement(shot=s.shot.id, scene=s.shot.scene, start=round(s.start, 3),
                            end=round(s.end, 3), span_start=round(s.span_start, 3),
                            span_end=round(s.span_end, 3), clips=[str(c.path) for c in s.clips],
                            narration=s.narration) for s in plan.segments],
        elapsed_s=round(elapsed_s, 2), passes=passes, reels=reels,
        reels_made=[i + 1 for i in rebuilt.reels], speech_made=[i + 1 for i in rebuilt.speech],
        mix_made=rebuilt.mix,
    )


__all__ = ["StitchError", "StitchResult", "build_cues", "encode_args", "master_sound", "narrate",
           "plan_reels", "plan_stitch", "reel_picture", "reel_speech", "stitch_episode"]
