"""Stitch and sound, measured on real ffmpeg output (lavfi clips, espeak-ng speech).

Nothing is mocked but the TTS provider (a sine or espeak-ng wav of a known length); every
check decodes the final mp4 with ffmpeg's own filters (ebur128, framecrc, raw samples).
"""

from __future__ import annotations

import array
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spark_video import media
from spark_video.base.io import atomic_write_json
from spark_video.base.models import BGMConfig, Storyboard, WorkflowConfig
from spark_video.base.paths import EpisodePaths, parse_clip_version
from spark_video.media import exact_duration, ffmpeg_exe, probe, sound
from spark_video.stitch import StitchError, narrate, plan_stitch, stitch_episode
from spark_video.stitch.subtitles import parse_srt

FF = ffmpeg_exe()
ESPEAK = "/usr/bin/espeak-ng"
CHROMIUM = "/usr/bin/chromium"

COLORS = ["red", "blue", "green", "yellow", "magenta", "cyan", "white", "orange"]
RGB = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 128, 0), "yellow": (255, 255, 0),
       "magenta": (255, 0, 255), "cyan": (0, 255, 255), "white": (255, 255, 255),
       "orange": (255, 165, 0)}


# --------------------------------------------------------------------------- helpers


def ff(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True)


def make_clip(path: Path, dur: float, *, size: str = "320x180", fps: int = 24,
              color: str | None = None, audio: str | None = "sine", freq: int = 440,
              amp: float = 0.3, wav: Path | None = None) -> Path:
    """A synthetic clip: a solid colour (or testsrc2) and a sine / a wav / no audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    src = (f"color=c={color}:s={size}:r={fps}:d={dur}" if color
           else f"testsrc2=size={size}:rate={fps}:duration={dur}")
    args = ["-f", "lavfi", "-i", src]
    if wav is not None:
        args += ["-i", str(wav), "-filter_complex", f"[1:a]apad,atrim=0:{dur}[a]",
                 "-map", "0:v", "-map", "[a]"]
    elif audio == "sine":
        args += ["-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=48000:duration={dur}",
                 "-filter_complex", f"[1:a]volume={amp}[a]", "-map", "0:v", "-map", "[a]"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if wav is not None or audio:
        args += ["-c:a", "aac", "-b:a", "128k"]
    ff(*args, str(path))
    return path


def make_tone(path: Path, dur: float, freq: float, amp: float = 0.3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ff("-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=48000:duration={dur}",
       "-af", f"volume={amp}", str(path))
    return path


def make_music(path: Path, dur: float, cutoff: int = 300) -> Path:
    """'Music' that lives below `cutoff` Hz (pink noise, low-passed), so it can be told apart
    from a 2 kHz 'voice' in the mix with band filters."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ff("-f", "lavfi", "-i", f"anoisesrc=color=pink:sample_rate=48000:duration={dur}:seed=7",
       "-af", f"lowpass=f={cutoff},lowpass=f={cutoff},volume=0.5", "-ac", "2", str(path))
    return path


def espeak_wav(path: Path, text: str, speed: int = 175) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ESPEAK, "-w", str(path), "-s", str(speed), text], check=True,
                   capture_output=True)
    return path


class FakeTTS:
    """TTS provider double: a 1 kHz tone whose length is given by the text ('[3.5s] ...'),
    or real espeak-ng speech when espeak=True. Counts its calls."""

    name = "fake-tts"

    def __init__(self, espeak: bool = False):
        self.espeak = espeak
        self.calls: list[str] = []

    def synthesize(self, ctx, text: str, out: Path, *, voice: str, rate: float) -> Path:
        assert ctx.phase == "tts" and ctx.shot
        self.calls.append(text)
        if self.espeak:
            return espeak_wav(Path(out), text, speed=int(175 * rate))
        secs = float(text.split("]")[0].strip("[s")) if text.startswith("[") else 2.0
        return make_tone(Path(out), secs, 1000, 0.3)


def episode(tmp_path: Path, shots: list[dict], **sb: object) -> EpisodePaths:
    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    paths.scaffold()
    board = Storyboard(title="Test", resolution=sb.pop("resolution", "720P"),
                       ratio=sb.pop("ratio", "16:9"), shots=shots, **sb)
    atomic_write_json(paths.storyboard, board)
    return paths


def shot(sid: str, **kw: object) -> dict:
    return {"id": sid, "scene": sid[:3], "prompt": "a shot", "duration": 3, **kw}


def loudness(path: Path, start: float | None = None, dur: float | None = None,
             af: str = "") -> media.Loudness:
    args = []
    if start is not None:
        args += ["-ss", f"{start:.3f}"]
    if dur is not None:
        args += ["-t", f"{dur:.3f}"]
    args += ["-i", str(path)]
    chain = f"[0:a:0]{af + ',' if af else ''}anull[a]"
    return media.measure_graph(args, chain, "a", what="test measurement")


def samples(path: Path, rate: int = 8000) -> array.array:
    out = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
                          "-ar", str(rate), "-f", "f32le", "-"], capture_output=True,
                         check=True).stdout
    a = array.array("f")
    a.frombytes(out)
    return a


def rms(a: array.array, t0: float, t1: float, rate: int = 8000) -> float:
    seg = a[int(t0 * rate):int(t1 * rate)]
    return math.sqrt(sum(x * x for x in seg) / max(1, len(seg)))


def frame_colors(path: Path) -> list[tuple[int, int, int]]:
    """Mean colour of every frame (the video scaled to 1x1)."""
    out = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf",
                          "scale=1:1:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return [tuple(out[i:i + 3]) for i in range(0, len(out) - 2, 3)]


def frame_durations(path: Path) -> list[tuple[int, int]]:
    """(pts, duration) of every video packet, from ffmpeg's framecrc muxer."""
    out = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy",
                          "-f", "framecrc", "-"], capture_output=True, text=True,
                         check=True).stdout
    rows = []
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        rows.append((int(parts[2]), int(parts[3])))
    return sorted(rows)


