"""The VFX review: the A-R checklist on the storyboard before GATE 2 (opt-in: `--vfx` or
`vfx: true`).

Code decides what code can decide (A mood anchor, C wardrobe and appearance words, G chain
flags, H prompt length and shot size, J forbidden terms and the cast cards' "never" lists,
K durations, M narrative purpose, Q sets and props in the manifests and one set per chain
group, R provider compatibility); the text model judges the rest (B, D, E, F, I, L, N, O, P).
The report is `reviews/vfx-review.md` with numbered CRIT/WARN/SUGG items and a verdict:
any CRIT is a BLOCK, which keeps GATE 2 closed; the failing scenes go back to the director
(`director_notes`) and the review runs again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..base.answers import AnswerError, json_in, read
from ..base.io import InputError, atomic_write_json, atomic_write_text, load_model, sha256_file
from ..base.models import (
    VFX_CHECKS,
    VFX_CODE_CHECKS,
    Lore,
    Manifest,
    Storyboard,
    VfxFinding,
    VfxReport,
    now_iso,
)
from ..base.paths import EpisodePaths
from ..base.project import load_lore, load_manifest
from ..providers import get_provider
from ..providers.base import CallContext
from ..roles import REF_RE, _ask, director_caps, ends_with_anchor, raise_problems
from ..storyboard import chain_groups, load_storyboard

WARDROBE = (
    "coat", "jacket", "shirt", "blouse", "dress", "skirt", "trousers", "pants", "jeans", "hat",
    "cap", "scarf", "boots", "shoes", "gloves", "jumper", "sweater", "hoodie", "uniform", "robe",
    "cloak", "oilskin", "apron", "vest", "tie", "suit", "outfit", "costume", "wearing", "wears",
    "hair", "haired", "blonde", "brunette", "redhead", "curly", "ponytail", "braid", "beard",
    "moustache", "mustache", "makeup", "make-up", "lipstick", "mascara", "earrings",
    "necklace", "bracelet", "glasses", "spectacles", "tattoo", "freckles", "wrinkles",
)
SHOT_SIZES = ("wide", "close-up", "close up", "closeup", "medium", "establishing", "long shot",
              "full shot", "insert", "over-the-shoulder", "two-shot", "two shot", "extreme",
              "aerial", "overhead", "tracking", "cowboy", "mcu", "ecu", "pov", "特写", "近景",
              "中景", "全景", "远景")
PLATITUDES = ("show conflict", "advance the plot", "establish the scene", "tbd", "todo",
              "展现冲突", "推进剧情", "建立场景")
JUDGED = "".join(c for c in VFX_CHECKS if c not in VFX_CODE_CHECKS)
CHECK_NAMES = {
    "A": "mood anchor", "B": "scene consistency", "C": "wardrobe / appearance",
    "D": "dialog coverage", "E": "protagonist in frame", "F": "kind sanity",
    "G": "chain flags", "H": "prompt quality", "I": "seed consistency",
    "J": "forbidden terms", "K": "durations", "L": "character recall",
    "M": "narrative purpose", "N": "standout shots", "O": "imagery motifs",
    "P": "dialog-shot variety", "Q": "sets and props", "R": "provider compatibility",
}


def _words(text: str, words: tuple[str, ...]) -> list[str]:
    low = text.lower()
    return [w for w in words if re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", low)]


def code_findings(sb: Storyboard, lore: Lore, cast: Manifest, sets: Manifest,
                  props: Manifest, caps: dict) -> list[VfxFinding]:
    """The checks code can decide, in checklist order."""
    out: list[VfxFinding] = []

    def add(check: str, sev: str, issue: str, fix: str, shots=(), scenes=()) -> None:
        out.append(VfxFinding(check=check, severity=sev, issue=issue, fix=fix,
                              shots=list(shots), scenes=list(scenes)))

    anchor = lore.mood_anchor
    never: list[str] = [str(x) for e in cast.entries for x in (e.card.get("dont") or [])]
    provider = caps["provider"]
    wrong_ref = "[Image N]" if caps["ref_syntax"] == "图N" else "图N"
    first_of_scene: set[str] = set()
    seen_scenes: set[str] = set()
    for s in sb.shots:
        if s.scene not in seen_scenes:
            seen_scenes.add(s.scene)
            first_of_scene.add(s.id)
    purposes: dict[str, str] = {}
    for i, s in enumerate(sb.shots):
        body = s.prompt
        if anchor and ends_with_anchor(s.prompt, anchor):
            body = s.prompt.rstrip(" .。").removesuffix(anchor.rstrip(" .。")).rstrip(" .,")
        # A
        if anchor and not ends_with_anchor(s.prompt, anchor):
            add("A", "CRIT", "the prompt does not end with the mood anchor",
                f'end it with "{anchor}"', [s.id])
        # C
        hits = _words(body, WARDROBE)
        if hits:
            add("C", "CRIT", f"wardrobe or appearance words in the prompt: {', '.join(hits)}",
                "remove them: the portraits own costume, hair and faces", [s.id])
        # G
        if (i == 0 or s.id in first_of_scene) and s.use_prev_last_frame_as_first:
            add("G", "WARN", "the first shot of a scene is chained to the previous scene",
                "set use_prev_last_frame_as_first to false", [s.id])
        if s.kind == "i2v" and not s.use_prev_last_frame_as_first:
            add("G", "WARN", "an i2v shot without a chained first frame",
                "chain it, or make it t2v/r2v", [s.id])
        # H
        n = len(body)
        if not 60 <= n <= 200:
            add("H", "WARN", f"the prompt is {n} characters before the anchor (60-200)",
                "tighten it to shot size, one verb, camera and place", [s.id])
        if not _words(body, SHOT_SIZES):
            add("H", "WARN", "the prompt names no shot size", "start with wide / medium / "
                "close-up ...", [s.id])
        if s.kind == "r2v" and s.characters and not REF_RE[caps["ref_syntax"]].search(body):
            add("H", "WARN", f"an r2v prompt without a {caps['ref_syntax']} reference",
                f"refer to the portraits as {caps['ref_example']}", [s.id])
        # J
        for t in lore.forbidden + never:
            if t and re.search(r"(?<!\w)" + re.escape(t.lower()) + r"(?!\w)", s.prompt.lower()):
                add("J", "CRIT", f"the forbidden term {t!r}", "remove it", [s.id])
        # K
        if s.duration >= 15 and not s.dialog and s.role != "narration":
            add("K", "WARN", "a 15 s shot with no dialog is filler", "cut it to 5-12 s", [s.id])
        if s.role == "narration" and s.duration > 6:
            add("K", "WARN", f"a {s.duration} s narration beat (3-6 s)", "split or shorten it",
                [s.id])
        r = caps["kinds"][s.kind]
        if not r["min_s"] <= s.duration <= r["max_s"]:
            add("K", "WARN", f"{s.duration} s is outside {r['min_s']}-{r['max_s']} s for "
                f"{s.kind} on {provider}", "the provider will clamp it", [s.id])
        # M
        np = (s.narrative_purpose or "").strip()
        if not np or np.lower().strip(". ") in PLATITUDES:
            add("M", "CRIT", "narrative_purpose is missing or a platitude",
                "say why the shot exists and by what audiovisual means", [s.id])
        elif len(np) < 8:
            add("M", "WARN", "narrative_purpose is under 8 characters", "say more", [s.id])
        elif np in purposes:
            add("M", "WARN", f"narrative_purpose duplicates {purposes[np]}",
                "give each shot its own reason", [s.id])
        purposes.setdefault(np, s.id)
        # Q
        if s.set_id and s.set_id not in sets.names():
            add("Q", "CRIT", f"unknown set {s.set_id!r}",
                f"add it (spark-video set add) or use one of: "
                f"{', '.join(sorted(sets.names())) or 'none'}", [s.id])
        for p in s.props:
            if p not in props.names():
                add("Q", "CRIT", f"unknown prop {p!r}", "add it (spark-video prop add) or "
                    "drop it", [s.id])
        if s.props and s.kind != "r2v":
            add("Q", "WARN", f"props on a {s.kind} shot are not attached", "use r2v or drop "
                "the props", [s.id])
        # R
        if wrong_ref != "图N" and REF_RE["[Image N]"].search(s.prompt):
            add("R", "SUGG", f"[Image N] references on {provider}", "write 图N", [s.id])
        if wrong_ref == "图N" and REF_RE["图N"].search(s.prompt):
            add("R", "WARN", f"图N references on {provider}", "write [Image N]", [s.id])
        if s.negative_prompt and not caps["negative_prompt"]:
            add("R", "WARN", f"negative_prompt is ignored on {provider}", "fold it into the "
                "prompt or drop it", [s.id])
        media = len(s.characters) + len(s.props) + (1 if _set_of(sb, s) else 0)
        if s.kind == "r2v" and media > caps["media_max"]:
            add("R", "WARN", f"{media} reference images, over {provider}'s "
                f"{caps['media_max']}", "drop props first, then the set", [s.id])
    for sc in sb.scenes:
        if sc.set_id and sc.set_id not in sets.names():
            add("Q", "CRIT", f"unknown set {sc.set_id!r} on scene {sc.id}",
                "add it or use a known set", scenes=[sc.id])
        n = sum(1 for s in sb.shots if s.scene == sc.id)
        if n > 5:
            add("K", "SUGG", f"scene {sc.id} has {n} shots", "merge some into longer takes",
                scenes=[sc.id])
    for g in chain_groups(sb):
        shots = [sb.shot(x) for x in g]
        found = {_set_of(sb, s) for s in shots if s and s.kind == "r2v"}
        if len(found) > 1:
            add("Q", "CRIT", f"one chain group mixes sets {sorted(str(x) for x in found)}",
                "use one set per chain group, or break the chain", g)
    return out


def _set_of(sb: Storyboard, s) -> str | None:
    if s.set_id is not None:
        return s.set_id or None
    sc = sb.scene(s.scene)
    return sc.set_id if sc else None


def verdict_of(findings: list[VfxFinding]) -> str:
    if any(f.severity == "CRIT" for f in findings):
        return "BLOCK"
    if any(f.severity == "WARN" for f in findings):
        return "PASS WITH WARNINGS"
    return "PASS"


def judge(ctx: CallContext, sb: Storyboard, *, lore: Lore, script: str, direction: dict,
          code: list[VfxFinding]) -> list[VfxFinding]:
    """The judgment items (B, D, E, F, I, L, N, O, P) through the text model."""
    ids = {s.id for s in sb.shots}
    scene_ids = {s.id for s in sb.scenes}
    shots = [{"id": s.id, "scene": s.scene, "kind": s.kind, "duration": s.duration,
              "chained": s.use_prev_last_frame_as_first, "characters": s.characters,
              "props": s.props, "seed": s.seed, "role": s.role, "prompt": s.prompt,
              "narrative_purpose": s.narrative_purpose, "narration": s.narration_text,
              "dialog": [f"{d.speaker}: {d.text}" for d in s.dialog]} for s in sb.shots]
    data = {"judged": JUDGED, "names": CHECK_NAMES, "mood_anchor": lore.mood_anchor,
            "target_s": sb.target_duration_s, "script": script,
            "direction_json": json.dumps(direction, ensure_ascii=False, indent=1)
            if direction else "", "motifs": [m.get("name") for m in
                                             (direction.get("imagery_system") or {})
                                             .get("motifs", [])] if direction else [],
            "shots": shots, "shots_json": json.dumps(shots, ensure_ascii=False, indent=1),
            "scenes": [s.model_dump() for s in sb.scenes],
            "code_findings": [f"{f.check} {f.severity} {','.join(f.shots or f.scenes)}: "
                              f"{f.issue}" for f in code]}

    def parse(answer: str) -> list[VfxFinding]:
        obj = json_in(answer)
        if isinstance(obj, list):  # the findings without their wrapper
            obj = {"findings": obj}
        if not isinstance(obj, dict) or not any(str(k).strip().lower() == "findings"
                                                for k in obj):
            raise AnswerError(['expected {"findings": [...]} (an empty list when everything '
                               'passes)'])
        got = read(_Judged, obj)
        out, problems = [], []
        for i, f in enumerate(got.findings):
            f = f.model_copy(update={"source": "model"})
            if f.check not in JUDGED:
                problems.append(f"findings[{i}].check {f.check!r}: judge only {JUDGED}; "
                                "code decides the others")
            bad = [x for x in f.shots if x not in ids] + [x for x in f.scenes
                                                          if x not in scene_ids]
            if bad:
                problems.append(f"findings[{i}]: unknown shots or scenes {bad}")
            out.append(f)
        raise_problems(problems)
        return out

    return _ask(ctx, "vfx", "vfx_review", data, parse, json_mode=True,
                where=ctx.paths.vfx_review)


class _Judged(BaseModel):
    """The text model's answer: its findings (what else it says is ignored)."""

    model_config = ConfigDict(extra="ignore")
    findings: list[VfxFinding] = Field(default_factory=list)


