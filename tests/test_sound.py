"""Sound and subtitle helpers: narration fitting, BGM choice and tracks, SRT text."""

from __future__ import annotations

import random

import pytest

from spark_video import media
from spark_video.base.io import atomic_write_json
from spark_video.base.models import BGMConfig, Storyboard
from spark_video.base.paths import EpisodePaths
from spark_video.media import sound
from spark_video.stitch import subtitles

# --------------------------------------------------------------------------- fitting


@pytest.mark.parametrize(
    ("tts", "clip", "tempo", "span", "freeze", "cut"),
    [
        (5.0, 2.0, 1.8, 5 / 1.8, 5 / 1.8 - 2.0, 0.0),  # capped speed-up, then freeze
        (3.4, 3.0, 3.4 / 3.0, 3.0, 0.0, 0.0),  # speed-up fits it exactly
        (1.5, 4.0, 1.0, 2.5, 0.0, 1.5),  # short voice: clip cut to voice + 1 s
        (3.0, 3.5, 1.0, 3.5, 0.0, 0.0),  # voice and tail fit the clip as is
        (2.03, 2.0, 1.0, 2.03, 0.03, 0.0),  # within the 0.05 s tolerance: no speed-up
    ],
)
def test_fit_narration_cases(tts, clip, tempo, span, freeze, cut):
    f = sound.fit_narration(tts, clip)
    assert f.tempo == pytest.approx(tempo, abs=1e-3)
    assert f.span_s == pytest.approx(span, abs=1e-3)
    assert f.freeze_s == pytest.approx(freeze, abs=1e-3)
    assert f.cut_s == pytest.approx(cut, abs=1e-3)


def test_fit_narration_invariants():
    rnd = random.Random(4)
    for _ in range(2000):
        tts, clip = rnd.uniform(0.3, 30), rnd.uniform(1, 15)
        f = sound.fit_narration(tts, clip)
        assert 1.0 <= f.tempo <= sound.MAX_TEMPO
        assert f.spoken_s == pytest.approx(tts / f.tempo)
        assert f.spoken_s - 1e-9 <= f.span_s <= f.spoken_s + 1.0 + 1e-9
        assert f.freeze_s == pytest.approx(max(0.0, f.span_s - clip), abs=1e-3)
        if f.freeze_s > 0.05:  # only freeze when the speed-up cap is reached
            assert f.tempo == pytest.approx(sound.MAX_TEMPO) or tts <= clip + 0.05


def test_atempo_chain():
    assert sound.atempo_chain(1.0) == ""
    assert sound.atempo_chain(1.8) == "atempo=1.80000"
    assert sound.atempo_chain(3.0).startswith("atempo=2.0,")


def test_tts_cache_key_covers_text_voice_rate_model():
    k = sound.tts_cache_key("Hello.", "longanyang", 1.2, "cosyvoice-v3-flash")
    assert k == sound.tts_cache_key(" Hello. ", "longanyang", 1.2, "cosyvoice-v3-flash")
    for other in [("Hello!", "longanyang", 1.2, "cosyvoice-v3-flash"),
                  ("Hello.", "other", 1.2, "cosyvoice-v3-flash"),
                  ("Hello.", "longanyang", 1.0, "cosyvoice-v3-flash"),
                  ("Hello.", "longanyang", 1.2, "qwen-tts")]:
        assert sound.tts_cache_key(*other) != k


# --------------------------------------------------------------------------- forbid_model_bgm


def test_forbid_model_bgm_is_appended_once():
    p, n = sound.apply_forbid_model_bgm("A quiet street at dawn.", None)
    assert p.startswith("A quiet street at dawn.") and "No background music" in p
    assert n == sound.NO_MUSIC_NEGATIVE
    p2, n2 = sound.apply_forbid_model_bgm(p, n)
    assert (p2, n2) == (p, n)
    _, n3 = sound.apply_forbid_model_bgm("x", "blurry, watermark,")
    assert n3 == f"blurry, watermark, {sound.NO_MUSIC_NEGATIVE}"


# --------------------------------------------------------------------------- BGM choice


def _paths(tmp_path) -> EpisodePaths:
    p = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    p.scaffold()
    return p


