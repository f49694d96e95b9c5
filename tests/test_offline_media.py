"""The offline provider's media capabilities, against the real bundled ffmpeg (no mocks)."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest
from PIL import Image

from spark_video import media
from spark_video.base import settings
from spark_video.base.models import AXES, DialogLine, Scene, Shot, ShotSpec
from spark_video.base.paths import EpisodePaths
from spark_video.providers import offline
from spark_video.providers.base import CallContext, ProviderError
from spark_video.roles import review_policy

HAS_ESPEAK = shutil.which("espeak-ng") is not None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def ov_paths(tmp_path: Path) -> EpisodePaths:
    return EpisodePaths.of("t", "001", root=tmp_path)


@pytest.fixture
def ov_cfg():
    return settings.resolve({}, environ={}, config_file=None)


@pytest.fixture(autouse=True)
def _no_faults(monkeypatch):
    monkeypatch.delenv(offline.FAULTS_ENV, raising=False)


def make_ctx(paths, cfg, shot="S01-001", attempt=1, phase="render") -> CallContext:
    return CallContext(paths, cfg, phase=phase, shot=shot, attempt=attempt)


def make_spec(shot_id="S01-001", *, kind="t2v", duration=3, resolution="480P", ratio="16:9",
              characters=(), dialog=(), narration=None, color="#2a4d69",
              prev=None) -> ShotSpec:
    scene = shot_id.split("-")[0]
    shot = Shot(
        id=shot_id, scene=scene, kind=kind, duration=duration,
        prompt=f"{shot_id}: a lantern swings over a wet cobbled street while the rain thins.",
        characters=list(characters),
        dialog=[DialogLine(speaker=s, text=t) for s, t in dialog],
        role="narration" if narration else "drama", narration_text=narration,
        use_prev_last_frame_as_first=prev is not None,
    )
    return ShotSpec(shot=shot, scene=Scene(id=scene, name="Rain", description="rain"),
                    prev_shot=prev, resolution=resolution, ratio=ratio, provider="offline",
                    mode="narration" if narration else "drama", scene_color=color)


def render(paths, cfg, spec, out, *, attempt=1, first_frame=None, media_paths=()):
    ctx = make_ctx(paths, cfg, spec.shot.id, attempt)
    return offline.OfflineVideo().render(ctx, spec, spec.shot.prompt, out,
                                         first_frame=first_frame, media=list(media_paths))


def review(paths, cfg, spec, clip, *, version=1, first_frame=None, portraits=()):
    ctx = make_ctx(paths, cfg, spec.shot.id, version, phase="review")
    raw = offline.OfflineReview().review(ctx, spec, clip, version=version,
                                         first_frame=first_frame, portraits=list(portraits))
    return review_policy.decide(raw, cfg.review_threshold, cfg.review_veto_floor)


def calls(paths) -> list[dict]:
    if not paths.model_calls.exists():
        return []
    return [json.loads(x) for x in paths.model_calls.read_text().splitlines() if x.strip()]


@pytest.fixture
def portrait(ov_paths, ov_cfg) -> Path:
    ctx = make_ctx(ov_paths, ov_cfg, None, None, phase="cast")
    out = ov_paths.project_paths.cast_dir / "Mara" / "portrait.png"
    return offline.OfflineImage().generate(ctx, "portrait of Mara, a lamplighter", out,
                                           size="384*512", label="Mara")


# --------------------------------------------------------------------------- video


def test_render_t2v_is_a_real_h264_aac_clip(ov_paths, ov_cfg):
    spec = make_spec()
    out = ov_paths.clip_version("S01-001", 1)
    res = render(ov_paths, ov_cfg, spec, out)
    info = media.probe(out)
    assert (info.vcodec, info.pix_fmt, info.fps) == ("h264", "yuv420p", 24.0)
    assert (info.width, info.height) == media.canvas_size("480P", "16:9") == (854, 480)
    assert (info.acodec, info.sample_rate, info.channels) == ("aac", 48000, 2)
    assert abs(media.exact_duration(out) - 3.0) <= 0.05
    assert res.model == "offline-animatic" and res.cost == 0.0 and res.billed_seconds == 0
    assert res.sent_prompt == spec.shot.prompt and res.duration_s == 3.0
    assert media.has_audio(out)
    # never pure silence, never clipping
    loud = media.file_loudness(out)
    assert loud.integrated > -45 and loud.true_peak < 0
    # atomic: nothing but the clip in the folder
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    (line,) = calls(ov_paths)
    assert line["provider"] == "offline" and line["model"] == "offline-animatic"
    assert line["status"] == "ok" and line["shot"] == "S01-001" and line["attempt"] == 1
    assert line["prompt"] == spec.shot.prompt


def test_render_differs_per_shot_and_moves(ov_paths, ov_cfg):
    a, b = ov_paths.root / "a.mp4", ov_paths.root / "b.mp4"
    render(ov_paths, ov_cfg, make_spec("S01-001"), a)
    render(ov_paths, ov_cfg, make_spec("S02-001", color="#e0c040"), b)
    fa, fb = media.frame_image(a), media.frame_image(b)
    assert media.mean_frame_diff(fa, fb) > 15  # another colour, another text
    # motion: the last frame is not the first frame (progress bar, timecode)
    la = media.frame_image(a, last=True)
    assert la.size == fa.size
    assert media.mean_frame_diff(fa, la, size=(427, 240)) > 0.5


def test_portrait_canvas_and_dark_scene_colour(ov_paths, ov_cfg):
    spec = make_spec(duration=2, ratio="9:16", color="#000000")
    out = ov_paths.root / "p.mp4"
    render(ov_paths, ov_cfg, spec, out)
    info = media.probe(out)
    assert (info.width, info.height) == (480, 854)
    rv = review(ov_paths, ov_cfg, spec, out)
    assert rv.verdict == "ACCEPT", rv.critique  # a black scene colour is lifted, not "black"


def test_chained_clip_starts_on_the_previous_last_frame(ov_paths, ov_cfg, portrait):
    spec1 = make_spec("S01-001", kind="r2v", characters=["Mara"])
    clip1 = ov_paths.clip_version("S01-001", 1)
    render(ov_paths, ov_cfg, spec1, clip1, media_paths=[portrait])
    last = media.extract_frame(clip1, ov_paths.last_frame("S01-001"), last=True)

    spec2 = make_spec("S01-002", kind="i2v", characters=["Mara"], color="#7a5c2e",
                      prev="S01-001")
    clip2 = ov_paths.clip_version("S01-002", 1)
    render(ov_paths, ov_cfg, spec2, clip2, first_frame=last, media_paths=[portrait])
    assert abs(media.exact_duration(clip2) - 3.0) <= 0.05
    first = media.frame_image(clip2)
    assert media.mean_frame_diff(first, last) < 4
    # ... and then it turns into its own card
    assert media.mean_frame_diff(media.frame_image(clip2, last=True), last) > 8

    rv = review(ov_paths, ov_cfg, spec2, clip2, first_frame=last, portraits=[portrait])
    assert rv.verdict == "ACCEPT", rv.critique
    assert rv.checks["first_frame_diff"] < 4
    # the unchained clip does not start on that frame: logic is vetoed
    other = ov_paths.root / "other.png"
    Image.new("RGB", (854, 480), (230, 230, 40)).save(other)
    bad = review(ov_paths, ov_cfg, spec2, clip2, first_frame=other, portraits=[portrait])
    assert bad.verdict == "REJECT" and "logic" in bad.vetoed_axes
    assert "first frame" in bad.critique


def test_chained_render_with_missing_first_frame_fails_and_is_logged(ov_paths, ov_cfg):
    spec = make_spec("S01-002", prev="S01-001")
    out = ov_paths.clip_version("S01-002", 1)
    with pytest.raises(ProviderError, match="S01-001 first"):
        render(ov_paths, ov_cfg, spec, out, first_frame=ov_paths.root / "missing.png")
    assert not out.exists()
    assert calls(ov_paths)[-1]["status"] == "error"


@pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng is not installed")
def test_narration_is_spoken_and_fitted_to_the_clip(ov_paths, ov_cfg):
    long_text = ("Long before the lamps were lit, the harbour kept its own time, and every "
                 "sailor knew the bells by heart, even the ones that never rang.")
    spec = make_spec("S03-001", duration=2, narration=long_text)
    clip = ov_paths.root / "n.mp4"
    render(ov_paths, ov_cfg, spec, clip)
    assert abs(media.exact_duration(clip) - 2.0) <= 0.05  # sped up / trimmed, never longer
    assert media.file_loudness(clip).integrated > -26  # speech over the bed
    assert review(ov_paths, ov_cfg, spec, clip).verdict == "ACCEPT"


# --------------------------------------------------------------------------- review


def test_review_accepts_a_clean_voiced_r2v_clip(ov_paths, ov_cfg, portrait):
    spec = make_spec(kind="r2v", characters=["Mara"],
                     dialog=[("Mara", "The lamps are late tonight."), ("Tom", "So is the rain.")])
    clip = ov_paths.root / "c.mp4"
    render(ov_paths, ov_cfg, spec, clip, media_paths=[portrait])
    rv = review(ov_paths, ov_cfg, spec, clip, version=2, portraits=[portrait])
    assert rv.verdict == "ACCEPT" and rv.model_verdict == "ACCEPT"
    assert set(rv.breakdown) == set(AXES)
    assert all(v >= 9 for v in rv.breakdown.values()), rv.breakdown
    assert not rv.vetoed_axes and rv.score >= 9
    assert rv.reviewer == "offline-technical" and rv.version == 2 and rv.shot_id == "S01-001"
    assert rv.threshold == ov_cfg.review_threshold and rv.veto_floor == ov_cfg.review_veto_floor
    for key in ("duration_s", "width", "height", "black_s", "frozen_s", "integrated_lufs",
                "true_peak_dbtp", "portraits_found"):
        assert key in rv.checks
    assert rv.checks["width"] == 854 and abs(rv.checks["duration_s"] - 3) <= 0.05
    # deterministic: the same clip gets the same scores
    again = review(ov_paths, ov_cfg, spec, clip, version=2, portraits=[portrait])
    assert again.breakdown == rv.breakdown and again.checks == rv.checks
    assert [c["phase"] for c in calls(ov_paths)][-2:] == ["review", "review"]


@pytest.mark.parametrize(
    ("fault", "axis", "word"),
    [("black", "style", "black"), ("silent", "dialog_attribution", "audio"),
     ("short", "logic", "duration"), ("frozen", "physics", "frozen")],
)
def test_review_rejects_injected_faults(ov_paths, ov_cfg, monkeypatch, fault, axis, word):
    monkeypatch.setenv(offline.FAULTS_ENV, f"S01-004:2|3={fault},S01-009:*=black")
    spec = make_spec("S01-004")
    clip = ov_paths.root / f"{fault}.mp4"
    render(ov_paths, ov_cfg, spec, clip, attempt=2)
    rv = review(ov_paths, ov_cfg, spec, clip, version=2)
    assert rv.verdict == "REJECT", rv.critique
    assert rv.vetoed_axes == [axis], rv.breakdown
    assert rv.breakdown[axis] <= 3
    assert word in rv.critique.lower()
    if fault in ("black", "frozen"):
        assert "00:00.00" in rv.critique  # a timecode of where it went wrong
    if fault == "silent":
        assert not media.has_audio(clip)
    if fault == "short":
        assert abs(media.exact_duration(clip) - 1.5) <= 0.05
    # version 1 is not in the fault list: clean
    ok = ov_paths.root / f"{fault}-v1.mp4"
    render(ov_paths, ov_cfg, spec, ok, attempt=1)
    assert review(ov_paths, ov_cfg, spec, ok).verdict == "ACCEPT"


def test_review_cast_and_canvas_checks(ov_paths, ov_cfg):
    spec = make_spec(kind="r2v", characters=["Mara"])
    clip = ov_paths.root / "r.mp4"
    render(ov_paths, ov_cfg, spec, clip)
    rv = review(ov_paths, ov_cfg, spec, clip, portraits=[])
    assert rv.verdict == "REJECT" and rv.vetoed_axes == ["cast_match"]
    assert "portrait" in rv.critique
    # a shot without characters needs no portrait
    t2v = make_spec()
    assert review(ov_paths, ov_cfg, t2v, clip).breakdown["cast_match"] == 10
    # the storyboard asks for 720P: the 480P clip is the wrong canvas
    big = make_spec(resolution="720P")
    rv = review(ov_paths, ov_cfg, big, clip)
    assert "proportion" in rv.vetoed_axes and "1280x720" in rv.critique


def test_review_threshold_comes_from_config(ov_paths, monkeypatch):
    strict = settings.resolve({"review_threshold": 9.95}, environ={}, config_file=None)
    spec = make_spec(kind="r2v", characters=["Mara"])
    clip = ov_paths.root / "s.mp4"
    render(ov_paths, strict, spec, clip)
    portrait = ov_paths.root / "mara.png"
    Image.new("RGB", (64, 64), (200, 100, 50)).save(portrait)
    rv = review(ov_paths, strict, spec, clip, portraits=[portrait])
    assert not rv.vetoed_axes and rv.score < 9.95 and rv.verdict == "REJECT"


def test_fault_spec_parsing(monkeypatch):
    env = {offline.FAULTS_ENV: "S01-002:1=black, S02-001:1|2=silent,S01-003:*=short"}
    assert offline.fault_for("S01-002", 1, env) == "black"
    assert offline.fault_for("S01-002", 2, env) is None
    assert offline.fault_for("S02-001", 2, env) == "silent"
    assert offline.fault_for("S01-003", 7, env) == "short"
    assert offline.fault_for("S09-001", 1, env) is None
    assert offline.fault_for("S01-002", None, env) == "black"  # no attempt = version 1
    with pytest.raises(ProviderError, match="SHOT:VERSIONS=FAULT"):
        offline.parse_faults("S01-002:1=melt")
    with pytest.raises(ProviderError):
        offline.parse_faults("../x:1=black")


# --------------------------------------------------------------------------- tts


def _wav_len(p: Path) -> float:
    with wave.open(str(p), "rb") as w:
        return w.getnframes() / w.getframerate()


@pytest.mark.skipif(not HAS_ESPEAK, reason="espeak-ng is not installed")
def test_tts_speaks_with_espeak(ov_paths, ov_cfg):
    ctx = make_ctx(ov_paths, ov_cfg, "S01-001", None, phase="tts")
    tts = offline.OfflineTTS()
    text = "The lamps are late tonight, and the rain has not stopped since noon."
    slow = tts.synthesize(ctx, text, ov_paths.tts_dir / "slow.wav", voice="longanyang",
                          rate=1.0)
    fast = tts.synthesize(ctx, text, ov_paths.tts_dir / "fast.wav", voice="en-us", rate=1.6)
    assert slow.exists() and fast.exists()
    assert _wav_len(fast) < _wav_len(slow) * 0.8
    assert media.file_loudness(slow).integrated > -40  # real speech, not silence
    mp3 = tts.synthesize(ctx, text, ov_paths.tts_dir / "n.mp3", voice="x", rate=1.2)
    assert media.probe(mp3).acodec == "mp3"
    lines = [c for c in calls(ov_paths) if c["phase"] == "tts"]
    assert len(lines) == 3 and {c["model"] for c in lines} == {"espeak-ng"}


def test_tts_without_espeak_is_timed_silence(ov_paths, ov_cfg, monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: None if "espeak" in name else real_which(name))
    ctx = make_ctx(ov_paths, ov_cfg, None, None, phase="tts")
    tts = offline.OfflineTTS()
    out = tts.synthesize(ctx, "one two three four five", ov_paths.tts_dir / "a.wav",
                         voice="longanyang", rate=1.0)
    assert abs(_wav_len(out) - 2.0) < 0.01  # 5 words at 2.5 words/s
    cjk = tts.synthesize(ctx, "雨夜的街道灯火", ov_paths.tts_dir / "b.wav", voice="v", rate=1.0)
    assert abs(_wav_len(cjk) - 7 / 3) < 0.01  # 7 characters at 3 per second
    quick = tts.synthesize(ctx, "one two three four five", ov_paths.tts_dir / "c.wav",
                           voice="v", rate=2.0)
    assert abs(_wav_len(quick) - 1.0) < 0.01
    tiny = tts.synthesize(ctx, "hi", ov_paths.tts_dir / "d.wav", voice="v", rate=1.0)
    assert _wav_len(tiny) >= 0.5
    assert {c["model"] for c in calls(ov_paths)} == {"offline-silence"}
    # the animatic still has a (quiet, timed) bed without espeak
    spec = make_spec(dialog=[("Mara", "Hello there.")])
    clip = ov_paths.root / "nospeech.mp4"
    render(ov_paths, ov_cfg, spec, clip)
    assert -36 < media.file_loudness(clip).integrated < -24
    assert abs(media.exact_duration(clip) - 3.0) <= 0.05


# --------------------------------------------------------------------------- images


def test_placeholder_images_are_deterministic_and_distinct(ov_paths, ov_cfg):
    ctx = make_ctx(ov_paths, ov_cfg, None, None, phase="cast")
    gen = offline.OfflineImage()
    a1 = gen.generate(ctx, "portrait of Mara", ov_paths.root / "a1.png", size="768*1024",
                      label="Mara")
    a2 = gen.generate(ctx, "portrait of Mara", ov_paths.root / "a2.png", size="768*1024",
                      label="Mara")
    b = gen.generate(ctx, "portrait of Tom", ov_paths.root / "b.png", size="768*1024",
                     label="Tom")
    s = gen.generate(ctx, "a harbour street at dusk", ov_paths.root / "s.png",
                     size="1024x576", label="Harbour")
    assert a1.read_bytes() == a2.read_bytes()
    assert Image.open(a1).size == (768, 1024) and Image.open(s).size == (1024, 576)
    assert media.mean_frame_diff(a1, b) > 10
    with pytest.raises(ProviderError, match="768\\*1024"):
        gen.generate(ctx, "x", ov_paths.root / "bad.png", size="big")
    assert not (ov_paths.root / "bad.png").exists()
    log = calls(ov_paths)
    assert len(log) == 5 and [c["status"] for c in log] == ["ok"] * 4 + ["error"]
    assert {c["model"] for c in log} == {"offline-placeholder"}


# --------------------------------------------------------------------------- media helpers


def test_media_helpers(ov_paths, ov_cfg, tmp_path):
    img = tmp_path / "x.png"
    Image.new("RGB", (320, 180), (10, 200, 30)).save(img)
    assert media.mean_frame_diff(img, img) == 0.0
    assert media.mean_frame_diff(img, Image.new("RGB", (32, 18), (10, 200, 30))) < 1
    assert media.mean_frame_diff(img, Image.new("L", (64, 36), 255)) > 50
    assert media.default_font_file().stat().st_size > 1000
    assert media.has_filter("ebur128") and not media.has_filter("no-such-filter")
    assert media.parse_ebur128("nothing here") is None
    with pytest.raises(media.MediaError, match="no audio"):
        media.file_loudness(img)
