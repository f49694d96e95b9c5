"""storyboard compile | validate | graph | estimate, and the per-shot render specs.

`compile_storyboard()` merges scenes/scene-NN.json into storyboard.json and writes
shots/<id>.json for every shot, *only when that spec's content changed*: each clip depends
on its own spec, so editing one shot re-renders that shot and nothing else.
"""

from __future__ import annotations

import colorsys
import hashlib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from ..base.io import (
    InputError,
    atomic_write_json,
    atomic_write_text,
    dump_json,
    load_model,
    parse_model,
    write_if_changed,
)
from ..base.models import KIND_MAX_DURATION, SceneFragment, Shot, ShotSpec, Storyboard
from ..base.paths import parse_scene_file
from ..base.pricing import VIDEO_MODELS, currency, tts_billed_chars, tts_cost, video_cost
from ..base.project import load_lore, load_manifest
from ..base.settings import WorkflowConfig, provider_for
from ..media.sound import apply_forbid_model_bgm, load_bgm_config
from ..providers.capabilities import effective_duration, plan
from ..providers.openai_compat import review_estimate, review_model_of
from ..roles import check_fragment
from ..roles.art import reference_image


def compile_script(paths) -> Path:
    mds = paths.scene_files("md")
    if not mds:
        raise InputError(paths.scenes_dir, "no scenes/scene-NN.md: run the screenwriter first")
    parts = [f"# {paths.project} / episode {paths.episode}\n"]
    for p in mds:
        parts.append(p.read_text(encoding="utf-8").strip() + "\n")
    atomic_write_text(paths.script, "\n---\n\n".join(parts))
    return paths.script


def load_fragments(paths, files: list[Path] | None = None) -> list[SceneFragment]:
    files = files if files is not None else paths.scene_files("json")
    if not files:
        raise InputError(paths.scenes_dir, "no scenes/scene-NN.json: run the director first")
    cast, sets, props = (load_manifest(paths, k) for k in ("cast", "set", "prop"))
    frags = []
    seen: dict[str, Path] = {}
    for f in files:
        frag = load_model(SceneFragment, f)
        parsed = parse_scene_file(f.name)
        if parsed is None:
            raise InputError(f, "not a scene file: name it scenes/scene-NN.json")
        num = parsed[0]
        check_fragment(frag, cast, sets, props, f, scene_id=f"S{num:02d}")
        for i, s in enumerate(frag.shots):
            if s.id in seen:
                raise InputError(f, f"field shots[{i}] (id {s.id}).id: duplicate shot id, "
                                 f"also in {seen[s.id].name}")
            seen[s.id] = f
        frags.append(frag)
    return frags


def build_storyboard(paths, cfg: WorkflowConfig, mode: str) -> Storyboard:
    frags = load_fragments(paths)
    lore, _ = load_lore(paths)
    data = {
        "project_id": paths.project,
        "title": lore.title,
        "target_duration_s": lore.duration_target_s,
        "resolution": cfg.resolution or lore.default_resolution or "720P",
        "ratio": cfg.ratio or lore.default_ratio or "16:9",
        "provider": provider_for(cfg, "video"),
        "mode": mode,
        "narrator_voice": cfg.narrator_voice if mode == "narration" else None,
        "scenes": [f.scene.model_dump() for f in frags],
        "shots": [s.model_dump() for f in frags for s in f.shots],
    }
    return parse_model(Storyboard, data, paths.storyboard)


def chain_groups(sb: Storyboard) -> list[list[str]]:
    groups: list[list[str]] = []
    for s in sb.shots:
        if not groups or not s.use_prev_last_frame_as_first:
            groups.append([s.id])
        else:
            groups[-1].append(s.id)
    return groups


def prev_shot_map(sb: Storyboard) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for g in chain_groups(sb):
        for i, sid in enumerate(g):
            out[sid] = g[i - 1] if i else None
    return out


def scene_color(scene_id: str) -> str:
    n = int(scene_id[1:]) if scene_id[1:].isdigit() else 0
    r, g, b = colorsys.hls_to_rgb(((n * 0.61803) % 1.0), 0.32, 0.45)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def shot_media(paths, sb: Storyboard, shot: Shot) -> list[str]:
    """cast → set → props image paths (relative to the projects folder), at most 9."""
    if shot.kind == "t2v":
        return []
    cast, sets, props = (load_manifest(paths, k) for k in ("cast", "set", "prop"))
    out: list[str] = []
    for name in shot.characters:
        e = cast.get(name)
        if e and (ref := reference_image(paths, e)):  # several portraits: one grid
            out.append(ref)
    scene = sb.scene(shot.scene)
    set_id = shot.set_id if shot.set_id is not None else (scene.set_id if scene else None)
    if set_id and (e := sets.get(set_id)) and e.image:
        out.append(e.image)
    for p in shot.props:
        if (e := props.get(p)) and e.image:
            out.append(e.image)
    return out[:9]


