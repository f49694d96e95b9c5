"""The LLM roles: screenwriter, director and prompt rewrite (the clip ACCEPT rule is in
review_policy).

Prompts are jinja2 templates in spark_video/roles/prompts; answers are read leniently (answers:
fences, prose, extra keys, enum spellings, numbers as strings) into the pydantic models and
re-asked with errors naming field, given value and what is allowed when they do not fit.
The offline text provider answers the same prompts deterministically from the structured `data`.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..base.answers import (
    json_in,
    json_object_in,
    one_text_in,
    read,
    reading,
    scene_id,
    scene_markdown_in,
)
from ..base.io import InputError, atomic_write_text
from ..base.models import (
    Direction,
    Lore,
    Manifest,
    Outline,
    Review,
    SceneFragment,
    Shot,
    WorkflowConfig,
    now_iso,
)
from ..base.project import placeholder_in, refuse_placeholder
from ..base.redaction import redact
from ..base.scenefmt import SceneScript, parse_scene_md
from ..base.settings import provider_for
from ..providers import get_provider
from ..providers.base import CallContext
from ..providers.capabilities import FAMILIES, caps, video_family

T = TypeVar("T")
MAX_ASKS = 3  # default; WorkflowConfig.role_asks (SPARK_VIDEO_ROLE_ASKS) wins

@functools.cache
def _prompts():
    """The prompt templates' environment, made on first use: the Snakefile imports this
    module (through the storyboard) in every Snakemake run, and jinja2 costs it ~15 ms."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("spark_video.roles", "prompts"), autoescape=False,
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render_role(name: str, **data) -> tuple[str, str]:
    """(system, user) text of a role's template: its `system` and `user` blocks."""
    t = _prompts().get_template(f"{name}.j2")
    ctx = t.new_context(data)
    system = "".join(t.blocks["system"](ctx)).strip()
    user = "".join(t.blocks["user"](ctx)).strip()
    return system, user


def render_prompt(name: str, **data) -> str:
    return render_role(name, **data)[1]


def _prompt_log(ctx: CallContext, role: str, label: str, n: int, system: str,
                user: str) -> Path:
    """logs/prompts/<time>-<role>[-<label>]-<try>-<id>.md: what the role was told."""
    d = ctx.paths.prompts_dir
    d.mkdir(parents=True, exist_ok=True)
    stamp = now_iso().replace(":", "").replace("-", "")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-")
    name = f"{stamp}-{role}{'-' + safe if safe else ''}-try{n}-{uuid.uuid4().hex[:6]}.md"
    path = d / name
    text = (f"# {role}{' ' + label if label else ''} (try {n})\n\n## System\n\n{system}\n\n"
            f"## User\n\n{user}\n")
    atomic_write_text(path, redact(text) or "")
    return path


def _append_answer(path: Path, answer: str, problem: str | None,
                   notes: list[str] | None = None) -> None:
    extra = f"\n## Answer\n\n{answer}\n"
    if notes:
        extra += "\n## Read as\n\n" + "".join(f"- {n}\n" for n in notes)
    if problem:
        extra += f"\n## Refused\n\n{problem}\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(redact(extra) or "")


def _ask(ctx: CallContext, role: str, template: str, data: dict,
         parse: Callable[[str], T], *, json_mode: bool, where: Path | str,
         label: str = "") -> T:
    """Ask a role; refuse answers that break a rule and ask again with the errors, up to
    `role_asks` tries. Nothing is returned (so nothing is written) unless it passed."""
    text = get_provider("text", ctx.cfg)
    system, prompt = render_role(template, **data)
    if placeholder_in(str(data.get("mood_anchor") or "")):
        refuse_placeholder(ctx.paths.project_paths.lore, data["mood_anchor"], "mood_anchor")
    refuse_placeholder(where, prompt)  # nothing a scaffold left to fill reaches a model
    asks = getattr(ctx.cfg, "role_asks", MAX_ASKS) or MAX_ASKS
    user = prompt
    last_err = ""
    for n in range(1, asks + 1):
        log = _prompt_log(ctx, role, label, n, system, user)
        ctx.extra["prompt_file"] = str(log.relative_to(ctx.paths.root))
        try:
            answer = text.complete(ctx, role=role, system=system, user=user,
                                   json_mode=json_mode, data=data)
        finally:
            ctx.extra.pop("prompt_file", None)
        with reading() as notes:
            try:
                out = parse(answer)
            except (InputError, ValueError) as e:
                last_err = e.detail if isinstance(e, InputError) else str(e)
                _append_answer(log, answer, last_err, notes)
                user = (f"{prompt}\n\nYour previous answer broke these rules:\n{last_err}\n"
                        "Answer again, in the required format, fixing every point.")
                continue
        _append_answer(log, answer, None, notes)
        return out
    raise InputError(where, f"the {role} gave no usable answer after {asks} tries: {last_err}")


