"""What each gate shows before it asks: a few lines a producer can decide on.

GATE 1: the scenes with titles, durations and characters. GATE 2: shots by kind (explained),
chain groups, duration against the target, the estimate for the provider that will render
(or "no price data"), the over-length warning. GATE 3: one row per shot (take, score,
verdict, vetoed axes, below-threshold, escalation). GATE 4: path, duration against the
target, size. Every line is plain text, so it reads the same in a terminal and a log.
Each gate names its summary in the gate table (`gates.GATE`); `gates.summary` shows it.
"""

from __future__ import annotations

import json

from ..base.io import InputError, load_model
from ..base.models import Outline, ShotState, Storyboard
from ..base.paths import EpisodePaths
from ..base.project import load_lore
from ..base.scenefmt import beat_seconds, parse_scene_md
from ..base.settings import WorkflowConfig
from ..media import probe
from ..storyboard import chain_groups, estimate
from ..storyboard.vfx import load_report, storyboard_sha

KIND_HELP = {"t2v": "text to video", "i2v": "first frame to video",
             "r2v": "cast references to video"}


def _storyboard(paths: EpisodePaths) -> Storyboard | None:
    try:
        return load_model(Storyboard, paths.storyboard)
    except InputError:
        return None


def _target_s(paths: EpisodePaths) -> int | None:
    try:
        return load_model(Outline, paths.outline).target_duration_s
    except InputError:
        return None


def script_summary(paths: EpisodePaths, cfg: WorkflowConfig, **_) -> list[str]:
    outline = load_model(Outline, paths.outline)
    lines = [f"  “{outline.title}”, {outline.mode}, {len(outline.scenes)} scene(s), "
             f"target {outline.target_duration_s} s — script: {paths.script}"]
    try:
        lore, _ = load_lore(paths)
        lines.append(f"  mood anchor (ends every prompt): {lore.mood_anchor or 'none'}")
    except InputError:
        pass
    total, unread = 0, []
    for sc in outline.scenes:
        md = paths.scene_md(sc.num)
        try:
            s = parse_scene_md(md.read_text(encoding="utf-8"), md)
            dur, chars, place = sum(beat_seconds(s)), s.characters, s.location
        except (InputError, OSError):
            dur, chars, place = 0, sc.characters, sc.location
            unread.append(sc.num)
        total += dur
        lines.append(f"  {sc.num:>2}. {sc.title} — {place} · {dur} s · "
                     f"{', '.join(chars) or 'no one'}")
    # the sum of the scenes' beats (their spoken lines and shots), not a declared estimate
    lines.append(f"  total ≈ {total} s of beats (target {outline.target_duration_s} s)"
                 + (f"; scene(s) {', '.join(map(str, unread))} unreadable" if unread else ""))
    return lines


def storyboard_summary(paths: EpisodePaths, cfg: WorkflowConfig, *,
                       provider: str | None = None) -> list[str]:
    sb = load_model(Storyboard, paths.storyboard)
    target = _target_s(paths) or sb.target_duration_s
    prov = provider or sb.provider or "offline"
    est = estimate(sb.model_copy(update={"provider": prov}), cfg)
    total = sum(s.duration for s in sb.shots)
    lines = [f"  {len(sb.shots)} shots, {total} s of video (target {target} s), "
             f"{sb.resolution} {sb.ratio}, mode {sb.mode} — {paths.storyboard}"]
    kinds = ", ".join(f"{k} ×{v['shots']} ({KIND_HELP.get(k, k)}, {v['seconds']} s)"
                      for k, v in sorted(est.duration_by_kind.items()))
    lines.append(f"  kinds: {kinds}")
    groups = chain_groups(sb)
    chained = [g for g in groups if len(g) > 1]
    lines.append(f"  chain groups: {len(groups)} (longest {max(len(g) for g in groups)} "
                 f"shot(s); {len(chained)} chained: each starts from the last frame before)")
    cost = est.cost
    if cost.get("no_price_data"):
        price = f"no price data for {', '.join(cost['no_price_data'])}"
        if cost.get("known_total"):
            price += f" (known part {cost['known_total']:.2f} {cost['currency']})"
    else:
        price = f"{cost['total']:.2f} {cost['currency']}"
        if prov == "offline":
            price += " (offline: free)"
    lines.append(f"  estimate for provider {prov}: {price}; render time ≈ "
                 f"{est.estimated_render_seconds_with_concurrency_cap:.0f} s with "
                 f"{est.concurrency_cap} slots")
    if est.over_long_confirm:
        lines.append(f"  WARNING: {est.total_clip_seconds} s of video is over the "
                     f"{est.long_confirm_threshold_s} s confirmation limit "
                     "(SPARK_VIDEO_LONG_CONFIRM_S); approve only if you mean it")
    lines += vfx_summary(paths)
    return lines


