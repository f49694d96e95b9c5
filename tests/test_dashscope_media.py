"""DashScope TTS (CosyVoice HTTP, Qwen-TTS), images and the doctor, against the local fake."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from PIL import Image
from test_dashscope_video import ctx_of, ep_fixture  # noqa: F401 - fixture

from spark_video.base.settings import resolve
from spark_video.media import probe
from spark_video.providers import capabilities, get_provider
from spark_video.providers.base import BudgetExceeded
from spark_video.providers.capabilities import CapabilityError
from spark_video.providers.doctor import doctor


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
                                                  tmp_path / "ann.png", size="3:4")
    with Image.open(out) as im:
        assert im.format == "PNG"
    # a portrait ratio becomes a size wan2.6-t2i accepts (1280²..1440² pixels, 1:4..4:1)
    assert fake_dashscope.image_calls[-1] == {"model": "wan2.6-t2i", "size": "1184*1568"}
    line = json.loads(ep.model_calls.read_text().splitlines()[-1])
    assert line["cost"] == pytest.approx(0.2) and line["unit"] == "image"


def test_budget_applies_to_images(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep, budget=0.1)
    with pytest.raises(BudgetExceeded, match="budget reached"):
        get_provider("image", ctx.cfg).generate(ctx, "p", tmp_path / "a.png", size="1:1")
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


@pytest.mark.parametrize("model", sorted(capabilities.IMAGE_CAPS))
def test_every_image_model_gets_a_size_the_server_accepts(fake_dashscope, ep, tmp_path,
                                                          monkeypatch, model):
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_MODEL", model)
    ctx = ctx_of(ep)
    for ratio in ("3:4", "16:9"):
        get_provider("image", ctx.cfg).generate(ctx, "a harbour at dusk",
                                                tmp_path / f"{ratio[:2]}.png", size=ratio)
    assert [c["model"] for c in fake_dashscope.image_calls] == [model, model]


@pytest.mark.parametrize("model,size", [("wan2.6-t2i", "768*1024"), ("wan2.6-t2i", "700*2900"),
                                        ("qwen-image", "1024*1024"), ("wan2.7-image", "3K"),
                                        ("wan2.2-t2i-flash", "1440*1440")])
def test_invalid_image_size_refused_before_paying_and_by_the_server(
        fake_dashscope, ep, tmp_path, monkeypatch, model, size):
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_MODEL", model)
    ctx = ctx_of(ep)
    with pytest.raises(CapabilityError, match=model):
        get_provider("image", ctx.cfg).generate(ctx, "p", tmp_path / "a.png", size=size)
    assert not fake_dashscope.image_calls
    # the server refuses the same request with 400 InvalidParameter
    path = ("services/aigc/text2image/image-synthesis" if "2.2" in model
            else "services/aigc/multimodal-generation/generation")
    body = {"model": model, "input": {"prompt": "p", "messages": [
        {"role": "user", "content": [{"text": "p"}]}]}, "parameters": {"size": size, "n": 1}}
    r = httpx.post(f"{fake_dashscope.base_url}/{path}", json=body, headers={
        "Authorization": f"Bearer {FAKE_KEY}", "X-DashScope-Async": "enable"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"


def test_image_prompt_and_n_limits():
    with pytest.raises(CapabilityError, match="limit of 800"):
        capabilities.check_image_request("qwen-image", "1328*1328", 1, "x" * 801)
    with pytest.raises(CapabilityError, match="1-1 images"):
        capabilities.check_image_request("qwen-image", "1328*1328", 2, "p")


@pytest.mark.parametrize("model,voice,rate,text,why", [
    ("cosyvoice-v3-flash", "Cherry", 1.0, "hi", "no voice"),
    ("cosyvoice-v2", "longanyang", 1.0, "hi", "no voice"),
    ("cosyvoice-v3-flash", "longanyang", 2.5, "hi", "speech rate"),
    ("qwen3-tts-flash", "Cherry", 1.0, "x" * 601, "limit of 600"),
    ("qwen3-tts-flash", "Cherry", 1.0, "潮" * 301, "limit of 600"),
    ("cosyvoice-v3-flash", "longanyang", 1.0, "   ", "empty"),
])
def test_tts_refused_before_paying(fake_dashscope, ep, tmp_path, model, voice, rate, text, why):
    ctx = ctx_of(ep, narrator_tts_model=model)
    with pytest.raises(CapabilityError, match=why):
        get_provider("tts", ctx.cfg).synthesize(ctx, text, tmp_path / "n.wav", voice=voice,
                                                rate=rate)
    assert not fake_dashscope.tts_calls


def test_server_refuses_a_voice_of_another_model(fake_dashscope):
    r = httpx.post(f"{fake_dashscope.base_url}/services/audio/tts/SpeechSynthesizer",
                   headers={"Authorization": f"Bearer {FAKE_KEY}"},
                   json={"model": "cosyvoice-v2", "input": {"text": "hi", "voice": "longanyang"}})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"


def test_long_chat_input_is_trimmed_predictably(fake_dashscope, ep, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_TEXT_MODEL", "qwen-max")  # 32k context
    ctx = ctx_of(ep)
    text = get_provider("text", ctx.cfg)
    user = "".join(f"line {i}: the tide turns\n" for i in range(20000))  # ~500k chars
    text.complete(ctx, role="writer", system="You write.", user=user)
    sent = fake_dashscope.chat_calls[-1]["texts"][-1]
    assert sent.startswith("line 0:") and sent.endswith("line 19999: the tide turns\n")
    assert "characters trimmed to fit qwen-max's context" in sent
    again, removed = capabilities.trim_for_context("qwen-max", "You write.", user)
    assert again == sent and removed > 0
    assert capabilities.trim_for_context("qwen-max", "s", "short") == ("short", 0)