def raise_problems(problems: list[str]) -> None:
    """The problems of a model's answer, one a line, as the error it is asked again with
    (nothing happens when there are none)."""
    if problems:
        raise ValueError("\n".join(f"- {p}" for p in problems))


# --------------------------------------------------------------------------- what roles see


def cast_cards(cast: Manifest) -> list[dict]:
    out = []
    for e in sorted(cast.entries, key=lambda e: e.name):
        c = e.card
        dont = c.get("dont") or []
        out.append({"name": e.name, "age": c.get("age"), "gender": c.get("gender"),
                    "appearance": c.get("visual_anchor") or c.get("appearance") or "",
                    "dont": [str(x) for x in dont] if isinstance(dont, list) else [str(dont)],
                    "tier": e.tier})
    return out


def entity_cards(m: Manifest) -> list[dict]:
    out = []
    for e in sorted(m.entries, key=lambda e: e.name):
        c = e.card
        bits = [str(c[k]) for k in ("state", "lighting", "time_of_day", "description")
                if c.get(k)]
        out.append({"name": e.name, "detail": "; ".join(bits)})
    return out


REF_RE = {"[Image N]": re.compile(r"\[Image\s*(\d+)\]"), "图N": re.compile(r"图(\d+)")}


def director_caps(cfg: WorkflowConfig) -> dict:
    """What the director must know of the active video provider: per-kind durations,
    reference count, ratios, resolutions, reference syntax, negative_prompt."""
    provider = provider_for(cfg, "video")
    fam = video_family("wan27" if provider == "wan27" else "bl", cfg)
    kinds = {}
    for k, model in FAMILIES[fam].items():
        c = caps(model)
        kinds[k] = {"min_s": c.min_s, "max_s": c.max_s, "media_min": c.media_min,
                    "media_max": c.media_max}
    r2v = caps(FAMILIES[fam]["r2v"])
    wan = fam.startswith("wan")
    ref = "图N" if fam == "wan2.7" else "[Image N]"
    return {"provider": provider, "family": fam, "kinds": kinds,
            "media_max": min(9, r2v.media_max), "ratios": list(r2v.ratios or ()),
            "resolutions": list(r2v.resolutions), "ref_syntax": ref,
            "ref_example": "图1, 图2" if ref == "图N" else "[Image 1], [Image 2]",
            "negative_prompt": wan}


def ends_with_anchor(prompt: str, anchor: str) -> bool:
    if not anchor:
        return True
    tail = " .。,，"
    return prompt.rstrip(tail).endswith(anchor.rstrip(tail))


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
        obj = json_object_in(answer)
        for sc in next((v for k, v in obj.items() if str(k).strip().lower() == "scenes"
                        and isinstance(v, list)), []):
            if isinstance(sc, dict) and "id" in sc:
                sc["id"] = scene_id(sc["id"])
        if not any(str(k).strip().lower() == "title" and v for k, v in obj.items()):
            obj = {**obj, "title": lore.title}
        out = read(Outline, obj, fill={
            "project": ctx.paths.project, "episode": ctx.paths.episode, "mode": mode,
            "premise": premise, "target_duration_s": lore.duration_target_s})
        problems = []
        for i, s in enumerate(out.scenes, 1):
            if s.num != i or s.id != f"S{i:02d}":
                problems.append(f"scene {i} must have num {i} and id S{i:02d}")
            for name in s.characters:
                if cast.names() and name not in cast.names():
                    problems.append(f"scenes[{i - 1}].characters: unknown character {name!r}; "
                                    f"the cast is {', '.join(sorted(cast.names()))}")
        problems += forbidden_problems(answer, lore.forbidden, "the outline")
        raise_problems(problems)
        return out

    return _ask(ctx, "outline", "outline", data, parse, json_mode=True, where=ctx.paths.outline)


def forbidden_problems(text: str, forbidden: list[str], where: str) -> list[str]:
    low = text.lower()
    return [f"{where} uses the forbidden term {t!r}" for t in forbidden
            if t and re.search(r"(?<!\w)" + re.escape(t.lower()) + r"(?!\w)", low)]


