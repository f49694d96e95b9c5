"""viewer.html: one self-contained page showing the whole production at any stage.

`build_viewer()` reads whatever the episode folder holds right now and renders
`templates/viewer.html.j2`. Every section is optional: a missing artifact gives a placeholder,
a malformed one an error note for that section only, so the page can be rebuilt after every
stage (even with just a premise).

Rules kept here:
- no network: no CDN, no external script or style; media are referenced by relative URL from
  the episode folder, nothing is copied (subtitles are inlined as a WebVTT data: URL because
  browsers cannot play .srt in a <track>);
- all text from users and models is escaped (jinja autoescape; the tiny markdown filter escapes
  first and only then adds its own tags); the one inline script is static and allowed by its
  sha256 in the page's Content-Security-Policy, so even an escaping bug could not run a script;
- the model-call log shows only the fields of `models.ModelCall`, never the raw line, and
  anything that looks like a secret is masked.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape
from pydantic import ValidationError

from .io import (
    InputError,
    atomic_write_text,
    format_validation_error,
    load_model,
    read_json,
    read_jsonl,
    read_text_checked,
)
from .models import (
    AXES,
    BGMConfig,
    ModelCall,
    Outline,
    Review,
    SceneFragment,
    Shot,
    ShotState,
    Storyboard,
    now_iso,
)
from .notes import all_notes
from .paths import EpisodePaths, PathError, inside, parse_scene_file
from .project import load_manifest, manifest_path, split_front_matter
from .redaction import make_redactor
from .sound import list_bgm_tracks

READ_ERRORS = (InputError, ValidationError, OSError, ValueError, PathError)

MAX_LOG_BYTES = 64 * 1024 * 1024  # the call log of a long episode can exceed MAX_INPUT_BYTES
MAX_LOG_ROWS = 5000  # raw rows shown; counts and sums always cover every line
MAX_SRT_BYTES = 1024 * 1024


# shown first, in this order, when present (the original viewer's choice of card keys)
CARD_KEYS = ("age", "gender", "occupation", "archetype", "voice_style")
DIRECTION_KEYS = ("tone", "tone_dimensions", "director_reference", "audiovisual_decisions",
                  "imagery_system")

# The page's only script: version tabs. Static, so the CSP can pin it by hash.
TABS_JS = """
document.querySelectorAll('.versions').forEach(function (box) {
  var tabs = Array.prototype.slice.call(box.querySelectorAll(':scope > .ver-tabs > button'));
  var panels = Array.prototype.slice.call(box.querySelectorAll(':scope > .ver-panel'));
  function show(i) {
    tabs.forEach(function (t, j) { t.classList.toggle('active', i === j); });
    panels.forEach(function (p, j) { p.hidden = i !== j; });
  }
  tabs.forEach(function (t, i) { t.addEventListener('click', function () { show(i); }); });
  box.classList.add('js');
  show(0);
});
"""

# --------------------------------------------------------------------------- markdown


_MD_INLINE = [
    (re.compile(r"`([^`\n]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])"), r"<em>\1</em>"),
]


def _md_inline(escaped: str) -> str:
    for pat, repl in _MD_INLINE:
        escaped = pat.sub(repl, escaped)
    return escaped


def simple_markdown(text: str | None) -> Markup:
    """A deliberately small markdown subset, safe by construction.

    Every line is HTML-escaped first; only then are headings, lists, bold, italics, code and
    block quotes turned into tags. Links and raw HTML are not supported (shown as text).
    """
    out: list[str] = []
    para: list[str] = []
    list_tag: str | None = None

    def flush_para() -> None:
        if para:
            out.append("<p>" + "<br>".join(para) + "</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    in_code = False
    code: list[str] = []
    for raw in (text or "").splitlines():
        if raw.strip().startswith("```"):
            if in_code:
                out.append("<pre>" + "\n".join(code) + "</pre>")
                code.clear()
                in_code = False
            else:
                flush_para()
                close_list()
                in_code = True
            continue
        line = str(escape(raw))
        if in_code:
            code.append(line)
            continue
        stripped = line.strip()
        if not stripped:
            flush_para()
            close_list()
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        if m:
            flush_para()
            close_list()
            level = min(len(m.group(1)) + 2, 6)  # the page owns h1/h2
            out.append(f"<h{level}>{_md_inline(m.group(2))}</h{level}>")
            continue
        m = re.match(r"^([-*+]|\d+[.)])\s+(.*)$", stripped)
        if m:
            flush_para()
            tag = "ol" if m.group(1)[0].isdigit() else "ul"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            out.append(f"<li>{_md_inline(m.group(2))}</li>")
            continue
        if stripped.startswith("&gt;"):
            flush_para()
            close_list()
            out.append(f"<blockquote>{_md_inline(stripped[4:].strip())}</blockquote>")
            continue
        if re.match(r"^(-{3,}|\*{3,}|_{3,})$", stripped):
            flush_para()
            close_list()
            out.append("<hr>")
            continue
        close_list()
        para.append(_md_inline(stripped))
    if in_code:
        out.append("<pre>" + "\n".join(code) + "</pre>")
    flush_para()
    close_list()
    return Markup("\n".join(out))


# --------------------------------------------------------------------------- helpers


def _fmt_cost(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0:
        return "0"
    if abs(value) < 0.01:
        return f"{value:.4f}"
    return f"{value:,.2f}"


def _fmt_costs(costs: dict[str, float]) -> str:
    """{'CNY': 1.8, '': 0.2} -> '1.80 CNY + 0.20'."""
    return " + ".join(f"{_fmt_cost(v)} {c}".strip() for c, v in sorted(costs.items()))


def _fmt_duration_ms(ms: int) -> str:
    s = ms / 1000
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _srt_to_vtt(srt: str) -> str:
    lines = ["WEBVTT", ""]
    for line in srt.replace("\r\n", "\n").lstrip("\ufeff").split("\n"):
        if "-->" in line:
            line = re.sub(r"(\d{2}:\d{2}:\d{2}),(\d{3})", r"\1.\2", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Note:
    """A placeholder (nothing yet) or an error (could not read) for one section."""

    kind: str  # "missing" | "error"
    text: str


@dataclass
class Version:
    version: int
    url: str | None = None
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

    @property
    def winner(self) -> Version | None:
        return next((v for v in self.versions if v.winner), None)

    @property
    def best_review(self) -> Review | None:
        w = self.winner
        if w and w.review:
            return w.review
        return next((v.review for v in self.versions if v.review), None)


# --------------------------------------------------------------------------- the reader


class _Reader:
    def __init__(self, paths: EpisodePaths):
        self.paths = paths
        self.root = paths.root
        self.project_root = paths.project_paths.root
        self.projects_dir = self.project_root.parent

    # paths -------------------------------------------------------------------
    def url(self, target: Path) -> str:
        """A relative URL from the episode folder (the page's location) to `target`."""
        rel = os.path.relpath(Path(target).absolute(), self.root.absolute())
        return urllib.parse.quote(Path(rel).as_posix())

    def show_path(self, target: Path | None) -> str:
        """A path for humans: relative to the projects folder when it is inside it."""
        if target is None:
            return ""
        try:
            return Path(target).absolute().relative_to(self.projects_dir.absolute()).as_posix()
        except ValueError:
            return str(target)

    def err(self, e: Exception) -> str:
        if isinstance(e, InputError):
            return f"{self.show_path(e.path)}: {e.detail}" if e.path else e.detail
        if isinstance(e, ValidationError):
            return format_validation_error(e)
        if isinstance(e, OSError):
            return f"{self.show_path(Path(e.filename)) if e.filename else ''} {e.strerror or e}"
        return str(e)

    def media_url(self, rel: str) -> str | None:
        """A manifest media path (relative to the projects folder), if it stays in the project."""
        try:
            target = inside(self.project_root, self.projects_dir / rel)
        except (PathError, OSError, ValueError):
            return None
        return self.url(target)

    # sections ------------------------------------------------------------------
    def final(self) -> dict[str, Any]:
        mp4, srt = self.paths.final_mp4, self.paths.final_srt
        out: dict[str, Any] = {"path": self.show_path(mp4), "url": None, "srt_url": None,
                               "vtt": None, "note": None}
        if not mp4.exists():
            out["note"] = Note("missing", "No final cut yet (it is made after GATE 3).")
            return out
        out["url"] = self.url(mp4)
        out["size_mb"] = f"{mp4.stat().st_size / 1e6:.1f}"
        if srt.exists():
            out["srt_url"] = self.url(srt)
            try:
                text = read_text_checked(srt, MAX_SRT_BYTES)
                vtt = _srt_to_vtt(text).encode("utf-8")
                out["vtt"] = "data:text/vtt;base64," + base64.b64encode(vtt).decode("ascii")
            except READ_ERRORS as e:
                out["srt_error"] = self.err(e)
        return out

    def premise(self) -> dict[str, Any]:
        for p in (self.paths.premise, self.paths.project_paths.premise):
            if not p.exists():
                continue
            try:
                text = read_text_checked(p).strip()
            except READ_ERRORS as e:
                return {"note": Note("error", self.err(e)), "source": self.show_path(p)}
            if text:
                return {"text": text, "source": self.show_path(p), "note": None}
        return {"note": Note("missing", "No premise yet: pass --premise or write premise.md."),
                "source": None}

    def lore(self) -> dict[str, Any]:
        p = self.paths.project_paths.lore
        out: dict[str, Any] = {"source": self.show_path(p), "meta": {}, "body": "", "note": None}
        if not p.exists():
            out["note"] = Note("missing", "No lore.md in this project.")
            return out
        try:
            meta, body = split_front_matter(p, read_text_checked(p))
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        out.update(meta=meta, body=body)
        return out

    def json_section(self, p: Path, missing: str) -> dict[str, Any]:
        if not p.exists():
            return {"note": Note("missing", missing), "data": None}
        try:
            data = read_json(p)
        except READ_ERRORS as e:
            return {"note": Note("error", self.err(e)), "data": None}
        return {"note": None, "data": data, "source": self.show_path(p)}

    def direction(self) -> dict[str, Any]:
        out = self.json_section(self.paths.direction, "No direction.json yet.")
        data = out.get("data")
        if isinstance(data, dict):
            ordered = {k: data[k] for k in DIRECTION_KEYS if k in data}
            ordered.update({k: v for k, v in data.items() if k not in ordered})
            out["data"] = ordered
        return out

    def text_file(self, p: Path, missing: str) -> dict[str, Any]:
        if not p.exists():
            return {"note": Note("missing", missing), "text": None}
        try:
            return {"note": None, "text": read_text_checked(p), "source": self.show_path(p)}
        except READ_ERRORS as e:
            return {"note": Note("error", self.err(e)), "text": None}

    def scenes(self, storyboard: Storyboard | None) -> list[dict[str, Any]]:
        found = [(parse_scene_file(p.name)[0], p) for p in self.paths.scene_files("md")]
        out = []
        for num, p in found:
            item: dict[str, Any] = {"num": num, "source": self.show_path(p), "text": None,
                                    "note": None, "shots": None, "shots_note": None,
                                    "title": f"Scene {num}"}
            try:
                item["text"] = read_text_checked(p)
                m = re.search(r"^##\s*(.+)$", item["text"], re.M)
                if m:
                    item["title"] = m.group(1).strip()
            except READ_ERRORS as e:
                item["note"] = Note("error", self.err(e))
            frag = self.paths.scene_json(num)
            if frag.exists():
                try:
                    item["shots"] = len(load_model(SceneFragment, frag).shots)
                except READ_ERRORS as e:
                    item["shots_note"] = Note("error", self.err(e))
            elif storyboard is not None:
                sid = f"S{num:02d}"
                item["shots"] = sum(1 for s in storyboard.shots if s.scene == sid)
            out.append(item)
        return out

    def manifest(self, kind: str, label: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind, "label": label, "entries": [], "note": None,
                               "source": self.show_path(manifest_path(self.paths, kind))}
        try:
            m = load_manifest(self.paths, kind)
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        for e in m.entries:
            card = e.card if isinstance(e.card, dict) else {}
            keys = [k for k in CARD_KEYS if k in card and _is_scalar(card[k])]
            keys += [k for k in card if k not in keys and _is_scalar(card[k])][: 8 - len(keys)]
            out["entries"].append({
                "name": e.name, "id": e.id, "tier": e.tier,
                "image": self.media_url(e.images[0]) if e.images else None,
                "extra_images": [u for u in (self.media_url(i) for i in e.images[1:]) if u],
                "voices": [(Path(v).name, self.media_url(v)) for v in e.voices],
                "card": {k: card[k] for k in keys},
            })
        if not out["entries"]:
            out["note"] = Note("missing", f"No {label.lower()} yet.")
        return out

    def bgm(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": None, "note": None, "tracks": []}
        p = self.paths.bgm_config
        if p.exists():
            try:
                out["config"] = load_model(BGMConfig, p)
            except READ_ERRORS as e:
                out["note"] = Note("error", self.err(e))
        # the tracks the stitch can use: an episode track hides a project track of its name
        for f in list_bgm_tracks(self.paths).values():
            tier = "episode" if f.parent == self.paths.bgm_dir else "project"
            out["tracks"].append({"tier": tier, "name": f.name, "url": self.url(f)})
        return out

    def storyboard(self) -> tuple[Storyboard | None, Note | None]:
        p = self.paths.storyboard
        if not p.exists():
            return None, Note("missing", "No storyboard yet (the director writes it after GATE 1).")
        try:
            return load_model(Storyboard, p), None
        except READ_ERRORS as e:
            return None, Note("error", self.err(e))

    def title(self, storyboard: Storyboard | None, lore_meta: dict) -> str | None:
        if storyboard:
            return storyboard.title
        if self.paths.outline.exists():
            try:
                return load_model(Outline, self.paths.outline).title
            except READ_ERRORS:
                pass
        t = lore_meta.get("title") if isinstance(lore_meta, dict) else None
        return str(t) if t else None

    def model_calls(self) -> dict[str, Any]:
        p = self.paths.model_calls
        out: dict[str, Any] = {"calls": [], "bad": [], "note": None, "truncated": 0,
                               "source": self.show_path(p)}
        if not p.exists():
            out["note"] = Note("missing", "No model calls logged yet.")
            return out
        try:
            size = p.stat().st_size
            if size > MAX_LOG_BYTES:
                raise InputError(p, f"file is {size} bytes, more than the {MAX_LOG_BYTES} shown")
            records = read_jsonl(p)
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        for n, data in records:
            if isinstance(data, str):
                out["bad"].append((n, data))
                continue
            try:
                call = ModelCall.model_validate(data)
                pf = call.prompt_file or ""
                if pf and not re.fullmatch(r"logs/prompts/[A-Za-z0-9_.-]+\.md", pf):
                    call = call.model_copy(update={"prompt_file": None})  # only our own files
                out["calls"].append(call)
            except ValidationError as e:
                out["bad"].append((n, format_validation_error(e)))
        return out

    def shots(self, storyboard: Storyboard, calls: list[ModelCall]) -> list[ShotView]:
        by_shot: dict[str, list[ModelCall]] = defaultdict(list)
        for c in calls:
            if c.shot:
                by_shot[c.shot].append(c)
        on_disk = {shot: set(versions) for shot, versions in self.paths.clip_versions().items()}
        return [self._shot(i, shot, by_shot.get(shot.id, []), on_disk.get(shot.id, set()))
                for i, shot in enumerate(storyboard.shots, 1)]

    def _shot(self, index: int, shot: Shot, calls: list[ModelCall],
              on_disk: set[int]) -> ShotView:
        v = ShotView(shot=shot, index=index)
        state: ShotState | None = None
        sp = self.paths.shot_state(shot.id)
        if sp.exists():
            try:
                state = load_model(ShotState, sp)
            except READ_ERRORS as e:
                v.state_error = self.err(e)
        in_state = {a.version for a in state.attempts} if state else set()
        if state:
            v.winner_version = state.winner_version
            v.needs_rewrite = state.needs_director_rewrite
            v.below_threshold = state.accepted_below_threshold

        costs: dict[str, float] = defaultdict(float)
        per_version_cost: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        render_calls: dict[int, ModelCall] = {}
        for c in calls:
            if c.cost is not None:
                costs[c.currency or ""] += c.cost
                if c.attempt is not None:
                    per_version_cost[c.attempt][c.currency or ""] += c.cost
            if c.phase == "render" and c.attempt is not None and c.prompt:
                render_calls[c.attempt] = c  # the last one wins
        v.cost = _fmt_costs(costs) if costs else ("no price data" if calls else "")
        v.calls = len(calls)

        for n in sorted(on_disk | in_state):
            ver = Version(version=n, winner=(n == v.winner_version))
            clip = self.paths.clip_version(shot.id, n)
            if n in on_disk:
                ver.url = self.url(clip)
            frame = self.paths.version_last_frame(shot.id, n)
            if frame.exists():
                ver.frame_url = self.url(frame)
            att = state.attempt(n) if state else None
            call = render_calls.get(n)
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
            if n in per_version_cost:
                ver.cost = _fmt_costs(per_version_cost[n])
            v.versions.append(ver)
        v.versions.sort(key=lambda x: (not x.winner, -x.version))

        if not v.versions and self.paths.clip(shot.id).exists():
            v.fallback_clip_url = self.url(self.paths.clip(shot.id))
        esc = self.paths.escalation(shot.id)
        if esc.exists():
            try:
                v.escalation = read_text_checked(esc)
            except READ_ERRORS as e:
                v.escalation = f"(could not read {self.show_path(esc)}: {self.err(e)})"
        return v


def _call_summary(calls: list[ModelCall]) -> dict[str, Any]:
    phases: Counter[str] = Counter(c.phase for c in calls)
    providers: Counter[str] = Counter(c.provider for c in calls)
    costs: dict[str, float] = defaultdict(float)
    for c in calls:
        if c.cost is not None:
            costs[c.currency or ""] += c.cost
    return {
        "count": len(calls),
        "errors": sum(1 for c in calls if c.status == "error"),
        "phases": sorted(phases.items()),
        "providers": sorted(providers.items()),
        "duration": _fmt_duration_ms(sum(c.duration_ms for c in calls)),
        "cost": _fmt_costs(costs) if costs else ("no price data" if calls else "0"),
        "unpriced": sum(1 for c in calls if c.cost is None),
    }


def _gate_row(g: Any) -> dict[str, Any]:
    g = g if isinstance(g, dict) else {"gate": str(g)}
    problems = g.get("problems") or []
    if isinstance(problems, str):
        problems = [problems]
    return {
        "gate": str(g.get("gate") or ""),
        "label": str(g.get("label") or ""),
        "open": bool(g.get("open")),
        "approved_at": str(g.get("approved_at") or ""),
        "note": str(g.get("note") or ""),
        "problems": [str(p) for p in problems],
    }


# --------------------------------------------------------------------------- rendering


def _environment() -> Environment:
    redact = make_redactor()

    def finalize(value: Any) -> Any:
        # mask secrets in every plain string that reaches the page (markup we built is ours)
        if isinstance(value, str) and not isinstance(value, Markup):
            return redact(value)
        return value

    env = Environment(
        loader=PackageLoader("spark_video", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters["md"] = lambda text: simple_markdown(redact(text or ""))
    env.filters["cost"] = _fmt_cost
    env.tests["scalar"] = _is_scalar
    return env


def render_viewer(paths: EpisodePaths, *, gate_status: list[dict] | None = None) -> str:
    """The page's HTML for the episode as it is on disk now."""
    r = _Reader(paths)
    storyboard, sb_note = r.storyboard()
    calls = r.model_calls()
    lore = r.lore()
    shots = r.shots(storyboard, calls["calls"]) if storyboard else []
    summary = _call_summary(calls["calls"])
    manifests = [r.manifest("cast", "Cast"), r.manifest("set", "Movie sets"),
                 r.manifest("prop", "Props")]
    scenes_by_id = {s.id: s for s in storyboard.scenes} if storyboard else {}
    escalations = [s for s in shots if s.escalation or s.needs_rewrite]
    verdicts = Counter(
        (s.best_review.verdict if s.best_review else "not reviewed") for s in shots)

    ctx = {
        "paths": paths,
        "project": paths.project,
        "episode": paths.episode,
        "title": r.title(storyboard, lore.get("meta") or {}),
        "generated": now_iso(),
        "final": r.final(),
        "premise": r.premise(),
        "lore": lore,
        "direction": r.direction(),
        "script": r.text_file(paths.script, "No script yet (the screenwriter writes it)."),
        "scenes": r.scenes(storyboard),
        "manifests": manifests,
        "bgm": r.bgm(),
        "storyboard": storyboard,
        "storyboard_note": sb_note,
        "estimate": r.json_section(paths.estimate, "No estimate yet."),
        "scenes_by_id": scenes_by_id,
        "shots": shots,
        "rendered": sum(1 for s in shots if s.versions or s.fallback_clip_url),
        "verdicts": sorted(verdicts.items()),
        "escalations": escalations,
        "calls": calls,
        "calls_shown": calls["calls"][:MAX_LOG_ROWS],
        "summary": summary,
        "gates": None if gate_status is None else [_gate_row(g) for g in gate_status],
        "producer_notes": all_notes(paths),
        "axes": AXES,
        "script_hash": "sha256-" + base64.b64encode(
            hashlib.sha256(TABS_JS.encode("utf-8")).digest()).decode("ascii"),
        "tabs_js": Markup(TABS_JS),  # static code of this module, never user text
        "data": {
            "project": paths.project,
            "episode": paths.episode,
            "shots": [{"id": s.shot.id, "scene": s.shot.scene, "winner": s.winner_version,
                       "versions": [x.version for x in s.versions]} for s in shots],
            "total_cost": summary["cost"],
        },
    }
    return _environment().get_template("viewer.html.j2").render(**ctx)


def build_viewer(paths: EpisodePaths, *, gate_status: list[dict] | None = None) -> Path:
    """Write `paths.viewer` (episode-folder/viewer.html) atomically and return its path."""
    html = render_viewer(paths, gate_status=gate_status)
    atomic_write_text(paths.viewer, html)
    return paths.viewer


__all__ = ["build_viewer", "render_viewer", "simple_markdown"]