def storyboard_sha(paths: EpisodePaths) -> str:
    return sha256_file(paths.storyboard)


# --------------------------------------------------------------------------- a failed review


def failure_file(paths: EpisodePaths) -> Path:
    """reviews/vfx-review-failed.json: a requested review that produced no report (every ask
    refused, a provider error, a job stopped midway: the job writes it when it starts). It
    is no output of the review's job, so it survives the failed job; GATE 2 stays closed
    while it exists and no report of the storyboard does. A review that succeeds removes
    it."""
    return paths.vfx_review_json.with_name("vfx-review-failed.json")


def record_failure(paths: EpisodePaths, error: str) -> None:
    sha = storyboard_sha(paths) if paths.storyboard.exists() else None
    atomic_write_json(failure_file(paths), {"storyboard_sha256": sha, "error": error[:4000],
                                            "ts": now_iso()})


def review_failure(paths: EpisodePaths) -> str | None:
    """Why the requested review produced no report (None: it did not fail, or a report of
    the current storyboard exists since)."""
    f = failure_file(paths)
    if not f.exists():
        return None
    rep = load_report(paths)
    if rep is not None and paths.storyboard.exists() and \
            rep.storyboard_sha256 == storyboard_sha(paths):
        return None
    try:
        error = str(json.loads(f.read_text(encoding="utf-8")).get("error") or "")
    except (OSError, ValueError, AttributeError):
        error = ""
    return error or "no report was written"