def write_scene(ctx: CallContext, *, outline: Outline, num: int, lore: Lore,
                cast: Manifest, props: Manifest | None = None, notes: str = "") -> str:
    scene = outline.scenes[num - 1]
    seen_before = {n for s in outline.scenes[:num - 1] for n in s.characters}
    data = {"title": outline.title, "mode": outline.mode, "scene": scene.model_dump(),
            "last": num == len(outline.scenes), "cast": sorted(cast.names()),
            "premise": outline.premise, "mood_anchor": lore.mood_anchor,
            "target_s": outline.target_duration_s, "scene_count": len(outline.scenes),
            "forbidden": lore.forbidden, "cast_cards": cast_cards(cast),
            "prop_cards": entity_cards(props) if props else [],
            "first_seen": [n for n in scene.characters if n not in seen_before],
            "motifs": [str(m.get("name") if isinstance(m, dict) else m)
                       for m in lore.imagery_system.motifs],
            "notes": notes}
    path = ctx.paths.scene_md(num)

    def parse(answer: str) -> str:
        text = scene_markdown_in(answer)
        try:
            s = parse_scene_md(text, path)
        except InputError as e:
            raise ValueError(e.detail) from None
        problems = []
        if s.num != num:
            problems.append(f"the heading says scene {s.num}, expected {num}")
        problems += scene_name_problems(s, cast)
        problems += forbidden_problems(text, lore.forbidden, "the scene")
        if num == len(outline.scenes) and "CAST CHECK" not in text:
            problems.append("the last scene must end with the <!-- CAST CHECK --> and "
                            "<!-- PROP CHECK --> blocks")
        raise_problems(problems)
        return text

    return _ask(ctx, "screenwriter", "screenwriter", data, parse, json_mode=False, where=path,
                label=f"scene-{num:02d}")


def scene_name_problems(s: SceneScript, cast: Manifest) -> list[str]:
    known = cast.names()
    speakers = [d.speaker for d in s.dialog] + [d.speaker for b in s.beats for d in b.dialog]
    out = []
    for name in dict.fromkeys([*s.characters, *speakers]):
        if known and name not in known:
            out.append(f"field Characters/Dialog: unknown character {name!r}; "
                       f"known cast: {', '.join(sorted(known))}")
    return out


def check_scene_names(s: SceneScript, cast: Manifest, path: Path | str) -> None:
    problems = scene_name_problems(s, cast)
    if problems:
        raise InputError(path, problems[0])


def write_direction(ctx: CallContext, *, outline: Outline, script: str, lore: Lore,
                    cast: Manifest) -> Direction:
    """direction.json: the director's episode-wide decisions, before scene 1 is directed."""
    motifs = [m if isinstance(m, dict) else {"name": str(m)} for m in lore.imagery_system.motifs]
    data = {"title": outline.title, "mode": outline.mode, "premise": outline.premise,
            "target_s": outline.target_duration_s, "mood_anchor": lore.mood_anchor,
            "visual_style": lore.visual_style, "forbidden": lore.forbidden,
            "lore_motifs": json.dumps(motifs, ensure_ascii=False) if motifs else "",
            "lore_highlights": lore.imagery_system.highlight_elements,
            "cast_cards": cast_cards(cast), "cast": sorted(cast.names()),
            "scenes": [s.model_dump() for s in outline.scenes], "script": script}
    scene_ids = {s.id for s in outline.scenes}

    def parse(answer: str) -> Direction:
        d = read(Direction, answer, fill={"project": ctx.paths.project,
                                          "episode": ctx.paths.episode})
        problems = []
        for m in d.imagery_system.motifs:
            bad = [x for x in m.landings if x not in scene_ids]
            if bad:
                problems.append(f"motif {m.name!r} lands in unknown scenes {bad}; the scenes "
                                f"are {', '.join(sorted(scene_ids))}")
        problems += forbidden_problems(answer, lore.forbidden, "the direction")
        raise_problems(problems)
        return d

    return _ask(ctx, "direction", "direction", data, parse, json_mode=True,
                where=ctx.paths.direction)


REWRITE_ONLY = re.compile(r"^Rewrite only:\s*(.+)$", re.M)


def rewrite_only(notes: str) -> list[str]:
    """Shot ids a note limits the director's rewrite to ("Rewrite only: S01-002, ...")."""
    m = REWRITE_ONLY.search(notes or "")
    return [x.strip() for x in m.group(1).split(",") if x.strip()] if m else []


