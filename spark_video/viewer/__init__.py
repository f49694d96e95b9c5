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

Its parts, one per gate's material: `writing` (GATE 1: premise, lore, direction, script,
scenes), `board` (GATE 2: storyboard, estimate, VFX review, cast, sets, props, music),
`clips` (GATE 3: takes, reviews, escalations), `final` (GATE 4), `calls` (the model-call log
and the money spent). The page shows first what the waiting gate asks the user to approve.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from ..base.io import atomic_write_text
from ..base.models import AXES, now_iso
from ..base.paths import EpisodePaths
from ..base.redaction import make_redactor
from ..gates.notes import all_notes
from .board import StoryboardReader
from .calls import MAX_LOG_ROWS, CallLogReader, call_summary, currency_of
from .clips import ClipsReader, clips_overview
from .common import fmt_cost, is_scalar
from .final import FinalReader
from .markdown import simple_markdown
from .writing import WritingReader

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

# The page's sections in their usual order (the `manifests` entry is cast, sets and props).
SECTIONS = ("final", "premise", "lore", "direction", "script", "scenes", "manifests", "bgm",
            "storyboard", "vfx", "clips", "shots", "escalations", "calls")
# What each gate asks the user to approve: shown first while that gate is waiting.
FOCUS = {
    "mode": ("premise",),
    "bgm": ("bgm",),
    "script": ("script", "scenes"),
    "storyboard": ("storyboard", "vfx"),
    "render": ("clips",),
    "final": ("final",),
}
FOCUS_WORDS = {"premise": "the premise", "bgm": "the music", "script": "the script",
               "storyboard": "the storyboard and its shot list", "clips": "the clips table",
               "final": "the final cut"}


def waiting_gate(gates: list[dict[str, Any]] | None) -> str | None:
    """The first gate not yet approved (the one the build stops at), by its table name."""
    for g in gates or []:
        if not g["open"]:
            return g["gate"]
    return None


def section_order(waiting: str | None, gates_known: bool) -> list[str]:
    """The waiting gate's material first, then the gate table, then everything else in its
    usual order. With every gate approved the finished episode (the final cut) leads."""
    focus = FOCUS.get(waiting or "", ()) if waiting or not gates_known else ("final",)
    return [*focus, "gates", *(s for s in SECTIONS if s not in focus)]


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
        loader=PackageLoader("spark_video.viewer", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.filters["md"] = lambda text: simple_markdown(redact(text or ""))
    env.filters["cost"] = fmt_cost
    env.tests["scalar"] = is_scalar
    return env


def render_viewer(paths: EpisodePaths, *, gate_status: list[dict] | None = None) -> str:
    """The page's HTML for the episode as it is on disk now."""
    writing, board = WritingReader(paths), StoryboardReader(paths)
    storyboard, sb_note = board.storyboard()
    estimate = board.estimate()
    calls = CallLogReader(paths).model_calls()
    est_cost = (estimate.get("data") or {}).get("cost") if isinstance(
        estimate.get("data"), dict) else None
    currency = currency_of(calls["calls"], est_cost.get("currency")
                           if isinstance(est_cost, dict) else None)
    shots = ClipsReader(paths, currency).shots(storyboard, calls["calls"]) if storyboard else []
    summary = call_summary(calls["calls"], calls["records"], currency)
    lore = writing.lore()
    gates = None if gate_status is None else [_gate_row(g) for g in gate_status]
    waiting = waiting_gate(gates)
    order = section_order(waiting, gates is not None)
    focus = [s for s in order[:order.index("gates")]]

    ctx = {
        "paths": paths,
        "project": paths.project,
        "episode": paths.episode,
        "title": writing.title(storyboard, lore.get("meta") or {}),
        "generated": now_iso(),
        "order": order,
        "waiting": next((g for g in gates or [] if g["gate"] == waiting), None),
        "focus_words": " and ".join(FOCUS_WORDS.get(s, s) for s in focus if s in FOCUS_WORDS),
        "final": FinalReader(paths).final(),
        "premise": writing.premise(),
        "lore": lore,
        # written by `spark-video import` (spark_video/cli/importer.py REPORT_NAME)
        "import_report": (paths.root / "import-report.md").read_text(encoding="utf-8")
        if (paths.root / "import-report.md").is_file() else "",
        "direction": writing.direction(),
        "script": writing.script(),
        "scenes": writing.scenes(storyboard),
        "manifests": board.manifests(),
        "bgm": board.bgm(),
        "vfx": board.vfx_review(),
        "storyboard": storyboard,
        "storyboard_note": sb_note,
        "estimate": estimate,
        "scenes_by_id": {s.id: s for s in storyboard.scenes} if storyboard else {},
        "shots": shots,
        **clips_overview(shots),
        "calls": calls,
        "calls_shown": calls["calls"][:MAX_LOG_ROWS],
        "summary": summary,
        "gates": gates,
        "producer_notes": all_notes(paths),
        "axes": AXES,
        "script_hash": "sha256-" + base64.b64encode(
            hashlib.sha256(TABS_JS.encode("utf-8")).digest()).decode("ascii"),
        "tabs_js": Markup(TABS_JS),  # static code of this module, never user text
        "data": {
            "project": paths.project,
            "episode": paths.episode,
            "waiting": waiting,
            "order": order,
            "shots": [{"id": s.shot.id, "scene": s.shot.scene, "winner": s.winner_version,
                       "versions": [x.version for x in s.versions]} for s in shots],
            "spent": summary["spent"],
            "estimate": estimate.get("figure"),
        },
    }
    return _environment().get_template("viewer.html.j2").render(**ctx)


def build_viewer(paths: EpisodePaths, *, gate_status: list[dict] | None = None,
                 out: Path | None = None) -> Path:
    """Write the page atomically (to `out`, the rule's output; else `paths.viewer`, the
    episode folder's viewer.html: its media URLs are relative to that folder)."""
    html = render_viewer(paths, gate_status=gate_status)
    target = Path(out) if out else paths.viewer
    atomic_write_text(target, html)
    return target


__all__ = ["build_viewer", "render_viewer", "simple_markdown"]
