"""One interface per capability (text, video, review, tts, image) and the call log.

Every provider call goes through `CallContext.record()`, which appends one line to the
episode's `logs/model_calls.jsonl`. Secrets never reach that line: `redact()` scrubs any
secret (the rule is in `redaction`) from every string field before it is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..base.io import append_jsonl
from ..base.models import ModelCall, Review, ShotSpec
from ..base.paths import EpisodePaths
from ..base.redaction import redact
from ..base.settings import CAPABILITIES, WorkflowConfig, provider_for

# the key each non-offline provider reads from the environment
PROVIDER_SECRET = {"bl": "DASHSCOPE_API_KEY", "wan27": "DASHSCOPE_API_KEY",
                   "openai": "OPENAI_API_KEY"}


def secrets_needed(cfg: WorkflowConfig) -> list[str]:
    """The secret environment variables this configuration's providers read: the Snakefile
    declares them with `envvars:`, so a missing key stops the build before any job starts
    and cluster executors pass them to jobs without writing them into a job script."""
    names = {PROVIDER_SECRET.get(provider_for(cfg, c)) for c in CAPABILITIES}
    return sorted(n for n in names if n)


class ProviderError(RuntimeError):
    """A provider call failed for good; the message says what, why and what to do."""

    def __init__(self, message: str, *, code: str | None = None, retryable: bool = False):
        super().__init__(redact(message))
        self.code = code
        self.retryable = retryable


class ContentRejected(ProviderError):
    """Content moderation refused the prompt or the output: rewrite, do not plain-retry."""


class BudgetExceeded(ProviderError):
    """The next paid submission would take the spend past the budget."""


@dataclass
class CallContext:
    """Who is calling: the episode, the shot, the phase and attempt, for the call log."""

    paths: EpisodePaths
    cfg: WorkflowConfig
    phase: str
    shot: str | None = None
    attempt: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, **fields: Any) -> ModelCall:
        for k in ("error", "prompt", "endpoint"):
            if isinstance(fields.get(k), str):
                fields[k] = redact(fields[k])
        if self.extra.get("prompt_file") and "prompt_file" not in fields:
            fields["prompt_file"] = self.extra["prompt_file"]
        call = ModelCall(
            project=self.paths.project,
            episode=self.paths.episode,
            shot=self.shot,
            phase=self.phase,
            attempt=self.attempt,
            **fields,
        )
        append_jsonl(self.paths.model_calls, call.model_dump(mode="json"))
        return call

    def call_slot(self) -> AbstractContextManager[Any]:
        """The caller's provider-call slot (`extra["call_slot"]`, a factory; none: no
        limit). A video provider holds it from its submit until its task has ended, not
        while it uploads media or downloads the result, so those overlap other calls."""
        factory = self.extra.get("call_slot")
        return factory() if factory else nullcontext()

    @contextmanager
    def timed(self, provider: str, model: str | None, endpoint: str | None = None,
              **fields: Any) -> Iterator[dict[str, Any]]:
        """Record one call with its duration; the body may add fields (cost, task_id...)."""
        out: dict[str, Any] = dict(fields)
        t0 = time.monotonic()
        try:
            yield out
        except BaseException as e:
            out.setdefault("error", f"{type(e).__name__}: {e}")
            self.record(provider=provider, model=model, endpoint=endpoint, status="error",
                        duration_ms=int((time.monotonic() - t0) * 1000), **out)
            raise
        self.record(provider=provider, model=model, endpoint=endpoint, status="ok",
                    duration_ms=int((time.monotonic() - t0) * 1000), **out)


@dataclass
class RenderResult:
    model: str
    duration_s: float | None = None
    task_id: str | None = None
    billed_seconds: float | None = None
    cost: float | None = None
    sent_prompt: str | None = None


@dataclass
class PendingTask:
    """A paid task already submitted for this attempt: resume it instead of paying again."""

    task_id: str
    base_url: str | None = None


class TextProvider(Protocol):
    name: str

    def complete(self, ctx: CallContext, *, role: str, system: str, user: str,
                 json_mode: bool = False, data: dict[str, Any] | None = None) -> str:
        """Answer one role prompt. `data` is the structured input the prompt was made from
        (the offline provider writes from it deterministically)."""
        ...


class VideoProvider(Protocol):
    name: str

    def render(self, ctx: CallContext, spec: ShotSpec, prompt: str, out: Path, *,
               first_frame: Path | None, media: list[Path],
               pending: PendingTask | None = None,
               on_submitted: Callable[[PendingTask], None] | None = None) -> RenderResult:
        """Render one version of a shot into `out` (an H.264/AAC mp4)."""
        ...


class ReviewProvider(Protocol):
    name: str

    def review(self, ctx: CallContext, spec: ShotSpec, clip: Path, *, version: int,
               first_frame: Path | None, portraits: list[Path]) -> Review:
        """Raw scores for the six axes (the reviewer's own verdict goes in model_verdict;
        verdict is ERROR on failure, else a REJECT placeholder): the caller applies
        `review_policy.decide()`, the one ACCEPT rule."""
        ...


class TTSProvider(Protocol):
    name: str

    def synthesize(self, ctx: CallContext, text: str, out: Path, *, voice: str,
                   rate: float) -> Path:
        """Speak `text` into an audio file at `out` (wav or mp3) and return its path."""
        ...


class ImageProvider(Protocol):
    name: str

    def generate(self, ctx: CallContext, prompt: str, out: Path, *, size: str,
                 label: str = "") -> Path:
        """Make one still image (portrait, set, prop) at `out` (png). `size` is an aspect
        ratio "W:H" (the provider picks a pixel size its model accepts) or exact "W*H"."""
        ...
