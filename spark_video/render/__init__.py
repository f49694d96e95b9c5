"""The render loop of one shot: render → last frame → review → ACCEPT or rewrite
and retry → after max_retry rounds promote the best take and escalate.

The shot's job is the single writer of `state/<shot>.json`; every change is written
atomically before the next step, so a killed build resumes where it stopped: a submitted
paid task is polled again (never submitted twice) and a finished winner is restored by a
copy, not re-rendered.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..base.io import InputError, atomic_write_json, atomic_write_text, load_model
from ..base.models import (
    AXES,
    Attempt,
    Review,
    ShotFailure,
    ShotSpec,
    ShotState,
    TakeRequest,
    now_iso,
)
from ..base.paths import EpisodePaths
from ..base.project import media_path, refuse_placeholder
from ..base.settings import WorkflowConfig
from ..media import MediaError, canvas_size, extract_frame, looks_whole, make_poster, probe, run
from ..providers import get_provider
from ..providers.base import (
    BudgetExceeded,
    CallContext,
    ContentRejected,
    PendingTask,
    ProviderError,
)
from ..providers.slots import api_slot
from ..roles import rewrite_prompt
from ..roles.review_policy import decide


@contextmanager
def single_writer(paths: EpisodePaths, shot_id: str, log=print) -> Iterator[None]:
    """Hold the shot's writer lock (state/<shot>.lock) while rendering it. When the
    controlling Snakemake dies, its cluster jobs keep running; a restarted build's job for
    the same shot waits here for the orphan to finish, then restores its take instead of
    paying for a second one. flock dies with its process (no stale lock) and is shared
    across nodes by NFS (lockd)."""
    lock = paths.shot_state(shot_id).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"{shot_id}: another job is still rendering this shot; waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def rebuild_state_command(paths: EpisodePaths, shot_id: str) -> str:
    return (f"uv run spark-video render --shot {shot_id} --rebuild-state "
            f"--project {paths.project} --episode {paths.episode}")


def load_state(paths: EpisodePaths, shot_id: str) -> ShotState:
    p = paths.shot_state(shot_id)
    if not p.exists():
        return ShotState(shot_id=shot_id)
    try:
        return load_model(ShotState, p)
    except InputError as e:
        raise unreadable_state(paths, shot_id, e) from None


def unreadable_state(paths: EpisodePaths, shot_id: str, e: InputError) -> InputError:
    """The error for a shot state that cannot be read (`e`: why), with the command that
    rebuilds it."""
    return InputError(paths.shot_state(shot_id), f"{e.detail}; nothing was rendered. Rebuild "
                      f"it from the takes on disk (nothing is paid): "
                      f"{rebuild_state_command(paths, shot_id)}")


def rebuild_state(paths: EpisodePaths, shot_id: str) -> ShotState:
    """state/<shot>.json made again from what is on disk -- the takes clips/<shot>-verN.mp4,
    their reviews, the published clip -- for a spoiled (truncated, edited) state file, which
    is kept beside it as .spoiled. The winner is the take the published clip is a copy of
    (else the best-reviewed take); its input key is today's, so the next build restores it
    instead of paying for a new take."""
    spec = load_spec(paths, shot_id)
    p = paths.shot_state(shot_id)
    versions = sorted(v for v in paths.clip_versions().get(shot_id, {}))
    if not versions:
        raise InputError(p, f"no take of {shot_id} on disk (clips/{shot_id}-verN.mp4) to "
                         f"rebuild it from: delete it and render the shot "
                         f"(uv run spark-video render --shot {shot_id}; this pays for a take)")
    published = paths.clip(shot_id)
    pub_hash = hashlib.sha256(published.read_bytes()).digest() if published.exists() else None
    state = ShotState(shot_id=shot_id)
    winner = None
    for v in versions:
        review = None
        rp = paths.review(shot_id, v)
        if rp.exists():
            try:
                review = load_model(Review, rp)
            except InputError:
                review = None
        clip = paths.clip_version(shot_id, v)
        state.attempts.append(Attempt(version=v, status="SUCCEEDED", provider="rebuilt",
                                      prompt=spec.shot.prompt, review=review,
                                      video_path=_rel(paths, clip)))
        if pub_hash and hashlib.sha256(clip.read_bytes()).digest() == pub_hash:
            winner = v
    if winner is None:
        best = _best(state.attempts)
        winner = best.version if best else versions[-1]
    if p.exists():
        shutil.copyfile(p, p.with_name(p.name + ".spoiled"))
    promote(paths, state, winner)
    first = spec.prev_shot and paths.last_frame(spec.prev_shot)
    key = input_key(paths, spec, first if first and first.exists() else None)
    state.input_key = state.attempt(winner).input_key = key
    save_state(paths, state)
    return state


def save_state(paths: EpisodePaths, state: ShotState) -> None:
    atomic_write_json(paths.shot_state(state.shot_id), state)


def load_spec(paths: EpisodePaths, shot_id: str) -> ShotSpec:
    p = paths.shot_spec(shot_id)
    if not p.exists():
        raise InputError(p, "no render spec: compile the storyboard first "
                         "(uv run spark-video storyboard compile ...)")
    return load_model(ShotSpec, p)


def first_frame_for(paths: EpisodePaths, spec: ShotSpec) -> Path | None:
    if not spec.prev_shot:
        return None
    f = paths.last_frame(spec.prev_shot)
    if not f.exists():
        raise InputError(f, f"{spec.shot.id} chains from {spec.prev_shot}, whose last frame is "
                         "missing: render the previous shot first")
    return f


def input_key(paths: EpisodePaths, spec: ShotSpec, first_frame: Path | None) -> str:
    h = hashlib.sha256(paths.shot_spec(spec.shot.id).read_bytes())
    src = paths.shot_spec(spec.shot.id)
    for p in ([first_frame] if first_frame else []) + [media_path(paths, m, source=src)
                                                       for m in spec.media]:
        h.update(p.name.encode())
        if p.exists():
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def promote(paths: EpisodePaths, state: ShotState, version: int) -> None:
    src = paths.clip_version(state.shot_id, version)
    if not src.exists():
        raise InputError(src, f"version {version} of {state.shot_id} is not on disk")
    dst = paths.clip(state.shot_id)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)
    state.winner_version = version
    state.winner_path = str(dst.relative_to(paths.root))


def _rel(paths: EpisodePaths, p: Path | None) -> str | None:
    return str(p.relative_to(paths.root)) if p else None


def _best(attempts: list[Attempt]) -> Attempt | None:
    scored = [a for a in attempts if a.status == "SUCCEEDED" and a.review
              and a.review.score is not None]
    return max(scored, key=lambda a: (a.review.score, a.version)) if scored else None


def write_escalation(paths: EpisodePaths, spec: ShotSpec, rounds: list[Attempt],
                     best: Attempt | None) -> None:
    lines = [f"# Escalation: {spec.shot.id}", "",
             f"Retries exhausted after {len(rounds)} round(s); "
             f"best take: ver{best.version if best else '-'} "
             f"(score {best.review.score if best and best.review else '-'}).", "",
             "| ver | " + " | ".join(AXES) + " | score | verdict |",
             "|---|" + "---|" * (len(AXES) + 2)]
    for a in rounds:
        r = a.review
        if r and r.breakdown:
            cells = " | ".join(f"{r.breakdown.get(x, '')}" for x in AXES)
            lines.append(f"| {a.version} | {cells} | {r.score} | {r.verdict} |")
        else:
            lines.append(f"| {a.version} | " + " | ".join("" for _ in AXES)
                         + f" | | {a.status} |")
    lines += ["", "## Critiques", ""]
    lines += [f"- ver{a.version}: {a.review.critique if a.review else a.error}" for a in rounds]
    lines += ["", "## Prompts tried", ""] + [f"- ver{a.version}: {a.prompt}" for a in rounds]
    lines += ["", "## Next step", "",
              "Rewrite the shot in its scenes/scene-NN.json (prompt, kind, duration, "
              "characters, seed), re-approve the storyboard and build again; or keep the best "
              f"take: `uv run spark-video render --shot {spec.shot.id} --accept-version "
              f"{best.version if best else 1} --project {paths.project} "
              f"--episode {paths.episode}`."]
    atomic_write_text(paths.escalation(spec.shot.id), "\n".join(lines) + "\n")


# A FAILED take with one of these codes still has a paid task behind it (still running, or
# its download broke): fetch the same task again, never pay for a new one.
REFETCH_CODES = {"PollTimeout", "DownloadFailed", "BadVideo"}


class ShotFailed(Exception):
    """The shot has no take after its retries; carries the provider's code and message."""

    def __init__(self, code: str, message: str, *, retry_flags: str = ""):
        super().__init__(message)
        self.code, self.message, self.retry_flags = code, message, retry_flags