def near(c: tuple[int, int, int], name: str, tol: int = 60) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(c, RGB[name], strict=True))


def cfg(**kw: object) -> WorkflowConfig:
    return WorkflowConfig(**kw)


QUIET = {"progress": lambda f: None}


# --------------------------------------------------------------------------- assembly


def test_crossfade_length_total_duration_and_srt(tmp_path):
    durs = [2.0, 2.5, 3.0, 2.0]
    shots = []
    for i in range(1, len(durs) + 1):
        sid = f"S01-{i:03d}"
        shots.append(shot(sid, dialog=[{"speaker": "Ann", "text": f"Line number {i}."}]))
    paths = episode(tmp_path, shots)
    for i, d in enumerate(durs):
        make_clip(paths.clip(shots[i]["id"]), d, color=COLORS[i], freq=300 + 100 * i)
    c = 0.5
    seen: list[float] = []
    res = stitch_episode(paths, cfg(crossfade=c), progress=seen.append)
    total = sum(durs) - (len(durs) - 1) * c
    assert abs(exact_duration(paths.final_mp4) - total) <= 0.1
    assert abs(res.duration_s - total) <= 0.01
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert res.shots_count == 4 and res.size_bytes == paths.final_mp4.stat().st_size

    # crossfade length, measured on the frames: blended frames between two solid colours
    fps = probe(paths.final_mp4).fps
    colors = frame_colors(paths.final_mp4)
    starts = []  # where each shot's colour first shows (its segment start)
    for k in range(1, len(durs)):
        a, b = COLORS[k - 1], COLORS[k]
        mixed = [i for i, col in enumerate(colors)
                 if not near(col, a, 25) and not near(col, b, 25)
                 and i / fps > 1.5 + sum(durs[:k - 1]) - (k - 1) * c - 0.1
                 and i / fps < sum(durs[:k]) - (k - 1) * c + 0.1]
        assert mixed, f"no blended frames between shot {k} and {k + 1}"
        blend_s = (mixed[-1] - mixed[0] + 2) / fps
        assert abs(blend_s - c) <= 0.1, (k, blend_s)
        starts.append((mixed[0] - 1) / fps)

    # SRT: every dialog line, first cue of each shot within 0.3 s of the shot's start
    cues = parse_srt(paths.final_srt.read_text(encoding="utf-8"))
    assert [q.text for q in cues] == [f"Ann: Line number {i}." for i in range(1, 5)]
    assert abs(cues[0].start) <= 0.3
    for q, measured in zip(cues[1:], starts, strict=True):
        assert abs(q.start - measured) <= 0.3, (q, measured)
    for q, p in zip(cues, res.timeline, strict=True):
        assert p.start - 0.01 <= q.start <= p.end and q.end <= p.end
    assert not list(paths.final_mp4.parent.glob(".*"))  # no temporary file left behind


def test_hard_cuts_keep_every_frame(tmp_path):
    durs = [2.0, 3.0, 2.5]
    shots = [shot(f"S01-{i:03d}") for i in range(1, 4)]
    paths = episode(tmp_path, shots)
    for i, d in enumerate(durs):
        make_clip(paths.clip(shots[i]["id"]), d, color=COLORS[i])
    res = stitch_episode(paths, cfg(crossfade=0), **QUIET)
    assert abs(exact_duration(paths.final_mp4) - sum(durs)) <= 0.1
    colors = frame_colors(paths.final_mp4)
    # the fades to/from black aside, each frame is exactly one of the clips' colours
    inner = colors[int(0.6 * 24):-int(1.1 * 24)]
    assert all(any(near(col, n, 25) for n in COLORS[:3]) for col in inner)
    assert [p.start for p in res.timeline] == [0.0, 2.0, 5.0]


