"""Generic JSON-over-HTTP transport (httpx, no SDK), for any provider: the client is
separate from the provider protocol built on it (dashscope_http, openai_compat).

Retry policy of `HttpTransport.request`: HTTP 429/408/5xx and connection failures are retried
with exponential backoff and full jitter (honouring Retry-After); any other 4xx fails at once
with the server's code and message; a content-moderation code becomes `ContentRejected`; a
non-idempotent request (a paid submit) whose outcome is unknown (timeout or dropped
connection after the body was sent) is never retried: it raises `SubmitOutcomeUnknown`.
The API key lives only in request headers; it never reaches a message, log or file.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

from .base import ContentRejected, ProviderError

RETRY_STATUS = {408, 429, 500, 502, 503, 504}
MODERATION_CODES = {"DataInspectionFailed", "data_inspection_failed",
                    "DataInspectionFailed.Output", "InappropriateContent"}


class RetrySettings(Protocol):
    retries: int
    retry_base_s: float
    retry_max_s: float
    http_timeout_s: float


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as e:
        raise ProviderError(f"environment variable {name}={raw!r} is not a number") from e


class HttpError(ProviderError):
    """An HTTP call failed with a status or an error code (retryable says whether to retry)."""

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
    raise HttpError(msg, code=code, status=status, request_id=request_id,
                         retryable=status in RETRY_STATUS if status else False)


class HttpTransport:
    """JSON over HTTP with the retry policy; one instance per base URL and key."""

    def __init__(self, base_url: str, api_key: str | None, settings: RetrySettings, *,
                 sleep: Callable[[float], None] = time.sleep,
                 extra_headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.sleep = sleep
        headers = {"Content-Type": "application/json", **(extra_headers or {})}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        import httpx  # (where a call is made, not at import: see dashscope_http.py)

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
        import httpx

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
                code, message, rid = error_fields(json_or_none(resp))
                detail = message or resp.reason_phrase
                last = HttpError(
                    f"{where}: HTTP {resp.status_code} {code or ''}: {detail}"
                    + (f" [request_id {rid}]" if rid else ""), code=code or str(resp.status_code),
                    status=resp.status_code, request_id=rid, retryable=True)
                if attempt < self.settings.retries:
                    self.sleep(self.backoff(attempt, resp.headers.get("retry-after")))
                continue
            if resp.status_code >= 400:
                code, message, rid = error_fields(json_or_none(resp))
                raise_for_code(code, message or resp.text[:300], status=resp.status_code,
                               request_id=rid, where=where)
            return resp
        assert last is not None
        last.args = (f"{last} (gave up after {self.settings.retries + 1} tries)",)
        raise last

    def json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        resp = self.request(method, path, **kw)
        body = json_or_none(resp)
        if not isinstance(body, dict):
            raise HttpError(f"{kw.get('where') or path}: the answer is not a JSON object",
                                 code="BadResponse")
        code, message, rid = error_fields(body)
        if code and not body.get("output") and not body.get("choices") and not body.get("data"):
            # two-layer error model: an error envelope can come back with HTTP 200
            raise_for_code(code, message, status=resp.status_code, request_id=rid,
                           where=kw.get("where") or path)
        return body


def json_or_none(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (ValueError, json.JSONDecodeError):
        return None


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


