"""The LLM roles (screenwriter, director, prompt rewrite) and the clip ACCEPT rule.

Prompts are jinja2 templates in spark_video/prompts; answers are parsed into the pydantic
models and re-asked with the validation error when they do not parse. The offline text
provider answers the same prompts deterministically from the structured `data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined

from .io import InputError, parse_model
from .models import AXES, Lore, Manifest, Outline, Review, SceneFragment, Shot
from .providers import get_provider
from .providers.base import CallContext
from .scenefmt import SceneScript, parse_scene_md

T = TypeVar("T")
MAX_ASKS = 3

_env = Environment(loader=PackageLoader("spark_video", "prompts"), autoescape=False,
                   undefined=StrictUndefined, keep_trailing_newline=True)


def render_prompt(name: str, **data) -> str:
    return _env.get_template(f"{name}.j2").render(**data)


def _ask(ctx: CallContext, role: str, prompt: str, data: dict, parse: Callable[[str], T],
         *, json_mode: bool, where: Path | str) -> T:
    text = get_provider("text", ctx.cfg)
    user = prompt
    last_err = ""
    for _ in range(MAX_ASKS):
        answer = text.complete(ctx, role=role, system=f"You are the {role}.", user=user,
                               json_mode=json_mode, data=data)
        try:
            return parse(answer)
        except (InputError, ValueError) as e:
            last_err = str(e)
            user = (f"{prompt}\n\nYour previous answer could not be used: {last_err}\n"
                    "Answer again in the required format.")
    raise InputError(where, f"the {role} gave no usable answer after {MAX_ASKS} tries: {last_err}")


def _json(answer: str) -> object:
    s = answer.strip()
    fence = re.match(r"^```(?:json)?\s*(.*?)\s*```$", s, re.S)
    if fence:
        s = fence.group(1)
    try:
        return json.loads(s)
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e.msg} at line {e.lineno})") from e


def pacing_scene_count(target_s: int) -> int:
    """The screenwriter's pacing table, as a midpoint."""
    if target_s <= 60:
        return 3 if target_s > 40 else 2
    if target_s <= 180:
        return 5
    if target_s <= 300:
        return 8
    return min(18, max(10, round(target_s / 45)))


def write_outline(ctx: CallContext, *, premise: str, lore: Lore, cast: Manifest,
                  mode: str) -> Outline:
    data = {"title": lore.title, "premise": premise, "mode": mode,
            "target_s": lore.duration_target_s, "mood_anchor": lore.mood_anchor,
            "cast": sorted(cast.names()), "forbidden": lore.forbidden,
            "scene_count": pacing_scene_count(lore.duration_target_s)}

    def parse(answer: str) -> Outline:
        obj = _json(answer)
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        obj = {**obj, "project": ctx.paths.project, "episode": ctx.paths.episode, "mode": mode,
               "premise": premise, "target_duration_s": lore.duration_target_s}
        obj.setdefault("title", lore.title)
        out = parse_model(Outline, obj, ctx.paths.outline)
        for i, s in enumerate(out.scenes, 1):
            if s.num != i or s.id != f"S{i:02d}":
                raise ValueError(f"scene {i} must have num {i} and id S{i:02d}")
        return out

    return _ask(ctx, "outline", render_prompt("outline", **data), data, parse,
                json_mode=True, where=ctx.paths.outline)


def write_scene(ctx: CallContext, *, outline: Outline, num: int, lore: Lore,
                cast: Manifest) -> str:
    scene = outline.scenes[num - 1]
    data = {"title": outline.title, "mode": outline.mode, "scene": scene.model_dump(),
            "last": num == len(outline.scenes), "cast": sorted(cast.names()),
            "premise": outline.premise, "mood_anchor": lore.mood_anchor}
    path = ctx.paths.scene_md(num)

    def parse(answer: str) -> str:
        text = answer.strip() + "\n"
        s = parse_scene_md(text, path)
        if s.num != num:
            raise ValueError(f"heading says scene {s.num}, expected {num}")
        check_scene_names(s, cast, path)
        return text

    return _ask(ctx, "screenwriter", render_prompt("screenwriter", **data), data, parse,
                json_mode=False, where=path)


def check_scene_names(s: SceneScript, cast: Manifest, path: Path | str) -> None:
    known = cast.names()
    speakers = [d.speaker for d in s.dialog] + [d.speaker for b in s.beats for d in b.dialog]
    for name in [*s.characters, *speakers]:
        if known and name not in known:
            raise InputError(path, f"field Characters/Dialog: unknown character {name!r}; "
                             f"known cast: {', '.join(sorted(known))}")