def shot_specs(paths, cfg: WorkflowConfig, sb: Storyboard) -> dict[str, ShotSpec]:
    lore, _ = load_lore(paths)
    prev = prev_shot_map(sb)
    # the music answer lives in bgm-config.json (GATE 0.5), read where it is needed
    forbid = load_bgm_config(paths, sb).forbid_model_bgm
    specs = {}
    for i, shot in enumerate(sb.shots):
        s = shot.model_copy()
        s.duration = min(s.duration, KIND_MAX_DURATION[s.kind])
        if forbid:
            p, n = apply_forbid_model_bgm(s.prompt, s.negative_prompt)
            s = s.model_copy(update={"prompt": p, "negative_prompt": n})
        group_index = 0
        j = i
        while j > 0 and sb.shots[j].use_prev_last_frame_as_first:
            j -= 1
            group_index += 1
        specs[shot.id] = ShotSpec(
            shot=s, scene=sb.scene(shot.scene), prev_shot=prev[shot.id], chain_index=group_index,
            resolution=sb.resolution, ratio=sb.ratio, provider=sb.provider or "offline",
            mode=sb.mode, mood_anchor=lore.mood_anchor, media=shot_media(paths, sb, s),
            forbid_model_bgm=forbid, scene_color=scene_color(shot.scene))
    return specs


def write_shot_specs(paths, cfg: WorkflowConfig, sb: Storyboard) -> list[str]:
    changed = []
    for sid, spec in shot_specs(paths, cfg, sb).items():
        if write_if_changed(paths.shot_spec(sid), dump_json(spec)):
            changed.append(sid)
    return changed


def spec_sha(paths, shot_id: str) -> str:
    return hashlib.sha256(paths.shot_spec(shot_id).read_bytes()).hexdigest()


def compile_storyboard(paths, cfg: WorkflowConfig, mode: str,
                       keep: Callable[[list[Path]], object] | None = None) -> Storyboard:
    """Validate everything first; write nothing when anything is wrong. `keep` is given the
    shot specs about to be replaced (their content changes) before anything is written (the
    job keeps a person's version in history/: workflow.written.keep_replaced)."""
    sb = build_storyboard(paths, cfg, mode)
    specs = shot_specs(paths, cfg, sb)  # also validates media lookups
    texts = {paths.shot_spec(sid): dump_json(spec) for sid, spec in specs.items()}
    # written only when the content changes, so a spec's date means "changed"
    new = [p for p, t in texts.items() if not p.is_file()]
    changed = [p for p, t in texts.items()
               if p.is_file() and p.read_text(encoding="utf-8") != t]
    if keep is not None and changed:
        keep(changed)
    atomic_write_json(paths.storyboard, sb)
    for p in (*new, *changed):
        atomic_write_text(p, texts[p])
    return sb


def load_storyboard(paths) -> Storyboard:
    """The episode's storyboard.json (the one reader); a missing one names the command."""
    if not paths.storyboard.exists():
        raise InputError(paths.storyboard, "no storyboard yet: run `spark-video storyboard "
                         "compile` (or the build up to GATE 2) first")
    return load_model(Storyboard, paths.storyboard)


def lint(paths, sb: Storyboard) -> list[str]:
    """Non-fatal warnings, after the schema has passed."""
    warns = []
    cast, sets, props = (load_manifest(paths, k) for k in ("cast", "set", "prop"))
    if sb.shots and sb.shots[0].use_prev_last_frame_as_first:
        warns.append(f"{sb.shots[0].id}: the first shot cannot chain; it starts a new group")
    for s in sb.shots:
        if not s.narrative_purpose or len(s.narrative_purpose) < 8:
            warns.append(f"{s.id}: narrative_purpose missing or too short")
        if s.props and s.kind != "r2v":
            warns.append(f"{s.id}: props only reach the model on r2v shots")
        if s.kind == "i2v" and not s.use_prev_last_frame_as_first:
            warns.append(f"{s.id}: i2v without a chained first frame")
        for c in s.characters:
            e = cast.get(c)
            if e and not e.images and s.kind == "r2v":
                warns.append(f"{s.id}: {c} has no portrait yet")
        if s.role == "narration" and s.use_prev_last_frame_as_first:
            warns.append(f"{s.id}: narration shots should break the chain")
    scene_ids = {sc.id for sc in sb.scenes}
    for s in sb.shots:
        if s.scene not in scene_ids:
            warns.append(f"{s.id}: scene {s.scene} is not defined")
    return warns


