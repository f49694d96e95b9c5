"""DashScope providers (`bl`, `wan27`): video, review, text, TTS and images over HTTP.

The HTTP plumbing (retries, uploads, tasks, downloads, slots) is in dashscope_http.py; chat
(text and review) in openai_compat.py against DashScope's compatible-mode base. This module
holds the capability clients and `make()`, which the registry calls.

Video lifecycle (crash-safe, cost-aware), `DashScopeVideo.render`:
  plan model/kind (capabilities.plan) → check the request against the model's table (before
  paying) → upload local media (oss://, or small images as data URIs) → take a per-model slot
  → under the episode's budget lock: check the budget, submit, log the submit line, call
  `on_submitted(PendingTask)` → poll with growing interval → download at once → verify the
  mp4 (media.probe) → log the settling line with usage seconds and cost.
  With `pending` (or an unsettled submit for the same shot, attempt, model and prompt found in
  the call log) it never submits: it polls that task on the base URL it was submitted to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..base.io import atomic_write_bytes
from ..base.models import ShotSpec
from ..base.pricing import currency, tts_billed_chars, tts_cost, unit_price, video_cost
from ..base.project import voice_samples
from ..media import MediaError, probe, run
from ..providers import capabilities
from .base import (
    CallContext,
    ContentRejected,
    PendingTask,
    ProviderError,
    RenderResult,
)
from .budget import is_settling, new_intent, read_calls, reserve
from .dashscope_http import (
    TERMINAL,
    ConnSettings,
    DashScopeTransport,
    data_uri,
    model_slot,
)
from .http import MODERATION_CODES, HttpTransport, SubmitOutcomeUnknown
from .openai_compat import (
    DEFAULT_TEXT_MODEL,
    ChatClient,
    ChatReview,
    ChatText,
    review_model_of,
)

VIDEO_PATH = "services/aigc/video-generation/video-synthesis"
MM_GEN_PATH = "services/aigc/multimodal-generation/generation"
COSY_PATH = "services/audio/tts/SpeechSynthesizer"
T2I_PATH = "services/aigc/text2image/image-synthesis"
DEFAULT_IMAGE_MODEL = "wan2.6-t2i"
DEFAULT_IMAGE_EDIT_MODEL = "qwen-image-edit-plus"
LIST_WINDOW_S = 9 * 3600 + 120  # task-list window around a lost submit's intent line
TRANSIENT_TASK_CODES = {"InternalError", "ServiceUnavailable", "Throttling", "RequestTimeOut",
                        "InternalError.Algo", "InternalError.Timeout"}


def _env_or(cfg: Any, env: str, key: str, default: str) -> str:
    return os.environ.get(env) or getattr(cfg, key, None) or default


def make(capability: str, name: str, cfg: Any) -> Any:
    """The DashScope client for one capability; fails at once without DASHSCOPE_API_KEY."""
    settings = ConnSettings.from_env(cfg, provider=name)
    if capability == "video":
        return DashScopeVideo(name, settings, cfg)
    if capability in ("text", "review"):
        chat = ChatClient(name, HttpTransport(settings.compatible_base_url, settings.api_key,
                                              settings), dashscope=True)
        if capability == "text":
            return ChatText(chat, _env_or(cfg, "SPARK_VIDEO_TEXT_MODEL", "text_model",
                                          DEFAULT_TEXT_MODEL))
        model = review_model_of(cfg)
        native = DashScopeTransport(settings)
        return ChatReview(chat, model, media_url=native.media_url)
    if capability == "tts":
        return DashScopeTTS(name, settings, cfg)
    if capability == "image":
        return DashScopeImage(name, settings, cfg)
    raise ValueError(f"unknown capability {capability!r}")


def pending_from_log(paths: Any, shot: str | None, attempt: int | None, model: str,
                     prompt: str | None) -> PendingTask | None:
    """An unsettled submit in the call log for exactly this shot, attempt, model and prompt:
    the previous run was killed after paying; resume it instead of paying again."""
    recs = read_calls(paths.model_calls)
    settled = {r["task_id"] for r in recs if is_settling(r)}
    for r in reversed(recs):
        ep = str(r.get("endpoint") or "")
        if (ep.endswith("(submit)") and r.get("task_id") and r["task_id"] not in settled
                and r.get("shot") == shot and r.get("attempt") == attempt
                and r.get("model") == model and r.get("prompt") == prompt):
            base = ep[: -len(" (submit)")]
            base = base[: -len("/" + VIDEO_PATH)] if base.endswith("/" + VIDEO_PATH) else None
            return PendingTask(task_id=r["task_id"], base_url=base)
    return None


def fingerprint(body: dict[str, Any]) -> str:
    """The request's identity (model, input, parameters), stable across runs."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def outcome_unknown(e: BaseException) -> bool:
    """Sent, but no answer read: a timeout after sending, or the run stopped mid-call
    (Ctrl-C, a kill). A paid task may exist."""
    return isinstance(e, SubmitOutcomeUnknown) or not isinstance(e, Exception)


