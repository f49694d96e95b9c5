"""DashScope's native protocol on top of the generic transport (providers/http.py).

- `ConnSettings`: key, native and compatible base URLs, retry/poll knobs, from the
  environment (names as the official SDK uses them: DASHSCOPE_API_KEY, DASHSCOPE_HTTP_BASE_URL,
  DASHSCOPE_COMPATIBLE_BASE_URL).
- `DashScopeTransport`: async tasks (submit, poll), temporary uploads (getPolicy → multipart
  → oss://), downloads of signed result URLs (without our Authorization header).
- `model_slot()`: a cross-process per-model concurrency limit (flock on N slot files).
The API key lives only in request headers; it never reaches a message, log or file.
"""

from __future__ import annotations

import mimetypes
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..base.redaction import redact
from .base import ProviderError
from .http import (
    RETRY_STATUS,
    HttpError,
    HttpTransport,
    data_uri,
    env_float,
)
from .slots import hold_slot

# httpx is imported where a call is made: Snakemake parsing the workflow imports this module
# (through the storyboard's estimate) and makes no call, and `import httpx` costs 0.1 s

DEFAULT_BASE_URL = "https://dashscope.aliyuncs.com/api/v1"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}


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
        s.poll_interval_s = env_float("SPARK_VIDEO_POLL_INTERVAL_S", s.poll_interval_s)
        s.poll_max_s = max(s.poll_interval_s, env_float("SPARK_VIDEO_POLL_MAX_S", s.poll_max_s))
        s.render_timeout_s = env_float("SPARK_VIDEO_RENDER_TIMEOUT_S", s.render_timeout_s)
        s.retries = int(env_float("SPARK_VIDEO_HTTP_RETRIES", s.retries))
        s.retry_base_s = env_float("SPARK_VIDEO_RETRY_BASE_S", s.retry_base_s)
        s.retry_max_s = env_float("SPARK_VIDEO_RETRY_MAX_S", s.retry_max_s)
        s.http_timeout_s = env_float("SPARK_VIDEO_HTTP_TIMEOUT_S", s.http_timeout_s)
        s.data_uri_max_kb = env_float("SPARK_VIDEO_DATA_URI_MAX_KB", s.data_uri_max_kb)
        conc = os.environ.get("SPARK_VIDEO_MODEL_CONCURRENCY") or getattr(
            cfg, "model_concurrency", None)
        if conc:
            s.model_concurrency = max(1, int(conc))
        if os.environ.get("SPARK_VIDEO_LOCK_DIR"):
            s.lock_dir = Path(os.environ["SPARK_VIDEO_LOCK_DIR"])
        return s


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
            raise HttpError(f"submit {body.get('model')}: no task_id in the answer",
                                 code="BadResponse")
        return out

    def get_task(self, task_id: str) -> dict[str, Any]:
        try:
            return self.json("GET", f"tasks/{task_id}", where=f"poll task {task_id}")
        except HttpError as e:
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
        import httpx

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
            raise HttpError(f"upload policy for {model}: field {e} missing",
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
                raise HttpError(f"upload of {path.name}: HTTP {r.status_code} "
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
        import httpx

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
    """Hold one of `settings.model_concurrency` slots for `model` across processes."""
    with hold_slot(settings.lock_dir / model.replace("/", "_"), settings.model_concurrency,
                   wait_s=wait_s, shuffle=False) as i:
        yield i


def safe_text(text: str | None) -> str | None:
    return redact(text)