def direct_scene(ctx: CallContext, *, scene_md: str, num: int, lore: Lore, cast: Manifest,
                 sets: Manifest, props: Manifest, mode: str,
                 direction: Direction | None = None, notes: str = "",
                 previous: SceneFragment | None = None) -> SceneFragment:
    md_path = ctx.paths.scene_md(num)
    script = parse_scene_md(scene_md, md_path)
    check_scene_names(script, cast, md_path)
    scene_id = f"S{num:02d}"
    caps = director_caps(ctx.cfg)
    data = {"scene_id": scene_id, "scene_md": scene_md, "script": script.model_dump(),
            "mood_anchor": lore.mood_anchor, "cast": sorted(cast.names()),
            "sets": sorted(sets.names()), "props": sorted(props.names()), "mode": mode,
            "cast_cards": cast_cards(cast), "set_cards": entity_cards(sets),
            "prop_cards": entity_cards(props), "forbidden": lore.forbidden, "caps": caps,
            "direction": direction.model_dump(mode="json") if direction else None,
            "direction_json": direction_text(direction),
            "notes": notes, "previous": previous.model_dump_json(indent=1) if previous else ""}
    out_path = ctx.paths.scene_json(num)

    only = rewrite_only(notes) if previous else []

    def parse(answer: str) -> SceneFragment:
        frag = read(SceneFragment, json_in(answer))
        problems = []
        if only and previous:  # keep every other shot exactly as it was
            new = {s.id: s for s in frag.shots}
            missing = [x for x in only if x not in new]
            same = [x for x in only if x in new and previous.shot(x) == new[x]]
            if missing:
                problems.append(f"the answer has no shot {', '.join(missing)} to rewrite")
            if same:
                problems.append(f"shot {', '.join(same)} is unchanged: rewrite it to fix the "
                                "notes")
            frag = previous.model_copy(update={"shots": [
                new[s.id] if s.id in only and s.id in new else s for s in previous.shots]})
        problems += fragment_problems(frag, cast, sets, props, scene_id=scene_id)
        problems += director_problems(frag, caps, lore, mode)
        raise_problems(problems)
        return frag

    return _ask(ctx, "director", "director", data, parse, json_mode=True, where=out_path,
                label=scene_id)


def direction_text(direction: Direction | None) -> str:
    if direction is None:
        return ""
    return json.dumps(direction.model_dump(mode="json", exclude={"project", "episode"}),
                      ensure_ascii=False, indent=1)


def fragment_problems(frag: SceneFragment, cast: Manifest, sets: Manifest, props: Manifest,
                      *, scene_id: str | None = None) -> list[str]:
    """Names must exist in the manifests; ids must be unique and belong to the scene."""
    out: list[str] = []
    if scene_id and frag.scene.id != scene_id:
        out.append(f"field scene.id: {frag.scene.id!r}, expected {scene_id}")
    seen: set[str] = set()
    known = cast.names()
    for i, shot in enumerate(frag.shots):
        where = f"shots[{i}] (id {shot.id})"
        if shot.id in seen:
            out.append(f"field {where}.id: duplicate shot id {shot.id}")
        seen.add(shot.id)
        for name in dict.fromkeys(shot.characters + [d.speaker for d in shot.dialog]):
            if name not in known:
                out.append(f"field {where}.characters: unknown character {name!r}; "
                           f"known cast: {', '.join(sorted(known)) or 'none'}")
        for p in shot.props:
            if p not in props.names():
                out.append(f"field {where}.props: unknown prop {p!r}; known props: "
                           f"{', '.join(sorted(props.names())) or 'none'}")
        if shot.set_id and shot.set_id not in sets.names():
            out.append(f"field {where}.set_id: unknown set {shot.set_id!r}; known sets: "
                       f"{', '.join(sorted(sets.names())) or 'none'}")
    for name in frag.scene.characters_present:
        if name not in known:
            out.append(f"field scene.characters_present: unknown character {name!r}")
    for p in frag.scene.props_present:
        if p not in props.names():
            out.append(f"field scene.props_present: unknown prop {p!r}")
    if frag.scene.set_id and frag.scene.set_id not in sets.names():
        out.append(f"field scene.set_id: unknown set {frag.scene.set_id!r}")
    return out


def check_fragment(frag: SceneFragment, cast: Manifest, sets: Manifest, props: Manifest,
                   path: Path | str, *, scene_id: str | None = None) -> None:
    problems = fragment_problems(frag, cast, sets, props, scene_id=scene_id)
    if problems:
        raise InputError(path, "; ".join(problems))