def retry_command(paths: EpisodePaths, shot_id: str, flags: str = "") -> str:
    """One command that retries the shot: it writes the take request and (--now) builds it."""
    return (f"uv run spark-video render --shot {shot_id}{' ' + flags if flags else ''} "
            f"--now --project {paths.project} --episode {paths.episode}")


def render_shot(paths: EpisodePaths, cfg: WorkflowConfig, shot_id: str, *,
                request: TakeRequest | None = None, log=print,
                sleep=time.sleep) -> ShotState:
    """Render one shot until a take is ACCEPTed (or the best is promoted and escalated).

    Steps: resume (restore a winner for the same inputs) → takes (submit, FAILED tasks retried
    with backoff, moderation answered with a rewritten prompt) → review → promote or rewrite
    and retry → escalate. A shot that still fails is recorded as FAILED (code, message, retry
    command) with a slate in place of its clip, so the other shots keep rendering and GATE 3
    stays closed. Only a budget stop ends the job with an error.

    `request` (takes/<shot>.json) asks for a new take; once served it is closed in the state
    (take_request_served), so a later run of this job (e.g. `snakemake -f`) restores the
    accepted take instead of paying again."""
    spec = load_spec(paths, shot_id)
    state = load_state(paths, shot_id)
    upstream = _upstream_failure(paths, spec)
    if upstream:
        return _fail(paths, spec, state, ShotFailed("UpstreamFailed", upstream), log)
    first = first_frame_for(paths, spec)
    # chain_cascade false: a new first frame alone does not make a new take
    key = input_key(paths, spec, first if cfg.chain_cascade else None)
    open_take = request.take if request and request.take > state.take_request_served else None
    if open_take:
        log(f"{shot_id}: {paths.take_request(shot_id).name} asks for take {open_take}"
            + (f" ({request.reason})" if request.reason else ""))
    elif _restore_winner(paths, state, key, log):
        return state
    state.failed = None
    try:
        state = _rounds(paths, cfg, spec, state, key, first, since=open_take,
                        resubmit=bool(open_take and request.resubmit), log=log, sleep=sleep)
    except ShotFailed as f:
        return _fail(paths, spec, state, f, log)
    if open_take:  # served: the request stays on disk as a record, closed here
        state.take_request_served = open_take
        save_state(paths, state)
    return state