def test_bgm_config_precedence(tmp_path):
    paths = _paths(tmp_path)
    sb = Storyboard(title="t", shots=[{"id": "S01-001", "scene": "S01", "prompt": "p"}])
    assert sound.load_bgm_config(paths, sb) == BGMConfig()  # no file: music off
    assert not sound.music_enabled(sound.load_bgm_config(paths, sb))
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=True, mode="global", track="a"))
    assert sound.load_bgm_config(paths, sb).track == "a"  # the gate's answer
    sb2 = sb.model_copy(update={"bgm": BGMConfig(enabled=True, mode="global", track="b")})
    assert sound.load_bgm_config(paths, sb2).track == "a"  # the latest answer wins
    paths.bgm_config.unlink()
    assert sound.load_bgm_config(paths, sb2).track == "b"  # else the compiled storyboard
    assert not sound.music_enabled(BGMConfig(enabled=True, mode="global", track="a", volume=0))


def test_track_resolution_episode_first(tmp_path):
    paths = _paths(tmp_path)
    for folder, name in [(paths.project_paths.bgm_dir, "theme.mp3"),
                         (paths.bgm_dir, "theme.wav"), (paths.project_paths.bgm_dir, "b.ogg"),
                         (paths.project_paths.bgm_dir, "notes.txt")]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    assert sound.resolve_bgm_track(paths, "theme") == paths.bgm_dir / "theme.wav"
    assert sound.resolve_bgm_track(paths, "theme.mp3") == paths.project_paths.bgm_dir / "theme.mp3"
    assert sound.resolve_bgm_track(paths, "b") == paths.project_paths.bgm_dir / "b.ogg"
    assert set(sound.list_bgm_tracks(paths)) == {"theme", "b"}
    assert sound.list_bgm_tracks(paths)["theme"] == paths.bgm_dir / "theme.wav"
    for bad in ["../x", "/etc/passwd", ".hidden", "notes", ""]:
        with pytest.raises(sound.SoundError):
            sound.resolve_bgm_track(paths, bad)


def test_music_level_follows_volume():
    assert sound.music_gain_db(-20.0, 0.25, True) == pytest.approx(-10.0)  # → -30 LUFS
    assert sound.music_gain_db(-20.0, 0.5, True) == pytest.approx(-4.0, abs=0.03)  # → -24
    assert sound.music_gain_db(-20.0, 0.25, False) == pytest.approx(4.0)  # alone: -16
    assert sound.music_gain_db(float("-inf"), 0.25, True) == 0.0


def test_parse_ebur128():
    text = """[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -16.3 LUFS
    Threshold: -26.5 LUFS

  Loudness range:
    LRA:         4.1 LU

  True peak:
    Peak:        -2.2 dBFS
"""
    lv = media.parse_ebur128(text)
    assert (lv.integrated, lv.lra, lv.true_peak) == (-16.3, 4.1, -2.2)
    silent = media.parse_ebur128(text.replace("-16.3", "-inf").replace("-2.2", "-inf"))
    assert silent.integrated == float("-inf")
    assert silent.json_safe() == {"integrated_lufs": -70.0, "true_peak_dbtp": -120.0,
                                  "lra_lu": 4.1}


# --------------------------------------------------------------------------- subtitles


def test_srt_format_and_roundtrip():
    cues = [subtitles.Cue(start=3.5, end=5.25, text="B"),
            subtitles.Cue(start=0.0, end=1.0, text="A: hi\n")]
    srt = subtitles.to_srt(cues)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,000\nA: hi\n\n2\n00:00:03,500")
    back = subtitles.parse_srt(srt)
    assert [(c.start, c.end, c.text) for c in back] == [(0.0, 1.0, "A: hi"), (3.5, 5.25, "B")]
    assert subtitles.srt_time(3725.4567) == "01:02:05,457"


def test_dialog_cues_start_at_the_shot_and_fit_inside():
    lines = [("Ann", "Hello there."), ("Bob", "Hi."), ("", "A very long line " * 8)]
    cues = subtitles.dialog_cues("S01-001", lines, 10.0, 14.0)
    assert cues[0].start == 10.0 and cues[-1].end <= 14.0
    assert cues[0].text == "Ann: Hello there." and not cues[2].text.startswith(":")
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    short = subtitles.dialog_cues("S01-001", [("Ann", "Hi.")], 0.0, 12.0)
    assert short[0].end - short[0].start <= subtitles.MAX_CUE_S


def test_narration_split_into_sentences_over_the_voice():
    text = "First sentence here. Second one! 第三句。第四句？"
    assert subtitles.split_sentences(text) == ["First sentence here.", "Second one!", "第三句。",
                                               "第四句？"]
    cues = subtitles.narration_cues("S01-001", text, 2.0, 8.0)
    assert cues[0].start == 2.0 and cues[-1].end == pytest.approx(8.0)
    assert [c.kind for c in cues] == ["narration"] * 4
    long = subtitles.split_sentences("word " * 60)
    assert all(len(x) <= 90 for x in long) and len(long) >= 3
