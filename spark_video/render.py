"""The render loop of one shot (SPEC §8): render → last frame → review → ACCEPT or rewrite
and retry → after max_retry rounds promote the best take and escalate.

The shot's job is the single writer of `state/<shot>.json`; every change is written
atomically before the next step, so a killed build resumes where it stopped: a submitted
paid task is polled again (never submitted twice) and a finished winner is restored by a
copy, not re-rendered.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from .io import InputError, atomic_write_json, atomic_write_text, load_model
from .media import extract_frame
from .models import AXES, Attempt, Review, ShotSpec, ShotState, now_iso
from .paths import EpisodePaths
from .project import media_path
from .providers import get_provider
from .providers.base import CallContext, ContentRejected, PendingTask, ProviderError
from .roles import decide, rewrite_prompt
from .settings import WorkflowConfig


def load_state(paths: EpisodePaths, shot_id: str) -> ShotState:
    p = paths.shot_state(shot_id)
    return load_model(ShotState, p) if p.exists() else ShotState(shot_id=shot_id)


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
    for p in ([first_frame] if first_frame else []) + [media_path(paths, m) for m in spec.media]:
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


def render_shot(paths: EpisodePaths, cfg: WorkflowConfig, shot_id: str, *,
                force: bool = False, log=print) -> ShotState:
    spec = load_spec(paths, shot_id)
    first = first_frame_for(paths, spec)
    # chain_cascade false: a new first frame alone does not make a new take
    key = input_key(paths, spec, first if cfg.chain_cascade else None)
    state = load_state(paths, shot_id)

    # the winner for exactly these inputs is on disk: restore it, never pay again
    if not force and state.input_key == key and state.winner_version:
        if paths.clip_version(shot_id, state.winner_version).exists():
            promote(paths, state, state.winner_version)
            save_state(paths, state)
            log(f"{shot_id}: restored winner ver{state.winner_version} (inputs unchanged)")
            return state

    video = get_provider("video", cfg)
    reviewer = get_provider("review", cfg)
    rounds = [a for a in state.attempts if a.input_key == key and a.status != "RUNNING"
              and not (a.status == "FAILED" and a.error and a.error.startswith("interrupted"))]
    if force:
        rounds = []
    prompt = spec.shot.prompt
    if rounds and rounds[-1].review and rounds[-1].review.verdict == "REJECT":
        prompt = rounds[-1].prompt  # rewritten below before the next round
    pending_attempt = next((a for a in state.attempts if a.status == "RUNNING"), None)

    while len(rounds) < cfg.max_retry:
        if pending_attempt and pending_attempt.input_key == key:
            att = pending_attempt
            version = att.version
            prompt = att.prompt
            pending = PendingTask(att.task_id, att.base_url) if att.task_id else None
        else:
            if pending_attempt:  # inputs changed under a running attempt: close it
                pending_attempt.status = "FAILED"
                pending_attempt.error = "interrupted: inputs changed"
            version = max((a.version for a in state.attempts), default=0) + 1
            att = Attempt(version=version, status="RUNNING", provider=video.name,
                          prompt=prompt, input_key=key, first_frame=_rel(paths, first))
            state.attempts.append(att)
            pending = None
        pending_attempt = None
        save_state(paths, state)
        ctx = CallContext(paths, cfg, phase="render", shot=shot_id, attempt=version)

        def on_submitted(task: PendingTask, att: Attempt = att) -> None:
            att.task_id, att.base_url = task.task_id, task.base_url
            save_state(paths, state)

        out = paths.clip_version(shot_id, version)
        media = [media_path(paths, m) for m in spec.media]
        t0 = time.monotonic()
        log(f"{shot_id}: rendering ver{version} ({spec.shot.kind}, {spec.shot.duration}s)")
        try:
            res = video.render(ctx, spec, prompt, out, first_frame=first, media=media,
                               pending=pending, on_submitted=on_submitted)
        except ContentRejected as e:
            att.status, att.error, att.finished_at = "FAILED", f"content rejected: {e}", now_iso()
            rounds.append(att)
            save_state(paths, state)
            log(f"{shot_id}: ver{version} refused by moderation; rewriting the prompt")
            fake = Review(verdict="REJECT", breakdown=None, critique=str(e),
                          vetoed_axes=["style"], version=version, shot_id=shot_id)
            prompt = rewrite_prompt(CallContext(paths, cfg, "rewrite", shot_id, version),
                                    shot=spec.shot, prompt=prompt, review=fake,
                                    mood_anchor=spec.mood_anchor)
            continue
        except ProviderError as e:
            att.status, att.error, att.finished_at = "FAILED", str(e), now_iso()
            save_state(paths, state)
            raise
        att.model, att.task_id = res.model, res.task_id or att.task_id
        att.elapsed_s = round(time.monotonic() - t0, 2)
        att.duration_s, att.cost = res.duration_s, res.cost
        if res.sent_prompt:
            att.prompt = res.sent_prompt
        att.video_path = _rel(paths, out)
        frame = paths.version_last_frame(shot_id, version)
        try:
            extract_frame(out, frame, last=True)
            att.last_frame_path = _rel(paths, frame)
        except Exception as e:  # noqa: BLE001 - a missing frame is reported, not fatal here
            log(f"{shot_id}: could not extract the last frame of ver{version}: {e}")
        rctx = CallContext(paths, cfg, phase="review", shot=shot_id, attempt=version)
        portraits = media[: len(spec.shot.characters)]
        try:
            raw = reviewer.review(rctx, spec, out, version=version, first_frame=first,
                                  portraits=portraits)
        except ProviderError as e:
            raw = Review(verdict="ERROR", error=str(e), version=version, shot_id=shot_id)
        review = decide(raw, cfg.review_threshold, cfg.review_veto_floor)
        review = review.model_copy(update={"version": version, "shot_id": shot_id})
        atomic_write_json(paths.review(shot_id, version), review)
        att.review = review
        att.status, att.finished_at = "SUCCEEDED", now_iso()
        rounds.append(att)
        log(f"{shot_id}: ver{version} {review.verdict} score={review.score}"
            + (f" vetoed={review.vetoed_axes}" if review.vetoed_axes else ""))
        if review.verdict == "ACCEPT":
            promote(paths, state, version)
            state.input_key = key
            state.needs_director_rewrite = False
            state.accepted_below_threshold = False
            paths.escalation(shot_id).unlink(missing_ok=True)
            save_state(paths, state)
            return state
        save_state(paths, state)
        if len(rounds) < cfg.max_retry and review.verdict == "REJECT":
            prompt = rewrite_prompt(CallContext(paths, cfg, "rewrite", shot_id, version),
                                    shot=spec.shot, prompt=prompt, review=review,
                                    mood_anchor=spec.mood_anchor)

    best = _best(rounds)
    if best is None:
        save_state(paths, state)
        raise ProviderError(f"{shot_id}: no usable take after {len(rounds)} round(s); see "
                            f"{paths.shot_state(shot_id)} and {paths.model_calls}")
    promote(paths, state, best.version)
    state.input_key = key
    state.needs_director_rewrite = True
    state.accepted_below_threshold = True
    write_escalation(paths, spec, rounds, best)
    save_state(paths, state)
    log(f"{shot_id}: retries exhausted; best take ver{best.version} promoted, escalated to "
        f"the director ({paths.escalation(shot_id)})")
    return state


def accept_version(paths: EpisodePaths, shot_id: str, version: int) -> ShotState:
    state = load_state(paths, shot_id)
    att = state.attempt(version)
    if att is None or att.status != "SUCCEEDED":
        raise InputError(paths.shot_state(shot_id), f"no finished version {version} to accept")
    promote(paths, state, version)
    state.needs_director_rewrite = False
    state.input_key = att.input_key
    save_state(paths, state)
    return state


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