def test_mixed_sizes_ratios_one_constant_canvas_and_fps(tmp_path):
    specs = [("320x180", 24), ("180x320", 30), ("640x480", 25), ("250x250", 24)]
    shots = [shot(f"S01-{i:03d}") for i in range(1, 5)]
    paths = episode(tmp_path, shots)
    for (size, fps), s, col in zip(specs, shots, COLORS, strict=False):
        make_clip(paths.clip(s["id"]), 2.0, size=size, fps=fps, color=col)
    res = stitch_episode(paths, cfg(crossfade=0.4), **QUIET)
    info = probe(paths.final_mp4)
    assert (info.width, info.height) == (res.width, res.height)
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert abs(info.width / info.height - 16 / 9) < 0.02
    assert info.vcodec == "h264" and info.pix_fmt == "yuv420p" and info.acodec == "aac"
    # constant frame rate: every frame lasts exactly one tick of the chosen rate
    rows = frame_durations(paths.final_mp4)
    deltas = {b[0] - a[0] for a, b in zip(rows, rows[1:], strict=False)}
    assert len(deltas) == 1, deltas
    assert abs(len(rows) / res.fps - res.duration_s) <= 0.1
    assert abs(res.duration_s - (8.0 - 3 * 0.4)) <= 0.1
    # the portrait clip is pillarboxed: black at the left edge, blue in the middle
    mid = res.timeline[1].span_start + 0.6
    out = subprocess.run([FF, "-v", "error", "-ss", f"{mid:.2f}", "-i", str(paths.final_mp4),
                          "-frames:v", "1", "-vf", f"scale={info.width}:{info.height}",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    row = info.height // 2 * info.width * 3
    left = tuple(out[row + 6:row + 9])
    center = tuple(out[row + info.width // 2 * 3:row + info.width // 2 * 3 + 3])
    assert max(left) < 30 and near(center, "blue", 40), (left, center)
    # faststart: the moov box comes before mdat
    head = paths.final_mp4.read_bytes()[:200_000]
    assert head.find(b"moov") < head.find(b"mdat")


def test_clip_without_audio_gets_silence(tmp_path):
    shots = [shot("S01-001"), shot("S01-002"), shot("S01-003")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 2.0, audio="sine", freq=500)
    make_clip(paths.clip("S01-002"), 3.0, audio=None)
    make_clip(paths.clip("S01-003"), 2.0, audio="sine", freq=700)
    res = stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    assert probe(paths.final_mp4).has_audio
    a = samples(paths.final_mp4)
    seg = res.timeline[1]
    assert rms(a, seg.start + 0.7, seg.end - 0.7) < 1e-3
    assert rms(a, 0.8, 1.3) > 0.02 and rms(a, seg.end + 0.2, seg.end + 0.6) > 0.02


def test_continuation_take_joined_with_one_second_crossfade(tmp_path):
    shots = [shot("S01-001"), shot("S01-002")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 3.0, color="red")
    make_clip(paths.clip("S01-001b"), 2.0, color="blue")  # the continuation take
    make_clip(paths.clip_version("S01-002b", 1), 2.0, color="yellow")
    make_clip(paths.clip_version("S01-002b", 3), 2.5, color="white")  # highest version wins
    make_clip(paths.clip("S01-002"), 2.0, color="green")
    res = stitch_episode(paths, cfg(crossfade=0), **QUIET)
    # shot 1 = 3 + 2 - 1 = 4 s; shot 2 = 2 + 2.5 - 1 = 3.5 s
    assert [round(p.end - p.start, 2) for p in res.timeline] == [4.0, 3.5]
    assert abs(exact_duration(paths.final_mp4) - 7.5) <= 0.1
    colors = frame_colors(paths.final_mp4)
    assert near(colors[int(1.0 * 24)], "red") and near(colors[int(3.5 * 24)], "blue")
    assert near(colors[int(2.5 * 24)], "red", 255) and not near(colors[int(2.5 * 24)], "red")
    assert near(colors[int(4.5 * 24)], "green") and near(colors[int(6.3 * 24)], "white")
    assert not any(near(c, "yellow") for c in colors)


def test_missing_winner_is_a_clear_error(tmp_path):
    shots = [shot("S01-001"), shot("S01-002"), shot("S02-001")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 2.0)
    with pytest.raises(StitchError) as e:
        stitch_episode(paths, cfg(), **QUIET)
    msg = str(e.value)
    assert "S01-002" in msg and "S02-001" in msg
    assert "spark-video render --shot S01-002" in msg
    assert not paths.final_mp4.exists()


def test_crossfade_longer_than_a_clip_is_refused(tmp_path):
    shots = [shot("S01-001"), shot("S01-002")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 2.0)
    make_clip(paths.clip("S01-002"), 2.0)
    with pytest.raises(StitchError, match="crossfade"):
        plan_stitch(paths, cfg(crossfade=2.5))


# --------------------------------------------------------------------------- narration


def test_narration_fitting_speedup_freeze_and_tail(tmp_path):
    shots = [
        shot("S01-001", role="narration", narration_text="[5.0s] Far longer than the clip."),
        shot("S01-002", role="narration", narration_text="[1.5s] Short."),
        shot("S01-003", role="narration", narration_text="[3.4s] A little long."),
    ]
    paths = episode(tmp_path, shots, mode="narration")
    make_clip(paths.clip("S01-001"), 2.0, color="red", freq=300)
    make_clip(paths.clip("S01-002"), 4.0, color="blue", freq=300)
    make_clip(paths.clip("S01-003"), 3.0, color="green", freq=300)
    tts = FakeTTS()
    res = stitch_episode(paths, cfg(crossfade=0), tts=tts, **QUIET)
    spans = {p.shot: p.end - p.start for p in res.timeline}
    speed = {s.shot: s.factor for s in res.speedups}
    freeze = {f.shot: f.seconds for f in res.freezes}
    # 1: 5 s of voice on a 2 s clip → 1.8× (the cap), 2.78 s of voice, frozen 0.78 s
    assert speed["S01-001"] == pytest.approx(1.8)
    assert freeze["S01-001"] == pytest.approx(5 / 1.8 - 2.0, abs=0.05)
    assert 5 / 1.8 - 0.01 <= spans["S01-001"] <= 5 / 1.8 + 1
    # 2: 1.5 s voice, 4 s clip → cut to voice + 1 s
    assert "S01-002" not in speed and "S01-002" not in freeze
    assert spans["S01-002"] == pytest.approx(2.5, abs=0.05)
    # 3: 3.4 s voice on 3 s → sped up 1.13×, no freeze
    assert speed["S01-003"] == pytest.approx(3.4 / 3.0, abs=0.01)
    assert "S01-003" not in freeze
    assert all(f <= 1.8 for f in speed.values())
    assert abs(exact_duration(paths.final_mp4) - sum(spans.values())) <= 0.1
    # every line audible inside its own shot; the clips' own sound (300 Hz) is replaced
    for p, (text, voice) in zip(res.timeline, [(5.0, 5 / 1.8), (1.5, 1.5), (3.4, 3.0)],
                                strict=True):
        assert p.end - p.start >= voice - 0.02, (p, text)
        lv = loudness(paths.final_mp4, p.span_start + 0.5, voice - 0.7, "highpass=f=700")
        assert lv.integrated > -22, (p.shot, lv)
        low = loudness(paths.final_mp4, p.span_start + 0.5, voice - 0.7, "lowpass=f=400,"
                       "lowpass=f=400")
        assert low.integrated < lv.integrated - 20
    # a re-stitch does not pay for TTS again
    assert len(tts.calls) == 3
    stitch_episode(paths, cfg(crossfade=0), tts=tts, **QUIET)
    assert len(tts.calls) == 3
    # cues follow the voice
    cues = parse_srt(paths.final_srt.read_text(encoding="utf-8"))
    for p in res.timeline:
        mine = [q for q in res.cues if q.shot == p.shot]
        assert mine and abs(mine[0].start - p.start) <= 0.3 and mine[-1].end <= p.end + 0.01
    assert len(cues) == len(res.cues)


def test_narration_with_crossfade_voices_never_overlap(tmp_path):
    shots = [shot(f"S01-{i:03d}", role="narration", narration_text=f"[{d}s] Line {i}.")
             for i, d in enumerate([2.5, 3.5, 1.0], 1)]
    paths = episode(tmp_path, shots, mode="narration")
    for i, s in enumerate(shots):
        make_clip(paths.clip(s["id"]), 3.0, color=COLORS[i], audio=None)
    res = stitch_episode(paths, cfg(crossfade=0.5), tts=FakeTTS(), **QUIET)
    plan = plan_stitch(paths, cfg(crossfade=0.5))
    voices = [(seg.span_start, seg.span_start + seg.fit.spoken_s) for seg in plan.segments]
    for (_a0, a1), (b0, _b1) in zip(voices, voices[1:], strict=False):
        assert a1 <= b0 + 1e-3
    for seg in plan.segments:
        assert seg.span_end - seg.span_start >= seg.fit.spoken_s - 1e-3
        assert seg.span_end - seg.span_start <= seg.fit.spoken_s + 1.0 + 0.05
    assert abs(exact_duration(paths.final_mp4) - res.duration_s) <= 0.1


def test_narration_with_real_speech(tmp_path):
    if not Path(ESPEAK).exists():
        pytest.skip("espeak-ng is not installed")
    text = ("The lighthouse keeper counted the ships every night. "
            "Nobody had told him the harbour closed years ago.")
    shots = [shot("S01-001", role="narration", narration_text=text)]
    paths = episode(tmp_path, shots, mode="narration", narrator_voice="en")
    make_clip(paths.clip("S01-001"), 3.0, audio=None)
    tts = FakeTTS(espeak=True)
    res = stitch_episode(paths, cfg(crossfade=0.5, narrator_speech_rate=1.0), tts=tts, **QUIET)
    tts_s = probe(next(paths.tts_dir.glob("*.wav"))).duration
    assert res.speedups and res.speedups[0].factor <= 1.8
    spoken = tts_s / res.speedups[0].factor
    assert spoken - 0.02 <= res.duration_s <= spoken + 1.05
    assert loudness(paths.final_mp4).integrated == pytest.approx(-16, abs=1.0)
    assert len(res.cues) == 2 and res.cues[0].kind == "narration"


# --------------------------------------------------------------------------- music


def _music_episode(tmp_path: Path, track_s: float = 4.0) -> EpisodePaths:
    """Shot 1 and 3 speak (a 2 kHz 'voice'), shot 2 is silent; music lives under 300 Hz."""
    shots = [shot("S01-001", dialog=[{"speaker": "Ann", "text": "Hello."}]),
             shot("S01-002"),
             shot("S01-003", dialog=[{"speaker": "Bob", "text": "Goodbye."}])]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 4.0, freq=2000, amp=0.05)
    make_clip(paths.clip("S01-002"), 4.0, audio=None)
    make_clip(paths.clip("S01-003"), 4.0, freq=2000, amp=0.05)
    make_music(paths.project_paths.bgm_dir / "calm.wav", track_s)  # shorter: it loops
    return paths


def test_global_music_loudness_ducking_and_fades(tmp_path):
    paths = _music_episode(tmp_path)
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm",
                                                  fade_in_s=1.0, fade_out_s=1.0))
    res = stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    assert res.bgm_mode == "global" and res.bgm_tracks
    out = paths.final_mp4
    whole = loudness(out)
    assert whole.integrated == pytest.approx(-16, abs=1.0), whole
    assert whole.true_peak <= -1.0, whole
    s1, s2 = res.timeline[0], res.timeline[1]
    # during speech: voice band vs music band (each measured alone with band filters)
    voice = loudness(out, 1.2, s1.end - 1.8, "highpass=f=1200,highpass=f=1200")
    music_under = loudness(out, 1.2, s1.end - 1.8, "lowpass=f=350,lowpass=f=350")
    assert voice.integrated - music_under.integrated >= 10, (voice, music_under)
    # music alone (silent shot) sits near -30 LUFS: the ducking releases between lines
    music_alone = loudness(out, s2.start + 1.0, 2.0, "lowpass=f=350,lowpass=f=350")
    assert -33 <= music_alone.integrated <= -27, music_alone
    assert music_alone.integrated - music_under.integrated >= 3  # ducked under speech
    # first and last second fade (in from, out to silence)
    a = samples(out)
    dur = len(a) / 8000
    assert rms(a, 0, 0.1) < rms(a, 0.9, 1.2) / 4
    assert rms(a, dur - 0.1, dur) < rms(a, dur - 1.3, dur - 1.0) / 4
    assert rms(a, 0.4, 0.6) < rms(a, 1.1, 1.3)


def test_music_volume_moves_the_music_level(tmp_path):
    paths = _music_episode(tmp_path)
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm",
                                                  volume=0.5))
    res = stitch_episode(paths, cfg(crossfade=0), **QUIET)
    s2 = res.timeline[1]
    lv = loudness(paths.final_mp4, s2.start + 1.0, 2.0, "lowpass=f=350,lowpass=f=350")
    assert -27 <= lv.integrated <= -21  # 0.5 = +6 dB over the -30 LUFS reference


