"""Wire conformance: every DashScope operation we use, made once through the official SDK
(dashscope 2.0.2, a dev dependency) and once through our providers, against ONE local
recorder (127.0.0.1). Both requests must agree on method, path, the headers that matter and
the body's shape (field names and nesting) and the values that should agree. Where ours
deliberately differs, DIFFERENCES says why in one line. Each test id names the operation.
"""

from __future__ import annotations

import io
import json
import threading
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from test_dashscope_video import ctx_of, ep_fixture, make_png, spec_of  # noqa: F401 - fixture

KEY = "sk-conformance-0123456789abcdef"
HEADERS_THAT_MATTER = ("authorization", "content-type", "x-dashscope-async",
                       "x-dashscope-ossresourceresolve", "x-dashscope-sse")


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(b"\0\0" * 2400)
    return buf.getvalue()


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 160)).save(buf, format="PNG")
    return buf.getvalue()


class Recorder:
    """Records every request; answers each route with a plausible DashScope response."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        rec = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _do(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b""
                parts = urlsplit(self.path)
                body: Any = None
                ctype = self.headers.get("content-type", "")
                if raw and "json" in ctype:
                    body = json.loads(raw)
                elif raw and "multipart" in ctype:
                    body = {"multipart_fields": sorted(
                        seg.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
                        for seg in raw.split(b"Content-Disposition")[1:])}
                rec.requests.append({"method": self.command, "path": parts.path,
                                     "query": dict(parse_qsl(parts.query)),
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": body})
                status, ctype_out, data = rec.answer(self.command, parts.path, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype_out)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _do

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, method: str, path: str, body: Any) -> tuple[int, str, bytes]:
        def js(obj: Any) -> tuple[int, str, bytes]:
            return 200, "application/json", json.dumps(obj).encode()

        o = self.origin
        rid = {"request_id": "rec-1"}
        if path.startswith("/files/"):
            return 200, ("audio/wav" if path.endswith(".wav") else "image/png"), \
                _wav() if path.endswith(".wav") else _png()
        if path == "/oss":
            return 200, "text/plain", b""
        if path == "/api/v1/uploads":
            return js({**rid, "data": {
                "policy": "eyJwb2xpY3kiOiJ4In0=", "signature": "sig", "upload_dir":
                "dashscope-instant/abc/2026-12-07/x", "upload_host": f"{o}/oss",
                "expire_in_seconds": 300, "max_file_size_mb": 1024, "capacity_limit_mb": 1,
                "oss_access_key_id": "LTAI-x", "x_oss_object_acl": "private",
                "x_oss_forbid_overwrite": "true"}})
        if path == "/api/v1/tasks":
            return js({**rid, "data": [], "total": 0, "total_page": 1, "page_no": 1,
                       "page_size": 10})
        if path.startswith("/api/v1/tasks/"):
            return js({**rid, "output": {"task_id": path.rsplit("/", 1)[1],
                                         "task_status": "SUCCEEDED",
                                         "video_url": f"{o}/files/v.mp4",
                                         "results": [{"url": f"{o}/files/i.png"}]},
                       "usage": {"duration": 5, "SR": 720, "video_count": 1}})
        if path.endswith("/video-synthesis") or path.endswith("/image-synthesis"):
            return js({**rid, "output": {"task_id": "task-1", "task_status": "PENDING"}})
        if path.endswith("/SpeechSynthesizer"):
            return js({**rid, "output": {"finish_reason": "stop", "audio": {
                "url": f"{o}/files/a.wav", "id": "a", "expires_at": 1}},
                "usage": {"characters": 4}})
        if path.endswith("/multimodal-generation/generation"):
            return js({**rid, "output": {
                "audio": {"url": f"{o}/files/a.wav", "id": "a", "expires_at": 1},
                "choices": [{"finish_reason": "stop", "message": {
                    "role": "assistant", "content": [{"image": f"{o}/files/i.png"}]}}]},
                "usage": {"image_count": 1, "characters": 4}})
        if path.endswith("/chat/completions"):
            answer = json.dumps({"breakdown": {a: 8 for a in (
                "logic", "proportion", "physics", "style", "cast_match",
                "dialog_attribution")}, "verdict": "ACCEPT", "critique": "ok",
                "cast_match": 8})
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            if isinstance(body, dict) and body.get("stream"):
                chunks = [{"id": "c", "object": "chat.completion.chunk", "created": 1,
                           "model": body["model"], "choices": [
                               {"index": 0, "delta": {"role": "assistant", "content": answer},
                                "finish_reason": "stop"}]},
                          {"id": "c", "object": "chat.completion.chunk", "created": 1,
                           "model": body["model"], "choices": [], "usage": usage}]
                data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + \
                    "data: [DONE]\n\n"
                return 200, "text/event-stream", data.encode()
            return js({"id": "c", "object": "chat.completion", "created": 1,
                       "model": (body or {}).get("model"), "choices": [{
                           "index": 0, "finish_reason": "stop", "message": {
                               "role": "assistant", "content": answer}}], "usage": usage})
        return 404, "application/json", b'{"code": "NotFound", "message": "no route"}'

    def take(self) -> list[dict[str, Any]]:
        out, self.requests = self.requests, []
        return out

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def recorder():
    r = Recorder()
    yield r
    r.stop()


@pytest.fixture
def env(recorder, monkeypatch, tmp_path):
    import dashscope

    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", f"{recorder.origin}/api/v1")
    monkeypatch.setenv("DASHSCOPE_COMPATIBLE_BASE_URL", f"{recorder.origin}/compatible-mode/v1")
    monkeypatch.setenv("SPARK_VIDEO_LOCK_DIR", str(tmp_path / "slots"))
    monkeypatch.setenv("SPARK_VIDEO_POLL_INTERVAL_S", "0.01")
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{recorder.origin}/api/v1")
    monkeypatch.setattr(dashscope, "api_key", KEY)
    recorder.take()
    return recorder


# --------------------------------------------------------------------------- comparison


def shape(v: Any) -> Any:
    """Field names and nesting; a list's shape is the shape of its items."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v[:1]]
    return type(v).__name__ if not isinstance(v, bool | int | float) else "number"