def direct_scene(ctx: CallContext, *, scene_md: str, num: int, lore: Lore, cast: Manifest,
                 sets: Manifest, props: Manifest, mode: str) -> SceneFragment:
    md_path = ctx.paths.scene_md(num)
    script = parse_scene_md(scene_md, md_path)
    check_scene_names(script, cast, md_path)
    scene_id = f"S{num:02d}"
    data = {"scene_id": scene_id, "scene_md": scene_md, "script": script.model_dump(),
            "mood_anchor": lore.mood_anchor, "cast": sorted(cast.names()),
            "sets": sorted(sets.names()), "props": sorted(props.names()), "mode": mode}
    out_path = ctx.paths.scene_json(num)

    def parse(answer: str) -> SceneFragment:
        frag = parse_model(SceneFragment, _json(answer), out_path)
        check_fragment(frag, cast, sets, props, out_path, scene_id=scene_id)
        return frag

    return _ask(ctx, "director", render_prompt("director", **data), data, parse,
                json_mode=True, where=out_path)


def check_fragment(frag: SceneFragment, cast: Manifest, sets: Manifest, props: Manifest,
                   path: Path | str, *, scene_id: str | None = None) -> None:
    """Names must exist in the manifests; ids must be unique and belong to the scene."""
    if scene_id and frag.scene.id != scene_id:
        raise InputError(path, f"field scene.id: {frag.scene.id!r}, expected {scene_id}")
    seen: set[str] = set()
    known = cast.names()
    for i, shot in enumerate(frag.shots):
        where = f"shots[{i}] (id {shot.id})"
        if shot.id in seen:
            raise InputError(path, f"field {where}.id: duplicate shot id {shot.id}")
        seen.add(shot.id)
        for name in shot.characters + [d.speaker for d in shot.dialog]:
            if name not in known:
                raise InputError(path, f"field {where}.characters: unknown character {name!r}; "
                                 f"known cast: {', '.join(sorted(known)) or 'none'}")
        for p in shot.props:
            if p not in props.names():
                raise InputError(path, f"field {where}.props: unknown prop {p!r}")
        if shot.set_id and shot.set_id not in sets.names():
            raise InputError(path, f"field {where}.set_id: unknown set {shot.set_id!r}")
    for name in frag.scene.characters_present:
        if name not in known:
            raise InputError(path, f"field scene.characters_present: unknown character {name!r}")
    if frag.scene.set_id and frag.scene.set_id not in sets.names():
        raise InputError(path, f"field scene.set_id: unknown set {frag.scene.set_id!r}")


def rewrite_prompt(ctx: CallContext, *, shot: Shot, prompt: str, review: Review,
                   mood_anchor: str) -> str:
    data = {"prompt": prompt, "vetoed": review.vetoed_axes or [], "critique": review.critique,
            "mood_anchor": mood_anchor, "shot": shot.model_dump()}

    def parse(answer: str) -> str:
        p = answer.strip().strip('"')
        if not p:
            raise ValueError("empty prompt")
        if mood_anchor and not p.endswith(mood_anchor):
            p = f"{p.rstrip('. ')}. {mood_anchor}"
        return p

    return _ask(ctx, "rewrite", render_prompt("rewrite", **data), data, parse,
                json_mode=False, where=ctx.paths.shot_spec(shot.id))


def decide(review: Review, threshold: float, veto_floor: float) -> Review:
    """Our ACCEPT rule: mean of the six axes ≥ threshold and no axis ≤ the veto floor.
    The reviewer's own verdict is kept as model_verdict; it never decides."""
    if review.verdict == "ERROR" or not review.breakdown:
        return review.model_copy(update={"verdict": "ERROR", "score": None,
                                         "threshold": threshold, "veto_floor": veto_floor})
    missing = [a for a in AXES if a not in review.breakdown]
    if missing:
        return review.model_copy(update={
            "verdict": "ERROR", "score": None, "threshold": threshold, "veto_floor": veto_floor,
            "error": f"review is missing axes {missing}"})
    score = round(sum(float(review.breakdown[a]) for a in AXES) / len(AXES), 2)
    vetoed = [a for a in AXES if float(review.breakdown[a]) <= veto_floor]
    verdict = "ACCEPT" if score >= threshold and not vetoed else "REJECT"
    return review.model_copy(update={"score": score, "vetoed_axes": vetoed or None,
                                     "verdict": verdict, "threshold": threshold,
                                     "veto_floor": veto_floor})
