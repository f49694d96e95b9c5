"""Chat over the OpenAI-compatible endpoint (DashScope compatible mode and provider `openai`):
review with the clip and portraits (SSE for omni), text with JSON mode, error handling."""

from __future__ import annotations

import hashlib
import json

import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture, make_png, spec_of  # noqa: F401

from spark_video.media import run
from spark_video.providers import get_provider
from spark_video.providers.base import ContentRejected, ProviderError
from spark_video.providers.openai_compat import parse_review, parse_sse
from spark_video.roles import review_policy


@pytest.fixture
def clip(tmp_path):
    out = tmp_path / "clip.mp4"
    run(["-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=12:duration=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)],
        what="test clip")
    return out


def review_of(ep, clip, tmp_path, provider="bl", **cfg):
    ctx = ctx_of(ep, provider=provider, **cfg)
    ctx.phase = "review"
    portraits = [make_png(tmp_path / "ann.png")]
    raw = get_provider("review", ctx.cfg).review(
        ctx, spec_of("r2v", characters=["Ann"]), clip, version=1, first_frame=None,
        portraits=portraits)
    return review_policy.decide(raw, ctx.cfg.review_threshold, ctx.cfg.review_veto_floor)


def test_omni_review_streams_the_clip_then_frames_beside_portraits(fake_dashscope, ep, clip,
                                                                   tmp_path):
    r = review_of(ep, clip, tmp_path)
    call, identity = fake_dashscope.chat_calls[-2:]
    assert call["model"] == "qwen3.5-omni-plus" and call["stream"] and call["video"] == "oss"
    assert call["images"] == 0  # one non-text modality per message (the omni page)
    assert identity["video"] is None and identity["images"] == 3 + 1  # frames + portrait
    assert call["video_sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert r.verdict == "ACCEPT" and r.model_verdict == "ACCEPT" and r.score == pytest.approx(
        8.17, abs=0.01)
    assert r.reviewer == "qwen3.5-omni-plus" and r.breakdown["dialog_attribution"] == 9
    line = [json.loads(x) for x in ep.model_calls.read_text().splitlines()][-1]
    assert line["endpoint"] == "chat/completions" and line["unit"] == "token"
    assert line["cost"] is not None and line["cost"] > 0  # qwen3.5-omni-plus has prices
    assert FAKE_KEY not in ep.model_calls.read_text()


def test_our_rule_decides_not_the_models_verdict(fake_dashscope, ep, clip, tmp_path):
    fake_dashscope.review_answers.append(json.dumps({
        "breakdown": {"logic": 9, "proportion": 9, "physics": 5, "style": 9,
                      "cast_match": 9, "dialog_attribution": 10},
        "verdict": "ACCEPT", "critique": "0:01 the cup floats"}))
    r = review_of(ep, clip, tmp_path)
    assert r.verdict == "REJECT" and r.model_verdict == "ACCEPT"
    assert r.vetoed_axes == ["physics"]


def test_unparseable_review_is_an_error_review(fake_dashscope, ep, clip, tmp_path):
    fake_dashscope.review_answers.append("Looks great to me!")
    r = review_of(ep, clip, tmp_path)
    assert r.verdict == "ERROR" and "unusable" in r.error and r.critique.startswith("Looks")
    fake_dashscope.review_answers.append('{"breakdown": {"logic": 11}}')
    assert review_of(ep, clip, tmp_path).verdict == "ERROR"


def test_review_endpoint_failure_is_an_error_review(fake_dashscope, ep, clip, tmp_path):
    fake_dashscope.chat_faults.extend([(400, "InvalidParameter", "bad video")])
    r = review_of(ep, clip, tmp_path)
    assert r.verdict == "ERROR" and "InvalidParameter" in r.error


def test_vl_model_non_stream_json_mode(fake_dashscope, ep, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_REVIEW_MODEL", "qwen3-vl-plus")
    fake_dashscope.chat_faults.append((429, "Throttling.RateQuota", "slow down"))
    r = review_of(ep, clip, tmp_path)
    call = fake_dashscope.chat_calls[-1]
    assert call["model"] == "qwen3-vl-plus" and not call["stream"] and call["json_mode"]
    assert r.verdict == "ACCEPT"
    line = [json.loads(x) for x in ep.model_calls.read_text().splitlines()][-1]
    assert line["cost"] is not None and line["cost"] > 0  # qwen3-vl-plus: 1 / 10 per M tokens


def test_text_json_mode_adds_the_word_json(fake_dashscope, ep):
    ctx = ctx_of(ep)
    text = get_provider("text", ctx.cfg)
    fake_dashscope.text_answers.append('{"title": "x"}')
    out = text.complete(ctx, role="screenwriter", system="You write.", user="Outline it.",
                        json_mode=True)
    assert out == '{"title": "x"}'
    call = fake_dashscope.chat_calls[-1]
    assert call["model"] == "qwen-plus" and call["json_mode"] and not call["stream"]
    assert text.complete(ctx, role="rewrite", system="s", user="u") == "fake answer"


def test_text_4xx_fails_fast_with_code(fake_dashscope, ep):
    fake_dashscope.chat_faults.append((400, "InvalidParameter", "bad messages"))
    ctx = ctx_of(ep)
    with pytest.raises(ProviderError, match="InvalidParameter: bad messages"):
        get_provider("text", ctx.cfg).complete(ctx, role="r", system="s", user="u")
    assert len(fake_dashscope.chat_calls) == 0


def test_openai_provider_any_base_url(fake_dashscope, ep, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_dashscope.compatible_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("SPARK_VIDEO_REVIEW_MODEL", "qwen3-vl-plus")
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    ctx = ctx_of(ep, provider="openai")
    assert get_provider("text", ctx.cfg).complete(ctx, role="r", system="s", user="u") == \
        "fake answer"
    r = review_of(ep, clip, tmp_path, provider="openai")
    assert r.verdict == "ACCEPT" and fake_dashscope.chat_calls[-1]["video"] == "data"
    with pytest.raises(ProviderError, match="text and review only"):
        get_provider("video", ctx.cfg)


def test_openai_provider_needs_settings(monkeypatch, ep):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    ctx = ctx_of(ep, provider="openai")
    with pytest.raises(ProviderError, match="OPENAI_BASE_URL"):
        get_provider("text", ctx.cfg)


def test_sse_parser_joins_multiline_events_and_errors():
    lines = ['data: {"choices":[{"delta":{"content":"Hel"}}]}', "",
             ": keep-alive", 'data: {"choices":[{"delta":',
             'data: {"content":"lo"}}]}', "",
             'data: {"choices":[],"usage":{"total_tokens":3}}', "", "data: [DONE]", ""]
    assert parse_sse(iter(lines), "t") == ("Hello", {"total_tokens": 3})
    with pytest.raises(ContentRejected, match="moderation"):
        parse_sse(iter(['data: {"error":{"code":"data_inspection_failed","message":"x"}}',
                        ""]), "t")


def test_parse_review_accepts_fenced_json():
    text = 'Here:\n```json\n{"breakdown": {"logic": 7, "proportion": 7, "physics": 7, ' \
           '"style": 7, "cast_match": 7, "dialog_attribution": 7}, "verdict": "reject", ' \
           '"critique": "ok"}\n```'
    bd, verdict, critique = parse_review(text)
    assert bd["logic"] == 7 and verdict == "REJECT" and critique == "ok"