@contextmanager
def paid_call(ctx: CallContext, provider: str, model: str, endpoint: str, request: Any, *,
              what: str, est: float | None, prompt: str | None) -> Iterator[dict[str, Any]]:
    """A synchronous paid call (image, TTS): budget reservation, an intent line written
    before the POST, then the call's own line. If an earlier run's intent for the very same
    request was never answered (killed mid-call), the outcome is unknown: stop rather than
    pay again, unless SPARK_VIDEO_RESUBMIT=all."""
    fp = fingerprint({"model": model, "request": request})
    resubmit = ctx.extra.get("resubmit") or "all" in os.environ.get(
        "SPARK_VIDEO_RESUBMIT", "").split(",")
    if not resubmit:
        open_ = unresolved_intent(ctx.paths, ctx.shot, ctx.attempt, fp)
        if open_ is not None:
            raise SubmitOutcomeUnknown(
                f"{what}: a paid request to {model} was sent at {open_.get('ts')} and its "
                f"answer never arrived (see {ctx.paths.model_calls}), so it may have been "
                "paid. Check the Model Studio console; to pay again, run the build with "
                "SPARK_VIDEO_RESUBMIT=all.", code="SubmitOutcomeUnknown")
    iid = new_intent(fp)
    with reserve(ctx, est, what=what, model=model, intent=iid):
        ctx.record(provider=provider, model=model, endpoint=endpoint, status="intent",
                   intent=iid, prompt=prompt)
        with ctx.timed(provider, model, endpoint, prompt=prompt, intent=iid) as rec:
            try:
                yield rec
            except BaseException as e:
                if outcome_unknown(e):
                    rec.pop("intent", None)  # the intent stays open
                raise


def unresolved_intent(paths: Any, shot: str | None, attempt: int | None,
                      fp: str) -> dict[str, Any] | None:
    """The last intent line for this request (shot, attempt, fingerprint) that no later line
    answers: its POST may have created a paid task nobody has heard of."""
    recs = read_calls(paths.model_calls)
    answered = {r.get("intent") for r in recs if r.get("intent") and r.get("status") != "intent"}
    for r in reversed(recs):
        iid = str(r.get("intent") or "")
        if (r.get("status") == "intent" and iid.startswith(fp[:16]) and iid not in answered
                and r.get("shot") == shot and r.get("attempt") == attempt):
            return r
    return None


