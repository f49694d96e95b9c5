"""HTTP plumbing for DashScope and OpenAI-compatible endpoints (httpx, no SDK).

- `ConnSettings`: key, native and compatible base URLs, retry/poll knobs, from the
  environment (names as the official SDK uses them: DASHSCOPE_API_KEY, DASHSCOPE_HTTP_BASE_URL,
  DASHSCOPE_COMPATIBLE_BASE_URL).
- `HttpTransport`: one JSON request with this retry policy:
  429/408/5xx and connection failures are retried with exponential backoff and full jitter;
  other 4xx fail at once with the provider's code and message; DataInspectionFailed becomes
  `ContentRejected`; a non-idempotent request (a paid async submit) whose outcome is unknown
  (timeout or dropped connection after the body was sent) is never retried: it raises
  `SubmitOutcomeUnknown`, saying so.
- `DashScopeTransport`: async tasks (submit, poll), temporary uploads (getPolicy → multipart
  → oss://), downloads of signed result URLs (without our Authorization header).
- `model_slot()`: a cross-process per-model concurrency limit (flock on N slot files).
The API key lives only in request headers; it never reaches a message, log or file.
"""

from __future__ import annotations

import base64
import fcntl
import json
import mimetypes
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..redaction import redact
from .base import ContentRejected, ProviderError

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
MODERATION_CODES = {"DataInspectionFailed", "data_inspection_failed",
                    "DataInspectionFailed.Output", "InappropriateContent"}
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as e:
        raise ProviderError(f"environment variable {name}={raw!r} is not a number") from e


def derive_compatible_base(native: str) -> str:
    """The OpenAI-compatible base on the same host: .../api/v1 -> .../compatible-mode/v1."""
    native = native.rstrip("/")
    if native.endswith("/api/v1"):
        return native[: -len("/api/v1")] + "/compatible-mode/v1"
    parts = urlsplit(native)
    return urlunsplit((parts.scheme, parts.netloc, "/compatible-mode/v1", "", ""))