def test_scene_mode_switches_tracks_at_scene_boundaries(tmp_path):
    shots = [shot("S01-001"), shot("S01-002"), shot("S02-001"), shot("S03-001")]
    scenes = [{"id": "S01", "name": "a", "description": "a", "bgm_track": "low"},
              {"id": "S02", "name": "b", "description": "b", "bgm_track": "high.wav"},
              {"id": "S03", "name": "c", "description": "c"}]
    bgm = BGMConfig(enabled=True, mode="scene")
    paths = episode(tmp_path, shots, scenes=scenes, bgm=bgm)
    for s in shots:
        make_clip(paths.clip(s["id"]), 3.0, audio=None)
    make_tone(paths.project_paths.bgm_dir / "low.wav", 2.0, 200)
    make_tone(paths.bgm_dir / "high.wav", 10.0, 1500)  # the episode folder works too
    res = stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    assert len(res.bgm_tracks) == 2
    out = paths.final_mp4
    t = {p.shot: p for p in res.timeline}

    def band(t0: float, t1: float, f: int) -> float:
        return loudness(out, t0, t1 - t0, f"bandpass=f={f}:width_type=q:w=8").integrated

    s1 = (t["S01-001"].start + 1.2, t["S01-002"].end - 1.2)
    s2 = (t["S02-001"].span_start + 1.0, t["S02-001"].span_end - 1.0)
    s3 = (t["S03-001"].span_start + 1.0, t["S03-001"].end - 1.2)
    assert band(*s1, 200) > band(*s1, 1500) + 20
    assert band(*s2, 1500) > band(*s2, 200) + 20
    assert band(*s2, 1500) == pytest.approx(-16, abs=2)  # music alone is at -16 LUFS
    assert band(*s3, 1500) < -45 and band(*s3, 200) < -45  # a scene without a track
    # crossfade at the S01→S02 boundary: both tracks audible right at the boundary
    b = t["S02-001"].span_start
    assert band(b - 0.3, b + 0.3, 200) > -40 and band(b - 0.3, b + 0.3, 1500) > -40


