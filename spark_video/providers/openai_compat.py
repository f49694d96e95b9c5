"""OpenAI-compatible chat: text roles and clip review, for DashScope's compatible mode and for
any OpenAI-compatible server (provider `openai`: OPENAI_BASE_URL, OPENAI_API_KEY).

- `ChatClient.chat()` posts /chat/completions, plain JSON or SSE (`stream: true`, which the
  Qwen-Omni models require), joins `delta.content`, and logs one call line with token usage
  and cost (from the price table, or None = no price data).
- `ChatText.complete()` answers a role prompt, with JSON mode where the role needs structure.
- `ChatReview.review()` sends the clip (and the cast portraits) with the six-axis rubric and
  parses {"breakdown", "verdict", "critique"}; our ACCEPT rule decides (review_policy.decide), the
  model's verdict is kept as model_verdict; an unusable answer is an ERROR review.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ..base.answers import enum_value, json_object_in, key_of, read
from ..base.models import AXES, Review, ShotSpec
from ..base.pricing import price_table, token_cost
from ..media import extract_frame, probe
from .base import CallContext, ProviderError
from .budget import ensure_budget
from .capabilities import estimate_tokens, page_value, trim_for_context
from .dashscope_http import ConnSettings
from .http import (
    RETRY_STATUS,
    HttpError,
    HttpTransport,
    data_uri,
    error_fields,
    raise_for_code,
)

DEFAULT_TEXT_MODEL = "qwen-plus"
DEFAULT_REVIEW_MODEL = "qwen3.5-omni-plus"  # the original's `bl omni` default

RUBRIC = """You are a strict film editor reviewing one AI-generated video clip for a short \
episode. Score six axes, each an integer 0-10:
- logic: action and camera serve the narrative purpose; continuity with the first frame.
- proportion: anatomy, scale, perspective, hands.
- physics: gravity, collisions, cloth, hair, fluids.
- style: matches the mood anchor and visual style; no forbidden items.
- cast_match: each visible face matches the same-named attached portrait; strangers score low.
- dialog_attribution: the right mouth speaks each line; 10 if there is no dialog.
Write the critique in English with timecodes (e.g. "0:02 the left hand melts").
Answer with ONE JSON object and nothing else:
{"breakdown": {"logic": n, "proportion": n, "physics": n, "style": n, "cast_match": n, \
"dialog_attribution": n}, "verdict": "ACCEPT" or "REJECT", "critique": "..."}"""


MEDIA_TOKENS = 1500  # a conservative guess per image or video part, for the budget check
ANSWER_TOKENS = 2000


def chat_estimate(model: str, messages: list[dict[str, Any]]) -> float | None:
    """A pessimistic cost of one chat call before it is made (None: no price data)."""
    pin = 0
    for m in messages:
        c = m.get("content")
        for part in [c] if isinstance(c, str) else c or []:
            if isinstance(part, str):
                pin += estimate_tokens(part)
            elif part.get("type") == "text":
                pin += estimate_tokens(str(part.get("text", "")))
            else:
                pin += MEDIA_TOKENS
    return token_cost(model, {"prompt_tokens": pin, "completion_tokens": ANSWER_TOKENS})


def _needs_stream(model: str) -> bool:
    flag = os.environ.get("SPARK_VIDEO_REVIEW_STREAM")
    if flag:
        return flag.strip().lower() in ("1", "true", "yes", "on")
    return "omni" in model.lower()


class ChatClient:
    """POST {base}/chat/completions with retries; SSE when streaming."""

    def __init__(self, provider: str, transport: HttpTransport, *, dashscope: bool):
        self.provider = provider
        self.t = transport
        self.dashscope = dashscope

    def chat(self, ctx: CallContext, *, model: str, messages: list[dict[str, Any]],
             json_mode: bool = False, stream: bool = False, oss: bool = False,
             extra: dict[str, Any] | None = None, prompt_note: str | None = None) -> str:
        body: dict[str, Any] = {"model": model, "messages": messages}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        if self.dashscope and not stream:
            body["enable_thinking"] = False  # hybrid-thinking Qwen3 models refuse non-stream
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            if "omni" in model.lower():
                body["modalities"] = ["text"]
        body.update(extra or {})
        headers = {"X-DashScope-OssResourceResolve": "enable"} if oss else None
        if getattr(ctx.cfg, "budget", None) is not None:  # tokens count against the cap too
            ensure_budget(ctx, chat_estimate(model, messages), model=model,
                          what=f"a {model} call ({prompt_note or 'chat'})")
        with ctx.timed(self.provider, model, "chat/completions",
                       prompt=prompt_note) as rec:
            if stream:
                text, usage = self._stream(body, headers, model)
            else:
                out = self.t.json("POST", "chat/completions", json_body=body, headers=headers,
                                  where=f"chat {model}")
                try:
                    text = out["choices"][0]["message"]["content"] or ""
                except (KeyError, IndexError, TypeError):
                    raise HttpError(f"chat {model}: no choices[0].message.content in the "
                                         "answer", code="BadResponse") from None
                if isinstance(text, list):  # some servers answer content parts
                    text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
                usage = out.get("usage") or {}
            if usage:
                rec["billed_units"] = float(usage.get("total_tokens") or
                                            (usage.get("prompt_tokens") or 0)
                                            + (usage.get("completion_tokens") or 0))
                rec["unit"] = "token"
                rec["cost"] = token_cost(model, usage)
                if rec["cost"] is not None:
                    rec["currency"] = price_table()[model].currency
        return text

    def _stream(self, body: dict[str, Any], headers: dict[str, str] | None,
                model: str) -> tuple[str, dict[str, Any]]:
        import httpx  # (where a call is made, not at import: see dashscope_http.py)

        where = f"chat {model} (stream)"
        for attempt in range(self.t.settings.retries + 1):
            try:
                with self.t.client.stream("POST", self.t.url("chat/completions"), json=body,
                                          headers=headers) as r:
                    if r.status_code >= 400:
                        r.read()
                        try:
                            err = r.json()
                        except ValueError:
                            err = None
                        code, message, rid = error_fields(err)
                        if r.status_code in RETRY_STATUS and attempt < self.t.settings.retries:
                            self.t.sleep(self.t.backoff(attempt, r.headers.get("retry-after")))
                            continue
                        raise_for_code(code, message or r.text[:300], status=r.status_code,
                                       request_id=rid, where=where)
                    return parse_sse(r.iter_lines(), where)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout,
                    httpx.RemoteProtocolError) as e:
                if attempt >= self.t.settings.retries:
                    raise ProviderError(f"{where}: {type(e).__name__}", code="TransportError",
                                        retryable=True) from None
                self.t.sleep(self.t.backoff(attempt))
        raise ProviderError(f"{where}: gave up after retries", code="Throttling",
                            retryable=True)


def parse_sse(lines: Any, where: str) -> tuple[str, dict[str, Any]]:
    """Join `delta.content` of an SSE chat stream; events may span several data: lines."""
    parts: list[str] = []
    usage: dict[str, Any] = {}
    buf: list[str] = []

    def flush() -> bool:
        nonlocal usage
        if not buf:
            return False
        data = "\n".join(buf)
        buf.clear()
        if data.strip() == "[DONE]":
            return True
        try:
            ev = json.loads(data)
        except json.JSONDecodeError:
            raise HttpError(f"{where}: malformed SSE event", code="BadResponse") from None
        if ev.get("error") or (ev.get("code") and not ev.get("choices")):
            code, message, rid = error_fields(ev)
            raise_for_code(code, message, status=None, request_id=rid, where=where)
        for ch in ev.get("choices") or []:
            c = (ch.get("delta") or {}).get("content")
            if isinstance(c, str):
                parts.append(c)
        if ev.get("usage"):
            usage = ev["usage"]
        return False

    for line in lines:
        if line == "":
            if flush():
                break
        elif line.startswith("data:"):
            buf.append(line[5:].lstrip(" "))
        # comments (":...") and other fields (event:, id:) are ignored
    else:
        flush()
    return "".join(parts), usage


class ChatText:
    def __init__(self, chat: ChatClient, model: str):
        self.chat = chat
        self.model = model
        self.name = chat.provider

    def complete(self, ctx: CallContext, *, role: str, system: str, user: str,
                 json_mode: bool = False, data: dict[str, Any] | None = None) -> str:
        if json_mode and "json" not in (system + user).lower():
            system = f"{system}\nReply with one JSON object."  # JSON mode requires the word
        user, trimmed = trim_for_context(self.model, system, user)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return self.chat.chat(ctx, model=self.model, messages=messages, json_mode=json_mode,
                              stream=_needs_stream(self.model) and "omni" in self.model,
                              prompt_note=f"role={role}" + (
                                  f" (input trimmed by {trimmed} characters to fit the "
                                  "context)" if trimmed else ""))


Score = Annotated[float, Field(ge=0, le=10)]


class _Breakdown(BaseModel):
    logic: Score
    proportion: Score
    physics: Score
    style: Score
    cast_match: Score
    dialog_attribution: Score


class _ReviewAnswer(BaseModel):
    """What the reviewer answers (read leniently: spark_video.base.answers)."""

    breakdown: _Breakdown
    verdict: str | None = None
    critique: str = ""


def parse_review(text: str) -> tuple[dict[str, float], str | None, str]:
    """(breakdown, model verdict, critique) from the reviewer's answer; ValueError (naming the
    field, what was given and what is allowed) if unusable."""
    obj = json_object_in(text)
    keys = {key_of(k): k for k in obj}
    if "breakdown" not in keys:
        wrap = next((keys[k] for k in ("scores", "score", "axes", "ratings") if k in keys
                     and isinstance(obj[keys[k]], dict)), None)
        if wrap is not None:  # {"scores": {...}}
            obj = {**obj, "breakdown": obj.pop(wrap)}
        elif any(a in keys for a in AXES):  # the six axes at the top level
            obj = {"breakdown": {k: v for k, v in obj.items() if key_of(k) in AXES},
                   **{k: v for k, v in obj.items() if key_of(k) not in AXES}}
    ans = read(_ReviewAnswer, obj)
    verdict = enum_value(ans.verdict.strip(), ("ACCEPT", "REJECT")) if ans.verdict else None
    verdict = str(verdict).upper() if verdict is not None else None
    return ans.breakdown.model_dump(), verdict, ans.critique


class ChatReview:
    """Six-axis clip review through a multimodal chat model."""

    def __init__(self, chat: ChatClient, model: str, *, media_url: Any = None):
        self.chat = chat
        self.model = model
        self.name = chat.provider
        # media_url(path, model) -> URL; default: data URIs (generic OpenAI servers)
        self.media_url = media_url

    def _url(self, path: Path) -> str:
        return self.media_url(path, self.model) if self.media_url else data_uri(Path(path))

    def brief(self, ctx: CallContext, spec: ShotSpec, version: int,
              portraits: list[Path]) -> str:
        s = spec.shot
        lines = [f"Shot {s.id} (version {version}), {s.kind}, {s.duration}s.",
                 f"Prompt: {s.prompt}"]
        if s.narrative_purpose:
            lines.append(f"Narrative purpose: {s.narrative_purpose}")
        if spec.mood_anchor:
            lines.append(f"Mood anchor: {spec.mood_anchor}")
        if s.characters and portraits:
            names = ", ".join(s.characters)
            lines.append(f"Characters: {names}. The images after the video are their "
                         f"portraits, in this order: {names}."[: 2000])
        elif s.characters:
            lines.append(f"Characters: {', '.join(s.characters)} (identity is checked "
                         "separately; score cast_match 10 here).")
        if s.dialog:
            lines.append("Dialog: " + " / ".join(f"{d.speaker}: {d.text}" for d in s.dialog))
        else:
            lines.append("Dialog: none (dialog_attribution = 10).")
        lines.append("Answer in JSON as instructed.")
        return "\n".join(lines)

    def one_modality(self) -> bool:
        """The model takes text plus a single other modality per message (qwen-omni page)."""
        return page_value(self.model, "modalities_per_message") == 1

    def _ask(self, ctx: CallContext, content: list[dict[str, Any]], system: str,
             note: str) -> str:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        return self.chat.chat(ctx, model=self.model, messages=messages,
                              stream=_needs_stream(self.model),
                              oss=any(str(c.get(c["type"], {}).get("url", "")).startswith(
                                  "oss://") for c in content if c["type"] != "text"),
                              json_mode=not _needs_stream(self.model), prompt_note=note)

    def review(self, ctx: CallContext, spec: ShotSpec, clip: Path, *, version: int,
               first_frame: Path | None, portraits: list[Path]) -> Review:
        """One call with the clip and the portraits; for a model that takes one non-text
        modality per message (qwen-omni), two: the clip alone (every axis but cast_match),
        then IDENTITY_FRAMES frames of the clip beside the portraits (cast_match)."""
        base = {"version": version, "shot_id": spec.shot.id, "reviewer": self.model}
        split = bool(portraits) and self.one_modality()
        note = f"review {spec.shot.id} v{version}"
        try:
            content: list[dict[str, Any]] = [
                {"type": "video_url", "video_url": {"url": self._url(clip)}}]
            if not split:
                for p in portraits:
                    content.append({"type": "image_url", "image_url": {"url": self._url(p)}})
            content.append({"type": "text", "text": self.brief(
                ctx, spec, version, [] if split else portraits)})
            text = self._ask(ctx, content, RUBRIC, note)
            identity = self._identity(ctx, spec, clip, portraits, note) if split else None
        except ProviderError as e:
            return Review(verdict="ERROR", error=str(e), critique="", **base)
        try:
            breakdown, model_verdict, critique = parse_review(text)
            if identity is not None:
                score, why = parse_identity(identity)
                breakdown["cast_match"] = score
                critique = f"{critique}\nIdentity (frames beside the portraits): {why}".strip()
        except ValueError as e:
            return Review(verdict="ERROR", error=f"unusable review answer: {e}",
                          critique=text[:2000], **base)
        # raw scores: the verdict is decided by review_policy.decide() (REJECT until then)
        return Review(verdict="REJECT", breakdown=breakdown, model_verdict=model_verdict,
                      critique=critique, **base)

    def _identity(self, ctx: CallContext, spec: ShotSpec, clip: Path, portraits: list[Path],
                  note: str) -> str:
        """The cast_match call: frames of the clip, then the portraits, all images."""
        names = ", ".join(spec.shot.characters) or "the cast"
        with tempfile.TemporaryDirectory(prefix="spark-review-") as d:
            dur = probe(clip).duration or float(spec.shot.duration)
            frames = [extract_frame(clip, Path(d) / f"f{i}.png", width=640,
                                    at=dur * (i + 0.5) / IDENTITY_FRAMES)
                      for i in range(IDENTITY_FRAMES)]
            content: list[dict[str, Any]] = [
                {"type": "image_url", "image_url": {"url": self._url(p)}}
                for p in [*frames, *portraits]]
            content.append({"type": "text", "text": (
                f"The first {len(frames)} images are frames of shot {spec.shot.id}, in time "
                f"order; the next {len(portraits)} are the portraits of {names}, in this "
                "order. Does each visible face match its same-named portrait? Answer in JSON "
                'as instructed.')[:2000]})
            return self._ask(ctx, content, IDENTITY_RUBRIC, note + " identity")


IDENTITY_FRAMES = 3


def review_model_of(cfg: Any) -> str:
    """The review model a DashScope review provider uses (same order as make())."""
    return (os.environ.get("SPARK_VIDEO_REVIEW_MODEL")
            or os.environ.get("SPARK_VIDEO_REVIEW_OMNI_MODEL")
            or getattr(cfg, "review_model", None) or DEFAULT_REVIEW_MODEL)


def review_calls(model: str, portraits: int) -> list[list[dict[str, Any]]]:
    """The messages' shapes one review of a shot sends (text as placeholders): one call, or
    two for a one-modality model with portraits (clip alone, then frames + portraits)."""
    text = {"type": "text", "text": RUBRIC + " " * 600}
    video = {"type": "video_url", "video_url": {"url": ""}}
    image = {"type": "image_url", "image_url": {"url": ""}}
    if portraits and page_value(model, "modalities_per_message") == 1:
        return [[video, text], [*[image] * (IDENTITY_FRAMES + portraits), text]]
    return [[video, *[image] * portraits, text]]


def review_estimate(model: str, portraits: int) -> tuple[int, float | None]:
    """(calls, cost) of one review round of a shot with `portraits` cast portraits, priced
    as the budget check prices each call (None: no price data)."""
    calls = review_calls(model, portraits)
    costs = [chat_estimate(model, [{"role": "user", "content": c}]) for c in calls]
    return len(calls), None if any(c is None for c in costs) else round(
        sum(c for c in costs if c is not None), 6)
IDENTITY_RUBRIC = """You check cast identity in frames of an AI-generated video clip. Score \
cast_match 0-10: each visible face matches the same-named portrait; strangers score low; 10 \
if no face is visible. Answer with ONE JSON object and nothing else:
{"cast_match": n, "critique": "..."}"""


class _IdentityAnswer(BaseModel):
    """What the identity call answers (read leniently: spark_video.base.answers)."""

    cast_match: Score
    critique: str = ""


def parse_identity(text: str) -> tuple[float, str]:
    """(cast_match, critique) from the identity call's answer; ValueError (naming the field,
    what was given and what is allowed) if unusable."""
    obj = json_object_in(text)
    keys = {key_of(k): k for k in obj}
    if "cast_match" not in keys and isinstance(obj.get(keys.get("breakdown", "")), dict):
        obj = {**obj, **obj[keys["breakdown"]]}  # {"breakdown": {"cast_match": n}}
    ans = read(_IdentityAnswer, obj)
    return ans.cast_match, ans.critique


# --------------------------------------------------------------------------- openai provider


def openai_settings(cfg: Any = None) -> tuple[str, str]:
    base = (os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
    key = (os.environ.get("OPENAI_API_KEY") or "").strip()
    if not base:
        raise ProviderError("provider 'openai' needs OPENAI_BASE_URL (an OpenAI-compatible "
                            "base such as http://127.0.0.1:8000/v1)", code="MissingBaseUrl")
    if not key:
        raise ProviderError("provider 'openai' needs OPENAI_API_KEY (set any value if your "
                            "server needs no key)", code="MissingApiKey")
    return base, key


def make(capability: str, name: str, cfg: Any) -> Any:
    """The `openai` provider (`name`): text and review through any OpenAI-compatible server."""
    if capability not in ("text", "review"):
        raise ProviderError(f"provider 'openai' serves text and review only, not {capability}; "
                            f"set SPARK_VIDEO_{capability.upper()}_PROVIDER to bl or offline",
                            code="Unsupported")
    base, key = openai_settings(cfg)
    settings = ConnSettings.with_knobs(ConnSettings(api_key=key, base_url=base), cfg)
    chat = ChatClient(name, HttpTransport(base, key, settings), dashscope=False)
    if capability == "text":
        model = (os.environ.get("SPARK_VIDEO_TEXT_MODEL") or os.environ.get("OPENAI_MODEL")
                 or getattr(cfg, "text_model", None) or DEFAULT_TEXT_MODEL)
        return ChatText(chat, model)
    model = (os.environ.get("SPARK_VIDEO_REVIEW_MODEL") or os.environ.get("OPENAI_MODEL")
             or getattr(cfg, "review_model", None) or DEFAULT_REVIEW_MODEL)
    return ChatReview(chat, model)