IMPORTED = "imported"  # input_key of a winner imported from the original spark-video


def _restore_winner(paths: EpisodePaths, state: ShotState, key: str, log) -> bool:
    """The winner for exactly these inputs is on disk: restore it, never pay again. A take
    brought by `spark-video import` (input_key IMPORTED) was paid for under the original
    tool: it is adopted for the current inputs."""
    if state.input_key == IMPORTED and state.winner_version:
        state.input_key = key
        att = state.attempt(state.winner_version)
        if att is not None:
            att.input_key = key
    if state.input_key == key and state.winner_version:
        take = paths.clip_version(state.shot_id, state.winner_version)
        if not playable(take):
            if take.exists():
                log(f"{state.shot_id}: take ver{state.winner_version} ({take}) is empty or "
                    "truncated; rendering the shot again")
            return False
        promote(paths, state, state.winner_version)
        state.failed = None
        save_state(paths, state)
        log(f"{state.shot_id}: restored winner ver{state.winner_version} (inputs unchanged)")
        return True
    return False


def playable(clip: Path) -> bool:
    """The file is a whole video (not missing, 0-byte or cut short by a crash)."""
    try:
        if not clip.is_file() or clip.stat().st_size == 0:
            return False
        info = probe(clip)
        return info.has_video and info.duration > 0
    except MediaError:
        return False


def _upstream_failure(paths: EpisodePaths, spec: ShotSpec) -> str | None:
    """A chained shot never pays for a take that starts on a failed shot's slate."""
    if not spec.prev_shot or not paths.shot_state(spec.prev_shot).exists():
        return None
    prev = load_state(paths, spec.prev_shot)
    if prev.failed is None:
        return None
    return (f"{spec.shot.id} starts on the last frame of {spec.prev_shot}, which FAILED "
            f"({prev.failed.code}); retry that shot first: "
            f"{retry_command(paths, spec.prev_shot)}")