def test_restitch_after_music_change_touches_no_clip(tmp_path):
    paths = _music_episode(tmp_path)
    clips = sorted((paths.root / "clips").glob("*.mp4"))
    before = {p: p.stat().st_mtime_ns for p in clips}
    stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    quiet = loudness(paths.final_mp4, 5.0, 2.0).integrated
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm"))
    stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    assert loudness(paths.final_mp4, 5.0, 2.0).integrated > max(quiet, -60) + 10
    assert {p: p.stat().st_mtime_ns for p in clips} == before
    assert sorted((paths.root / "clips").glob("*")) == clips


def test_bgm_off_when_no_config(tmp_path):
    paths = _music_episode(tmp_path)
    res = stitch_episode(paths, cfg(crossfade=0), **QUIET)
    assert res.bgm_mode == "off" and not res.bgm_tracks
    s2 = res.timeline[1]
    assert loudness(paths.final_mp4, s2.start + 0.5, 3.0).integrated < -60


def test_unknown_track_is_a_clear_error(tmp_path):
    paths = _music_episode(tmp_path)
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="nope"))
    with pytest.raises(sound.SoundError, match="nope.*calm"):
        plan_stitch(paths, cfg())


# --------------------------------------------------------------------------- subtitles


def test_burned_subtitles_show_on_the_frames(tmp_path):
    shots = [shot("S01-001", dialog=[{"speaker": "Ann", "text": "WWWW MMMM WWWW"}]),
             shot("S01-002")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 3.0, color="blue", size="640x360")
    make_clip(paths.clip("S01-002"), 3.0, color="blue", size="640x360")

    def bottom_white(at: float) -> int:
        out = subprocess.run([FF, "-v", "error", "-ss", f"{at}", "-i", str(paths.final_mp4),
                              "-frames:v", "1", "-vf", "crop=iw:ih/4:0:ih*3/4", "-f", "rawvideo",
                              "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
        return sum(1 for b in out if b > 200)

    stitch_episode(paths, cfg(crossfade=0), burn_subtitles=False, **QUIET)
    assert bottom_white(1.0) == 0
    stitch_episode(paths, cfg(crossfade=0), burn_subtitles=True, **QUIET)
    assert bottom_white(1.0) > 100 and bottom_white(4.5) == 0


@pytest.mark.slow
def test_chromium_plays_the_final_cut(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    shots = [shot("S01-001"), shot("S01-002")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 2.0, size="320x180")
    make_clip(paths.clip("S01-002"), 2.0, size="180x320", fps=30)
    stitch_episode(paths, cfg(crossfade=0.5), **QUIET)
    page = paths.final_mp4.parent / "play.html"
    page.write_text(
        "<html><body><video id=v muted autoplay playsinline src='" + paths.final_mp4.name
        + "'></video><pre id=o>waiting</pre><script>const v=document.getElementById('v');"
        "v.addEventListener('loadeddata',()=>{if(v.readyState>=2){document.getElementById"
        "('o').textContent='PLAYED '+v.videoWidth+'x'+v.videoHeight+' '+v.duration;}});"
        "v.addEventListener('error',()=>{document.getElementById('o').textContent="
        "'ERROR '+(v.error&&v.error.code);});</script></body></html>", encoding="utf-8")
    profile = tmp_path / "chrome-profile"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update",
                           "--autoplay-policy=no-user-gesture-required", "--no-first-run",
                           f"--user-data-dir={profile}", "--virtual-time-budget=8000",
                           "--dump-dom", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="o">PLAYED (\d+)x(\d+)', proc.stdout)
    assert m, proc.stdout[-500:] + proc.stderr[-1500:]
    info = probe(paths.final_mp4)
    assert (int(m.group(1)), int(m.group(2))) == (info.width, info.height)


def test_result_is_json_serialisable(tmp_path):
    shots = [shot("S01-001")]
    paths = episode(tmp_path, shots)
    make_clip(paths.clip("S01-001"), 2.0)
    res = stitch_episode(paths, cfg(), **QUIET)
    data = json.loads(res.model_dump_json())
    assert data["final_path"].endswith("demo-001.mp4") and data["shots_count"] == 1
    assert shutil.which(FF) or Path(FF).exists()


def test_narration_through_the_offline_tts_provider(tmp_path):
    """Narration is its own step (the `narration` rule per shot): the configured provider
    (offline: espeak-ng or timed silence) speaks, its call is logged with phase=tts and the
    shot, and the audio is cached. The stitch itself never calls a provider: without the
    narration audio it stops with the file and the fix."""
    shots = [shot("S01-001", role="narration", narration_text="The rain had stopped."),
             shot("S01-002", role="narration", narration_text="Nobody came back.")]
    paths = episode(tmp_path, shots, mode="narration")
    for s in shots:
        make_clip(paths.clip(s["id"]), 2.5, audio=None)
    conf = cfg(crossfade=0.5, provider="offline")
    with pytest.raises(StitchError, match=r"S01-001: no narration audio .*S01-001\.wav.*"
                                          r"narration rule"):
        stitch_episode(paths, conf, **QUIET)
    assert not paths.model_calls.exists() and not paths.final_mp4.exists()

    assert narrate(paths, conf, shots=["S01-002"]) == [paths.narration("S01-002")]
    assert narrate(paths, conf) == [paths.narration("S01-001"), paths.narration("S01-002")]
    calls = [json.loads(x) for x in paths.model_calls.read_text().splitlines()]
    assert [(c["phase"], c["shot"]) for c in calls] == [("tts", "S01-002"), ("tts", "S01-001")]
    res = stitch_episode(paths, conf, **QUIET)
    assert len(list(paths.tts_dir.glob("*.wav"))) == 4  # two cache entries, two shot files
    for p in res.timeline:
        assert p.narration
    mtime = paths.narration("S01-001").stat().st_mtime_ns
    narrate(paths, conf)
    stitch_episode(paths, conf, **QUIET)
    assert len(paths.model_calls.read_text().splitlines()) == 2  # cached: no new call
    assert paths.narration("S01-001").stat().st_mtime_ns == mtime  # nothing rewritten
    with pytest.raises(StitchError, match="S09-001: not a shot"):
        narrate(paths, conf, shots=["S09-001"])


def test_relative_projects_dir_from_another_working_directory(tmp_path, monkeypatch):
    """A relative projects_dir (plain `snakemake final --config projects_dir=projects`):
    ffmpeg runs in a temporary directory, so no path handed to it may be relative to the
    caller's working directory. Burned subtitles and narration take the same road."""
    monkeypatch.chdir(tmp_path)
    shots = [shot("S01-001", role="narration", narration_text="[1.0s] Hello."),
             shot("S01-002", role="narration", narration_text="[1.0s] Later.")]
    paths = EpisodePaths.of("demo", "001", root=Path("projects"))
    paths.scaffold()
    atomic_write_json(paths.storyboard, Storyboard(title="Rel", resolution="720P",
                                                   ratio="16:9", shots=shots,
                                                   mode="narration"))
    make_clip(paths.clip("S01-001"), 2.0, color="red")
    make_clip(paths.clip("S01-002"), 2.0, color="blue")
    assert not paths.final_mp4.is_absolute()
    res = stitch_episode(paths, cfg(crossfade=0.5, burn_subtitles=True), tts=FakeTTS(),
                         **QUIET)
    assert abs(exact_duration(tmp_path / paths.final_mp4) - res.duration_s) <= 0.1
    assert (tmp_path / paths.final_srt).is_file()
    assert not list((tmp_path / paths.final_mp4).parent.glob(".*"))


# --------------------------------------------------------------------------- reels


def _stitch_both_ways(paths: EpisodePaths, conf: WorkflowConfig, tts=None):
    """Stitch as one reel and as one reel per shot; return both results and files."""
    one = stitch_episode(paths, conf, tts=tts, shots_per_reel=1000, **QUIET)
    one_mp4 = paths.final_mp4.with_name("one-reel.mp4")
    shutil.copy(paths.final_mp4, one_mp4)
    many = stitch_episode(paths, conf, tts=tts, shots_per_reel=1, **QUIET)
    return one, one_mp4, many, paths.final_mp4


def _assert_same_cut(one_mp4: Path, many_mp4: Path, fps: int = 24) -> None:
    """Reel changes leave no trace: the same frames (count, timing, colour) and the same
    sound as the one-reel stitch, and every packet on the frame grid."""
    a, b = frame_colors(one_mp4), frame_colors(many_mp4)
    assert len(a) == len(b)
    worst = max(max(abs(x - y) for x, y in zip(p, q, strict=True))
                for p, q in zip(a, b, strict=True))
    assert worst <= 12, worst
    durs = frame_durations(many_mp4)
    step = durs[1][0] - durs[0][0]
    assert all(q[0] - p[0] == step for p, q in zip(durs, durs[1:], strict=False))
    assert len(durs) == len(a)
    sa, sb = samples(one_mp4), samples(many_mp4)
    assert abs(len(sa) - len(sb)) <= 1
    for t in range(0, int(len(sa) / 8000 * 10) - 1):  # every 0.1 s
        ra, rb = rms(sa, t / 10, t / 10 + 0.1), rms(sb, t / 10, t / 10 + 0.1)
        assert abs(ra - rb) <= 0.1 * max(ra, rb) + 2e-3, (t / 10, ra, rb)


def test_crossfades_and_a_continuation_take_across_reel_changes(tmp_path):
    shots = [shot(f"S01-{i:03d}") for i in range(1, 6)]
    paths = episode(tmp_path, shots)
    durs = {"S01-001": 2.0, "S01-003": 2.0, "S01-004": 3.0, "S01-005": 2.0}
    for i, s in enumerate(shots):
        if s["id"] in durs:
            make_clip(paths.clip(s["id"]), durs[s["id"]], color=COLORS[i], freq=300 + 100 * i)
    # shot 2: a 1.25 s clip and its continuation take: the 1 s join starts 0.25 s into the
    # shot, inside the crossfade that the reel before renders (the head of the next reel)
    make_clip(paths.clip("S01-002"), 1.25, color="blue", freq=900)
    make_clip(paths.clip("S01-002b"), 2.0, color="white", freq=1100)
    c = 0.5
    one, one_mp4, many, many_mp4 = _stitch_both_ways(paths, cfg(crossfade=c))
    assert (one.reels, many.reels) == (1, 5)
    lengths = [2.0, 1.25 + 2.0 - 1.0, 2.0, 3.0, 2.0]
    assert [round(p.end - p.start, 3) for p in many.timeline] == lengths
    total = sum(lengths) - 4 * c
    assert many.duration_s == pytest.approx(total, abs=1e-3)
    assert len(frame_colors(many_mp4)) == round(total * 24)
    assert abs(exact_duration(many_mp4) - total) <= 0.05
    _assert_same_cut(one_mp4, many_mp4)
    # the cut points, on the frames: each shot's colour in the middle of its body, blends
    # of c seconds at every reel change, the continuation take after shot 2's join
    colors = frame_colors(many_mp4)
    starts = [p.start for p in many.timeline]
    for k, name in [(0, "red"), (2, "green"), (3, "yellow"), (4, "magenta")]:
        mid = (starts[k] + c + many.timeline[k].end - c) / 2
        assert near(colors[int(mid * 24)], name, 25), (k, colors[int(mid * 24)])
    assert near(colors[int((starts[1] + 1.5) * 24)], "white", 25)
    for k in range(1, 5):
        a, b = int(round(starts[k] * 24)), int(round((starts[k] + c) * 24))
        blended = [i for i in range(a - 2, b + 2) if not any(
            near(colors[i], n, 25) for n in ("red", "blue", "white", "green", "yellow",
                                            "magenta"))]
        assert blended and abs(blended[-1] - blended[0] + 2 - c * 24) <= 2, (k, blended)
        assert a - 1 <= blended[0] <= a + 2, (k, a, blended)


def test_narration_across_reel_changes_is_continuous(tmp_path):
    """A voice begins half a crossfade before its shot's reel starts: the two reels each lay
    their part of it, with no gap, no doubling and the same level as one reel."""
    shots = [shot(f"S01-{i:03d}", role="narration", narration_text=f"[{d}s] Line {i}.")
             for i, d in enumerate([2.2, 2.6, 1.5, 2.0], 1)]
    paths = episode(tmp_path, shots, mode="narration")
    for i, s in enumerate(shots):
        make_clip(paths.clip(s["id"]), 3.0, color=COLORS[i], audio=None)
    one, one_mp4, many, many_mp4 = _stitch_both_ways(paths, cfg(crossfade=0.5), FakeTTS())
    assert (one.reels, many.reels) == (1, 4)
    assert [p.start for p in one.timeline] == [p.start for p in many.timeline]
    _assert_same_cut(one_mp4, many_mp4)
    a = samples(many_mp4)
    plan = plan_stitch(paths, cfg(crossfade=0.5))
    for seg in plan.segments:
        v0, v1 = seg.span_start, seg.span_start + seg.fit.spoken_s
        # the tone is there in every 50 ms of the voice, across the reel change at start + c
        for t in [v0 + 0.05 * i for i in range(1, int((v1 - v0) / 0.05) - 1)]:
            if t < plan.fade_in or t > plan.duration - plan.fade_out - 0.05:
                continue  # the master fades
            assert rms(a, t, t + 0.05) > 0.05, (seg.shot.id, t)


def test_continuation_takes_are_parsed_by_paths(tmp_path):
    """`<shot>b.mp4` first, else the highest `<shot>b-ver<N>.mp4` (numerically: 10 > 9);
    `<shot>b` that is a shot of its own is not a take; other versions are not takes."""
    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    paths.scaffold()
    for name in ["S01-001b-ver9.mp4", "S01-001b-ver10.mp4", "S01-002b.mp4",
                 "S01-002b-ver3.mp4", "S01-003b.mp4", "S01-004-ver2.mp4", "notes.txt"]:
        (paths.clip("S01-001").parent / name).write_bytes(b"x")
    takes = paths.continuation_takes(["S01-001", "S01-002", "S01-003", "S01-003b", "S01-004"])
    assert takes == {"S01-001": paths.clip_version("S01-001b", 10),
                     "S01-002": paths.clip("S01-002b")}
    assert parse_clip_version("S01-001b-ver10.mp4") == ("S01-001b", 10)
    assert parse_clip_version("S01-001b.mp4") is None


# --------------------------------------------------------------------------- incremental


def frame_hashes(path: Path) -> list[str]:
    """(pts, md5) of every decoded picture frame, from ffmpeg's framemd5 muxer."""
    out = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5",
                          "-"], capture_output=True, text=True, check=True).stdout
    return [",".join(p.strip() for i, p in enumerate(line.split(",")) if i in (2, 5))
            for line in out.splitlines() if line.strip() and not line.startswith("#")]


def _assert_equal_to_scratch(paths: EpisodePaths, conf: WorkflowConfig, tts, per_reel: int):
    """Stitch (reusing what is up to date), then from nothing (final/ deleted): the same
    decoded frames, the same length to the frame, the same sound within 0.1 LU and 0.1 dB
    of true peak. Returns the incremental stitch's result."""
    inc = stitch_episode(paths, conf, tts=tts, shots_per_reel=per_reel, **QUIET)
    inc_mp4 = paths.root / "incremental.mp4"
    shutil.copy(paths.final_mp4, inc_mp4)
    inc_srt = paths.final_srt.read_text(encoding="utf-8")
    shutil.rmtree(paths.final_mp4.parent)
    scratch = stitch_episode(paths, conf, tts=tts, shots_per_reel=per_reel, **QUIET)
    assert scratch.reels_made == list(range(1, scratch.reels + 1))
    assert frame_hashes(inc_mp4) == frame_hashes(paths.final_mp4)
    assert abs(exact_duration(inc_mp4) - exact_duration(paths.final_mp4)) < 1 / 24
    a, b = media.file_loudness(inc_mp4), media.file_loudness(paths.final_mp4)
    assert abs(a.integrated - b.integrated) <= 0.1, (a, b)
    assert abs(a.true_peak - b.true_peak) <= 0.1, (a, b)
    assert inc_srt == paths.final_srt.read_text(encoding="utf-8")
    return inc


@pytest.mark.slow
def test_incremental_final_equals_a_from_scratch_stitch(tmp_path):
    """Nine shots in reels of three, crossfades, burned dialog, two narration shots and a
    global music track. A music change remakes no reel; a new take in the middle of a reel
    remakes that reel only; a new take (of another length) at a reel's first shot remakes
    it and the reel before (which renders its crossfade in), not the reel after (which only
    moves); a narration change remakes the reel that shows it. Every time, the final is
    the one a stitch from nothing makes."""
    shots = []
    for i in range(1, 10):
        if i in (2, 8):
            shots.append(shot(f"S01-{i:03d}", role="narration",
                              narration_text=f"[{1.5 + i / 10}s] Line {i}."))
        else:
            shots.append(shot(f"S01-{i:03d}", dialog=[{"speaker": "Ann",
                                                       "text": f"Line {i}."}]))
    paths = episode(tmp_path, shots, mode="narration")
    for i, s in enumerate(shots):
        make_clip(paths.clip(s["id"]), 2.0, color=COLORS[i % len(COLORS)], freq=300 + 50 * i,
                  amp=0.1)
    make_music(paths.project_paths.bgm_dir / "calm.wav", 6.0)
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm"))
    conf = cfg(crossfade=0.5, burn_subtitles=True)
    tts = FakeTTS()
    first = stitch_episode(paths, conf, tts=tts, shots_per_reel=3, **QUIET)
    assert first.reels == 3 and first.reels_made == [1, 2, 3]
    again = stitch_episode(paths, conf, tts=tts, shots_per_reel=3, **QUIET)
    assert (again.reels_made, again.speech_made, again.mix_made) == ([], [], False)

    # a mix change: the music louder
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm",
                                                  volume=0.5))
    res = _assert_equal_to_scratch(paths, conf, tts, 3)
    assert (res.reels_made, res.speech_made, res.mix_made) == ([], [], True)

    # a new take in the middle of reel 2 (shot 5)
    make_clip(paths.clip("S01-005"), 2.0, color="white", freq=1200, amp=0.1)
    res = _assert_equal_to_scratch(paths, conf, tts, 3)
    assert (res.reels_made, res.speech_made) == ([2], [2])

    # a new take at reel 3's first shot (shot 7), longer: reel 3 moves, reel 2 renders its
    # crossfade in
    make_clip(paths.clip("S01-007"), 2.6, color="orange", freq=1300, amp=0.1)
    res = _assert_equal_to_scratch(paths, conf, tts, 3)
    assert (res.reels_made, res.speech_made) == ([2, 3], [2, 3])

    # a narration change in reel 1 (shot 2): a longer line
    board = json.loads(paths.storyboard.read_text(encoding="utf-8"))
    board["shots"][1]["narration_text"] = "[2.4s] Line 2, said slower."
    atomic_write_json(paths.storyboard, board)
    res = _assert_equal_to_scratch(paths, conf, tts, 3)
    assert res.reels_made == [1] and 1 in res.speech_made


