"""DashScope TTS (CosyVoice HTTP, Qwen-TTS), images and the doctor, against the local fake."""

from __future__ import annotations

import json

import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from PIL import Image
from test_dashscope_video import ctx_of, ep_fixture  # noqa: F401 - fixture

from spark_video.doctor import doctor
from spark_video.media import probe
from spark_video.providers import get_provider
from spark_video.providers.base import BudgetExceeded
from spark_video.settings import resolve


def test_cosyvoice_http_tts(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep)
    out = get_provider("tts", ctx.cfg).synthesize(ctx, "The tide is coming in.",
                                                  tmp_path / "n.mp3", voice="longanyang",
                                                  rate=1.2)
    assert probe(out).has_audio
    call = fake_dashscope.tts_calls[-1]
    assert call == {"model": "cosyvoice-v3-flash", "voice": "longanyang", "rate": 1.2,
                    "format": "mp3", "chars": 22}
    line = json.loads(ep.model_calls.read_text().splitlines()[-1])
    assert line["billed_units"] == 22 and line["cost"] == pytest.approx(0.0022)


def test_qwen_tts_with_rate_stretch(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep, narrator_tts_model="qwen3-tts-flash")
    out = get_provider("tts", ctx.cfg).synthesize(ctx, "潮水来了", tmp_path / "n.wav",
                                                  voice="Cherry", rate=1.5)
    assert probe(out).has_audio and fake_dashscope.tts_calls[-1]["model"] == "qwen3-tts-flash"


def test_image_generation(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep)
    out = get_provider("image", ctx.cfg).generate(ctx, "full-body portrait of Ann",
                                                  tmp_path / "ann.png", size="768x1024")
    with Image.open(out) as im:
        assert im.format == "PNG"
    assert fake_dashscope.image_calls[-1] == {"model": "wan2.6-t2i", "size": "768*1024"}
    line = json.loads(ep.model_calls.read_text().splitlines()[-1])
    assert line["cost"] == pytest.approx(0.2) and line["unit"] == "image"


def test_budget_applies_to_images(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep, budget=0.1)
    with pytest.raises(BudgetExceeded, match="budget reached"):
        get_provider("image", ctx.cfg).generate(ctx, "p", tmp_path / "a.png", size="512*512")
    assert not fake_dashscope.image_calls


def test_doctor_reports_without_the_key(fake_dashscope, capsys):
    cfg = resolve({"provider": "bl", "text_provider": "offline"}, environ={},
                  config_file=None)
    rows = doctor(cfg)
    by = {r["check"]: r for r in rows}
    assert by["api key"]["ok"] and str(len(FAKE_KEY)) in by["api key"]["detail"]
    assert by["native base URL"]["ok"] and by["compatible base URL"]["ok"]
    assert FAKE_KEY not in json.dumps(rows)
    assert any(r["provider"].startswith("offline") for r in rows)


def test_doctor_reports_refused_and_unreachable(fake_dashscope, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-wrong-0000")
    cfg = resolve({"provider": "wan27"}, environ={}, config_file=None)
    by = {r["check"]: r for r in doctor(cfg)}
    assert not by["native base URL"]["ok"] and "refused" in by["native base URL"]["detail"]
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", "http://127.0.0.1:9/api/v1")
    by = {r["check"]: r for r in doctor(cfg, timeout=1)}
    assert "unreachable" in by["native base URL"]["detail"]
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    by = {r["check"]: r for r in doctor(cfg, timeout=1)}
    assert not by["api key"]["ok"] and "not set" in by["api key"]["detail"]