def _rounds(paths: EpisodePaths, cfg: WorkflowConfig, spec: ShotSpec, state: ShotState,
            key: str, first: Path | None, *, since: int | None, resubmit: bool, log,
            sleep) -> ShotState:
    shot_id = spec.shot.id
    video = get_provider("video", cfg)
    media = [media_path(paths, m, source=paths.shot_spec(spec.shot.id)) for m in spec.media]
    rounds = [a for a in state.attempts if a.input_key == key and _is_round(a)]
    if since:  # a take request: only its own rounds count (a crash resumes them)
        rounds = [a for a in rounds if a.version >= since]
    prompt = spec.shot.prompt
    if rounds and rounds[-1].review and rounds[-1].review.verdict == "REJECT":
        prompt = rounds[-1].prompt  # rewritten below before the next round
    while len(rounds) < cfg.max_retry:
        try:
            att = _take(paths, cfg, video, spec, state, key, prompt, first, media,
                        resubmit=resubmit, log=log, sleep=sleep)
        except ContentRejected as e:
            rounds.append(state.attempts[-1])
            log(f"{shot_id}: ver{state.attempts[-1].version} refused by moderation; "
                "rewriting the prompt")
            prompt = _rewrite(paths, cfg, spec, prompt, state.attempts[-1].version,
                              Review(verdict="REJECT", breakdown=None, critique=str(e),
                                     vetoed_axes=["style"], version=state.attempts[-1].version,
                                     shot_id=shot_id))
            continue
        resubmit = False  # paid once: later rounds are ordinary submissions
        review = _review(paths, cfg, spec, att, first, media)
        rounds.append(att)
        log(f"{shot_id}: ver{att.version} {review.verdict} score={review.score}"
            + (f" vetoed={review.vetoed_axes}" if review.vetoed_axes else ""))
        if review.verdict == "ACCEPT":
            promote(paths, state, att.version)
            state.input_key = key
            state.needs_director_rewrite = False
            state.accepted_below_threshold = False
            paths.escalation(shot_id).unlink(missing_ok=True)
            save_state(paths, state)
            return state
        save_state(paths, state)
        if len(rounds) < cfg.max_retry and review.verdict == "REJECT":
            prompt = _rewrite(paths, cfg, spec, prompt, att.version, review)
    return _escalate(paths, spec, state, key, rounds, log)


def _is_round(a: Attempt) -> bool:
    """A take that used up a review round: reviewed, or refused by moderation. A FAILED
    task is an attempt of its own (retried with backoff), not a review round."""
    if a.status == "SUCCEEDED":
        return True
    return a.status == "FAILED" and bool(a.error) and a.error.startswith("content rejected")


def _open_take(state: ShotState, key: str, prompt: str, provider: str,
               first: str | None) -> tuple[Attempt, PendingTask | None]:
    """The take to work on: a RUNNING one for the same inputs (resume its paid task), else a
    new version. A RUNNING take for other inputs is closed first."""
    running = next((a for a in state.attempts if a.status == "RUNNING"), None)
    if running and running.input_key == key:
        return running, (PendingTask(running.task_id, running.base_url)
                         if running.task_id else None)
    if running:
        running.status, running.error = "FAILED", "interrupted: inputs changed"
        running.error_code = "Interrupted"
    version = max((a.version for a in state.attempts), default=0) + 1
    att = Attempt(version=version, status="RUNNING", provider=provider, prompt=prompt,
                  input_key=key, first_frame=first)
    state.attempts.append(att)
    return att, None