def drop(d: Any, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if isinstance(d, list):
        for x in d:
            drop(x, dotted)
    elif isinstance(d, dict) and head in d:
        if rest:
            drop(d[head], rest)
        else:
            d.pop(head)


def pick(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        d = d[int(part)] if isinstance(d, list) else d.get(part) if isinstance(d, dict) else None
    return d


def compare(sdk: dict[str, Any], ours: dict[str, Any], *, ignore_sdk: dict[str, str],
            ignore_ours: dict[str, str], agree: tuple[str, ...] = (),
            headers: tuple[str, ...] = HEADERS_THAT_MATTER) -> None:
    assert (sdk["method"], sdk["path"]) == (ours["method"], ours["path"])
    for h in headers:
        sv, ov = sdk["headers"].get(h), ours["headers"].get(h)
        if h == "content-type" and sv and ov:
            sv, ov = sv.split(";")[0].strip(), ov.split(";")[0].strip()
        assert sv == ov, f"header {h}: SDK {sv!r}, ours {ov!r}"
    assert set(sdk["query"]) - set(ignore_sdk) == set(ours["query"]) - set(ignore_ours), \
        (sdk["query"], ours["query"])
    sb, ob = json.loads(json.dumps(sdk["body"])), json.loads(json.dumps(ours["body"]))
    for k in ignore_sdk:
        drop(sb, k)
    for k in ignore_ours:
        drop(ob, k)
    assert shape(sb) == shape(ob), f"SDK {shape(sb)}\nours {shape(ob)}"
    for k in agree:
        assert pick(sdk["body"], k) == pick(ours["body"], k), k


def one(reqs: list[dict[str, Any]], path_end: str) -> dict[str, Any]:
    hits = [r for r in reqs if r["path"].endswith(path_end)]
    assert len(hits) == 1, [r["path"] for r in reqs]
    return hits[0]


# Our deliberate differences, one line each: (field in the body, why).
SDK_EXTEND = {"input.extend_prompt": "the SDK may send the deprecated input.extend_prompt; "
              "we send parameters.prompt_extend=false (the documented name)",
              "input.function": "the SDK's async_call echoes the path's function name "
              "(video-synthesis) into input; the path already names it"}
OURS_PARAMS = {"parameters.prompt_extend": "we turn the prompt rewrite off: the storyboard's "
               "prompt is what we review and pay for",
               "parameters.watermark": "we ask for no watermark explicitly (HappyHorse "
               "defaults to one)", "parameters.seed": "we pin the shot's seed for retakes"}


# --------------------------------------------------------------------------- video submit


VIDEO_CASES = {
    # id: (our video family, shot kind, SDK kwargs beyond model/prompt)
    "video-submit-happyhorse-t2v": ("happyhorse-1.0", "t2v", {
        "resolution": "720P", "ratio": "16:9", "duration": 5}),
    "video-submit-happyhorse-i2v": ("happyhorse-1.0", "i2v", {
        "media": [{"type": "first_frame", "url": "https://x/f.png"}],
        "resolution": "720P", "duration": 5}),
    "video-submit-happyhorse-r2v": ("happyhorse-1.0", "r2v", {
        "media": [{"type": "reference_image", "url": "https://x/a.png"}],
        "resolution": "720P", "ratio": "16:9", "duration": 5}),
    "video-submit-wan2.6-t2v": ("wan2.6", "t2v", {"size": "1280*720", "duration": 5}),
    "video-submit-wan2.6-i2v": ("wan2.6", "i2v", {"img_url": "https://x/f.png",
                                                 "resolution": "720P", "duration": 5}),
    "video-submit-wan2.6-r2v": ("wan2.6", "r2v", {"reference_urls": ["https://x/a.png"],
                                                 "size": "1280*720", "duration": 5}),
    "video-submit-wan2.7-t2v": ("wan2.7", "t2v", {"resolution": "720P", "ratio": "16:9",
                                                 "duration": 5}),
    "video-submit-wan2.7-i2v": ("wan2.7", "i2v", {
        "media": [{"type": "first_frame", "url": "https://x/f.png"}],
        "resolution": "720P", "duration": 5}),
    "video-submit-wan2.7-r2v": ("wan2.7", "r2v", {
        "media": [{"type": "reference_image", "url": "https://x/a.png"}],
        "resolution": "720P", "ratio": "16:9", "duration": 5}),
}


@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_video_submit(env, ep, monkeypatch, case):
    from dashscope import VideoSynthesis

    from spark_video.providers.dashscope import VIDEO_PATH, DashScopeVideo
    from spark_video.providers.dashscope_http import ConnSettings, DashScopeTransport

    family, kind, kw = VIDEO_CASES[case]
    monkeypatch.setenv("SPARK_VIDEO_VIDEO_MODEL", family)
    ctx = ctx_of(ep)
    vid = DashScopeVideo("bl", ConnSettings.from_env(ctx.cfg), ctx.cfg)
    media = ["https://x/a.png"] if kind == "r2v" else []
    first = "https://x/f.png" if kind == "i2v" else None
    t = DashScopeTransport(ConnSettings.from_env(ctx.cfg))
    checked, body, sent, uses_oss = vid.build(ctx, spec_of(kind, duration=5), "Rain.",
                                              first, media, t)  # type: ignore[arg-type]
    VideoSynthesis.async_call(model=checked.model, prompt="Rain.", api_key=KEY, **kw)
    sdk = one(env.take(), VIDEO_PATH)
    t.submit(VIDEO_PATH, body, oss=uses_oss)
    ours = one(env.take(), VIDEO_PATH)
    compare(sdk, ours, ignore_sdk=SDK_EXTEND, ignore_ours=OURS_PARAMS,
            agree=("model", "input.prompt", "parameters.size", "parameters.resolution",
                   "parameters.ratio", "parameters.duration", "input.media",
                   "input.img_url", "input.reference_urls"))


# --------------------------------------------------------------------------- tasks


def test_poll(env, ep):
    from dashscope import VideoSynthesis

    from spark_video.providers.dashscope_http import ConnSettings, DashScopeTransport

    VideoSynthesis.fetch("task-1", api_key=KEY)
    sdk = one(env.take(), "/tasks/task-1")
    DashScopeTransport(ConnSettings.from_env()).get_task("task-1")
    ours = one(env.take(), "/tasks/task-1")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={},
            headers=("authorization",))  # a GET: no body, no content type


def test_task_list(env, ep):
    import calendar
    import time

    from dashscope import VideoSynthesis

    from spark_video.providers.dashscope_http import ConnSettings, DashScopeTransport

    start = calendar.timegm(time.strptime("20261207000000", "%Y%m%d%H%M%S"))
    VideoSynthesis.list(start_time="20261207000000", end_time="20261207010000",
                        model_name="wan2.7-r2v", page_no=1, page_size=100, api_key=KEY)
    sdk = one(env.take(), "/api/v1/tasks")
    DashScopeTransport(ConnSettings.from_env()).list_tasks(start=start, end=start + 3600,
                                                            model="wan2.7-r2v")
    ours = one(env.take(), "/api/v1/tasks")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={}, headers=("authorization",))
    assert {k: sdk["query"][k] for k in ("start_time", "end_time", "model_name", "page_no",
                                         "page_size")} == \
        {k: ours["query"][k] for k in ("start_time", "end_time", "model_name", "page_no",
                                       "page_size")}