def vfx_summary(paths: EpisodePaths) -> list[str]:
    """The VFX review's verdict and counts, when one was made for this storyboard."""
    rep = load_report(paths)
    if rep is None:
        return []
    if rep.storyboard_sha256 != storyboard_sha(paths):
        return [f"  VFX review: made for an earlier storyboard ({paths.vfx_review})"]
    n = {sev: sum(f.severity == sev for f in rep.findings) for sev in ("CRIT", "WARN", "SUGG")}
    return [f"  VFX review: {rep.verdict} — {n['CRIT']} critical, {n['WARN']} warning(s), "
            f"{n['SUGG']} suggestion(s) — {paths.vfx_review}"]


def render_summary(paths: EpisodePaths, cfg: WorkflowConfig, **_) -> list[str]:
    sb = load_model(Storyboard, paths.storyboard)
    lines = [f"  {'shot':<9}{'take':>4} {'score':>5}  {'verdict':<8}{'vetoed':<18}flags"]
    below = escalated = 0
    for s in sb.shots:
        try:
            st = load_model(ShotState, paths.shot_state(s.id))
        except InputError:
            lines.append(f"  {s.id:<9}{'—':>4} {'—':>5}  {'NONE':<8}{'':<18}not rendered")
            continue
        att = st.attempt(st.winner_version) if st.winner_version else None
        rev = att.review if att else None
        score = f"{rev.score:.1f}" if rev and rev.score is not None else "—"
        verdict = rev.verdict if rev else ("NONE" if att is None else "UNSCORED")
        vetoed = ",".join(rev.vetoed_axes or []) if rev else ""
        flags = []
        if st.accepted_below_threshold or (rev and rev.score is not None
                                           and rev.score < cfg.review_threshold):
            flags.append("below threshold")
            below += 1
        if st.needs_director_rewrite:
            flags.append("escalated")
            escalated += 1
        tries = len(st.attempts)
        if tries > 1:
            flags.append(f"{tries} takes")
        take = str(att.version) if att else "—"
        lines.append(f"  {s.id:<9}{take:>4} {score:>5}  {verdict:<8}{vetoed or '—':<18}"
                     f"{', '.join(flags)}".rstrip())
    lines.append(f"  {len(sb.shots)} shots; threshold {cfg.review_threshold}; "
                 f"{below} below threshold; {escalated} escalated")
    return lines


def final_summary(paths: EpisodePaths, cfg: WorkflowConfig, **_) -> list[str]:
    final = paths.final_mp4
    if not final.exists():
        return [f"  {final}: not built"]
    info = probe(final)
    target = _target_s(paths)
    vs = f" (target {target} s, {info.duration - target:+.1f} s)" if target else ""
    lines = [f"  {final}", f"  {info.duration:.1f} s{vs}, {final.stat().st_size / 1e6:.1f} MB, "
             f"{info.width}x{info.height}"]
    if paths.final_srt.exists():
        lines.append(f"  subtitles: {paths.final_srt}")
    otio = paths.final_otio
    if otio.exists():
        lines.append(f"  timeline: {otio}")
    return lines


def estimate_json(paths: EpisodePaths) -> dict:
    try:
        return json.loads(paths.estimate.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
