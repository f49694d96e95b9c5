"""DashScope video over real HTTP against the local fake: both request formats, uploads,
polling, downloads, usage and cost, errors, crash-safety, budget and concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture

from spark_video.base.models import Scene, Shot, ShotSpec
from spark_video.base.paths import EpisodePaths
from spark_video.base.settings import resolve
from spark_video.media import probe, run
from spark_video.providers import budget, capabilities, get_provider
from spark_video.providers.base import (
    BudgetExceeded,
    CallContext,
    ContentRejected,
    PendingTask,
    ProviderError,
)
from spark_video.providers.dashscope_http import derive_compatible_base
from spark_video.providers.http import SubmitOutcomeUnknown

HERE = Path(__file__).resolve().parent


def make_png(path: Path, color: str = "red", size: str = "480x480") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["-y", "-f", "lavfi", "-i", f"color=c={color}:s={size}", "-frames:v", "1", str(path)],
        what="test png")
    return path


def spec_of(kind="t2v", duration=3, prompt=None, shot_id="S01-001", resolution="720P",
            ratio="16:9", provider="bl", characters=(), seed=7) -> ShotSpec:
    shot = Shot(id=shot_id, scene="S01", kind=kind, duration=duration,
                prompt=prompt or f"A lighthouse keeper climbs the stairs ({shot_id}).",
                characters=list(characters), seed=seed)
    return ShotSpec(shot=shot, scene=Scene(id="S01", name="Stairs", description="d"),
                    resolution=resolution, ratio=ratio, provider=provider, mode="drama")


@pytest.fixture(name="ep")
def ep_fixture(tmp_path) -> EpisodePaths:
    p = EpisodePaths.of("demo", "3", root=tmp_path / "projects")
    p.scaffold()
    return p


def ctx_of(ep, provider="bl", attempt=1, shot="S01-001", **cfg) -> CallContext:
    c = resolve({"provider": provider, **cfg}, environ={}, config_file=None)
    return CallContext(paths=ep, cfg=c, phase="render", shot=shot, attempt=attempt)


def calls(ep) -> list[dict]:
    return [json.loads(x) for x in ep.model_calls.read_text().splitlines()]


def assert_no_key(*texts: str) -> None:
    for t in texts:
        assert FAKE_KEY not in t


# --------------------------------------------------------------------------- happy paths


def test_happyhorse_t2v_submit_poll_download(fake_dashscope, ep, tmp_path):
    ctx = ctx_of(ep)
    vid = get_provider("video", ctx.cfg)
    seen: list[PendingTask] = []
    out = ep.clip_version("S01-001", 1)
    res = vid.render(ctx, spec_of(), "A lighthouse keeper climbs the stairs.", out,
                     first_frame=None, media=[], on_submitted=seen.append)
    assert res.model == "happyhorse-1.0-t2v" and res.task_id == seen[0].task_id
    assert seen[0].base_url == fake_dashscope.base_url
    info = probe(out)
    assert info.has_video and info.has_audio and abs(info.duration - 3) < 0.2
    assert hashlib.sha256(out.read_bytes()).hexdigest() in fake_dashscope.served_sha256
    assert res.billed_seconds == 3 and res.cost == pytest.approx(2.7)  # 3 s x 0.9 CNY @720P
    assert fake_dashscope.bill_total == pytest.approx(res.cost)
    body = fake_dashscope.tasks[res.task_id]
    assert body.model == "happyhorse-1.0-t2v" and body.media == []
    lines = calls(ep)
    # the intent is on disk before the POST, then the submit answer, then the settling line
    assert [x["status"] for x in lines] == ["intent", "ok", "ok"]
    assert lines[0]["intent"] == lines[1]["intent"] and not lines[0].get("task_id")
    lines = lines[1:]
    assert [bool(x["endpoint"].endswith("(submit)")) for x in lines] == [True, False]
    assert lines[1]["task_id"] == res.task_id and lines[1]["cost"] == pytest.approx(2.7)
    assert budget.spend_so_far(ep) == pytest.approx(2.7)
    assert_no_key(ep.model_calls.read_text())
    assert not fake_dashscope.auth_leaks


def test_happyhorse_i2v_first_frame_goes_through_upload(fake_dashscope, ep, tmp_path):
    frame = make_png(tmp_path / "prev.last.png")
    ctx = ctx_of(ep)
    out = ep.clip_version("S01-002", 1)
    res = get_provider("video", ctx.cfg).render(ctx, spec_of("t2v", shot_id="S01-002"),
                                                "She turns.", out, first_frame=frame, media=[])
    t = fake_dashscope.tasks[res.task_id]
    # a chained t2v shot really gets the previous last frame: rendered as i2v
    assert t.model == "happyhorse-1.0-i2v" and [m["type"] for m in t.media] == ["first_frame"]
    assert t.media[0]["url"].startswith("oss://") and t.ratio is None
    up = fake_dashscope.uploads[t.media[0]["url"][6:]]
    assert up["model"] == "happyhorse-1.0-i2v" and up["path"].read_bytes() == frame.read_bytes()


def test_happyhorse_r2v_references_and_data_uri(fake_dashscope, ep, tmp_path, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_DATA_URI_MAX_KB", "512")
    refs = [make_png(tmp_path / f"c{i}.png", c) for i, c in enumerate(["red", "blue"])]
    ctx = ctx_of(ep)
    res = get_provider("video", ctx.cfg).render(
        ctx, spec_of("r2v", characters=["Ann", "Bo"]), "[Image 1] hands [Image 2] a lamp.",
        ep.clip_version("S01-001", 1), first_frame=None, media=refs)
    t = fake_dashscope.tasks[res.task_id]
    assert t.model == "happyhorse-1.0-r2v" and t.ratio == "16:9"
    assert [m["type"] for m in t.media] == ["reference_image"] * 2
    assert all(m["url"].startswith("data:image/png;base64,") for m in t.media)
    assert not fake_dashscope.uploads  # small images went inline


def test_happyhorse_r2v_with_first_frame_renders_i2v_and_names_refs(fake_dashscope, ep,
                                                                   tmp_path):
    refs = [make_png(tmp_path / "ann.png")]
    frame = make_png(tmp_path / "prev.png", "green")
    ctx = ctx_of(ep)
    res = get_provider("video", ctx.cfg).render(
        ctx, spec_of("r2v", characters=["Ann"]), "[Image 1] waves.",
        ep.clip_version("S01-001", 1), first_frame=frame, media=refs)
    t = fake_dashscope.tasks[res.task_id]
    assert t.model == "happyhorse-1.0-i2v" and t.prompt == "Ann waves."
    assert res.sent_prompt == "Ann waves."


def test_wan27_media_array_r2v_with_first_frame(fake_dashscope, ep, tmp_path):
    refs = [make_png(tmp_path / "ann.png")]
    frame = make_png(tmp_path / "prev.png", "green")
    ctx = ctx_of(ep, provider="wan27")
    res = get_provider("video", ctx.cfg).render(
        ctx, spec_of("r2v", duration=2, provider="wan27", characters=["Ann"]),
        "Image 1 waves.", ep.clip_version("S01-001", 1), first_frame=frame, media=refs)
    t = fake_dashscope.tasks[res.task_id]
    assert t.model == "wan2.7-r2v" and res.billed_seconds == 2
    assert [m["type"] for m in t.media] == ["reference_image", "first_frame"]
    assert res.cost == pytest.approx(1.2)  # 2 s x 0.6 @720P


def tone(path: Path, seconds: float, *extra: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["-y", "-f", "lavfi", "-i", f"sine=f=220:d={seconds}", *extra, str(path)],
        what="test voice")
    return path


def test_wan27_r2v_sends_a_cast_members_voice_sample_as_reference_voice(fake_dashscope, ep,
                                                                          tmp_path):
    from spark_video.base.project import write_manifest

    ann = ep.project_paths.cast_dir / "Ann"
    make_png(ann / "portrait.png")
    tone(ann / "voice.mp3", 2)
    tone(ann / "speech.wav", 12)  # sorts first; longer than the 10 s the model takes
    bob = ep.project_paths.cast_dir / "Bob"
    make_png(bob / "portrait.png", "blue")
    write_manifest(ep, "cast")
    spec = spec_of("r2v", duration=2, provider="wan27", characters=["Ann", "Bob"])
    spec = spec.model_copy(update={"media": ["demo/cast/Ann/portrait.png",
                                             "demo/cast/Bob/portrait.png"]})
    said: list[str] = []
    ctx = ctx_of(ep, provider="wan27")
    ctx.extra["log"] = said.append
    vid = get_provider("video", ctx.cfg)
    for version in (1, 2):  # one job rendering two takes: the log says it once
        res = vid.render(ctx, spec, "Image 1 greets Image 2.", ep.clip_version("S01-001",
                                                                               version),
                         first_frame=None, media=[ann / "portrait.png", bob / "portrait.png"])
        ann_ref, bob_ref = fake_dashscope.tasks[res.task_id].media
        assert ann_ref["type"] == "reference_image"
        assert ann_ref["reference_voice"].startswith("oss://")  # audio: uploaded, no data URI
        assert ann_ref["reference_voice"].endswith("voice.mp3")
        assert "reference_voice" not in bob_ref  # Bob has no voice sample
    assert [v["seconds"] for v in fake_dashscope.reference_voices] == [2.0, 2.0]
    assert len(said) == 1 and "speech.wav" in said[0] and "1-10 s" in said[0], said

    (ann / "voice.mp3").unlink()  # what is left: too long, too big, a format it does not take
    tone(ann / "big.wav", 6, "-ar", "192000", "-ac", "8")  # 6 s, but 18 MB
    tone(ann / "take.m4a", 3)
    write_manifest(ep, "cast")
    said.clear()
    vid = get_provider("video", ctx.cfg)
    res = vid.render(ctx, spec, "Image 1 greets Image 2.", ep.clip_version("S01-001", 3),
                     first_frame=None, media=[ann / "portrait.png", bob / "portrait.png"])
    assert all("reference_voice" not in m for m in fake_dashscope.tasks[res.task_id].media)
    assert len(said) == 3, said
    by_file = {Path(line.split()[2].rstrip(":")).name: line for line in said}
    assert "15 MB" in by_file["big.wav"] and "1-10 s" in by_file["speech.wav"]
    assert "wav/mp3" in by_file["take.m4a"]


def test_wan27_r2v_voice_follows_a_members_portrait_grid(fake_dashscope, ep, tmp_path):
    """Several portraits of one member are one grid image; the member's voice rides on it."""
    from spark_video.base.models import Storyboard
    from spark_video.base.project import write_manifest
    from spark_video.storyboard import shot_media

    ann = ep.project_paths.cast_dir / "Ann"
    make_png(ann / "front.png")
    make_png(ann / "side.png", "green")
    tone(ann / "voice.wav", 3)
    make_png(ep.project_paths.cast_dir / "Bob" / "portrait.png", "blue")
    tone(ep.project_paths.cast_dir / "Bob" / "bob.mp3", 4)
    write_manifest(ep, "cast")
    shot = Shot(id="S01-001", scene="S01", kind="r2v", duration=2, prompt="Image 2 waves at "
                "Image 1.", characters=["Bob", "Ann"], seed=7)
    sb = Storyboard.model_validate({"title": "t", "scenes": [{"id": "S01", "name": "Stairs",
                                                "description": "d"}], "shots": [shot]})
    media = shot_media(ep, sb, shot)
    assert media == ["demo/cast/Bob/portrait.png", "demo/cast/Ann/.portraits-grid.png"]
    spec = spec_of("r2v", duration=2, provider="wan27", characters=["Bob", "Ann"])
    spec = spec.model_copy(update={"media": media})
    ctx = ctx_of(ep, provider="wan27")
    root = ep.project_paths.root.parent
    res = get_provider("video", ctx.cfg).render(
        ctx, spec, "Image 2 waves at Image 1.", ep.clip_version("S01-001", 1), first_frame=None,
        media=[root / m for m in media])
    sent = fake_dashscope.tasks[res.task_id].media
    voices = {v["url"]: v["path"].name for v in fake_dashscope.reference_voices}
    assert voices[sent[0]["reference_voice"]].endswith("bob.mp3")
    assert voices[sent[1]["reference_voice"]].endswith("voice.wav")


