"""GATE 3's material in the viewer: every shot's takes, with the prompt sent, the review and
the cost of each, the winner and the escalations."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..base.io import load_model, read_text_checked
from ..base.models import ModelCall, Review, Shot, ShotState, Storyboard
from ..providers.budget import spend_of
from .common import READ_ERRORS, Locator, fmt_cost


@dataclass
class Version:
    version: int
    url: str | None = None
    poster_url: str | None = None
    frame_url: str | None = None
    winner: bool = False
    status: str | None = None
    provider: str | None = None
    model: str | None = None
    task_id: str | None = None
    sent_prompt: str | None = None
    sent_source: str | None = None
    differs: bool = False
    review: Review | None = None
    review_source: str | None = None
    review_error: str | None = None
    error: str | None = None
    elapsed_s: float | None = None
    cost: str = ""


@dataclass
class ShotView:
    shot: Shot
    index: int
    versions: list[Version] = field(default_factory=list)
    winner_version: int | None = None
    state_error: str | None = None
    needs_rewrite: bool = False
    below_threshold: bool = False
    escalation: str | None = None
    cost: str = ""
    calls: int = 0
    fallback_clip_url: str | None = None
    fallback_poster_url: str | None = None

    @property
    def winner(self) -> Version | None:
        return next((v for v in self.versions if v.winner), None)

    @property
    def best_review(self) -> Review | None:
        w = self.winner
        if w and w.review:
            return w.review
        return next((v.review for v in self.versions if v.review), None)

    @property
    def shown(self) -> Version | None:
        """The take the clips table shows: the winner, else the newest."""
        return self.winner or (self.versions[0] if self.versions else None)


class ClipsReader(Locator):
    def __init__(self, paths, currency: str):
        super().__init__(paths)
        self.currency = currency

    def shots(self, storyboard: Storyboard, calls: list[ModelCall]) -> list[ShotView]:
        by_shot: dict[str, list[ModelCall]] = defaultdict(list)
        for c in calls:
            if c.shot:
                by_shot[c.shot].append(c)
        on_disk = {shot: set(versions) for shot, versions in self.paths.clip_versions().items()}
        return [self.shot(i, shot, by_shot.get(shot.id, []), on_disk.get(shot.id, set()))
                for i, shot in enumerate(storyboard.shots, 1)]

    def shot(self, index: int, shot: Shot, calls: list[ModelCall],
             on_disk: set[int]) -> ShotView:
        v = ShotView(shot=shot, index=index)
        state = self._state(v)
        render_calls, take_costs = self._costs(v, calls)
        in_state = {a.version for a in state.attempts} if state else set()
        for n in sorted(on_disk | in_state):
            ver = self._version(v, n, n in on_disk, state, render_calls.get(n))
            ver.cost = take_costs.get(n, "")
            v.versions.append(ver)
        v.versions.sort(key=lambda x: (not x.winner, -x.version))
        if not v.versions and self.paths.clip(shot.id).exists():
            v.fallback_clip_url = self.url(self.paths.clip(shot.id))
            v.fallback_poster_url = self.poster_url(self.paths.clip(shot.id))
        esc = self.paths.escalation(shot.id)
        if esc.exists():
            try:
                v.escalation = read_text_checked(esc)
            except READ_ERRORS as e:
                v.escalation = f"(could not read {self.show_path(esc)}: {self.err(e)})"
        return v

    def _state(self, v: ShotView) -> ShotState | None:
        sp = self.paths.shot_state(v.shot.id)
        if not sp.exists():
            return None
        try:
            state = load_model(ShotState, sp)
        except READ_ERRORS as e:
            v.state_error = self.err(e)
            return None
        v.winner_version = state.winner_version
        v.needs_rewrite = state.needs_director_rewrite
        v.below_threshold = state.accepted_below_threshold
        return state

    def _costs(self, v: ShotView, calls: list[ModelCall]
               ) -> tuple[dict[int, ModelCall], dict[int, str]]:
        """The shot's cost and call count (summed as `budget.spend_of` sums the episode);
        returns each take's render call and cost."""
        by_take: dict[int, list[dict]] = defaultdict(list)
        render_calls: dict[int, ModelCall] = {}
        for c in calls:
            if c.attempt is not None:
                by_take[c.attempt].append(c.model_dump())
            if c.phase == "render" and c.attempt is not None and c.prompt:
                render_calls[c.attempt] = c  # the last one wins
        priced = any(c.cost is not None for c in calls)
        v.cost = self.money([c.model_dump() for c in calls]) if priced else (
            "no price data" if calls else "")
        v.calls = len(calls)
        take_costs = {n: self.money(recs) for n, recs in by_take.items()
                      if any(r.get("cost") is not None for r in recs)}
        return render_calls, take_costs

    def money(self, records: list[dict]) -> str:
        return f"{fmt_cost(spend_of(records))} {self.currency}"

    def _version(self, v: ShotView, n: int, on_disk: bool, state: ShotState | None,
                 call: ModelCall | None) -> Version:
        shot = v.shot
        ver = Version(version=n, winner=(n == v.winner_version))
        if on_disk:
            clip = self.paths.clip_version(shot.id, n)
            ver.url, ver.poster_url = self.url(clip), self.poster_url(clip)
        frame = self.paths.version_last_frame(shot.id, n)
        if frame.exists():
            ver.frame_url = self.url(frame)
        att = state.attempt(n) if state else None
        if att:
            ver.status, ver.provider, ver.model = att.status, att.provider, att.model
            ver.task_id, ver.error, ver.elapsed_s = att.task_id, att.error, att.elapsed_s
            ver.review = att.review
            if att.review:
                ver.review_source = "state"
        if call and call.prompt:
            ver.sent_prompt, ver.sent_source = call.prompt, "model_calls.jsonl"
            ver.task_id = ver.task_id or call.task_id
            ver.provider = ver.provider or call.provider
            ver.model = ver.model or call.model
        elif att:
            ver.sent_prompt, ver.sent_source = att.prompt, "state"
        if ver.sent_prompt is not None:
            ver.differs = ver.sent_prompt.strip() != shot.prompt.strip()
        if ver.review is None:
            rp = self.paths.review(shot.id, n)
            if rp.exists():
                try:
                    ver.review = load_model(Review, rp)
                    ver.review_source = self.show_path(rp)
                except READ_ERRORS as e:
                    ver.review_error = self.err(e)
        return ver


def clips_overview(shots: list[ShotView]) -> dict[str, Any]:
    verdicts = Counter((s.best_review.verdict if s.best_review else "not reviewed")
                       for s in shots)
    return {"rendered": sum(1 for s in shots if s.versions or s.fallback_clip_url),
            "verdicts": sorted(verdicts.items()),
            "escalations": [s for s in shots if s.escalation or s.needs_rewrite]}