def _take(paths: EpisodePaths, cfg: WorkflowConfig, video, spec: ShotSpec, state: ShotState,
          key: str, prompt: str, first: Path | None, media: list[Path], *, resubmit: bool,
          log, sleep) -> Attempt:
    """One rendered take. A FAILED task (provider error, timeout, expired result) is kept as
    a failed take, never billed, and tried again after a growing wait, up to
    cfg.failed_retries times; then ShotFailed. Moderation raises ContentRejected."""
    shot_id = spec.shot.id
    failures = 0
    refuse_placeholder(paths.shot_spec(shot_id), prompt)  # before any take is opened or paid
    while True:
        att, pending = _open_take(state, key, prompt, video.name, _rel(paths, first))
        save_state(paths, state)
        extra: dict = {"call_slot": lambda: api_slot(paths, cfg.api_slots)}  # see slots.py
        extra["log"] = log  # what a provider tells the job (a reference voice not sent)
        if resubmit:
            extra["resubmit"] = True
        ctx = CallContext(paths, cfg, phase="render", shot=shot_id, attempt=att.version,
                          extra=extra)

        def on_submitted(task: PendingTask, att: Attempt = att) -> None:
            att.task_id, att.base_url = task.task_id, task.base_url
            save_state(paths, state)

        out = paths.clip_version(shot_id, att.version)
        t0 = time.monotonic()
        log(f"{shot_id}: rendering ver{att.version} ({spec.shot.kind}, {spec.shot.duration}s)"
            + (f" (resuming task {pending.task_id})" if pending else ""))
        try:
            res = video.render(ctx, spec, att.prompt, out, first_frame=first, media=media,
                               pending=pending, on_submitted=on_submitted)
        except ContentRejected as e:
            _close(att, f"content rejected: {e}", e.code or "DataInspectionFailed")
            save_state(paths, state)
            raise
        except BudgetExceeded as e:
            _close(att, str(e), e.code or "BudgetExceeded")
            save_state(paths, state)
            raise
        except ProviderError as e:
            failures += 1
            sleep(_after_failed_task(paths, state, att, e, failures, cfg.failed_retries,
                                     cfg.failed_backoff_s, log))
            continue
        _record_take(paths, state, att, res, out, time.monotonic() - t0, log)
        return att


def _after_failed_task(paths: EpisodePaths, state: ShotState, att: Attempt, e: ProviderError,
                       failures: int, retries: int, backoff_s: float, log) -> float:
    """Record a provider error on the take; the wait before trying again, or ShotFailed
    once it is not retryable or the retries are spent. A task whose result could not be
    fetched stays RUNNING (it is paid: the same task is fetched again); a submit whose
    outcome is unknown stays open (the next run looks it up, or --resubmit pays again)."""
    code = e.code or "ProviderError"
    refetch = code in REFETCH_CODES and att.task_id
    if code == "SubmitOutcomeUnknown" or refetch:
        att.error, att.error_code = str(e), code
    else:
        _close(att, str(e), code)
    save_state(paths, state)
    if not e.retryable or failures > retries:
        flags = "--resubmit" if code == "SubmitOutcomeUnknown" else ""
        raise ShotFailed(code, str(e), retry_flags=flags) from None
    wait = min(600.0, backoff_s * 2 ** (failures - 1))
    log(f"{state.shot_id}: ver{att.version} {code}: {e}; "
        + ("fetching the same task again" if refetch else "a new take")
        + f" in {wait:.1f}s (retry {failures}/{retries})")
    return wait


def _record_take(paths: EpisodePaths, state: ShotState, att: Attempt, res, out: Path,
                 elapsed_s: float, log) -> None:
    """A rendered take: what the provider answered, the clip and its last frame."""
    att.model, att.task_id = res.model, res.task_id or att.task_id
    att.elapsed_s = round(elapsed_s, 2)
    att.duration_s, att.cost = res.duration_s, res.cost
    att.error = att.error_code = None
    if res.sent_prompt:
        att.prompt = res.sent_prompt
    att.video_path = _rel(paths, out)
    frame = paths.version_last_frame(state.shot_id, att.version)
    try:
        extract_frame(out, frame, last=True)
        att.last_frame_path = _rel(paths, frame)
    except Exception as e:  # noqa: BLE001 - a missing frame is reported, not fatal here
        log(f"{state.shot_id}: could not extract the last frame of ver{att.version}: {e}")
    try:
        make_poster(out, res.duration_s)
    except Exception as e:  # noqa: BLE001 - the viewer shows the take without its still
        log(f"{state.shot_id}: could not make the poster of ver{att.version}: {e}")
    save_state(paths, state)


def _close(att: Attempt, error: str, code: str) -> None:
    att.status, att.error, att.error_code, att.finished_at = "FAILED", error, code, now_iso()