@pytest.mark.parametrize("case", ["not-r2v", "first-frame", "data-uri", "too-long", "too-big",
                                  "format"])
def test_fake_refuses_a_reference_voice_as_the_page_says(fake_dashscope, ep, tmp_path, case):
    """The local server answers a bad reference_voice with 400 InvalidParameter at submit."""
    import base64

    import httpx

    from spark_video.providers.dashscope_http import ConnSettings, DashScopeTransport

    model = "happyhorse-1.0-r2v" if case == "not-r2v" else "wan2.7-r2v"
    t = DashScopeTransport(ConnSettings.from_env(None))
    img = t.upload(make_png(tmp_path / "ann.png"), model)
    good = t.upload(tone(tmp_path / "ok.mp3", 2), model)
    voice = {"too-long": lambda: t.upload(tone(tmp_path / "long.wav", 11), model),
             "too-big": lambda: t.upload(tone(tmp_path / "big.wav", 6, "-ar", "192000", "-ac",
                                              "8"), model),
             "format": lambda: t.upload(tone(tmp_path / "v.m4a", 2), model),
             "data-uri": lambda: "data:audio/mpeg;base64,"
             + base64.b64encode((tmp_path / "ok.mp3").read_bytes()).decode()}.get(
                 case, lambda: good)()
    item = {"type": "first_frame" if case == "first-frame" else "reference_image", "url": img,
            "reference_voice": voice}
    media = [item] if case != "first-frame" else [{"type": "reference_image", "url": img}, item]
    body = {"model": model, "input": {"prompt": "Image 1 waves.", "media": media},
            "parameters": {"resolution": "720P", "duration": 5}}
    r = httpx.post(f"{fake_dashscope.base_url}/services/aigc/video-generation/video-synthesis",
                   json=body, timeout=10, headers={
                       "Authorization": f"Bearer {FAKE_KEY}", "X-DashScope-Async": "enable",
                       "X-DashScope-OssResourceResolve": "enable"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter", r.text
    assert "reference_voice" in r.json()["message"]
    body["input"]["media"] = [{"type": "reference_image", "url": img, "reference_voice": good}]
    if case != "not-r2v":  # the same request with a good sample is taken
        ok = httpx.post(f"{fake_dashscope.base_url}/services/aigc/video-generation/"
                        "video-synthesis", json=body, timeout=10, headers={
                            "Authorization": f"Bearer {FAKE_KEY}", "X-DashScope-Async": "enable",
                            "X-DashScope-OssResourceResolve": "enable"})
        assert ok.status_code == 200, ok.text
    t.close()


def test_wan27_t2v_dated_model(fake_dashscope, ep):
    ctx = ctx_of(ep, provider="wan27")
    res = get_provider("video", ctx.cfg).render(ctx, spec_of(provider="wan27"), "Waves.",
                                                ep.clip_version("S01-001", 1),
                                                first_frame=None, media=[])
    assert fake_dashscope.tasks[res.task_id].model == "wan2.7-t2v-2026-04-25"


@pytest.mark.parametrize("kind", ["t2v", "i2v", "r2v"])
def test_wan26_legacy_protocol(fake_dashscope, ep, tmp_path, monkeypatch, kind):
    monkeypatch.setenv("SPARK_VIDEO_VIDEO_MODEL", "wan2.6")
    media = [make_png(tmp_path / "a.png")] if kind != "t2v" else []
    ctx = ctx_of(ep)
    res = get_provider("video", ctx.cfg).render(ctx, spec_of(kind, duration=2), "Rain.",
                                                ep.clip_version("S01-001", 1),
                                                first_frame=None, media=media)
    t = fake_dashscope.tasks[res.task_id]
    assert t.model == f"wan2.6-{kind}" and res.cost == pytest.approx(1.2)
    if kind == "i2v":
        assert t.media[0]["url"].startswith("oss://")


def test_estimate_matches_bill_for_clamped_duration(fake_dashscope, ep):
    ctx = ctx_of(ep)
    vid = get_provider("video", ctx.cfg)
    spec = spec_of(duration=2)  # happyhorse minimum is 3 s: clamped, billed 3 s
    model, secs, est = vid.estimate(spec, first_frame=False)
    res = vid.render(ctx, spec, spec.shot.prompt, ep.clip_version("S01-001", 1),
                     first_frame=None, media=[])
    assert (model, secs) == ("happyhorse-1.0-t2v", 3) and est == fake_dashscope.bill_total
    assert res.cost == est


# --------------------------------------------------------------------------- capability checks


def test_capability_checks_refuse_before_paying(fake_dashscope, ep):
    ctx = ctx_of(ep)
    vid = get_provider("video", ctx.cfg)
    with pytest.raises(capabilities.CapabilityError, match="prompt is .* over"):
        vid.render(ctx, spec_of(prompt="x" * 5000), "字" * 2600,
                   ep.clip_version("S01-001", 1), first_frame=None, media=[])
    with pytest.raises(capabilities.CapabilityError, match="480P"):
        vid.render(ctx, spec_of(resolution="480P"), "ok", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[])
    with pytest.raises(capabilities.CapabilityError, match="ratio"):
        vid.render(ctx, spec_of(ratio="21:9"), "ok", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 0
    c = capabilities.check_request("happyhorse-1.0-i2v", "i2v", 2, "720P", "16:9", "p", 1)
    assert c.duration == 3 and c.ratio is None and len(c.notes) == 2


# --------------------------------------------------------------------------- errors


def test_429_burst_and_5xx_on_submit_are_retried_once_paid(fake_dashscope, ep):
    fake_dashscope.submit_faults.extend([(429, "Throttling.RateQuota", "rate"),
                                         (500, "InternalError", "boom"),
                                         (503, "ServiceUnavailable", "busy")])
    fake_dashscope.poll_faults.extend([(429, "Throttling", "slow down")] * 3)
    ctx = ctx_of(ep)
    res = get_provider("video", ctx.cfg).render(ctx, spec_of(), "ok",
                                                ep.clip_version("S01-001", 1),
                                                first_frame=None, media=[])
    assert fake_dashscope.submit_requests == 4 and fake_dashscope.total_submissions == 1
    assert len(fake_dashscope.bill) == 1 and res.task_id


def test_other_4xx_fail_fast_with_code(fake_dashscope, ep, monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-wrong-key-0000")
    ctx = ctx_of(ep)
    with pytest.raises(ProviderError) as ei:
        get_provider("video", ctx.cfg).render(ctx, spec_of(), "ok",
                                              ep.clip_version("S01-001", 1),
                                              first_frame=None, media=[])
    assert ei.value.code == "InvalidApiKey" and "401" in str(ei.value)
    assert fake_dashscope.submit_requests == 0  # refused at auth; no retry storm
    assert "sk-wrong-key-0000" not in str(ei.value) + ep.model_calls.read_text()


def test_failed_task_reported_not_billed(fake_dashscope, ep):
    fake_dashscope.task_outcomes.append("FAILED")
    ctx = ctx_of(ep)
    with pytest.raises(ProviderError, match="FAILED: InternalError") as ei:
        get_provider("video", ctx.cfg).render(ctx, spec_of(), "ok",
                                              ep.clip_version("S01-001", 1),
                                              first_frame=None, media=[])
    assert ei.value.retryable and not fake_dashscope.bill
    assert budget.spend_so_far(ep) == 0
    assert not ep.clip_version("S01-001", 1).exists()


def test_moderation_at_submit_and_as_failed_task_is_content_rejected(fake_dashscope, ep):
    fake_dashscope.reject_words.add("blood")
    fake_dashscope.output_reject_words.add("knife")
    vid = get_provider("video", ctx_of(ep).cfg)
    with pytest.raises(ContentRejected, match="rewrite"):
        vid.render(ctx_of(ep), spec_of(), "blood on the floor", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[])
    assert fake_dashscope.submit_requests == 0 or fake_dashscope.total_submissions == 0
    with pytest.raises(ContentRejected, match="DataInspectionFailed"):
        vid.render(ctx_of(ep, attempt=2), spec_of(), "a knife glints",
                   ep.clip_version("S01-001", 2), first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 1 and not fake_dashscope.bill


def test_unknown_expired_task_is_reported(fake_dashscope, ep):
    fake_dashscope.task_outcomes.append("UNKNOWN")
    with pytest.raises(ProviderError, match="UNKNOWN.*expired") as ei:
        get_provider("video", ctx_of(ep).cfg).render(ctx_of(ep), spec_of(), "ok",
                                                     ep.clip_version("S01-001", 1),
                                                     first_frame=None, media=[])
    assert ei.value.code == "TaskExpired"
    # a pending task that expired while we were away is reported the same way
    with pytest.raises(ProviderError, match="UNKNOWN"):
        get_provider("video", ctx_of(ep).cfg).render(
            ctx_of(ep, attempt=2), spec_of(), "ok", ep.clip_version("S01-001", 2),
            first_frame=None, media=[], pending=PendingTask("no-such-task",
                                                            fake_dashscope.base_url))
    assert fake_dashscope.total_submissions == 1


def test_ambiguous_submit_is_adopted_from_the_task_list(fake_dashscope, ep, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_HTTP_TIMEOUT_S", "0.5")
    fake_dashscope.hang_submits, fake_dashscope.hang_submit_s = 1, 2.0
    res = get_provider("video", ctx_of(ep).cfg).render(ctx_of(ep), spec_of(), "ok",
                                                       ep.clip_version("S01-001", 1),
                                                       first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 1  # the server created it once: adopted
    assert fake_dashscope.list_calls >= 1 and res.task_id in fake_dashscope.tasks
    assert len(fake_dashscope.bill) == 1


def test_unknown_submit_not_in_the_task_list_is_reported(fake_dashscope, ep, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_HTTP_TIMEOUT_S", "0.5")
    fake_dashscope.hang_submits, fake_dashscope.hang_submit_s = 1, 2.0
    fake_dashscope.list_hides = True  # the list lags behind (or the task is elsewhere)
    vid = get_provider("video", ctx_of(ep).cfg)
    with pytest.raises(SubmitOutcomeUnknown, match="--resubmit"):
        vid.render(ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[])
    # a resumed run finds the open intent and still does not pay again
    with pytest.raises(SubmitOutcomeUnknown, match="--resubmit"):
        vid.render(ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 1
    # --resubmit pays again, explicitly
    ctx = ctx_of(ep)
    ctx.extra["resubmit"] = True
    vid.render(ctx, spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None,
               media=[])
    assert fake_dashscope.total_submissions == 2


def test_missing_key_fails_at_once(monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    cfg = resolve({"provider": "bl"}, environ={}, config_file=None)
    with pytest.raises(ProviderError, match="DASHSCOPE_API_KEY is not set"):
        get_provider("video", cfg)


def test_compatible_base_derived_from_native():
    assert derive_compatible_base("https://dashscope-intl.aliyuncs.com/api/v1") == \
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert derive_compatible_base("http://127.0.0.1:9/x") == \
        "http://127.0.0.1:9/compatible-mode/v1"


# --------------------------------------------------------------------------- crash safety


def test_call_slot_is_held_from_submit_to_task_end_not_for_upload_or_download(
        fake_dashscope, ep, tmp_path):
    """The caller's slot (the render's api slot) covers the task only: the upload of the
    first frame and the download of the result overlap other shots' tasks."""
    from contextlib import contextmanager

    frame = make_png(tmp_path / "prev.last.png")
    seen: list[tuple[str, int, int, int]] = []

    @contextmanager
    def slot():
        fake = fake_dashscope
        seen.append(("enter", len(fake.uploads), len(fake.tasks), sum(fake.downloads.values())))
        yield
        seen.append(("exit", len(fake.uploads), len(fake.tasks), sum(fake.downloads.values())))

    ctx = ctx_of(ep)
    ctx.extra["call_slot"] = slot
    saved: list[PendingTask] = []
    res = get_provider("video", ctx.cfg).render(ctx, spec_of("t2v", shot_id="S01-002"),
                                                "She turns.", ep.clip_version("S01-002", 1),
                                                first_frame=frame, media=[],
                                                on_submitted=saved.append)
    assert probe(ep.clip_version("S01-002", 1)).has_video
    # entered after the upload and before the submit; left after the task, before the download
    assert seen == [("enter", 1, 0, 0), ("exit", 1, 1, 0)]
    # resuming a task: held while it is polled, not for the download
    seen.clear()
    ctx = ctx_of(ep, attempt=2)
    ctx.extra["call_slot"] = slot
    get_provider("video", ctx.cfg).render(ctx, spec_of("t2v", shot_id="S01-002"), "She turns.",
                                          ep.clip_version("S01-002", 2), first_frame=frame,
                                          media=[], pending=saved[0])
    assert seen == [("enter", 1, 1, 1), ("exit", 1, 1, 1)]
    assert fake_dashscope.total_submissions == 1 and res.task_id == saved[0].task_id


def test_pending_resumes_same_task_without_submitting(fake_dashscope, ep):
    """Persist in on_submitted, die before polling, resume with `pending`: one submission."""
    fake_dashscope.running_s = 0.5
    saved: list[PendingTask] = []

    class Killed(BaseException):
        pass

    def persist_then_die(p: PendingTask) -> None:
        saved.append(p)
        raise Killed

    vid = get_provider("video", ctx_of(ep).cfg)
    with pytest.raises(Killed):
        vid.render(ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1),
                   first_frame=None, media=[], on_submitted=persist_then_die)
    res = get_provider("video", ctx_of(ep).cfg).render(
        ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None,
        media=[], pending=saved[0])
    assert res.task_id == saved[0].task_id and fake_dashscope.total_submissions == 1
    assert len(fake_dashscope.bill) == 1 and budget.spend_so_far(ep) == pytest.approx(2.7)


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_dashscope_video import spec_of, ctx_of
    from spark_video.base.paths import EpisodePaths
    from spark_video.base.io import atomic_write_json
    from spark_video.providers import get_provider
    ep = EpisodePaths.of("demo", "3", root=Path({root!r}))
    state = Path({state!r})
    ctx = ctx_of(ep)
    get_provider("video", ctx.cfg).render(
        ctx, spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None, media=[],
        on_submitted=lambda p: atomic_write_json(state, {{"task_id": p.task_id,
                                                         "base_url": p.base_url}}))
""")


def test_sigkill_while_polling_then_resume_submits_once(fake_dashscope, ep, tmp_path):
    fake_dashscope.running_s = 3.0
    state = tmp_path / "state.json"
    code = CHILD.format(tests=str(HERE), root=str(ep.root.parent.parent), state=str(state))
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not state.exists() or not fake_dashscope.polls:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # killed mid-poll
    proc.wait()
    saved = json.loads(state.read_text())
    assert not ep.clip_version("S01-001", 1).exists()
    # restart: the loop passes the persisted task back
    res = get_provider("video", ctx_of(ep).cfg).render(
        ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None,
        media=[], pending=PendingTask(**saved))
    assert res.task_id == saved["task_id"]
    assert fake_dashscope.total_submissions == 1 and len(fake_dashscope.bill) == 1


def test_unsettled_submit_in_call_log_is_resumed_even_without_state(fake_dashscope, ep):
    """Killed between the submit answer and the state write: the call log still has it."""
    fake_dashscope.running_s = 0.3

    class Killed(BaseException):
        pass

    def die(_p):
        raise Killed

    with pytest.raises(Killed):
        get_provider("video", ctx_of(ep).cfg).render(
            ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None,
            media=[], on_submitted=die)
    got: list[PendingTask] = []
    res = get_provider("video", ctx_of(ep).cfg).render(
        ctx_of(ep), spec_of(), "ok", ep.clip_version("S01-001", 1), first_frame=None,
        media=[], on_submitted=got.append)
    assert got and got[0].task_id == res.task_id and fake_dashscope.total_submissions == 1
    # a different prompt (a rewrite) is a new paid render, not a resume
    get_provider("video", ctx_of(ep).cfg).render(
        ctx_of(ep, attempt=2), spec_of(), "ok, rewritten", ep.clip_version("S01-001", 2),
        first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 2


# --------------------------------------------------------------------------- budget, slots


def test_budget_stops_submissions(fake_dashscope, ep):
    ctx = ctx_of(ep, budget=6.0)
    vid = get_provider("video", ctx.cfg)
    vid.render(ctx, spec_of(), "one", ep.clip_version("S01-001", 1), first_frame=None,
               media=[])  # 2.7
    vid.render(ctx_of(ep, attempt=2, budget=6.0), spec_of(), "two",
               ep.clip_version("S01-001", 2), first_frame=None, media=[])  # 5.4
    with pytest.raises(BudgetExceeded, match=r"spent 5.40 CNY.*2.70.*6.00") as ei:
        vid.render(ctx_of(ep, attempt=3, budget=6.0), spec_of(), "three",
                   ep.clip_version("S01-001", 3), first_frame=None, media=[])
    assert "Nothing was submitted" in str(ei.value)
    assert fake_dashscope.total_submissions == 2 and fake_dashscope.bill_total == 5.4
    assert budget.spend_so_far(ep) == pytest.approx(fake_dashscope.bill_total)


def test_inflight_task_counts_against_budget(ep):
    ep.model_calls.parent.mkdir(parents=True, exist_ok=True)
    ep.model_calls.write_text(json.dumps({
        "phase": "render", "provider": "bl", "model": "happyhorse-1.0-t2v", "task_id": "t1",
        "endpoint": "http://x/api/v1/services/aigc/video-generation/video-synthesis (submit)",
        "billed_units": 5, "unit": "second"}) + "\n" + "{torn line")
    assert budget.spend_so_far(ep) == pytest.approx(8.0)  # 5 s at the top price (1.6)


def test_per_model_concurrency_limit(fake_dashscope, ep, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_MODEL_CONCURRENCY", "2")
    fake_dashscope.running_s = 0.3
    fake_dashscope.concurrency_limit = 2  # the account limit: a 3rd running task gets 429
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            ctx = ctx_of(ep, shot=f"S01-{i:03d}")
            get_provider("video", ctx.cfg).render(
                ctx, spec_of(shot_id=f"S01-{i:03d}"), f"shot {i}",
                ep.clip_version(f"S01-{i:03d}", 1), first_frame=None, media=[])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert fake_dashscope.peak_running["happyhorse-1.0-t2v"] <= 2
    assert fake_dashscope.total_submissions == 6 == fake_dashscope.submit_requests


def test_key_never_leaks_in_errors_logs_or_output(fake_dashscope, ep, capsys, tmp_path):
    """Even a gateway that echoes the Authorization header cannot leak the key."""
    fake_dashscope.submit_faults.append((400, "InvalidParameter", f"bad header Bearer {FAKE_KEY}"))
    with pytest.raises(ProviderError) as ei:
        get_provider("video", ctx_of(ep).cfg).render(ctx_of(ep), spec_of(), "ok",
                                                     ep.clip_version("S01-001", 1),
                                                     first_frame=None, media=[])
    assert "***" in str(ei.value)
    print(repr(get_provider("video", ctx_of(ep).cfg).settings))
    out = capsys.readouterr()
    assert_no_key(str(ei.value), repr(ei.value), out.out, out.err, ep.model_calls.read_text())
