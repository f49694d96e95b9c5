"""A faithful local DashScope (native /api/v1 + compatible-mode) for tests, over real HTTP.

Implements what the clients depend on: async video tasks (happyhorse / wan2.7 media protocol and
the wan2.6 legacy protocol), polling with PENDING → RUNNING → SUCCEEDED|FAILED timers, UNKNOWN
for unknown or expired ids (HTTP 200), temporary uploads (getPolicy + multipart POST + oss://
with the OssResourceResolve header, tied to the model), signed result URLs with Expires=,
per-family usage blocks, chat completions with SSE for stream=true (omni models refuse
non-stream), JSON-mode "json" word rule, CosyVoice HTTP TTS, Qwen-TTS and image generation via
multimodal-generation, and fault injection. Videos are real small H.264/AAC mp4s (lavfi
testsrc + sine) of the billed duration, titled `fake-dashscope:<task_id>`; the sha256 of every
served file is kept so tests can prove a clip came from this server.

Use as a pytest fixture `fake_dashscope` (import `fake_dashscope_fixture` into the test
module to register it), or standalone:
    uv run python tests/fake_dashscope.py --port 8765 --key sk-test
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import collections
import hashlib
import io
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from spark_video.base.pricing import price_table, video_price_type
from spark_video.media import canvas_size, run

FAKE_KEY = "sk-fake-SECRET-0123456789abcdef"

# The published model pages, as data (spark_video/providers/models/<family>.json, a `source`
# per limit). Read here with this file's own loader, never through
# spark_video.providers.capabilities:
# the server refuses what the page refuses, whatever the project's tables say.
PAGES_DIR = Path(__file__).resolve().parents[1] / "spark_video" / "providers" / "models"


def page_models() -> dict[str, dict[str, Any]]:
    """model -> its page entry (each limit's value), plus `family` and `protocol`."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted(PAGES_DIR.glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for name, m in doc["models"].items():
            row = {k: (v["value"] if isinstance(v, dict) and "value" in v else v)
                   for k, v in m.items()}
            for k, v in m.items():
                if isinstance(v, dict) and "cjk_weight" in v:
                    row[f"{k}_cjk_weight"] = v["cjk_weight"]
            row.update(family=doc["family"], protocol=doc.get("protocol"))
            out[name] = row
    return out


PAGES = page_models()


def model_rules(model: str) -> dict[str, Any] | None:
    """The server-side truth for a video model, from its published page."""
    m = PAGES.get(model)
    if m is None or m.get("kind") not in ("t2v", "i2v", "r2v"):
        return None
    return {"family": m["family"], "kind": m["kind"], "protocol": m["protocol"],
            "dur": tuple(m["durations"]), "res": set(m["resolutions"]),
            "ratios": set(m["ratios"]) if m.get("ratios") else None,
            "sizes": m.get("sizes"), "prompt_max": m["prompt_max"]}


QWEN_IMAGE_SIZES = {"1664*928", "1472*1140", "1328*1328", "1140*1472", "928*1664"}


def image_rules(model: str) -> dict[str, Any] | None:
    """Image limits as the service documents them (independent of spark_video)."""
    if model == "wan2.6-t2i":
        return {"area": (1280 * 1280, 1440 * 1440), "aspect": 4.0, "n": 4, "prompt": 2100}
    if model == "wan2.5-t2i-preview":
        return {"area": (768 * 768, 1440 * 1440), "aspect": 4.0, "n": 4, "prompt": 2000,
                "async": True}
    if model in ("wan2.2-t2i-plus", "wan2.2-t2i-flash", "wanx2.1-t2i-turbo", "wanx2.1-t2i-plus"):
        return {"sides": (512, 1440), "max_px": 2_000_000, "n": 4, "prompt": 800, "async": True}
    if model in ("wan2.7-image", "wan2.6-image"):
        return {"tiers": {"1K", "2K"}, "n": 4, "prompt": 5000 if "2.7" in model else 2000}
    if model == "wan2.7-image-pro":
        return {"tiers": {"1K", "2K", "4K"}, "n": 4, "prompt": 5000}
    if model in ("qwen-image", "qwen-image-plus"):
        return {"fixed": QWEN_IMAGE_SIZES, "n": 1, "prompt": 800}
    if model in ("qwen-image-2.0", "qwen-image-2.0-pro"):
        return {"sides": (512, 2688), "max_px": 2048 * 2048, "n": 1, "prompt": 800}
    if model in ("qwen-image-edit-plus", "qwen-image-edit-max"):
        return {"sides": (512, 2048), "max_px": 2048 * 2048, "n": 1, "prompt": 800}
    return None


def check_image_params(model: str, size: Any, n: Any, prompt: str) -> tuple[int, int]:
    """400 InvalidParameter for anything the model refuses; the pixel size to draw."""
    r = image_rules(model)
    if r is None:
        raise ApiError(404, "Model.NotExist", f"Model {model} not exist.")
    if not isinstance(n, int) or not 1 <= n <= r["n"]:
        raise ApiError(400, "InvalidParameter", f"n must be in [1, {r['n']}] for {model}")
    if len(prompt) > r["prompt"]:
        raise ApiError(400, "InvalidParameter",
                       f"Range of input length should be [1, {r['prompt']}]")
    if "tiers" in r:
        if size not in r["tiers"]:
            raise ApiError(400, "InvalidParameter", f"The size {size} is not supported")
        return {"1K": (1024, 1024), "2K": (2048, 2048)}.get(size, (4096, 4096))
    if "fixed" in r and size not in r["fixed"]:
        raise ApiError(400, "InvalidParameter", f"The size {size} is not supported")
    try:
        w, h = (int(x) for x in str(size).split("*"))
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"bad size {size!r}") from None
    if "area" in r:
        lo, hi = r["area"]
        if not lo <= w * h <= hi or max(w / h, h / w) > r["aspect"]:
            raise ApiError(400, "InvalidParameter",
                           f"The size {size} is not match: total pixels must be in "
                           f"[{lo}, {hi}] and aspect in [1:4, 4:1]")
    if "sides" in r:
        lo, hi = r["sides"]
        if not (lo <= w <= hi and lo <= h <= hi) or w * h > r["max_px"]:
            raise ApiError(400, "InvalidParameter", f"The size {size} is not match")
    return w, h