def test_upload_policy_and_upload(env, ep, tmp_path):
    from dashscope.utils.oss_utils import OssUtils

    from spark_video.providers.dashscope_http import ConnSettings, DashScopeTransport

    png = make_png(tmp_path / "a.png")
    OssUtils.upload(model="wan2.7-r2v", file_path=str(png), api_key=KEY)
    sdk_reqs = env.take()
    DashScopeTransport(ConnSettings.from_env()).upload(png, "wan2.7-r2v")
    ours_reqs = env.take()
    compare(one(sdk_reqs, "/uploads"), one(ours_reqs, "/uploads"), ignore_sdk={},
            ignore_ours={}, headers=("authorization",))
    assert one(sdk_reqs, "/uploads")["query"] == one(ours_reqs, "/uploads")["query"]
    s_up, o_up = one(sdk_reqs, "/oss"), one(ours_reqs, "/oss")
    assert s_up["method"] == o_up["method"] == "POST"
    assert "authorization" not in o_up["headers"]  # never our key on the OSS host
    assert s_up["body"] == o_up["body"]  # the same multipart form fields


# --------------------------------------------------------------------------- images


def test_t2i_sync(env, ep, tmp_path, monkeypatch):
    from dashscope.aigc.image_generation import ImageGeneration

    from spark_video.providers import get_provider

    ImageGeneration.call(model="wan2.6-t2i", api_key=KEY, messages=[
        {"role": "user", "content": [{"text": "A lighthouse."}]}],
        size="1184*1568", n=1, watermark=False, prompt_extend=False)
    sdk = one(env.take(), "/multimodal-generation/generation")
    ctx = ctx_of(ep)
    get_provider("image", ctx.cfg).generate(ctx, "A lighthouse.", tmp_path / "p.png",
                                            size="1184*1568")
    ours = one(env.take(), "/multimodal-generation/generation")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={},
            agree=("model", "input", "parameters.size", "parameters.n"))


