"""What the published model pages refuse, the fake refuses (it reads the page data with its
own loader), and our requests stay inside it: issue 19 items 1-4 and 6."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_dashscope import FAKE_KEY, PAGES, fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture, make_png, spec_of  # noqa: F401 - fixture

from spark_video.media import run
from spark_video.providers import capabilities, get_provider
from spark_video.providers.capabilities import CapabilityError

WAN26_SIZES = {"720P": {"1280*720", "720*1280", "960*960", "1088*832", "832*1088"},
               "1080P": {"1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"}}


def post(fake, path: str, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{fake.base_url}/{path}", json=body, timeout=10, headers={
        "Authorization": f"Bearer {FAKE_KEY}", "X-DashScope-Async": "enable", **headers})


# ------------------------------------------------------------------ item 1: wan2.6 sizes


@pytest.mark.parametrize("resolution,ratio", [
    ("720P", "1:1"), ("720P", "4:3"), ("720P", "3:4"), ("720P", "16:9"),
    ("1080P", "1:1"), ("1080P", "4:3"), ("1080P", "3:4")])
def test_wan26_t2v_sends_a_size_from_the_page(fake_dashscope, ep, monkeypatch, resolution,
                                              ratio):
    monkeypatch.setenv("SPARK_VIDEO_VIDEO_MODEL", "wan2.6")
    ctx = ctx_of(ep)
    res = get_provider("video", ctx.cfg).render(
        ctx, spec_of("t2v", duration=2, resolution=resolution, ratio=ratio), "Rain.",
        ep.clip_version("S01-001", 1), first_frame=None, media=[])
    t = fake_dashscope.tasks[res.task_id]
    assert (t.resolution, t.ratio) == (resolution, ratio)


def test_fake_refuses_a_wan26_size_off_the_page(fake_dashscope):
    r = post(fake_dashscope, "services/aigc/video-generation/video-synthesis", {
        "model": "wan2.6-t2v", "input": {"prompt": "x"},
        "parameters": {"size": "720*720", "duration": 5}})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"
    assert "size" in r.json()["message"]


def test_wan26_size_table_is_the_page():
    assert {res: set(v.values()) for res, v in PAGES["wan2.6-t2v"]["sizes"].items()} \
        == WAN26_SIZES
    for res, sizes in WAN26_SIZES.items():
        for ratio in ("16:9", "9:16", "1:1", "4:3", "3:4"):
            assert capabilities.video_size("wan2.6-r2v", res, ratio) in sizes


# ------------------------------------------------------------------ item 2: HappyHorse ratios


@pytest.mark.parametrize("ratio", ["4:5", "5:4"])
def test_happyhorse_ratio_off_the_page_refused_before_paying(fake_dashscope, ep, ratio):
    ctx = ctx_of(ep)
    with pytest.raises(CapabilityError, match="ratio"):
        get_provider("video", ctx.cfg).render(ctx, spec_of("t2v", ratio=ratio), "Rain.",
                                              ep.clip_version("S01-001", 1),
                                              first_frame=None, media=[])
    assert fake_dashscope.submit_requests == 0
    r = post(fake_dashscope, "services/aigc/video-generation/video-synthesis", {
        "model": "happyhorse-1.0-t2v", "input": {"prompt": "x"},
        "parameters": {"ratio": ratio, "resolution": "720P", "duration": 5}})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"


# ------------------------------------------------------------------ item 3: CosyVoice text


def test_cosyvoice_text_over_the_http_limit_refused_before_paying(fake_dashscope, ep,
                                                                  tmp_path):
    ctx = ctx_of(ep)
    text = "潮" * 1001  # 2002 billed characters: Chinese counts twice
    with pytest.raises(CapabilityError, match="2000"):
        get_provider("tts", ctx.cfg).synthesize(ctx, text, tmp_path / "n.mp3",
                                                voice="longanyang", rate=1.0)
    assert fake_dashscope.tts_calls == []
    r = post(fake_dashscope, "services/audio/tts/SpeechSynthesizer", {
        "model": "cosyvoice-v3-flash", "input": {"text": text, "voice": "longanyang"}})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter"
    ok = "潮" * 1000  # exactly 2000: allowed by both
    capabilities.check_tts_request("cosyvoice-v3-flash", ok, "longanyang", 1.0)


# ------------------------------------------------------------------ item 4: omni modalities


def test_omni_review_sends_one_modality_per_message(fake_dashscope, ep, tmp_path):
    clip = tmp_path / "clip.mp4"
    run(["-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=12:duration=2", "-pix_fmt",
         "yuv420p", str(clip)], what="test clip")
    portraits = [make_png(tmp_path / "mara.png"), make_png(tmp_path / "ivo.png", "blue")]
    ctx = ctx_of(ep)
    rev = get_provider("review", ctx.cfg).review(
        ctx, spec_of("t2v", characters=("Mara", "Ivo")), clip, version=1, first_frame=None,
        portraits=portraits)
    assert rev.verdict != "ERROR", rev.error
    calls = fake_dashscope.chat_calls
    assert [(c["video"] is not None, c["images"]) for c in calls] == [(True, 0), (False, 5)]
    assert rev.breakdown["cast_match"] == 8
    lines = [json.loads(x) for x in ep.model_calls.read_text().splitlines()]
    assert sum(1 for x in lines if x["endpoint"] == "chat/completions") == 2


def test_fake_refuses_video_and_images_in_one_omni_message(fake_dashscope):
    r = httpx.post(f"{fake_dashscope.compatible_base_url}/chat/completions", timeout=10,
                   headers={"Authorization": f"Bearer {FAKE_KEY}"}, json={
                       "model": "qwen3.5-omni-plus", "stream": True, "messages": [
                           {"role": "user", "content": [
                               {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}},
                               {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                               {"type": "text", "text": "review"}]}]})
    assert r.status_code == 400 and "single additional modality" in r.text


# ------------------------------------------------------------------ item 6: wan2.6 r2v names


def test_wan26_r2v_names_references_character_n(fake_dashscope, ep, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_VIDEO_MODEL", "wan2.6")
    ctx = ctx_of(ep)
    refs = [make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png", "blue")]
    res = get_provider("video", ctx.cfg).render(
        ctx, spec_of("r2v", duration=2, characters=("Mara", "Ivo")),
        "[Image 1] hands Image 2 a lamp; 图2 smiles.", ep.clip_version("S01-001", 1),
        first_frame=None, media=refs)
    assert fake_dashscope.tasks[res.task_id].prompt == \
        "character1 hands character2 a lamp; character2 smiles."


def test_every_limit_names_its_source_page():
    for model, entry in capabilities.pages().items():
        for name, lim in entry.items():
            if isinstance(lim, dict):
                assert lim.get("source"), f"{entry['file']}: {model}.{name} has no source"


def test_readme_provider_table_lists_every_model_with_its_limits():
    from spark_video.base.settings import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for model, c in capabilities.VIDEO_CAPS.items():
        row = next((ln for ln in readme.splitlines() if ln.startswith(f"| `{model}` |")), None)
        assert row, f"README has no row for {model}"
        assert f"| {c.min_s}-{c.max_s} |" in row
        for by_ratio in (c.sizes or {}).values():
            assert all(size in row for size in by_ratio.values())
    for model, t in capabilities.TTS_CAPS.items():
        assert f"| `{model}` |" in readme and f"{t.max_chars} chars" in readme