def director_problems(frag: SceneFragment, caps: dict, lore: Lore, mode: str) -> list[str]:
    """The director's craft rules that code can check (an answer breaking one is re-asked)."""
    out: list[str] = []
    anchor = lore.mood_anchor
    wrong = "[Image N]" if caps["ref_syntax"] == "图N" else "图N"
    for i, s in enumerate(frag.shots):
        where = f"shots[{i}] (id {s.id})"
        if i == 0 and s.use_prev_last_frame_as_first:
            out.append(f"{where}: the first shot of a scene is unchained "
                       "(use_prev_last_frame_as_first=false)")
        if not ends_with_anchor(s.prompt, anchor):
            out.append(f"{where}.prompt: must end with the mood anchor verbatim: {anchor!r}")
        r = caps["kinds"][s.kind]
        if not r["min_s"] <= s.duration <= r["max_s"]:
            out.append(f"{where}.duration: {s.duration} s is outside {r['min_s']}-{r['max_s']} s "
                       f"for {s.kind} on {caps['provider']}")
        if REF_RE[wrong].search(s.prompt):
            out.append(f"{where}.prompt: {caps['provider']} references images as "
                       f"{caps['ref_syntax']}, not {wrong}")
        if s.negative_prompt and not caps["negative_prompt"]:
            out.append(f"{where}.negative_prompt: {caps['provider']} has no negative_prompt; "
                       "set it to null")
        if s.kind == "r2v":
            n = len(s.characters) + len(s.props) + (1 if (s.set_id or frag.scene.set_id) else 0)
            if n > caps["media_max"]:
                out.append(f"{where}: {n} reference images (cast, set, props), over the "
                           f"provider's {caps['media_max']}")
        if s.role == "narration":
            if mode == "drama":
                out.append(f"{where}.role: narration shots only exist in narration mode")
            if s.use_prev_last_frame_as_first:
                out.append(f"{where}: a narration shot never chains")
        out += forbidden_problems(s.prompt, lore.forbidden, f"{where}.prompt")
    return out


def rewrite_prompt(ctx: CallContext, *, shot: Shot, prompt: str, review: Review,
                   mood_anchor: str) -> str:
    caps = director_caps(ctx.cfg)
    data = {"prompt": prompt, "vetoed": review.vetoed_axes or [], "critique": review.critique,
            "mood_anchor": mood_anchor, "shot": shot.model_dump(),
            "ref_example": caps["ref_example"]}
    refs = sorted(set(REF_RE["[Image N]"].findall(prompt))) + sorted(
        set(REF_RE["图N"].findall(prompt)))

    def parse(answer: str) -> str:
        p = one_text_in(answer, is_it=lambda t: ends_with_anchor(t, mood_anchor)
                        if mood_anchor else bool(t))
        if not p:
            raise ValueError("empty prompt")
        if mood_anchor and not ends_with_anchor(p, mood_anchor):
            p = f"{p.rstrip('. ')}. {mood_anchor}"
        now = sorted(set(REF_RE["[Image N]"].findall(p))) + sorted(
            set(REF_RE["图N"].findall(p)))
        if now != refs:
            raise ValueError(f"keep the image references exactly as they were "
                             f"({caps['ref_example']} style): the prompt had "
                             f"{refs or 'none'}, the answer has {now or 'none'}")
        return p

    return _ask(ctx, "rewrite", "rewrite", data, parse, json_mode=False,
                where=ctx.paths.shot_spec(shot.id), label=shot.id)


def propose_lore(ctx: CallContext, *, premise: str, title: str) -> dict:
    """The lore.md front-matter for a project without one, with a mood anchor proposed from
    the premise (the user edits it afterwards)."""
    data = {"premise": premise, "title": title}

    def parse(answer: str) -> dict:
        obj = json_object_in(answer)
        obj.setdefault("title", title)
        lore = read(Lore, obj)
        anchor = lore.mood_anchor.strip()
        if not anchor or "\n" in anchor or len(anchor) > 160:
            raise ValueError("mood_anchor must be one line of at most 160 characters")
        return lore.model_dump(include={"title", "mood_anchor", "visual_style", "genre",
                                        "forbidden", "duration_target_s"})

    return _ask(ctx, "lore", "lore", data, parse, json_mode=True,
                where=ctx.paths.project_paths.lore)