COSY_VOICES = {
    "v3": {"longanyang", "longanhuan", "longyingjing_v3", "longanhuan_v3.6", "longxiaochun_v3",
           "longwan_v3", "longcheng_v3", "longhua_v3", "longshu_v3", "loongbella_v3"},
    "v2": {"longxiaochun_v2", "longwan_v2", "longcheng_v2", "longhua_v2", "longshu_v2",
           "loongbella_v2", "longxiaoxia_v2", "longyue_v2"},
}
QWEN_TTS_VOICES = {"Cherry", "Serena", "Ethan", "Chelsie", "Momo", "Vivian", "Moon", "Maia",
                   "Kai", "Nofish", "Bella", "Jennifer", "Ryan", "Katerina", "Elias"}
CHAT_CONTEXT = {"qwen-plus": 131072, "qwen-max": 32768, "qwen3-max": 262144,
                "qwen3.5-omni-plus": 65536, "qwen3-omni-flash": 65536, "qwen-omni-turbo": 32768}


MODALITY = {"image_url": "image", "image": "image", "video_url": "video", "video": "video",
            "input_audio": "audio", "audio": "audio"}


def cjk2(text: str) -> int:
    return sum(2 if "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1
               for ch in text)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Task:
    id: str
    model: str
    kind: str
    family: str
    prompt: str
    duration: int
    resolution: str
    ratio: str | None
    fingerprint: str
    created: float
    pending_s: float
    running_s: float
    outcome: str = "SUCCEEDED"  # SUCCEEDED | FAILED | DataInspectionFailed | UNKNOWN | Invalid
    fail_code: str = ""
    fail_message: str = ""
    media: list[dict[str, Any]] = field(default_factory=list)
    file: Path | None = None
    billed: bool = False
    expired: bool = False
    submitted_at: float = field(default_factory=time.time)  # wall clock, for GET /tasks
    seen_done: float | None = None  # monotonic time of the first poll that saw it end


def _audio_probe(path: Path) -> tuple[str | None, float | None]:
    """(container format as ffmpeg names it, seconds) of an uploaded audio file."""
    import re
    import subprocess

    import imageio_ffmpeg

    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i",
                          str(path)], capture_output=True, text=True, errors="replace",
                         stdin=subprocess.DEVNULL).stderr
    fm = re.search(r"Input #0, ([\w,]+), from", err)
    dm = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", err)
    secs = int(dm[1]) * 3600 + int(dm[2]) * 60 + float(dm[3]) if dm else None
    return (fm[1].split(",")[0] if fm else None), secs