@pytest.mark.parametrize("music", [True, False])
@pytest.mark.parametrize("narration", [True, False])
def test_true_peak_of_every_final_on_the_encoded_aac(tmp_path, music, narration):
    """At the bench's level (test-pattern clips with a tone each, a dialog line, pink-noise
    music): the final's true peak, measured on its AAC as a player decodes it, is at most
    -1 dBTP, and speech sits at -16 LUFS when there is any."""
    shots = []
    for i in range(1, 5):
        if narration and i % 2 == 0:
            shots.append(shot(f"S01-{i:03d}", role="narration",
                              narration_text=f"[2.{i}s] Line {i}."))
        else:
            shots.append(shot(f"S01-{i:03d}", dialog=[{"speaker": "Ann", "text": f"Hi {i}."}]))
    paths = episode(tmp_path, shots, mode="narration" if narration else "drama")
    for i, s in enumerate(shots):
        make_clip(paths.clip(s["id"]), 3.0, freq=300 + 40 * i, amp=0.1)
    if music:
        track = paths.project_paths.bgm_dir / "theme.wav"
        track.parent.mkdir(parents=True, exist_ok=True)
        ff("-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:duration=30:seed=3",
           "-af", "lowpass=f=600,volume=0.3", "-ac", "2", str(track))
        atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global",
                                                      track="theme", volume=1.0))
    stitch_episode(paths, cfg(crossfade=0.5), tts=FakeTTS(), **QUIET)
    got = loudness(paths.final_mp4)
    assert got.true_peak <= sound.TRUE_PEAK_MAX_DBTP, got
    assert abs(got.integrated - sound.VOICE_LUFS) <= 0.5, got