def test_t2i_async(env, ep, tmp_path, monkeypatch):
    from dashscope import ImageSynthesis

    from spark_video.providers import get_provider

    ImageSynthesis.async_call(model="wan2.2-t2i-flash", prompt="A lighthouse.", n=1,
                              size="1024*1024", api_key=KEY, watermark=False,
                              prompt_extend=False)
    sdk = one(env.take(), "/text2image/image-synthesis")
    monkeypatch.setenv("SPARK_VIDEO_IMAGE_MODEL", "wan2.2-t2i-flash")
    ctx = ctx_of(ep)
    get_provider("image", ctx.cfg).generate(ctx, "A lighthouse.", tmp_path / "p.png",
                                            size="1024*1024")
    ours = one(env.take(), "/text2image/image-synthesis")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={},
            agree=("model", "input.prompt", "parameters.size", "parameters.n"))


# --------------------------------------------------------------------------- TTS


def test_cosyvoice_http(env, ep, tmp_path):
    from dashscope.audio.http_tts.http_speech_synthesizer import HttpSpeechSynthesizer

    from spark_video.providers import get_provider

    HttpSpeechSynthesizer.call(model="cosyvoice-v3-flash", text="Tide.", voice="longanyang",
                               audio_format="wav", sample_rate=24000, api_key=KEY, rate=1.0)
    sdk = one(env.take(), "/SpeechSynthesizer")
    ctx = ctx_of(ep)
    get_provider("tts", ctx.cfg).synthesize(ctx, "Tide.", tmp_path / "n.wav",
                                            voice="longanyang", rate=1.0)
    ours = one(env.take(), "/SpeechSynthesizer")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={},
            agree=("model", "input.text", "input.voice", "input.format",
                   "input.sample_rate"))


def test_qwen_tts(env, ep, tmp_path):
    from dashscope import MultiModalConversation

    from spark_video.providers import get_provider

    MultiModalConversation.call(model="qwen3-tts-flash", text="Tide.", voice="Cherry",
                                api_key=KEY)
    sdk = one(env.take(), "/multimodal-generation/generation")
    ctx = ctx_of(ep, narrator_tts_model="qwen3-tts-flash")
    get_provider("tts", ctx.cfg).synthesize(ctx, "Tide.", tmp_path / "n.wav", voice="Cherry",
                                            rate=1.0)
    ours = one(env.take(), "/multimodal-generation/generation")
    compare(sdk, ours, ignore_sdk={"parameters": "the SDK sends an empty parameters object; "
                                   "we leave it out (nothing to set: Qwen-TTS has no rate)"},
            ignore_ours={}, agree=("model", "input.text", "input.voice"))


# --------------------------------------------------------------------------- chat