class FakeDashScope:
    """Server state, counters and fault knobs. Attributes are safe to poke from tests."""

    def __init__(self, root: Path, api_key: str = FAKE_KEY):
        self.root = Path(root)
        self.api_key = api_key
        self.origin = ""  # http://127.0.0.1:<port>, set when the server starts
        self.lock = threading.RLock()
        self.reset()

    # ---------------------------------------------------------------- knobs / counters
    def reset(self) -> None:
        with self.lock:
            self.tasks: dict[str, Task] = {}
            self.submissions: collections.Counter[str] = collections.Counter()  # fingerprint
            self.submit_requests = 0
            self.list_calls = 0
            self.list_hides = False  # GET /tasks answers an empty list (lagging index)
            self.list_tz_hours = 0  # GET /tasks reads start_time/end_time as UTC+N (8: Beijing)
            self.polls: collections.Counter[str] = collections.Counter()  # task id
            self.uploads: dict[str, dict[str, Any]] = {}  # oss key -> {model, path, size}
            self.reference_voices: list[dict[str, Any]] = []  # every accepted reference_voice
            self.policies = 0
            self.chat_calls: list[dict[str, Any]] = []
            self.tts_calls: list[dict[str, Any]] = []
            self.image_calls: list[dict[str, Any]] = []
            self.image_inputs: list[dict[str, Any]] = []  # per sync image call: images, text
            self.image_tasks: dict[str, tuple[float, int, int, str]] = {}
            self.downloads: collections.Counter[str] = collections.Counter()
            self.auth_leaks: list[str] = []  # Authorization header sent to the OSS hosts
            self.bill: list[dict[str, Any]] = []
            self.served_sha256: dict[str, str] = {}  # sha256 -> task id
            self.peak_running: collections.Counter[str] = collections.Counter()
            self.truncated: list[str] = []
            self.requests_log: list[tuple[str, str, int]] = []
            # fault injection
            self.pending_s = 0.05
            self.running_s = 0.15
            self.submit_faults: collections.deque[tuple[int, str, str]] = collections.deque()
            self.poll_faults: collections.deque[tuple[int, str, str]] = collections.deque()
            self.chat_faults: collections.deque[tuple[int, str, str]] = collections.deque()
            self.task_outcomes: collections.deque[str] = collections.deque()
            self.reject_words: set[str] = set()  # DataInspectionFailed at submit
            self.output_reject_words: set[str] = set()  # ... and as a FAILED task
            self.concurrency_limit: int | None = None  # 429 Throttling.RateQuota beyond it
            self.hang_submit_s = 0.0  # create the task, then answer only after this long
            self.hang_submits = 0  # how many submits hang
            self.review_answers: collections.deque[str] = collections.deque()
            self.text_answers: collections.deque[str] = collections.deque()
            self.identity_answers: collections.deque[str] = collections.deque()
            # (texts, json_mode) -> answer or None: answers role prompts from their content
            self.text_responder: Any = None
            self.expire_urls = False
            self.truncate_downloads = 0  # the next N result downloads are cut short
            self.expire_next_urls = 0  # the next N result URLs handed out are already expired
            self.fail_every = 0  # every Nth created task ends FAILED (InternalError)
            self.submit_500_every = 0  # every Nth submit request is answered 500
            self.tasks_created = 0

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1"

    @property
    def compatible_base_url(self) -> str:
        return f"{self.origin}/compatible-mode/v1"

    @property
    def bill_total(self) -> float:
        return round(sum(b["cost"] for b in self.bill), 4)

    @property
    def total_submissions(self) -> int:
        return sum(self.submissions.values())

    def paid_duplicates(self) -> dict[str, int]:
        """Requests (by fingerprint) that created more than one task that is billed or would
        be (succeeded, not expired): work paid for twice. A FAILED or expired task is not
        billed, so trying it again is not a duplicate."""
        with self.lock:
            n = collections.Counter(t.fingerprint for t in self.tasks.values()
                                    if t.billed or (t.outcome == "SUCCEEDED"
                                                    and not t.expired))
        return {fp: c for fp, c in n.items() if c > 1}

    def expire(self, task_id: str) -> None:
        with self.lock:
            self.tasks[task_id].expired = True

    def running_count(self, model: str) -> int:
        now = time.monotonic()
        return sum(1 for t in self.tasks.values() if t.model == model and not t.expired
                   and now - t.created < t.pending_s + t.running_s)

    # ---------------------------------------------------------------- helpers
    def check_auth(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] != self.api_key:
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")

    def file_url(self, name: str) -> str:
        expired = self.expire_urls
        with self.lock:
            if self.expire_next_urls > 0:
                self.expire_next_urls -= 1
                expired = True
        exp = int(time.time()) + (-10 if expired else 86400)
        return (f"{self.origin}/result/{name}?Expires={exp}&OSSAccessKeyId=fake"
                f"&Signature={hashlib.md5(name.encode()).hexdigest()}")

    def check_media_url(self, url: Any, request: Request, model: str, what: str) -> str:
        if not isinstance(url, str) or not url:
            raise ApiError(400, "InvalidParameter", f"{what}: url is required")
        if url.startswith("oss://"):
            if request.headers.get("x-dashscope-ossresourceresolve", "").lower() != "enable":
                raise ApiError(400, "InvalidParameter",
                               f"{what}: oss:// URLs need X-DashScope-OssResourceResolve: enable")
            up = self.uploads.get(url[len("oss://"):])
            if up is None:
                raise ApiError(400, "InvalidParameter", f"{what}: unknown oss object {url}")
            if up["model"] != model:
                raise ApiError(400, "InvalidParameter",
                               f"{what}: the file was uploaded for {up['model']}, not {model}")
            return "oss"
        if url.startswith("data:"):
            try:
                head, b64 = url.split(",", 1)
                base64.b64decode(b64, validate=True)
            except Exception as e:  # noqa: BLE001
                raise ApiError(400, "InvalidParameter", f"{what}: bad data URI") from e
            return "data"
        if url.startswith(("http://", "https://")):
            return "http"
        raise ApiError(400, "InvalidURL", f"{what}: unsupported URL scheme in {url[:40]!r}")

    def check_reference_voice(self, item: dict[str, Any], request: Request, model: str,
                              kind: str, fam: str, what: str) -> None:
        """wan2.7-r2v `media[].reference_voice`, as its page (docs/.../dashscope.md 1.8) puts it:
        optional, per reference image or reference video; wav/mp3, 1-10 s, <= 15 MB; audio is
        a URL or oss:// (not documented as a data URI). Anything else: 400 InvalidParameter
        at submit. Written from the page's text, not from the client's tables."""
        if fam != "wan2.7" or kind != "r2v":
            raise ApiError(400, "InvalidParameter",
                           f"{what}.reference_voice is not supported by {model}")
        if item.get("type") not in ("reference_image", "reference_video"):
            raise ApiError(400, "InvalidParameter", f"{what}.reference_voice is only allowed "
                           "on reference_image or reference_video")
        url = item["reference_voice"]
        if isinstance(url, str) and url.startswith("data:"):
            raise ApiError(400, "InvalidParameter",
                           f"{what}.reference_voice: audio must be a URL or oss:// path")
        self.check_media_url(url, request, model, f"{what}.reference_voice")
        if not url.startswith("oss://"):
            return  # a public URL: not fetched here
        up = self.uploads[url[len("oss://"):]]
        path: Path = up["path"]
        if up["size"] > 15 * 1024 * 1024:
            raise ApiError(400, "InvalidParameter",
                           f"{what}.reference_voice: file size exceeds 15MB")
        fmt, secs = _audio_probe(path)
        if fmt not in ("wav", "mp3") or path.suffix.lower() not in (".wav", ".mp3"):
            raise ApiError(400, "InvalidParameter", f"{what}.reference_voice: unsupported "
                           "audio format, wav or mp3 required")
        if secs is None or not 1 <= secs <= 10:
            raise ApiError(400, "InvalidParameter", f"{what}.reference_voice: audio duration "
                           f"{secs}s is out of range [1, 10]")
        with self.lock:
            self.reference_voices.append({"model": model, "item": item.get("type"),
                                          "url": url, "seconds": secs, "path": path})

    # ---------------------------------------------------------------- video
    def submit(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.check_auth(request)
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise ApiError(400, "AccessDenied",
                           "current user api does not support synchronous calls")
        model = body.get("model")
        if not model:
            raise ApiError(400, "BadRequest.EmptyModel", "Required parameter(model) missing")
        rules = model_rules(model)
        if rules is None:
            raise ApiError(404, "Model.NotExist", f"Model {model} not exist.")
        inp = body.get("input") or {}
        params = body.get("parameters") or {}
        prompt = inp.get("prompt") or ""
        if not prompt and rules["kind"] == "t2v":
            raise ApiError(400, "BadRequest.EmptyInput", "Required input.prompt missing")
        kind, fam = rules["kind"], rules["family"]
        media: list[dict[str, Any]] = []
        if rules["protocol"] == "media":
            for k in ("img_url", "reference_urls", "size"):
                if k in inp or k in params:
                    raise ApiError(400, "InvalidParameter", f"{model} does not take {k}")
            media = list(inp.get("media") or [])
            types = [m.get("type") for m in media]
            for i, m in enumerate(media):
                self.check_media_url(m.get("url"), request, model, f"media[{i}]")
                if "reference_voice" in m:
                    self.check_reference_voice(m, request, model, kind, fam, f"media[{i}]")
            if fam == "happyhorse":
                if "audio" in params:
                    raise ApiError(400, "InvalidParameter", "parameter audio is not supported")
                ok = {"t2v": types == [],
                      "i2v": types == ["first_frame"],
                      "r2v": 1 <= len(types) <= 9 and set(types) == {"reference_image"}}[kind]
                if kind == "i2v" and "ratio" in params:
                    raise ApiError(400, "InvalidParameter", "ratio is not supported for i2v")
            else:  # wan2.7
                c = collections.Counter(types)
                if kind == "t2v":
                    ok = not types
                elif kind == "i2v":
                    ok = max(c.values(), default=0) <= 1 and frozenset(c) in {
                        frozenset({"first_frame"}), frozenset({"first_frame", "driving_audio"}),
                        frozenset({"first_frame", "last_frame"}),
                        frozenset({"first_frame", "last_frame", "driving_audio"}),
                        frozenset({"first_clip"}), frozenset({"first_clip", "last_frame"})}
                else:
                    refs = c["reference_image"] + c["reference_video"]
                    ok = (1 <= refs <= 5 and c["first_frame"] <= 1
                          and set(c) <= {"reference_image", "reference_video", "first_frame"})
            if not ok:
                raise ApiError(400, "InvalidParameter",
                               f"{model}: illegal media combination {types}")
            ratio = params.get("ratio") or (None if kind == "i2v" else "16:9")
            if rules["ratios"] is not None and ratio not in rules["ratios"]:
                raise ApiError(400, "InvalidParameter",
                               f"The ratio {ratio} is not supported by {model}; it takes "
                               f"{', '.join(sorted(rules['ratios']))}")
            resolution = params.get("resolution", "1080P")
        else:  # legacy wan2.6
            if "media" in inp:
                raise ApiError(400, "InvalidParameter", f"{model} does not take input.media")
            if kind == "i2v":
                self.check_media_url(inp.get("img_url"), request, model, "img_url")
                media = [{"type": "first_frame", "url": inp["img_url"]}]
                resolution, ratio = params.get("resolution", "1080P"), None
            else:
                if kind == "r2v":
                    refs = inp.get("reference_urls") or []
                    if not 1 <= len(refs) <= 5:
                        raise ApiError(400, "InvalidParameter", "reference_urls: 1-5 items")
                    for i, u in enumerate(refs):
                        self.check_media_url(u, request, model, f"reference_urls[{i}]")
                    media = [{"type": "reference", "url": u} for u in refs]
                size = params.get("size", "1920*1080")
                try:
                    w, h = (int(x) for x in size.split("*"))
                except ValueError:
                    raise ApiError(400, "InvalidParameter", f"bad size {size!r}") from None
                tiers: dict[str, dict[str, str]] = rules["sizes"] or {}
                found = [(r, a) for r, by_ratio in tiers.items() for a, sz in by_ratio.items()
                         if sz == f"{w}*{h}"]
                if not found:
                    raise ApiError(400, "InvalidParameter",
                                   f"The size is not match: {size} is not one of "
                                   + ", ".join(sz for v in tiers.values() for sz in v.values()))
                resolution, ratio = found[0]
        if any(w in prompt for w in self.reject_words):
            raise ApiError(400, "DataInspectionFailed",
                           "Input data may contain inappropriate content.")
        if len(prompt) > rules["prompt_max"]:  # silently truncated, as the real service does
            self.truncated.append(model)
            prompt = prompt[: rules["prompt_max"]]
        with self.lock:
            self.submit_requests += 1
            if self.submit_faults:
                status, code, msg = self.submit_faults.popleft()
                raise ApiError(status, code, msg)
            if self.submit_500_every and self.submit_requests % self.submit_500_every == 0:
                raise ApiError(500, "InternalError", "An internal error has occured, please "
                               "try again later.")
            if self.concurrency_limit is not None and \
                    self.running_count(model) >= self.concurrency_limit:
                raise ApiError(429, "Throttling.RateQuota", "Requests rate limit exceeded, "
                               "please try again later.")
            fp = hashlib.sha256(json.dumps(
                [model, inp.get("prompt"), params.get("seed"), params.get("duration")],
                sort_keys=True).encode()).hexdigest()[:16]
            self.submissions[fp] += 1
            dur = params.get("duration", 5)
            tid = str(uuid.uuid4())
            task = Task(id=tid, model=model, kind=kind, family=fam, prompt=prompt,
                        duration=dur if isinstance(dur, int) else -1,
                        resolution=str(resolution).upper(), ratio=ratio, fingerprint=fp,
                        created=time.monotonic(), pending_s=self.pending_s,
                        running_s=self.running_s, media=media)
            lo, hi = rules["dur"]
            if not (isinstance(dur, int) and lo <= dur <= hi):
                task.outcome, task.fail_code = "Invalid", "InvalidParameter"
                task.fail_message = f"The duration {dur} is not in [{lo}, {hi}] for {model}"
            elif task.resolution not in rules["res"]:
                task.outcome, task.fail_code = "Invalid", "InvalidParameter"
                task.fail_message = f"The resolution {resolution} is not supported by {model}"
            elif any(w in prompt for w in self.output_reject_words):
                task.outcome, task.fail_code = "FAILED", "DataInspectionFailed"
                task.fail_message = "Output data may contain inappropriate content."
            elif self.fail_every and (self.tasks_created + 1) % self.fail_every == 0:
                task.outcome, task.fail_code = "FAILED", "InternalError"
                task.fail_message = "Task failed for an internal error, please retry."
            elif self.task_outcomes:
                o = self.task_outcomes.popleft()
                if o == "slow":
                    task.running_s = max(task.running_s, 3.0)
                elif o == "FAILED":
                    task.outcome, task.fail_code = "FAILED", "InternalError"
                    task.fail_message = "Task failed for an internal error, please retry."
                elif o == "DataInspectionFailed":
                    task.outcome, task.fail_code = "FAILED", "DataInspectionFailed"
                    task.fail_message = "Output data may contain inappropriate content."
                elif o == "UNKNOWN":
                    task.expired = True
            self.tasks[tid] = task
            self.tasks_created += 1
            self.peak_running[model] = max(self.peak_running[model], self.running_count(model))
        return {"request_id": str(uuid.uuid4()),
                "output": {"task_id": tid, "task_status": "PENDING"}}

    def make_video(self, task: Task) -> Path:
        out = self.root / "results" / f"{task.id}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
        w, h = canvas_size(task.resolution, task.ratio or "16:9")
        w, h = max(64, (w // 4) // 2 * 2), max(64, (h // 4) // 2 * 2)
        d = task.duration
        run(["-y", "-f", "lavfi", "-i", f"testsrc=size={w}x{h}:rate=24:duration={d}",
             "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=24000:duration={d}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             "-shortest", "-metadata", f"title=fake-dashscope:{task.id}", str(out)],
            what="making a fake result video")
        self.served_sha256[hashlib.sha256(out.read_bytes()).hexdigest()] = task.id
        return out

    def poll(self, request: Request, task_id: str) -> dict[str, Any]:
        self.check_auth(request)
        with self.lock:
            self.polls[task_id] += 1
            if self.poll_faults:
                status, code, msg = self.poll_faults.popleft()
                raise ApiError(status, code, msg)
            task = self.tasks.get(task_id)
            rid = str(uuid.uuid4())
            itask = self.image_tasks.get(task_id)
        if itask is not None:
            t0, w, h, model = itask
            if time.monotonic() - t0 < self.pending_s + self.running_s:
                return {"request_id": rid, "output": {"task_id": task_id,
                                                      "task_status": "RUNNING"}}
            ans = self.image_answer(w, h, lambda url: {"output": {
                "task_id": task_id, "task_status": "SUCCEEDED", "results": [{"url": url}]}})
            return ans
        with self.lock:
            if task is None or task.expired:
                return {"request_id": rid, "output": {"task_id": task_id,
                                                      "task_status": "UNKNOWN"}}
            age = time.monotonic() - task.created
        if age < task.pending_s:
            status = "PENDING"
        elif age < task.pending_s + task.running_s:
            status = "RUNNING"
        else:
            status = "SUCCEEDED" if task.outcome == "SUCCEEDED" else "FAILED"
            with self.lock:
                task.seen_done = task.seen_done or time.monotonic()
        out: dict[str, Any] = {"task_id": task_id, "task_status": status,
                               "submit_time": "2026-01-01 00:00:00.000"}
        body: dict[str, Any] = {"request_id": rid, "output": out}
        if status == "FAILED":
            out.update(code=task.fail_code, message=task.fail_message)
        if status == "SUCCEEDED":
            with self.lock:
                if task.file is None:
                    task.file = self.make_video(task)
                if not task.billed:
                    task.billed = True
                    price = price_table()[task.model] if task.model in price_table() else None
                    unit = None
                    if price:
                        unit = next((p.price for p in price.prices
                                     if p.type == video_price_type(task.resolution)), None)
                    self.bill.append({"task_id": task.id, "model": task.model,
                                      "resolution": task.resolution, "seconds": task.duration,
                                      "cost": round((unit or 0.0) * task.duration, 4)})
            out.update(end_time="2026-01-01 00:01:00.000", orig_prompt=task.prompt,
                       video_url=self.file_url(task.file.name))
            sr = int(task.resolution.rstrip("P"))
            usage: dict[str, Any] = {"duration": task.duration, "input_video_duration": 0,
                                     "output_video_duration": task.duration,
                                     "video_count": 1, "SR": sr}
            if task.family == "happyhorse" or (task.family == "wan2.7" and task.kind == "r2v"):
                usage["ratio"] = task.ratio or "16:9"
            body["usage"] = usage
        return body

    def list_tasks(self, request: Request) -> dict[str, Any]:
        """GET /tasks: the account's tasks submitted between start_time and end_time
        (YYYYMMDDhhmmss, UTC), optionally filtered by model_name and status, paged."""
        self.check_auth(request)
        q = request.query_params

        def ts(name: str, default: float) -> float:
            raw = q.get(name)
            if not raw:
                return default
            try:
                return (calendar.timegm(time.strptime(raw, "%Y%m%d%H%M%S"))
                        - self.list_tz_hours * 3600)
            except ValueError:
                raise ApiError(400, "InvalidParameter", f"{name} must be YYYYMMDDhhmmss") \
                    from None

        now = time.time()
        lo, hi = ts("start_time", now - 86400), ts("end_time", now)
        page_no = max(1, int(q.get("page_no", "1")))
        page_size = min(100, max(1, int(q.get("page_size", "10"))))
        with self.lock:
            self.list_calls += 1
            rows = []
            for t in sorted(self.tasks.values(), key=lambda t: t.submitted_at):
                if self.list_hides:
                    break
                if not lo <= int(t.submitted_at) <= hi or t.expired:
                    continue
                if q.get("model_name") and t.model != q["model_name"]:
                    continue
                age = time.monotonic() - t.created
                status = ("PENDING" if age < t.pending_s else "RUNNING"
                          if age < t.pending_s + t.running_s else
                          "SUCCEEDED" if t.outcome == "SUCCEEDED" else "FAILED")
                if q.get("status") and status != q["status"]:
                    continue
                rows.append({"task_id": t.id, "status": status, "model_name": t.model,
                             "request_id": t.id[:8],
                             "gmt_create": int(t.submitted_at * 1000),
                             "submit_time": time.strftime("%Y-%m-%d %H:%M:%S",
                                                          time.gmtime(t.submitted_at))})
        page = rows[(page_no - 1) * page_size: page_no * page_size]
        return {"request_id": str(uuid.uuid4()), "data": page, "total": len(rows),
                "total_page": (len(rows) + page_size - 1) // page_size, "page_no": page_no,
                "page_size": page_size}

    # ---------------------------------------------------------------- uploads
    def policy(self, request: Request) -> dict[str, Any]:
        self.check_auth(request)
        if request.query_params.get("action") != "getPolicy":
            raise ApiError(400, "InvalidParameter", "action must be getPolicy")
        model = request.query_params.get("model")
        if not model:
            raise ApiError(400, "InvalidParameter", "model is required")
        upload_dir = f"dashscope-instant/{hashlib.md5(model.encode()).hexdigest()[:12]}/" \
                     f"{time.strftime('%Y-%m-%d')}/{uuid.uuid4().hex[:8]}"
        policy = base64.b64encode(json.dumps({"model": model, "dir": upload_dir}).encode())
        with self.lock:
            self.policies += 1
        return {"request_id": str(uuid.uuid4()), "data": {
            "policy": policy.decode(), "signature": "fake-signature",
            "upload_dir": upload_dir, "upload_host": f"{self.origin}/oss-upload",
            "expire_in_seconds": 300, "max_file_size_mb": 1024, "capacity_limit_mb": 999999,
            "oss_access_key_id": "LTAI-fake", "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true"}}

    async def oss_upload(self, request: Request) -> Response:
        if request.headers.get("authorization"):
            self.auth_leaks.append("upload")
        form = await request.form()
        need = ("OSSAccessKeyId", "Signature", "policy", "key", "x-oss-object-acl",
                "x-oss-forbid-overwrite", "success_action_status", "file")
        missing = [k for k in need if k not in form]
        if missing:
            return Response(f"<Error><Code>InvalidArgument</Code><Message>missing {missing}"
                            "</Message></Error>", status_code=400)
        pol = json.loads(base64.b64decode(str(form["policy"])))
        key = str(form["key"])
        if not key.startswith(pol["dir"] + "/"):
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403)
        if key in self.uploads:
            return Response("<Error><Code>FileAlreadyExists</Code></Error>", status_code=409)
        data = await form["file"].read()  # type: ignore[union-attr]
        dest = self.root / "oss" / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        with self.lock:
            self.uploads[key] = {"model": pol["model"], "path": dest, "size": len(data)}
        return Response(status_code=int(str(form["success_action_status"])))

    # ---------------------------------------------------------------- chat
    def chat_answer(self, request: Request, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.check_auth(request)
        model = body.get("model")
        if not model:
            raise ApiError(400, "invalid_request_error", "model is required")
        stream = bool(body.get("stream"))
        if "omni" in model and not stream:
            raise ApiError(400, "InvalidParameter",
                           "This model only support stream mode, please enable the stream "
                           "parameter to access the model.")
        msgs = body.get("messages") or []
        texts, n_images, video, video_file = [], 0, None, None
        per_message = (PAGES.get(model) or {}).get("modalities_per_message")
        for m in msgs:
            c = m.get("content")
            if isinstance(c, str):
                texts.append(c)
                continue
            kinds = {MODALITY.get(str(part.get("type")), str(part.get("type")))
                     for part in c or [] if isinstance(part, dict) and part.get("type") != "text"}
            if per_message is not None and len(kinds) > per_message:
                raise ApiError(400, "InvalidParameter",
                               f"{model} accepts text combined with a single additional "
                               f"modality per message; got {', '.join(sorted(kinds))}")
            for part in c or []:
                t = part.get("type")
                if t == "text":
                    texts.append(part.get("text", ""))
                elif t == "image_url":
                    n_images += 1
                    self.check_media_url((part.get("image_url") or {}).get("url"), request,
                                         model, "image_url")
                elif t == "video_url":
                    url = (part.get("video_url") or {}).get("url")
                    video = self.check_media_url(url, request, model, "video_url")
                    if url.startswith("oss://"):
                        video_file = self.uploads[url[6:]]["path"]
        limit = CHAT_CONTEXT.get(model)
        if limit and sum(len(t) for t in texts) // 4 > limit:
            raise ApiError(400, "InvalidParameter", f"Range of input length should be "
                           f"[1, {limit}]")
        rf = (body.get("response_format") or {}).get("type")
        if rf == "json_object" and "json" not in " ".join(texts).lower():
            raise ApiError(400, "InvalidParameter", "'messages' must contain the word 'json' "
                           "in some form, to use 'response_format' of type 'json_object'.")
        with self.lock:
            if self.chat_faults:
                status, code, msg = self.chat_faults.popleft()
                raise ApiError(status, code, msg)
            call = {"model": model, "stream": stream, "video": video, "images": n_images,
                    "json_mode": rf == "json_object", "texts": texts}
            if video:
                call["video_sha256"] = hashlib.sha256(video_file.read_bytes()).hexdigest() \
                    if video == "oss" and video_file else None
                answer = self.review_answers.popleft() if self.review_answers else json.dumps(
                    {"breakdown": {"logic": 8, "proportion": 8, "physics": 8, "style": 8,
                                   "cast_match": 8, "dialog_attribution": 9},
                     "verdict": "ACCEPT", "critique": "0:01 steady framing; fake review."})
            elif n_images and any("cast_match" in t for t in texts):  # identity check
                answer = self.identity_answers.popleft() if self.identity_answers else \
                    json.dumps({"cast_match": 8, "critique": "0:00 faces match; fake check."})
            else:
                answer = None
                if self.text_answers:
                    answer = self.text_answers.popleft()
                elif self.text_responder is not None:
                    answer = self.text_responder(texts, rf == "json_object")
                if answer is None:
                    answer = '{"ok": true}' if rf == "json_object" else "fake answer"
            self.chat_calls.append(call)
        pin = sum(len(t) for t in texts) // 4 + 100 * n_images + (1000 if video else 0)
        usage = {"prompt_tokens": pin, "completion_tokens": max(1, len(answer) // 4),
                 "total_tokens": pin + max(1, len(answer) // 4)}
        return answer, usage

    # ---------------------------------------------------------------- tts / images
    def make_audio(self, seconds: float, fmt: str) -> Path:
        name = f"{uuid.uuid4().hex}.{fmt}"
        out = self.root / "results" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        run(["-y", "-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=24000:"
             f"duration={seconds:.2f}", str(out)], what="making fake audio")
        return out

    def tts(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.check_auth(request)
        model = body.get("model", "")
        inp = body.get("input") or {}
        text = inp.get("text") or ""
        if not text:
            raise ApiError(400, "BadRequest.EmptyInput", "input.text is required")
        if not model.startswith("cosyvoice"):
            raise ApiError(404, "Model.NotExist", f"Model {model} not exist.")
        if model not in ("cosyvoice-v3-flash", "cosyvoice-v3-plus", "cosyvoice-v2"):
            raise ApiError(404, "Model.NotExist", f"Model {model} not exist.")
        voice = inp.get("voice") or ""
        gen = "v2" if model == "cosyvoice-v2" else "v3"
        if voice not in COSY_VOICES[gen] and not voice.startswith("cosyvoice-"):
            raise ApiError(400, "InvalidParameter", f"voice {voice!r} is not supported by "
                           f"{model}")
        limit = PAGES[model]["text_max"]
        if cjk2(text) > limit:
            raise ApiError(400, "InvalidParameter", f"Range of input length should be [1, "
                           f"{limit}] (Chinese characters count 2)")
        fmt = inp.get("format", "mp3")
        rate = float(inp.get("rate", 1.0))
        if not 0.5 <= rate <= 2.0:
            raise ApiError(400, "InvalidParameter", "rate must be in [0.5, 2.0]")
        chars = cjk2(text)
        f = self.make_audio(max(0.5, len(text) / 15 / rate), fmt)
        self.tts_calls.append({"model": model, "voice": inp.get("voice"), "rate": rate,
                               "format": fmt, "chars": chars})
        return {"request_id": str(uuid.uuid4()), "output": {
            "finish_reason": "stop", "audio": {"url": self.file_url(f.name), "id": f.stem,
                                               "expires_at": int(time.time()) + 86400}},
            "usage": {"characters": chars}}

    def multimodal(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        self.check_auth(request)
        model = body.get("model", "")
        inp = body.get("input") or {}
        if "tts" in model:
            text = inp.get("text") or ""
            if not text:
                raise ApiError(400, "BadRequest.EmptyInput", "input.text is required")
            if model not in ("qwen3-tts-flash", "qwen-tts"):
                raise ApiError(404, "Model.NotExist", f"Model {model} not exist.")
            if inp.get("voice") not in QWEN_TTS_VOICES:
                raise ApiError(400, "InvalidParameter", f"voice {inp.get('voice')!r} is not "
                               f"supported by {model}")
            if len(text) > 600:
                raise ApiError(400, "InvalidParameter",
                               "Range of input length should be [1, 600]")
            f = self.make_audio(max(0.5, len(text) / 15), "wav")
            self.tts_calls.append({"model": model, "voice": inp.get("voice"), "chars": len(text)})
            return {"request_id": str(uuid.uuid4()), "output": {"finish_reason": "stop", "audio": {
                "url": self.file_url(f.name), "id": f.stem,
                "expires_at": int(time.time()) + 86400}},
                "usage": {"characters": len(text)}}
        msgs = inp.get("messages")
        if not msgs:
            raise ApiError(400, "InvalidParameter", "Either prompt or messages must exist")
        params = body.get("parameters") or {}
        size = params.get("size", "1024*1024")
        if image_rules(model) and image_rules(model).get("async"):  # type: ignore[union-attr]
            raise ApiError(400, "InvalidParameter", f"{model} is served by "
                           "text2image/image-synthesis")
        prompt = "".join(p.get("text", "") for m in msgs for p in (m.get("content") or [])
                         if isinstance(p, dict))
        w, h = check_image_params(model, size, params.get("n", 1), prompt)
        parts = [p for m in msgs for p in (m.get("content") or []) if isinstance(p, dict)]
        for p in parts:
            if "image" in p:
                self.check_media_url(p["image"], request, model, "image")
        self.image_calls.append({"model": model, "size": size})
        self.image_inputs.append({"images": sum(1 for p in parts if "image" in p),
                                  "text": " ".join(p.get("text", "") for p in parts)})
        return self.image_answer(w, h, lambda url: {"output": {"choices": [{
            "finish_reason": "stop", "message": {"role": "assistant", "content": [
                {"image": url}]}}]}})

    def image_file(self, w: int, h: int) -> str:
        scale = min(1.0, 512 / max(w, h))
        from PIL import Image

        im = Image.new("RGB", (max(16, int(w * scale)), max(16, int(h * scale))),
                       (200, 40, 160))
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        name = f"{uuid.uuid4().hex}.png"
        (self.root / "results").mkdir(parents=True, exist_ok=True)
        (self.root / "results" / name).write_bytes(buf.getvalue())
        return name

    def image_answer(self, w: int, h: int, shape: Any) -> dict[str, Any]:
        body = shape(self.file_url(self.image_file(w, h)))
        body.update(request_id=str(uuid.uuid4()),
                    usage={"image_count": 1, "width": w, "height": h})
        return body

    def t2i_submit(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        """Async text2image/image-synthesis (wan2.5 / wan2.2 / wanx2.1 t2i)."""
        self.check_auth(request)
        if request.headers.get("x-dashscope-async", "").lower() != "enable":
            raise ApiError(400, "AccessDenied",
                           "current user api does not support synchronous calls")
        model = body.get("model", "")
        r = image_rules(model)
        if r is None or not r.get("async"):
            raise ApiError(400, "InvalidParameter", f"{model} is not an image-synthesis model")
        params = body.get("parameters") or {}
        prompt = (body.get("input") or {}).get("prompt") or ""
        if not prompt:
            raise ApiError(400, "BadRequest.EmptyInput", "Required input.prompt missing")
        w, h = check_image_params(model, params.get("size", "1024*1024"), params.get("n", 1),
                                  prompt)
        with self.lock:
            tid = str(uuid.uuid4())
            self.image_calls.append({"model": model, "size": params.get("size", "1024*1024")})
            self.image_tasks[tid] = (time.monotonic(), w, h, model)
        return {"request_id": str(uuid.uuid4()),
                "output": {"task_id": tid, "task_status": "PENDING"}}

    # ---------------------------------------------------------------- ASGI app
    def app(self) -> Starlette:
        def err(e: ApiError, compat: bool = False) -> JSONResponse:
            if compat:
                return JSONResponse({"error": {"code": e.code, "message": e.message,
                                               "type": e.code}, "request_id": "fake"},
                                    status_code=e.status)
            return JSONResponse({"code": e.code, "message": e.message,
                                 "request_id": str(uuid.uuid4())}, status_code=e.status)

        async def body_of(request: Request) -> dict[str, Any]:
            try:
                b = await request.json()
            except Exception:  # noqa: BLE001
                raise ApiError(400, "InvalidParameter", "body is not JSON") from None
            if not isinstance(b, dict):
                raise ApiError(400, "InvalidParameter", "body must be an object")
            return b

        async def video(request: Request) -> Response:
            try:
                b = await body_of(request)
                with self.lock:
                    hang = self.hang_submits > 0
                    if hang:
                        self.hang_submits -= 1
                ans = await run_in_threadpool(self.submit, request, b)
                if hang:
                    await asyncio.sleep(self.hang_submit_s)
                return JSONResponse(ans)
            except ApiError as e:
                return err(e)

        async def kf2v(request: Request) -> Response:
            try:
                self.check_auth(request)
                raise ApiError(404, "Model.NotExist", "kf2v models are not simulated")
            except ApiError as e:
                return err(e)

        async def task(request: Request) -> Response:
            try:
                return JSONResponse(await run_in_threadpool(
                    self.poll, request, request.path_params["task_id"]))
            except ApiError as e:
                return err(e)

        async def task_list(request: Request) -> Response:
            try:
                return JSONResponse(await run_in_threadpool(self.list_tasks, request))
            except ApiError as e:
                return err(e)

        async def t2i(request: Request) -> Response:
            try:
                b = await body_of(request)
                return JSONResponse(await run_in_threadpool(self.t2i_submit, request, b))
            except ApiError as e:
                return err(e)

        async def uploads(request: Request) -> Response:
            try:
                return JSONResponse(self.policy(request))
            except ApiError as e:
                return err(e)

        async def result(request: Request) -> Response:
            name = request.path_params["name"]
            if request.headers.get("authorization"):
                self.auth_leaks.append(f"download {name}")
            try:
                exp = int(request.query_params.get("Expires", "0"))
            except ValueError:
                exp = 0
            f = self.root / "results" / Path(name).name
            if exp < time.time():
                return Response("<Error><Code>AccessDenied</Code><Message>Request has "
                                "expired.</Message></Error>", status_code=403)
            if not f.exists():
                return Response("<Error><Code>NoSuchKey</Code></Error>", status_code=404)
            with self.lock:
                self.downloads[name] += 1
                cut = self.truncate_downloads > 0
                if cut:
                    self.truncate_downloads -= 1
            if cut:  # a whole HTTP answer holding only the head of the file
                data = f.read_bytes()
                return Response(data[: len(data) // 3], media_type="video/mp4")
            return FileResponse(f)

        async def chat(request: Request) -> Response:
            try:
                b = await body_of(request)
                answer, usage = await run_in_threadpool(self.chat_answer, request, b)
            except ApiError as e:
                return err(e, compat=True)
            cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
            if not b.get("stream"):
                return JSONResponse({"id": cid, "object": "chat.completion", "model": b["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant",
                                                              "content": answer}}],
                                     "usage": usage})

            async def events():
                for i in range(0, len(answer), 17):
                    chunk = {"id": cid, "object": "chat.completion.chunk", "model": b["model"],
                             "choices": [{"index": 0, "delta": {"content": answer[i:i + 17]},
                                          "finish_reason": None}]}
                    yield f"data: {json.dumps(chunk)}\n\n"
                    await asyncio.sleep(0)
                last = {"id": cid, "object": "chat.completion.chunk", "model": b["model"],
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(last)}\n\n"
                if (b.get("stream_options") or {}).get("include_usage"):
                    yield f"data: {json.dumps({'id': cid, 'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        async def models(request: Request) -> Response:
            try:
                self.check_auth(request)
            except ApiError as e:
                return err(e, compat=True)
            return JSONResponse({"object": "list", "data": [
                {"id": m, "object": "model"} for m in ("qwen-plus", "qwen3.5-omni-plus")]})

        async def tts(request: Request) -> Response:
            try:
                b = await body_of(request)
                return JSONResponse(await run_in_threadpool(self.tts, request, b))
            except ApiError as e:
                return err(e)

        async def mm(request: Request) -> Response:
            try:
                b = await body_of(request)
                return JSONResponse(await run_in_threadpool(self.multimodal, request, b))
            except ApiError as e:
                return err(e)

        async def oss(request: Request) -> Response:
            return await self.oss_upload(request)

        async def state(request: Request) -> Response:
            """Counters for out-of-process checks (e.g. an end-to-end build)."""
            with self.lock:
                return JSONResponse({
                    "submissions": dict(self.submissions), "polls": dict(self.polls),
                    "uploads": len(self.uploads), "chat_calls": len(self.chat_calls),
                    "bill": self.bill, "bill_total": self.bill_total,
                    "served_sha256": self.served_sha256, "auth_leaks": self.auth_leaks})

        return Starlette(routes=[
            Route("/api/v1/services/aigc/video-generation/video-synthesis", video,
                  methods=["POST"]),
            Route("/api/v1/services/aigc/image2video/video-synthesis", kf2v, methods=["POST"]),
            Route("/api/v1/tasks", task_list, methods=["GET"]),
            Route("/api/v1/tasks/{task_id}", task, methods=["GET"]),
            Route("/api/v1/services/aigc/text2image/image-synthesis", t2i, methods=["POST"]),
            Route("/api/v1/uploads", uploads, methods=["GET"]),
            Route("/api/v1/services/aigc/multimodal-generation/generation", mm,
                  methods=["POST"]),
            Route("/api/v1/services/audio/tts/SpeechSynthesizer", tts, methods=["POST"]),
            Route("/compatible-mode/v1/chat/completions", chat, methods=["POST"]),
            Route("/compatible-mode/v1/models", models, methods=["GET"]),
            Route("/oss-upload", oss, methods=["POST"]),
            Route("/result/{name}", result, methods=["GET"]),
            Route("/_fake/state", state, methods=["GET"]),
        ])


class FakeServer:
    """uvicorn in a background thread on 127.0.0.1:<free port>."""

    def __init__(self, root: Path, api_key: str = FAKE_KEY, port: int = 0):
        import uvicorn

        self.state = FakeDashScope(root, api_key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.state.origin = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.state.app(), log_level="warning", access_log=False,
                                timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def start(self) -> FakeServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake DashScope did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


FAST_ENV = {
    "SPARK_VIDEO_POLL_INTERVAL_S": "0.02",
    "SPARK_VIDEO_POLL_MAX_S": "0.1",
    "SPARK_VIDEO_RETRY_BASE_S": "0.01",
    "SPARK_VIDEO_RETRY_MAX_S": "0.05",
    "SPARK_VIDEO_HTTP_TIMEOUT_S": "10",
    "SPARK_VIDEO_RENDER_TIMEOUT_S": "30",
}


_SERVER: FakeServer | None = None


def shared_server() -> FakeServer:
    """One server per test process (started on first use, a daemon thread)."""
    global _SERVER
    if _SERVER is None:
        import atexit
        import tempfile

        _SERVER = FakeServer(Path(tempfile.mkdtemp(prefix="fake-dashscope-"))).start()
        atexit.register(_SERVER.stop)
    return _SERVER


@pytest.fixture(name="fake_dashscope")
def fake_dashscope_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeDashScope:
    """A reset fake DashScope, with the env pointing at it (key, base URLs, fast knobs)."""
    state = shared_server().state
    state.reset()
    monkeypatch.setenv("DASHSCOPE_API_KEY", state.api_key)
    monkeypatch.setenv("DASHSCOPE_HTTP_BASE_URL", state.base_url)
    monkeypatch.delenv("DASHSCOPE_COMPATIBLE_BASE_URL", raising=False)
    monkeypatch.setenv("SPARK_VIDEO_LOCK_DIR", str(tmp_path / "slots"))
    for k, v in FAST_ENV.items():
        monkeypatch.setenv(k, v)
    return state


def main() -> None:  # pragma: no cover - manual / e2e use
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description="run the fake DashScope server")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default=os.environ.get("DASHSCOPE_API_KEY", FAKE_KEY))
    ap.add_argument("--root", default=None)
    ap.add_argument("--running-s", type=float, default=0.5)
    a = ap.parse_args()
    root = Path(a.root or tempfile.mkdtemp(prefix="fake-dashscope-"))
    srv = FakeServer(root, a.key, a.port)
    srv.state.running_s = a.running_s
    srv.start()
    print(json.dumps({"DASHSCOPE_HTTP_BASE_URL": srv.state.base_url,
                      "compatible": srv.state.compatible_base_url, "root": str(root)}),
          flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