def _parse_ts(ts: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _refs_to_names(prompt: str, names: list[str]) -> str:
    """r2v prompt rendered as i2v: '[Image 2]' / 'Image 2' / '图2' -> the character's name."""
    def sub(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        return names[i] if 0 <= i < len(names) else "the character"
    prompt = re.sub(r"\[?\bImage\s*(\d+)\]?", sub, prompt)
    return re.sub(r"图(\d+)", sub, prompt)


class DashScopeVideo:
    """happyhorse-1.0 (bl default), wan2.6 (legacy protocol) and wan2.7 (wan27) video."""

    def __init__(self, name: str, settings: ConnSettings, cfg: Any,
                 sleep: Callable[[float], None] = time.sleep):
        self.name = name
        self.settings = settings
        self.cfg = cfg
        self.sleep = sleep
        self._said: set[str] = set()  # what the job's log was told once (reference voices)

    # ---------------------------------------------------------------- request building
    def build(self, ctx: CallContext, spec: ShotSpec, prompt: str, first_frame: Path | None,
              media: list[Path], transport: DashScopeTransport | None
              ) -> tuple[capabilities.CheckedRequest, dict[str, Any], str, bool]:
        """(checked request, body, prompt sent, uses oss://). transport=None: dry (no upload)."""
        shot = spec.shot
        kind = shot.kind
        if kind == "r2v" and not media and not first_frame:
            kind = "t2v"  # nothing to reference: plain text-to-video
        if kind == "i2v" and not first_frame and not media:
            raise capabilities.CapabilityError(
                f"shot {shot.id} is i2v but has neither a first frame nor an image")
        model, eff = capabilities.plan(self.name, kind, first_frame=bool(first_frame),
                                       cfg=self.cfg)
        c = capabilities.caps(model)
        sent = prompt
        frame: Path | None = None
        refs: list[Path] = []
        if eff == "i2v":
            frame = first_frame or media[0]
            if kind == "r2v":  # references cannot ride along: name them in the prompt
                sent = _refs_to_names(prompt, list(shot.characters))
        elif eff == "r2v":
            refs = list(media)
            frame = first_frame  # wan2.7 only (plan() guarantees)
            if c.reference_name:  # wan2.6-r2v: the page names reference n `character<n>`
                sent = _refs_to_names(prompt, [c.reference_name.format(n=i + 1)
                                               for i in range(len(refs))])
        checked = capabilities.check_request(
            model, eff, shot.duration, spec.resolution, spec.ratio, sent,
            len(refs) + (1 if frame else 0), first_frame=bool(frame and refs))

        def url(p: Path) -> str:
            return transport.media_url(p, model) if transport else f"file://{p}"

        seed = shot.seed if shot.seed is not None else (spec.scene.seed if spec.scene else None)
        params: dict[str, Any] = {"resolution": checked.resolution, "duration": checked.duration,
                                  "watermark": False}
        inp: dict[str, Any] = {"prompt": sent}
        if c.protocol == "media":
            items: list[dict[str, Any]] = [{"type": "reference_image", "url": url(p)}
                                           for p in refs]
            limits = capabilities.voice_limits(model)
            if limits and refs:  # a cast member's voice sample: their timbre (wan2.7-r2v)
                for item, voice in zip(items, self._reference_voices(ctx, refs, limits),
                                       strict=True):
                    if voice is not None:
                        item["reference_voice"] = url(voice)
            if frame:
                items.append({"type": "first_frame", "url": url(frame)})
            if items:
                inp["media"] = items
            if c.family == "wan2.7":
                params["prompt_extend"] = False
                if shot.negative_prompt:
                    inp["negative_prompt"] = shot.negative_prompt
            if checked.ratio and not frame:
                params["ratio"] = checked.ratio
        else:  # legacy wan2.6: img_url / reference_urls / size
            params["prompt_extend"] = False
            if shot.negative_prompt:
                inp["negative_prompt"] = shot.negative_prompt
            if eff == "i2v":
                inp["img_url"] = url(frame)  # type: ignore[arg-type]
            else:
                params.pop("resolution")
                params["size"] = capabilities.video_size(model, checked.resolution,
                                                         checked.ratio or "16:9")
                if refs:
                    inp["reference_urls"] = [url(p) for p in refs]
        if seed is not None:
            params["seed"] = seed
        body = {"model": model, "input": inp, "parameters": params}
        uses_oss = "oss://" in repr(inp)
        return checked, body, sent, uses_oss

    def _reference_voices(self, ctx: CallContext, refs: list[Path],
                          limits: capabilities.VoiceLimits) -> list[Path | None]:
        """For each reference image: the voice sample of the cast member it shows (by the cast
        manifest; a member's several portraits are one grid image, and the voice goes with
        it), the first of their samples the model takes. A sample it would refuse (format,
        length, size) is never sent; the job's log names it and the limit, once."""
        try:
            samples = voice_samples(ctx.paths)
        except Exception as e:  # noqa: BLE001 - an unreadable manifest: its own check names it
            self._say_once(ctx, f"cast manifest: {e}", "reference voices: none sent "
                           f"(the cast manifest could not be read: {e})")
            return [None] * len(refs)
        root = ctx.paths.project_paths.root.parent
        out: list[Path | None] = []
        for ref in refs:
            try:
                rel = Path(ref).relative_to(root).as_posix()
            except ValueError:
                rel = ""
            chosen: Path | None = None
            for v in samples.get(rel, []):
                p = root / v
                why = limits.check(p)
                if why is None:
                    chosen = p
                    break
                self._say_once(ctx, v, f"reference voice {p}: not sent to the video model, "
                               f"{why} (source: {limits.source})")
            out.append(chosen)
        return out

    def _say_once(self, ctx: CallContext, key: str, message: str) -> None:
        if key in self._said:  # one client per render job: once per job
            return
        self._said.add(key)
        log = ctx.extra.get("log")
        if log is not None:
            log(message)
        else:
            print(message, file=sys.stderr)

    def estimate(self, spec: ShotSpec, *, first_frame: bool) -> tuple[str, int, float | None]:
        """(model, billed seconds, cost) the render of `spec` will have (no retries)."""
        model, _ = capabilities.plan(self.name, spec.shot.kind, first_frame=first_frame,
                                     cfg=self.cfg)
        secs = capabilities.effective_duration(model, spec.shot.duration)
        return model, secs, video_cost(model, spec.resolution.upper(), secs)

    # ---------------------------------------------------------------- render
    def render(self, ctx: CallContext, spec: ShotSpec, prompt: str, out: Path, *,
               first_frame: Path | None, media: list[Path],
               pending: PendingTask | None = None,
               on_submitted: Callable[[PendingTask], None] | None = None) -> RenderResult:
        out = Path(out)
        checked, body, sent, uses_oss = self.build(ctx, spec, prompt, first_frame, media, None)
        model = checked.model
        fp = fingerprint(body)
        if pending is None:
            pending = pending_from_log(ctx.paths, ctx.shot, ctx.attempt, model, sent)
            if pending is None and not ctx.extra.get("resubmit"):
                intent = unresolved_intent(ctx.paths, ctx.shot, ctx.attempt, fp)
                if intent is not None:  # killed between POST and answer: find the task
                    t = DashScopeTransport(self.settings, sleep=self.sleep)
                    try:
                        pending = self._adopt(ctx, t, intent, checked, sent)
                    finally:
                        t.close()
            if pending and on_submitted:
                on_submitted(pending)
        if pending is not None:
            t = DashScopeTransport(self.settings, base_url=pending.base_url, sleep=self.sleep)
            try:
                with ExitStack() as held:
                    held.enter_context(ctx.call_slot())
                    held.enter_context(model_slot(model, self.settings))
                    return self._finish(ctx, t, pending.task_id, checked, sent, out,
                                        resumed=True, release=held.close)
            finally:
                t.close()
        t = DashScopeTransport(self.settings, sleep=self.sleep)
        try:
            return self._submit_and_finish(ctx, t, spec, prompt, out, first_frame, media,
                                           checked, body, sent, uses_oss, on_submitted, fp)
        finally:
            t.close()

    def _submit_and_finish(self, ctx: CallContext, t: DashScopeTransport, spec: ShotSpec,
                           prompt: str, out: Path, first_frame: Path | None,
                           media: list[Path], checked: capabilities.CheckedRequest,
                           body: dict[str, Any], sent: str, uses_oss: bool,
                           on_submitted: Callable[[PendingTask], None] | None,
                           fp: str) -> RenderResult:
        model = checked.model
        if any(not str(p).startswith(("http", "oss:", "data:")) for p in
               [*(media or []), *([first_frame] if first_frame else [])]):
            with ctx.timed(self.name, model, "uploads (getPolicy + oss)") as rec:
                checked, body, sent, uses_oss = self.build(ctx, spec, prompt, first_frame,
                                                           media, t)
                rec["billed_units"] = None
        est = video_cost(model, checked.resolution, checked.duration)
        iid = new_intent(fp)
        submit_ep = f"{t.base_url}/{VIDEO_PATH} (submit)"
        with ExitStack() as held:
            held.enter_context(ctx.call_slot())
            held.enter_context(model_slot(model, self.settings))
            with reserve(ctx, est, what=f"{spec.shot.id} ({model}, {checked.duration}s at "
                         f"{checked.resolution})", model=model, intent=iid):
                # durable before the POST: a run killed before the answer finds the task
                ctx.record(provider=self.name, model=model, endpoint=submit_ep,
                           status="intent", intent=iid, prompt=sent)
                try:
                    with ctx.timed(self.name, model, submit_ep, prompt=sent,
                                   intent=iid) as rec:
                        try:
                            ans = t.submit(VIDEO_PATH, body, oss=uses_oss)
                        except BaseException as e:
                            if outcome_unknown(e):
                                rec.pop("intent")  # the intent stays open
                            raise
                        task_id = ans["output"]["task_id"]
                        rec.update(task_id=task_id, billed_units=float(checked.duration),
                                   unit="second")
                except SubmitOutcomeUnknown:
                    intent = unresolved_intent(ctx.paths, ctx.shot, ctx.attempt, fp)
                    if intent is None:
                        raise
                    task_id = self._adopt(ctx, t, intent, checked, sent).task_id
            task = PendingTask(task_id=task_id, base_url=t.base_url)
            if on_submitted:
                on_submitted(task)
            return self._finish(ctx, t, task_id, checked, sent, out, resumed=False,
                                release=held.close)

    def _adopt(self, ctx: CallContext, t: DashScopeTransport, intent: dict[str, Any],
               checked: capabilities.CheckedRequest, sent: str) -> PendingTask:
        """The submit of `intent` was sent but its answer never arrived. Look for its task
        in the account's task list (same model, submitted around the intent's time, not a
        task this episode already knows). Adopt exactly one; when several remain, wait for
        them to end and match the prompt each ran. Otherwise stop: paying again must be
        asked for (`--resubmit`)."""
        model = checked.model
        t0 = _parse_ts(intent.get("ts")) or time.time() - 3600
        known = {r.get("task_id") for r in read_calls(ctx.paths.model_calls) if r.get("task_id")}
        # which timezone the list's start_time/end_time mean is not documented (we send UTC;
        # Beijing is UTC+8): a window of +-9 h around the intent holds either reading
        found = [row for row in t.list_tasks(start=t0 - LIST_WINDOW_S,
                                             end=max(time.time(), t0) + LIST_WINDOW_S,
                                             model=model)
                 if row.get("task_id") and row["task_id"] not in known]
        if len(found) > 1:  # several unknown tasks: the one that ran exactly this prompt
            matched = []
            for row in found:
                o = (self._poll(t, row["task_id"]).get("output") or {})
                if o.get("orig_prompt") == sent:
                    matched.append(row)
            found = matched
        shot = ctx.shot or "?"
        if len(found) != 1:
            raise SubmitOutcomeUnknown(
                f"{shot}: a paid submit to {model} was sent at {intent.get('ts')} but its "
                f"answer never arrived, and the account's task list has "
                f"{'no' if not found else len(found)} matching task"
                f"{'' if len(found) == 1 else 's'}, so whether it was paid is unknown. Check "
                "the Model Studio console; to pay again, re-render with --resubmit.",
                code="SubmitOutcomeUnknown")
        task_id = found[0]["task_id"]
        ctx.record(provider=self.name, model=model, endpoint=intent.get("endpoint"),
                   status="ok", intent=intent.get("intent"), task_id=task_id,
                   billed_units=float(checked.duration), unit="second", prompt=sent,
                   error=None)
        return PendingTask(task_id=task_id, base_url=t.base_url)

    def _poll(self, t: DashScopeTransport, task_id: str) -> dict[str, Any]:
        s = self.settings
        interval = s.poll_interval_s
        deadline = time.monotonic() + s.render_timeout_s
        while True:
            ans = t.get_task(task_id)
            status = (ans.get("output") or {}).get("task_status", "UNKNOWN")
            if status in TERMINAL:
                return ans
            if time.monotonic() + interval > deadline:
                raise ProviderError(
                    f"task {task_id} is still {status} after {s.render_timeout_s:.0f}s "
                    "(SPARK_VIDEO_RENDER_TIMEOUT_S). Its id is kept in the shot's state: "
                    "running the build again resumes polling it (no new submission).",
                    code="PollTimeout", retryable=True)
            self.sleep(interval)
            interval = min(s.poll_max_s, interval + max(0.5 * s.poll_interval_s, 0.001))

    def _finish(self, ctx: CallContext, t: DashScopeTransport, task_id: str,
                checked: capabilities.CheckedRequest, sent: str, out: Path, *,
                resumed: bool, release: Callable[[], Any] = lambda: None) -> RenderResult:
        """Poll the task to its end, then `release` the slots it held (the download and
        the check of the file overlap the next shot's task), then fetch the result."""
        model = checked.model
        ep = f"tasks/{task_id}"
        t0 = time.monotonic()
        try:
            ans = self._poll(t, task_id)
            release()
        except ProviderError as e:
            ctx.record(provider=self.name, model=model, endpoint=ep, task_id=task_id,
                       status="error", error=str(e),
                       duration_ms=int((time.monotonic() - t0) * 1000))
            raise
        o = ans.get("output") or {}
        status = o.get("task_status")
        if status != "SUCCEEDED":
            code, msg = o.get("code"), o.get("message")
            billed = 0.0
            if status == "UNKNOWN":
                billed = float(checked.duration)  # may have run and expired: assume paid
                err = (f"task {task_id} on {t.base_url} is UNKNOWN: it does not exist or has "
                       "expired (task ids live 24 h). Its result cannot be fetched; render "
                       "the shot again (a new paid task).")
                code = "TaskExpired"
            else:
                err = (f"task {task_id} ({model}) {status}: {code or 'error'}: "
                       f"{msg or '(no message)'}")
            ctx.record(provider=self.name, model=model, endpoint=ep, task_id=task_id,
                       status="error", error=err, billed_units=billed, unit="second",
                       cost=video_cost(model, checked.resolution, billed) if billed else 0.0,
                       currency=currency(model),
                       duration_ms=int((time.monotonic() - t0) * 1000))
            if code in MODERATION_CODES or (msg and "inappropriate" in msg.lower()):
                raise ContentRejected(err + " — content moderation; rewrite the prompt",
                                      code=code)
            # a transient provider error or an expired task: a new take may succeed
            raise ProviderError(err, code=code, retryable=code in TRANSIENT_TASK_CODES
                                or code == "TaskExpired")
        usage = ans.get("usage") or {}
        billed = usage.get("duration")
        if billed is None:
            billed = usage.get("video_duration") or checked.duration
        billed = float(billed)
        sr = usage.get("SR")
        res = f"{sr}P" if sr else checked.resolution
        cost = video_cost(model, res, billed)
        video_url = o.get("video_url") or ((o.get("results") or [{}])[0].get("url"))
        rec: dict[str, Any] = dict(provider=self.name, model=model, endpoint=ep,
                                   task_id=task_id, billed_units=billed, unit="second",
                                   cost=cost, currency=currency(model))
        try:
            if not video_url:
                raise ProviderError(f"task {task_id} SUCCEEDED without a video_url",
                                    code="BadResponse")
            tmp = out.with_name(f".{out.stem}.download.mp4")
            t.download(video_url, tmp, what=f"result of task {task_id}")
            try:
                info = probe(tmp)
                if not info.has_video or info.duration <= 0:
                    raise MediaError(f"{tmp}: no video stream")
            except MediaError as e:
                tmp.unlink(missing_ok=True)
                raise ProviderError(f"task {task_id}: the downloaded file is not a playable "
                                    f"mp4 ({e})", code="BadVideo", retryable=True) from None
            os.replace(tmp, out)
        except ProviderError as e:
            ctx.record(status="error", error=str(e),
                       duration_ms=int((time.monotonic() - t0) * 1000), **rec)
            raise
        ctx.record(status="ok", duration_ms=int((time.monotonic() - t0) * 1000), **rec)
        return RenderResult(model=model, duration_s=info.duration, task_id=task_id,
                            billed_seconds=billed, cost=cost, sent_prompt=sent)


# --------------------------------------------------------------------------- TTS


@dataclass
class DashScopeTTS:
    """CosyVoice over HTTP (SpeechSynthesizer) and Qwen-TTS (multimodal-generation)."""

    name: str
    settings: ConnSettings
    cfg: Any

    def synthesize(self, ctx: CallContext, text: str, out: Path, *, voice: str,
                   rate: float) -> Path:
        out = Path(out)
        model = getattr(ctx.cfg, "narrator_tts_model", None) or "cosyvoice-v3-flash"
        capabilities.check_tts_request(model, text, voice, rate)  # before paying
        chars = tts_billed_chars(text)
        est = tts_cost(model, chars)
        t = DashScopeTransport(self.settings)
        fmt = "wav" if out.suffix.lower() == ".wav" else "mp3"
        with paid_call(ctx, self.name, model, COSY_PATH if model.startswith("cosyvoice")
                       else MM_GEN_PATH, [text, voice, rate, out.name],
                       what=f"TTS of {chars} characters for {out.name}", est=est,
                       prompt=text[:500]) as rec:
            if model.startswith("cosyvoice"):
                ans = t.json("POST", COSY_PATH, where=f"tts {model}", json_body={
                    "model": model, "input": {"text": text, "voice": voice, "format": fmt,
                                              "sample_rate": 24000, "rate": rate}})
                got_fmt, stretch = fmt, 1.0
            else:  # Qwen-TTS: wav, no rate parameter -> atempo afterwards
                ans = t.json("POST", MM_GEN_PATH, where=f"tts {model}", json_body={
                    "model": model, "input": {"text": text, "voice": voice}})
                got_fmt, stretch = "wav", rate
            audio = (ans.get("output") or {}).get("audio") or {}
            if not audio.get("url"):
                raise ProviderError(f"tts {model}: no output.audio.url in the answer",
                                    code="BadResponse")
            tmp = out.with_name(f".{out.stem}.download.{got_fmt}")
            t.download(audio["url"], tmp, what=f"tts audio ({model})")
            if got_fmt != fmt or abs(stretch - 1.0) > 1e-3:
                conv = out.with_name(f".{out.stem}.conv{out.suffix}")
                args = ["-y", "-i", str(tmp)]
                if abs(stretch - 1.0) > 1e-3:
                    args += ["-filter:a", f"atempo={min(max(stretch, 0.5), 2.0):.3f}"]
                run([*args, str(conv)], what=f"converting TTS audio to {out.name}")
                tmp.unlink(missing_ok=True)
                tmp = conv
            try:
                probe(tmp)
            except MediaError as e:
                raise ProviderError(f"tts {model}: the audio is unreadable ({e})",
                                    code="BadAudio") from None
            os.replace(tmp, out)
            usage = ans.get("usage") or {}
            billed = int(usage.get("characters") or chars)
            rec.update(billed_units=float(billed), unit="char", cost=tts_cost(model, billed),
                       currency=currency(model))
        return out


# --------------------------------------------------------------------------- images


@dataclass
class DashScopeImage:
    """Portraits, sets, props through the synchronous multimodal-generation endpoint."""

    name: str
    settings: ConnSettings
    cfg: Any

    def generate(self, ctx: CallContext, prompt: str, out: Path, *, size: str,
                 label: str = "") -> Path:
        model = _env_or(self.cfg, "SPARK_VIDEO_IMAGE_MODEL", "image_model", DEFAULT_IMAGE_MODEL)
        return self._make(ctx, model, [{"text": prompt}], prompt, out, size=size, label=label)

    def edit(self, ctx: CallContext, prompt: str, images: list[Path], out: Path, *,
             size: str, label: str = "") -> Path:
        """An image edit (e.g. a costume change, face kept): the images go before the text."""
        model = _env_or(self.cfg, "SPARK_VIDEO_IMAGE_EDIT_MODEL", "image_edit_model",
                        DEFAULT_IMAGE_EDIT_MODEL)
        content: list[dict[str, Any]] = [{"image": data_uri(Path(p))} for p in images]
        content.append({"text": prompt})
        return self._make(ctx, model, content, prompt, out, size=size, label=label)

    def _make(self, ctx: CallContext, model: str, content: list[dict[str, Any]], prompt: str,
              out: Path, *, size: str, label: str) -> Path:
        out = Path(out)
        size = re.sub(r"\s*[x×X]\s*", "*", size.strip())
        if ":" in size:  # an aspect ratio: the size this model accepts for it
            size = capabilities.image_size(model, size)
        caps = capabilities.check_image_request(model, size, 1, prompt)  # before paying
        est = unit_price(model, "image_number")
        t = DashScopeTransport(self.settings, sleep=time.sleep)
        params = {"size": size, "n": 1, "watermark": False, "prompt_extend": False}
        if caps.protocol == "async":
            return self._generate_async(ctx, t, model, prompt, params, out, est, label)
        with paid_call(ctx, self.name, model, MM_GEN_PATH, [prompt, params, out.name],
                       what=f"image {label or out.name}", est=est,
                       prompt=prompt[:500]) as rec:
            ans = t.json("POST", MM_GEN_PATH, where=f"image {model}", json_body={
                "model": model,
                "input": {"messages": [{"role": "user", "content": content}]},
                "parameters": params}, idempotent=False)
            url = next((part["image"] for ch in (ans.get("output") or {}).get("choices") or []
                        for part in (ch.get("message") or {}).get("content") or []
                        if isinstance(part, dict) and part.get("image")), None)
            return self._keep(t, url, out, model, rec, est,
                              missing=f"image {model}: no image URL in the answer")

    def _keep(self, t: DashScopeTransport, url: str | None, out: Path, model: str,
              rec: dict[str, Any], est: float | None, *, missing: str) -> Path:
        """Save the answer's image as `out` and book it as one paid image (the answer
        naming no image is an error: `missing`)."""
        if not url:
            raise ProviderError(missing, code="BadResponse")
        self._save(t, url, out, model)
        rec.update(billed_units=1.0, unit="image", cost=est, currency=currency(model))
        return out

    def _save(self, t: DashScopeTransport, url: str, out: Path, model: str) -> None:
        tmp = out.with_name(f".{out.stem}.download")
        t.download(url, tmp, what=f"image ({model})")
        try:
            from PIL import Image

            with Image.open(tmp) as im:
                im.load()
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
            atomic_write_bytes(out, buf.getvalue())
        except Exception as e:  # noqa: BLE001 - any decode failure is a bad image
            raise ProviderError(f"image {model}: unreadable image ({e})",
                                code="BadImage") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _generate_async(self, ctx: CallContext, t: DashScopeTransport, model: str, prompt: str,
                        params: dict[str, Any], out: Path, est: float | None,
                        label: str) -> Path:
        """wan2.5 / wan2.2 / wanx2.1 t2i: an async task on text2image/image-synthesis."""
        with paid_call(ctx, self.name, model, f"{T2I_PATH} (submit)",
                       [prompt, params, out.name], what=f"image {label or out.name}",
                       est=est, prompt=prompt[:500]) as rec:
            ans = t.submit(T2I_PATH, {"model": model, "input": {"prompt": prompt},
                                      "parameters": params}, oss=False)
            task_id = ans["output"]["task_id"]
            rec.update(task_id=task_id, billed_units=1.0, unit="image")
        interval = self.settings.poll_interval_s
        deadline = time.monotonic() + self.settings.render_timeout_s
        with ctx.timed(self.name, model, f"tasks/{task_id}", task_id=task_id) as rec:
            while True:
                o = t.get_task(task_id).get("output") or {}
                status = o.get("task_status")
                if status in TERMINAL:
                    break
                if time.monotonic() > deadline:
                    raise ProviderError(f"image task {task_id} still {status} after "
                                        f"{self.settings.render_timeout_s:.0f}s",
                                        code="PollTimeout", retryable=True)
                time.sleep(interval)
                interval = min(self.settings.poll_max_s, interval * 1.5)
            if status != "SUCCEEDED":
                rec.update(billed_units=0.0, unit="image", cost=0.0)
                raise ProviderError(f"image task {task_id} ({model}) {status}: "
                                    f"{o.get('code') or 'error'}: {o.get('message') or ''}",
                                    code=o.get("code") or status,
                                    retryable=o.get("code") in TRANSIENT_TASK_CODES)
            url = ((o.get("results") or [{}])[0] or {}).get("url")
            return self._keep(t, url, out, model, rec, est,
                              missing=f"image task {task_id}: no results[0].url")