def _review(paths: EpisodePaths, cfg: WorkflowConfig, spec: ShotSpec, att: Attempt,
            first: Path | None, media: list[Path]) -> Review:
    """Review one take; our ACCEPT rule decides (the reviewer's verdict is advisory)."""
    shot_id = spec.shot.id
    reviewer = get_provider("review", cfg)
    rctx = CallContext(paths, cfg, phase="review", shot=shot_id, attempt=att.version)
    out = paths.clip_version(shot_id, att.version)
    try:
        raw = reviewer.review(rctx, spec, out, version=att.version, first_frame=first,
                              portraits=media[: len(spec.shot.characters)])
    except ProviderError as e:
        raw = Review(verdict="ERROR", error=str(e), version=att.version, shot_id=shot_id)
    review = decide(raw, cfg.review_threshold, cfg.review_veto_floor)
    review = review.model_copy(update={"version": att.version, "shot_id": shot_id})
    atomic_write_json(paths.review(shot_id, att.version), review)
    att.review = review
    att.status, att.finished_at = "SUCCEEDED", now_iso()
    return review


def _rewrite(paths: EpisodePaths, cfg: WorkflowConfig, spec: ShotSpec, prompt: str,
             version: int, review: Review) -> str:
    return rewrite_prompt(CallContext(paths, cfg, "rewrite", spec.shot.id, version),
                          shot=spec.shot, prompt=prompt, review=review,
                          mood_anchor=spec.mood_anchor)


def _escalate(paths: EpisodePaths, spec: ShotSpec, state: ShotState, key: str,
              rounds: list[Attempt], log) -> ShotState:
    """Retries exhausted: promote the best take and hand the shot to the director."""
    shot_id = spec.shot.id
    best = _best(rounds)
    if best is None:
        last = rounds[-1] if rounds else None
        raise ShotFailed(last.error_code or "NoUsableTake" if last else "NoUsableTake",
                         f"no usable take after {len(rounds)} round(s)"
                         + (f": {last.error}" if last and last.error else ""))
    promote(paths, state, best.version)
    state.input_key = key
    state.needs_director_rewrite = True
    state.accepted_below_threshold = True
    write_escalation(paths, spec, rounds, best)
    save_state(paths, state)
    log(f"{shot_id}: retries exhausted; best take ver{best.version} promoted, escalated to "
        f"the director ({paths.escalation(shot_id)})")
    return state


def _fail(paths: EpisodePaths, spec: ShotSpec, state: ShotState, f: ShotFailed,
          log) -> ShotState:
    """Record the shot as FAILED and put a slate where its clip goes: the build keeps going
    (other shots render), GATE 3 stays closed and names the shot and the retry command."""
    state.failed = ShotFailure(code=f.code, message=f.message[:2000],
                               retry=retry_command(paths, spec.shot.id, f.retry_flags))
    state.winner_version = None
    state.winner_path = None
    state.input_key = None
    save_state(paths, state)
    write_slate(paths, spec)
    log(f"{spec.shot.id}: FAILED {f.code}: {f.message}\n  retry: {state.failed.retry}")
    return state