def render_model(provider: str, shot: Shot, *, chained: bool,
                 cfg: WorkflowConfig) -> tuple[str, int]:
    """(model, billed seconds) for one shot: a chained shot really gets its first frame, so
    it may render as another kind, and each model clamps the duration to its own range."""
    if provider in ("bl", "wan27"):
        model, _ = plan(provider, shot.kind, first_frame=chained, cfg=cfg)
        return model, effective_duration(model, shot.duration)
    model = VIDEO_MODELS.get(provider, VIDEO_MODELS["offline"])[shot.kind]
    return model, min(shot.duration, KIND_MAX_DURATION[shot.kind])


class Estimate(BaseModel):
    provider: str
    resolution: str
    ratio: str
    shots: int
    total_clip_seconds: int
    parallel_groups: int
    concurrency_cap: int
    duration_by_kind: dict[str, dict[str, int]]
    tts: dict | None
    estimated_render_seconds_serial: float
    estimated_render_seconds_parallel: float
    estimated_render_seconds_with_concurrency_cap: float
    long_confirm_threshold_s: int
    over_long_confirm: bool
    cost: dict


def estimate(sb: Storyboard, cfg: WorkflowConfig) -> Estimate:
    provider = sb.provider or provider_for(cfg, "video")
    by_kind: dict[str, dict[str, int]] = {}
    billed: dict[str, dict[str, int]] = {}  # model -> seconds, as the provider will bill
    prev = prev_shot_map(sb)
    for s in sb.shots:
        model, secs = render_model(provider, s, chained=prev[s.id] is not None, cfg=cfg)
        k = by_kind.setdefault(s.kind, {"shots": 0, "seconds": 0})
        k["shots"] += 1
        k["seconds"] += secs
        b = billed.setdefault(model, {"shots": 0, "seconds": 0})
        b["shots"] += 1
        b["seconds"] += secs
    groups = chain_groups(sb)
    dur = {s.id: s.duration for s in sb.shots}
    group_secs = [sum(dur[i] for i in g) for g in groups]
    total = sum(dur.values())
    cap = cfg.api_slots
    lines, cost_total, missing = [], 0.0, []
    models = VIDEO_MODELS.get(provider, VIDEO_MODELS["bl"])
    for model, v in sorted(billed.items()):
        c = video_cost(model, sb.resolution, v["seconds"])
        lines.append({"model": model, "shots": v["shots"], "seconds": v["seconds"], "cost": c})
        if c is None:
            missing.append(model)
        else:
            cost_total += c
    tts = None
    narr = [s.narration_text or "" for s in sb.shots if s.role == "narration"]
    if narr:
        tts_model = cfg.narrator_tts_model if provider_for(cfg, "tts") != "offline" else \
            "offline-tts"
        chars = sum(tts_billed_chars(t) for t in narr)
        c = tts_cost(tts_model, chars)
        tts = {"model": tts_model, "estimated_chars": chars, "cost": c}
        if c is None:
            missing.append(tts_model)
        else:
            cost_total += c
    review = None
    if provider_for(cfg, "review") in ("bl", "wan27"):  # DashScope reviews are paid calls
        rmodel = review_model_of(cfg)
        per = [review_estimate(rmodel, len(s.characters)) for s in sb.shots]
        calls = sum(n for n, _ in per)
        rc = None if any(c is None for _, c in per) else round(
            sum(c for _, c in per if c is not None), 4)
        review = {"model": rmodel, "calls": calls, "cost": rc,
                  "note": "one review round per shot; a qwen-omni review of a shot with "
                          "cast is two calls (clip alone, then frames beside portraits)"}
        if rc is None:
            missing.append(rmodel)
        else:
            cost_total += rc
    cur = currency(models["t2v"])
    cost = {"currency": cur, "review": review,
            "total": round(cost_total, 4) if not missing else None,
            "known_total": round(cost_total, 4), "lines": lines,
            "no_price_data": missing,
            "note": ("no price data for " + ", ".join(missing)) if missing else
                    ("offline: free" if provider == "offline" else "from config/models.jsonl")}
    return Estimate(
        provider=provider, resolution=sb.resolution, ratio=sb.ratio, shots=len(sb.shots),
        total_clip_seconds=total, parallel_groups=len(groups), concurrency_cap=cap,
        duration_by_kind=by_kind, tts=tts,
        estimated_render_seconds_serial=round(total * 1.5, 1),
        estimated_render_seconds_parallel=round(max(group_secs) * 1.5, 1),
        estimated_render_seconds_with_concurrency_cap=round(
            max(group_secs) * 1.5 * max(1.0, len(groups) / cap), 1),
        long_confirm_threshold_s=cfg.long_confirm_s,
        over_long_confirm=total > cfg.long_confirm_s,
        cost=cost,
    )