@dataclass
class ConnSettings:
    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    compatible_base_url: str = ""
    poll_interval_s: float = 5.0
    poll_max_s: float = 15.0
    render_timeout_s: float = 900.0
    retries: int = 5
    retry_base_s: float = 1.0
    retry_max_s: float = 30.0
    http_timeout_s: float = 120.0
    data_uri_max_kb: float = 0.0
    model_concurrency: int = 5
    lock_dir: Path = field(default_factory=lambda: Path.home() / ".cache/spark-video/slots")

    @classmethod
    def from_env(cls, cfg: Any = None, *, provider: str = "bl") -> ConnSettings:
        key = os.environ.get("DASHSCOPE_API_KEY", "").strip()
        if not key:
            raise ProviderError(
                f"DASHSCOPE_API_KEY is not set, and provider {provider!r} calls DashScope. "
                "Export your Model Studio key (export DASHSCOPE_API_KEY=sk-...), or run "
                "without paid calls with SPARK_VIDEO_PROVIDER=offline.", code="MissingApiKey")
        base = (os.environ.get("DASHSCOPE_HTTP_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        compat = (os.environ.get("DASHSCOPE_COMPATIBLE_BASE_URL") or "").rstrip("/")
        return cls.with_knobs(cls(api_key=key, base_url=base,
                                  compatible_base_url=compat or derive_compatible_base(base)),
                              cfg)

    @staticmethod
    def with_knobs(s: ConnSettings, cfg: Any = None) -> ConnSettings:
        s.poll_interval_s = _env_float("SPARK_VIDEO_POLL_INTERVAL_S", s.poll_interval_s)
        s.poll_max_s = max(s.poll_interval_s, _env_float("SPARK_VIDEO_POLL_MAX_S", s.poll_max_s))
        s.render_timeout_s = _env_float("SPARK_VIDEO_RENDER_TIMEOUT_S", s.render_timeout_s)
        s.retries = int(_env_float("SPARK_VIDEO_HTTP_RETRIES", s.retries))
        s.retry_base_s = _env_float("SPARK_VIDEO_RETRY_BASE_S", s.retry_base_s)
        s.retry_max_s = _env_float("SPARK_VIDEO_RETRY_MAX_S", s.retry_max_s)
        s.http_timeout_s = _env_float("SPARK_VIDEO_HTTP_TIMEOUT_S", s.http_timeout_s)
        s.data_uri_max_kb = _env_float("SPARK_VIDEO_DATA_URI_MAX_KB", s.data_uri_max_kb)
        conc = os.environ.get("SPARK_VIDEO_MODEL_CONCURRENCY") or getattr(
            cfg, "model_concurrency", None)
        if conc:
            s.model_concurrency = max(1, int(conc))
        if os.environ.get("SPARK_VIDEO_LOCK_DIR"):
            s.lock_dir = Path(os.environ["SPARK_VIDEO_LOCK_DIR"])
        return s


class DashScopeError(ProviderError):
    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 request_id: str | None = None, retryable: bool = False):
        super().__init__(message, code=code, retryable=retryable)
        self.status = status
        self.request_id = request_id


class SubmitOutcomeUnknown(ProviderError):
    """The submit was sent but no answer came back: a paid task may exist. Not retried."""


def error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id) from a DashScope or OpenAI-style error body."""
    if not isinstance(body, dict):
        return None, None, None
    rid = body.get("request_id") or body.get("id")
    err = body.get("error")
    if isinstance(err, dict):  # OpenAI-compatible envelope
        return (str(err.get("code") or err.get("type") or "") or None,
                err.get("message"), rid)
    return body.get("code") or None, body.get("message"), rid


def raise_for_code(code: str | None, message: str | None, *, status: int | None,
                   request_id: str | None, where: str) -> None:
    msg = (f"{where}: {'HTTP ' + str(status) + ' ' if status else ''}{code or 'error'}: "
           f"{message or '(no message)'}" + (f" [request_id {request_id}]" if request_id else ""))
    if code in MODERATION_CODES or (message and "inappropriate content" in message.lower()):
        raise ContentRejected(msg + " — content moderation refused it; rewrite the prompt "
                              "instead of retrying it unchanged", code=code or "DataInspection")
    raise DashScopeError(msg, code=code, status=status, request_id=request_id,
                         retryable=status in RETRY_STATUS if status else False)


class HttpTransport:
    """JSON over HTTP with the retry policy; one instance per base URL and key."""

    def __init__(self, base_url: str, api_key: str | None, settings: ConnSettings, *,
                 sleep: Callable[[float], None] = time.sleep,
                 extra_headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.sleep = sleep
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx.Client(headers=headers, timeout=httpx.Timeout(
            settings.http_timeout_s, connect=min(10.0, settings.http_timeout_s)))
        self.retries_done = 0

    def close(self) -> None:
        self.client.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else \
            f"{self.base_url}/{path.lstrip('/')}"

    def backoff(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.settings.retry_max_s)
            except ValueError:
                pass
        cap = min(self.settings.retry_max_s, self.settings.retry_base_s * (2 ** attempt))
        return random.uniform(cap / 2, cap)  # jitter: spread parallel jobs apart

    def request(self, method: str, path: str, *, json_body: Any = None,
                headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                idempotent: bool = True, where: str = "") -> httpx.Response:
        """Send with retries; return the successful response (2xx, no error code)."""
        where = where or f"{method} {path}"
        last: ProviderError | None = None
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self.retries_done += 1
            try:
                resp = self.client.request(method, self.url(path), json=json_body,
                                           headers=headers, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                last = ProviderError(f"{where}: cannot connect to {self.base_url} "
                                     f"({type(e).__name__})", code="ConnectError",
                                     retryable=True)
                self.sleep(self.backoff(attempt))
                continue
            except httpx.TransportError as e:
                if not idempotent:
                    raise SubmitOutcomeUnknown(
                        f"{where}: the request was sent to {self.base_url} but no answer came "
                        f"back ({type(e).__name__}); a paid task may have been created. It is "
                        "NOT resubmitted automatically (that could pay twice): check the task "
                        "list in the Model Studio console before rendering this shot again.",
                        code="SubmitOutcomeUnknown") from None
                last = ProviderError(f"{where}: connection failed ({type(e).__name__})",
                                     code="TransportError", retryable=True)
                self.sleep(self.backoff(attempt))
                continue
            if resp.status_code in RETRY_STATUS:
                code, message, rid = error_fields(_json_or_none(resp))
                detail = message or resp.reason_phrase
                last = DashScopeError(
                    f"{where}: HTTP {resp.status_code} {code or ''}: {detail}"
                    + (f" [request_id {rid}]" if rid else ""), code=code or str(resp.status_code),
                    status=resp.status_code, request_id=rid, retryable=True)
                if attempt < self.settings.retries:
                    self.sleep(self.backoff(attempt, resp.headers.get("retry-after")))
                continue
            if resp.status_code >= 400:
                code, message, rid = error_fields(_json_or_none(resp))
                raise_for_code(code, message or resp.text[:300], status=resp.status_code,
                               request_id=rid, where=where)
            return resp
        assert last is not None
        last.args = (f"{last} (gave up after {self.settings.retries + 1} tries)",)
        raise last

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = self.request(method, path, **kw)
        body = _json_or_none(resp)
        if not isinstance(body, dict):
            raise DashScopeError(f"{kw.get('where') or path}: the answer is not a JSON object",
                                 code="BadResponse")
        code, message, rid = error_fields(body)
        if code and not body.get("output") and not body.get("choices") and not body.get("data"):
            # two-layer error model: an error envelope can come back with HTTP 200
            raise_for_code(code, message, status=resp.status_code, request_id=rid,
                           where=kw.get("where") or path)
        return body


def _json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return None


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


class DashScopeTransport(HttpTransport):
    """Native /api/v1 calls: async tasks, temporary uploads, result downloads."""

    def __init__(self, settings: ConnSettings, base_url: str | None = None, **kw: Any):
        super().__init__(base_url or settings.base_url, settings.api_key, settings, **kw)
        self._uploaded: dict[tuple[str, str], str] = {}

    # ---- async tasks
    def submit(self, path: str, body: dict[str, Any], *, oss: bool) -> dict[str, Any]:
        headers = {"X-DashScope-Async": "enable"}
        if oss:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        out = self.json("POST", path, json_body=body, headers=headers, idempotent=False,
                        where=f"submit {body.get('model')}")
        tid = (out.get("output") or {}).get("task_id")
        if not tid:
            raise DashScopeError(f"submit {body.get('model')}: no task_id in the answer",
                                 code="BadResponse")
        return out

    def get_task(self, task_id: str) -> dict[str, Any]:
        try:
            return self.json("GET", f"tasks/{task_id}", where=f"poll task {task_id}")
        except DashScopeError as e:
            if e.status == 404:  # some gateways answer 404 for expired ids
                return {"output": {"task_id": task_id, "task_status": "UNKNOWN"}}
            raise

    def list_tasks(self, *, start: float, end: float, model: str | None = None,
                   status: str | None = None, page_size: int = 100) -> list[dict[str, Any]]:
        """The account's tasks submitted between `start` and `end` (epoch seconds), as the
        official SDK's list does: GET tasks with start_time / end_time (YYYYMMDDhhmmss,
        UTC), model_name, status, page_no, page_size. All pages."""
        fmt = "%Y%m%d%H%M%S"
        params: dict[str, Any] = {"start_time": time.strftime(fmt, time.gmtime(start)),
                                  "end_time": time.strftime(fmt, time.gmtime(end)),
                                  "page_size": page_size}
        if model:
            params["model_name"] = model
        if status:
            params["status"] = status
        rows: list[dict[str, Any]] = []
        for page in range(1, 101):
            params["page_no"] = page
            ans = self.json("GET", "tasks", params=params, where="list tasks")
            data = ans.get("data") or []
            rows += [r for r in data if isinstance(r, dict)]
            if page >= int(ans.get("total_page") or 1) or not data:
                break
        return rows

    # ---- temporary uploads (48 h, tied to the model and the account)
    def upload(self, path: Path, model: str) -> str:
        path = Path(path)
        cache_key = (str(path.resolve()), model)
        if cache_key in self._uploaded:
            return self._uploaded[cache_key]
        pol = self.json("GET", "uploads", params={"action": "getPolicy", "model": model},
                        where=f"upload policy for {model}")
        d = pol.get("data") or pol.get("output") or {}
        try:
            key = f"{d['upload_dir'].rstrip('/')}/{uuid.uuid4().hex[:8]}-{path.name}"
            form = {
                "OSSAccessKeyId": d["oss_access_key_id"], "Signature": d["signature"],
                "policy": d["policy"], "key": key,
                "x-oss-object-acl": d.get("x_oss_object_acl", "private"),
                "x-oss-forbid-overwrite": d.get("x_oss_forbid_overwrite", "true"),
                "success_action_status": "200",
                "x-oss-content-type": mimetypes.guess_type(path.name)[0]
                or "application/octet-stream",
            }
            host = d["upload_host"]
        except KeyError as e:
            raise DashScopeError(f"upload policy for {model}: field {e} missing",
                                 code="BadResponse") from None
        for attempt in range(self.settings.retries + 1):
            try:
                with open(path, "rb") as fh:
                    # the OSS host is not DashScope: never send our Authorization header there
                    r = httpx.post(host, data=form, files={"file": (path.name, fh)},
                                   timeout=self.settings.http_timeout_s)
            except httpx.TransportError as e:
                if attempt >= self.settings.retries:
                    raise ProviderError(f"upload of {path.name}: {type(e).__name__}",
                                        code="UploadFailed", retryable=True) from None
                self.sleep(self.backoff(attempt))
                continue
            if r.status_code in RETRY_STATUS and attempt < self.settings.retries:
                self.sleep(self.backoff(attempt))
                continue
            if r.status_code != 200:
                raise DashScopeError(f"upload of {path.name}: HTTP {r.status_code} "
                                     f"{r.text[:200]}", code="UploadFailed", status=r.status_code)
            break
        url = f"oss://{key}"
        self._uploaded[cache_key] = url
        return url

    def media_url(self, path: Path, model: str) -> str:
        """A URL the model can fetch: a data URI for small images (SPARK_VIDEO_DATA_URI_MAX_KB),
        else a temporary upload (oss://). Remote URLs pass through."""
        s = str(path)
        if s.startswith(("http://", "https://", "oss://", "data:")):
            return s
        path = Path(path)
        if not path.is_file():
            raise ProviderError(f"media file {path} does not exist", code="MissingMedia")
        mime = mimetypes.guess_type(path.name)[0] or ""
        if mime.startswith("image/") and path.stat().st_size <= self.settings.data_uri_max_kb \
                * 1024:
            return data_uri(path)
        return self.upload(path, model)

    # ---- downloads of signed result URLs
    def download(self, url: str, out: Path, *, what: str) -> int:
        """Stream `url` into `out` (atomically); returns bytes. Signed OSS URLs carry their own
        credentials, so no Authorization header is sent."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
        for attempt in range(self.settings.retries + 1):
            try:
                with httpx.stream("GET", url, timeout=self.settings.http_timeout_s,
                                  follow_redirects=True) as r:
                    if r.status_code in (403, 404, 410):
                        raise ProviderError(
                            f"{what}: the result URL answered HTTP {r.status_code}; result "
                            "URLs expire 24 h after the task ends, so this result is lost. "
                            "Render the shot again (a new paid task).", code="ResultExpired",
                            retryable=True)
                    if r.status_code != 200:
                        raise httpx.HTTPStatusError("bad status", request=r.request, response=r)
                    n = 0
                    with open(tmp, "wb") as fh:
                        for chunk in r.iter_bytes(1 << 16):
                            fh.write(chunk)
                            n += len(chunk)
                        fh.flush()
                        os.fsync(fh.fileno())
                os.replace(tmp, out)
                return n
            except (httpx.TransportError, httpx.HTTPStatusError) as e:
                tmp.unlink(missing_ok=True)
                if attempt >= self.settings.retries:
                    raise ProviderError(f"{what}: download failed ({type(e).__name__}); the "
                                        "task is paid, re-run to retry the download",
                                        code="DownloadFailed", retryable=True) from None
                self.sleep(self.backoff(attempt))
        raise AssertionError("unreachable")


@contextmanager
def model_slot(model: str, settings: ConnSettings, *, wait_s: float = 0.25) -> Iterator[int]:
    """Hold one of `settings.model_concurrency` slots for `model` across processes.

    flock locks die with their process, so a SIGKILLed job never leaks a slot."""
    d = settings.lock_dir / model.replace("/", "_")
    d.mkdir(parents=True, exist_ok=True)
    n = max(1, settings.model_concurrency)
    while True:
        for i in range(n):
            fd = os.open(d / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield i
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        time.sleep(wait_s * random.uniform(0.5, 1.5))


def safe_text(text: str | None) -> str | None:
    return redact(text)