def failure_hint(paths: EpisodePaths, sep: str = "; ") -> str:
    """The two ways on after a failed review: retry it, or go on without it."""
    p, e = paths.project, paths.episode
    rel = failure_file(paths).relative_to(paths.root)
    return (f"retry the review: uv run spark-video episode {p} {e} --vfx{sep}or go on without "
            f"it: delete {rel} and run `uv run spark-video episode {p} {e}` without --vfx "
            "(and vfx: false in the config)")


def review_storyboard(ctx: CallContext) -> VfxReport:
    """Run the whole checklist on the episode's storyboard and write both report files."""
    paths = ctx.paths
    sb = load_storyboard(paths)
    lore, _ = load_lore(paths)
    cast, sets, props = (load_manifest(paths, k) for k in ("cast", "set", "prop"))
    caps = director_caps(ctx.cfg)
    code = code_findings(sb, lore, cast, sets, props, caps)
    direction = json.loads(paths.direction.read_text(encoding="utf-8")) \
        if paths.direction.exists() else {}
    script = paths.script.read_text(encoding="utf-8") if paths.script.exists() else ""
    model = judge(ctx, sb, lore=lore, script=script, direction=direction, code=code)
    findings = code + model
    report = VfxReport(verdict=verdict_of(findings), findings=findings,
                       storyboard_sha256=storyboard_sha(paths), shots=len(sb.shots),
                       scenes=len(sb.scenes), reviewer=get_provider("text", ctx.cfg).name)
    atomic_write_json(paths.vfx_review_json, report)
    atomic_write_text(paths.vfx_review, report_markdown(paths, report))
    failure_file(paths).unlink(missing_ok=True)
    return report