def test_the_progress_view_is_told_what_is_made_again(tmp_path, monkeypatch):
    """Stage events (the `spark-video` progress view) name each reel made, the mix and the
    mux; a stitch with nothing changed makes no reel and no mix again, only the mux."""
    paths = _music_episode(tmp_path)
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm"))
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("SPARK_VIDEO_EVENTS", str(events))
    first = stitch_episode(paths, cfg(crossfade=0.5), shots_per_reel=1, **QUIET)
    said = [json.loads(line)["text"] for line in events.read_text().splitlines()]
    assert first.reels == 3 and first.reels_made == [1, 2, 3]
    assert "stitch: reel 2 of 3: picture (shots 2-2)" in said
    assert said[-2:] == ["stitch: mix", "stitch: mux"]
    events.unlink()
    again = stitch_episode(paths, cfg(crossfade=0.5), shots_per_reel=1, **QUIET)
    assert (again.reels_made, again.speech_made, again.mix_made) == ([], [], False)
    assert [json.loads(line)["text"] for line in events.read_text().splitlines()] == [
        "stitch: mux"]
    # a mix change: the mix and the mux, no reel
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="calm",
                                                  volume=0.5))
    events.unlink()
    third = stitch_episode(paths, cfg(crossfade=0.5), shots_per_reel=1, **QUIET)
    assert (third.reels_made, third.mix_made) == ([], True)
    assert [json.loads(line)["text"] for line in events.read_text().splitlines()] == [
        "stitch: mix", "stitch: mux"]