def write_slate(paths: EpisodePaths, spec: ShotSpec) -> Path:
    """A plain dark card of the shot's length in place of a clip that could not be made
    (tagged in its metadata); never stitched, since GATE 3 stays closed."""
    w, h = canvas_size(spec.resolution, spec.ratio or "16:9")
    d = max(1.0, float(spec.shot.duration))
    out = paths.clip(spec.shot.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.slate.mp4")
    run(["-y", "-f", "lavfi", "-i", f"color=c=0x3a1010:size={w}x{h}:rate=24:duration={d}",
         "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={d}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-shortest", "-metadata", f"title={SLATE_TAG}{spec.shot.id}", str(tmp)],
        what=f"writing the FAILED slate of {spec.shot.id}")
    tmp.replace(out)
    return out


SLATE_TAG = "spark-video FAILED slate: "


def accept_version(paths: EpisodePaths, shot_id: str, version: int) -> ShotState:
    state = load_state(paths, shot_id)
    att = state.attempt(version)
    if att is None or att.status != "SUCCEEDED":
        raise InputError(paths.shot_state(shot_id), f"no finished version {version} to accept")
    promote(paths, state, version)
    state.needs_director_rewrite = False
    state.failed = None
    state.input_key = att.input_key
    request = load_take_request(paths, shot_id)
    if request:  # a chosen take closes an open request: the next build pays for nothing
        state.take_request_served = max(state.take_request_served, request.take)
    save_state(paths, state)
    return state


def load_take_request(paths: EpisodePaths, shot_id: str) -> TakeRequest | None:
    p = paths.take_request(shot_id)
    if not p.exists():
        return None
    req = load_model(TakeRequest, p)
    if req.shot_id != shot_id:
        raise InputError(p, f"shot_id is {req.shot_id!r} but the file is for {shot_id}: "
                         f"delete it and ask again with `spark-video render --shot {shot_id}`")
    return req


def request_take(paths: EpisodePaths, shot_id: str, reason: str, *,
                 resubmit: bool = False) -> TakeRequest:
    """Write takes/<shot>.json asking for the next take. Asking again before the build ran
    keeps the take number (one new take, not two)."""
    state = load_state(paths, shot_id)
    take = max((a.version for a in state.attempts), default=0) + 1
    old = load_take_request(paths, shot_id)
    if old and old.take > take and old.take > state.take_request_served:
        take = old.take
    req = TakeRequest(shot_id=shot_id, take=take, reason=reason, resubmit=resubmit)
    atomic_write_json(paths.take_request(shot_id), req)
    return req


def derive_shots_state(paths: EpisodePaths, shot_ids: list[str]) -> dict:
    """shots_state.json and needs_director_rewrite.json, derived from state/<shot>.json."""
    out, esc = {}, []
    for sid in shot_ids:
        st = load_state(paths, sid)
        out[sid] = st.model_dump(mode="json")
        if st.needs_director_rewrite:
            best = st.attempt(st.winner_version) if st.winner_version else None
            esc.append({"shot_id": sid, "best_version": st.winner_version,
                        "best_score": best.review.score if best and best.review else None,
                        "escalation_report": str(paths.escalation(sid).relative_to(paths.root))})
    atomic_write_json(paths.shots_state, out)
    if esc:
        atomic_write_json(paths.needs_director_rewrite,
                          {"shots": [e["shot_id"] for e in esc], "details": esc})
    else:
        paths.needs_director_rewrite.unlink(missing_ok=True)
    return out


def restore_published(paths: EpisodePaths, shot_id: str) -> list[str]:
    """Put back a shot's winner clip and last frame when either is missing, 0-byte or cut
    short (a crash, a full disk, a bad copy): copied from the winner's take with the take's
    own mtime, so nothing downstream looks changed, and never a paid call. What is still
    bad afterwards (no whole take) is removed, so its render job rebuilds it. Returns one
    line per file repaired or removed."""
    done: list[str] = []
    try:
        state = load_model(ShotState, paths.shot_state(shot_id))
    except InputError:
        state = None
    ver = state.winner_version if state and state.failed is None else None
    clip, frame = paths.clip(shot_id), paths.last_frame(shot_id)
    sources = {clip: paths.clip_version(shot_id, ver) if ver else None,
               frame: paths.version_last_frame(shot_id, ver) if ver else None}
    for dst, src in sources.items():
        if looks_whole(dst):
            continue
        if src is not None and looks_whole(src):
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(src, tmp)
            st = src.stat()
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            tmp.replace(dst)
            done.append(f"{dst}: restored from {src.name}")
        elif dst == frame and ver and looks_whole(clip):
            extract_frame(clip, frame, last=True)
            st = clip.stat()
            os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns))
            done.append(f"{dst}: extracted again from {clip.name}")
        elif dst.exists():
            dst.unlink()
            done.append(f"{dst}: empty or cut short and no whole take; removed so the render "
                        "job rebuilds it")
    return done


def publish_last_frame(paths: EpisodePaths, shot_id: str) -> Path:
    """frames/<shot>.last.png, the render job's second output, so a chained shot needs no
    job in between: the winner's own last frame (extracted when it was rendered), else one
    extracted from the clip now (a slate, or a take from before frames were kept)."""
    state = load_state(paths, shot_id)
    out = paths.last_frame(shot_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    src = (paths.version_last_frame(shot_id, state.winner_version)
           if state.winner_version and state.failed is None else None)
    if src is not None and looks_whole(src):
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(out)
    else:
        extract_frame(paths.clip(shot_id), out, last=True)
    return out