ICON = {"PASS": "✅ PASS", "PASS WITH WARNINGS": "⚠️ PASS WITH WARNINGS", "BLOCK": "❌ BLOCK"}


def numbered(report: VfxReport) -> list[tuple[str, VfxFinding]]:
    out, count = [], {"CRIT": 0, "WARN": 0, "SUGG": 0}
    for sev in ("CRIT", "WARN", "SUGG"):
        for f in report.findings:
            if f.severity == sev:
                count[sev] += 1
                out.append((f"{sev}-{count[sev]}", f))
    return out


def report_markdown(paths, report: VfxReport) -> str:
    items = numbered(report)
    n = {s: sum(1 for f in report.findings if f.severity == s) for s in ("CRIT", "WARN", "SUGG")}
    lines = [f"# VFX review — {paths.project} / episode {paths.episode}", "",
             "## Summary", "",
             f"{report.shots} shots in {report.scenes} scenes · {n['CRIT']} critical · "
             f"{n['WARN']} warnings · {n['SUGG']} suggestions", "",
             f"**Verdict: {ICON[report.verdict]}**", ""]
    if report.verdict == "BLOCK":
        lines += [f"Scenes back to the director: {', '.join(report.failing_scenes())}", ""]
    for sev, title in (("CRIT", "Critical"), ("WARN", "Warnings"), ("SUGG", "Suggestions")):
        rows = [(k, f) for k, f in items if f.severity == sev]
        if not rows:
            continue
        lines += [f"## {title}", ""]
        for k, f in rows:
            where = ", ".join(f.shots or f.scenes) or "episode"
            lines.append(f"- **{k}** [{f.check} {CHECK_NAMES[f.check]}] {where}: {f.issue}"
                         + (f" — fix: {f.fix}" if f.fix else "")
                         + (" _(judged by the text model)_" if f.source == "model" else ""))
        lines.append("")
    return "\n".join(lines)


def load_report(paths: EpisodePaths) -> VfxReport | None:
    if not paths.vfx_review_json.exists():
        return None
    try:
        return load_model(VfxReport, paths.vfx_review_json)
    except InputError:
        return None


def director_notes_for(report: VfxReport) -> dict[str, str]:
    """Scene id -> the critical items for that scene, as notes for the director."""
    out: dict[str, list[str]] = {}
    for k, f in numbered(report):
        if f.severity != "CRIT":
            continue
        scenes = f.scenes or sorted({s.split("-")[0] for s in f.shots})
        for sc in scenes:
            where = ", ".join(x for x in f.shots if x.startswith(sc)) or sc
            out.setdefault(sc, []).append(f"- {k} [{f.check} {CHECK_NAMES[f.check]}] {where}: "
                                          f"{f.issue}" + (f"; fix: {f.fix}" if f.fix else ""))
    return {sc: "VFX review (BLOCK) for this scene:\n" + "\n".join(v) for sc, v in out.items()}