def sdk_chat(env, **kw: Any) -> dict[str, Any]:
    import dashscope

    client = dashscope.Client(api_key=KEY, base_url=f"{env.origin}/compatible-mode/v1",
                              protocol="openai")
    out = client.chat.completions.create(**kw)
    if kw.get("stream"):
        for _ in out:
            pass
    return one(env.take(), "/chat/completions")


# The SDK's v2 chat takes no per-call header, so X-DashScope-OssResourceResolve (documented
# for oss:// media; the fake refuses oss:// without it) is asserted on our request alone.
NO_OSS_HEADER = tuple(h for h in HEADERS_THAT_MATTER if h != "x-dashscope-ossresourceresolve")


def test_chat(env, ep):
    from spark_video.providers import get_provider

    msgs = [{"role": "system", "content": "Reply in json."},
            {"role": "user", "content": "Outline it."}]
    sdk = sdk_chat(env, model="qwen-plus", messages=msgs,
                   response_format={"type": "json_object"}, enable_thinking=False)
    ctx = ctx_of(ep)
    get_provider("text", ctx.cfg).complete(ctx, role="writer", system="Reply in json.",
                                           user="Outline it.", json_mode=True)
    ours = one(env.take(), "/chat/completions")
    compare(sdk, ours, ignore_sdk={}, ignore_ours={},
            agree=("model", "messages", "response_format", "enable_thinking"))


def _clip(tmp_path: Path) -> Path:
    from spark_video.media import run

    out = tmp_path / "clip.mp4"
    run(["-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=12:duration=2", "-pix_fmt",
         "yuv420p", str(out)], what="test clip")
    return out


def test_omni_review(env, ep, tmp_path):
    from spark_video.providers import get_provider

    clip = _clip(tmp_path)
    ctx = ctx_of(ep)
    review = get_provider("review", ctx.cfg)
    review.review(ctx, spec_of("t2v", duration=2), clip, version=1, first_frame=None,
                  portraits=[])
    ours = [r for r in env.take() if r["path"].endswith("/chat/completions")][0]
    sdk = sdk_chat(env, model="qwen3.5-omni-plus", messages=ours["body"]["messages"],
                   stream=True, parameters={"stream_options": {"include_usage": True},
                                            "modalities": ["text"]})
    compare(sdk, ours, ignore_sdk={}, ignore_ours={}, headers=NO_OSS_HEADER,
            agree=("model", "stream", "stream_options", "modalities", "messages"))
    assert ours["headers"]["x-dashscope-ossresourceresolve"] == "enable"
    part = ours["body"]["messages"][1]["content"][0]
    assert part["type"] == "video_url" and part["video_url"]["url"].startswith("oss://")


def test_vl_review(env, ep, tmp_path, monkeypatch):
    from spark_video.providers import get_provider

    monkeypatch.setenv("SPARK_VIDEO_REVIEW_MODEL", "qwen3-vl-plus")
    clip = _clip(tmp_path)
    portrait = make_png(tmp_path / "a.png")
    ctx = ctx_of(ep)
    get_provider("review", ctx.cfg).review(ctx, spec_of("t2v", duration=2, characters=("A",)),
                                           clip, version=1, first_frame=None,
                                           portraits=[portrait])
    ours = [r for r in env.take() if r["path"].endswith("/chat/completions")][0]
    sdk = sdk_chat(env, model="qwen3-vl-plus", messages=ours["body"]["messages"],
                   response_format={"type": "json_object"}, enable_thinking=False)
    compare(sdk, ours, ignore_sdk={}, ignore_ours={}, headers=NO_OSS_HEADER,
            agree=("model", "messages", "response_format", "enable_thinking"))
    assert ours["headers"]["x-dashscope-ossresourceresolve"] == "enable"


def test_the_comparison_catches_differences():
    base = {"method": "POST", "path": "/p", "query": {}, "headers": {
        "authorization": f"Bearer {KEY}", "content-type": "application/json"},
        "body": {"model": "m", "input": {"prompt": "x"}, "parameters": {"size": "1280*720"}}}
    other = json.loads(json.dumps(base))
    other["body"]["parameters"]["size"] = "720*720"
    with pytest.raises(AssertionError, match="parameters.size"):
        compare(base, other, ignore_sdk={}, ignore_ours={}, agree=("parameters.size",))
    other = json.loads(json.dumps(base))
    other["body"]["input"]["img"] = "u"
    with pytest.raises(AssertionError):
        compare(base, other, ignore_sdk={}, ignore_ours={})
    other = json.loads(json.dumps(base))
    other["headers"]["x-dashscope-async"] = "enable"
    with pytest.raises(AssertionError, match="x-dashscope-async"):
        compare(base, other, ignore_sdk={}, ignore_ours={})
