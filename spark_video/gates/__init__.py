"""Gates as approval stamps, described in one table (`GATE`).

A stamp `approvals/<gate>.json` records who approved, when, a note and the sha256 of each
approved artifact. A gate is open only while every hash still matches, so editing an
approved artifact closes it again. A stamp is written only after the gate's checks (the
original gate.py checklists) pass.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.io import InputError, atomic_write_json, load_model, sha256_file
from ..base.models import (
    Approval,
    BGMConfig,
    Outline,
    ShotState,
    Storyboard,
    VfxReport,
    WorkflowConfig,
)
from ..base.paths import EpisodePaths
from ..base.project import load_lore, lore_placeholders
from ..gates import summaries
from ..media.sound import list_bgm_tracks
from ..storyboard import lint, vfx


class GateError(RuntimeError):
    pass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""
    severity: str = "error"  # error | warn

    def as_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail,
                "severity": self.severity}


@dataclass
class GateReport:
    gate: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks if c.severity == "error")

    def add(self, name: str, ok: bool, detail: str = "", severity: str = "error") -> None:
        self.checks.append(Check(name, ok, detail, severity))

    def as_dict(self) -> dict:
        return {"gate": self.gate, "passed": self.passed,
                "checks": [c.as_dict() for c in self.checks]}

    def text(self) -> str:
        lines = [f"{LABELS[self.gate]}: {'PASS' if self.passed else 'FAIL'}"]
        for c in self.checks:
            tag = "[ ok ]" if c.ok else ("[FAIL]" if c.severity == "error" else "[warn]")
            lines.append(f"  {tag} {c.name}" + (f" — {c.detail}" if c.detail else ""))
        return "\n".join(lines)


# One Snakemake run asks the same gate questions once per job it plans (a 1000-shot episode:
# thousands of times), so every read and hash here is memoised by path, size and mtime: a file
# is read again only when it changed, and the answers stay right when a job rewrites it.
_memo: dict[tuple[str, str, int, int], Any] = {}
_MISSING = object()


def _memoised(kind: str, path: Path, compute: Callable[[Path], Any]) -> Any:
    try:
        st = path.stat()
    except FileNotFoundError:
        return _MISSING
    key = (kind, str(path), st.st_mtime_ns, st.st_size)
    if key not in _memo:
        _memo[key] = compute(path)
    return _memo[key]


def file_sha(path: Path) -> str:
    sha = _memoised("sha", path, sha256_file)
    if sha is _MISSING:
        raise FileNotFoundError(path)
    return sha


def file_stat(path: Path) -> list[int] | None:
    """[size, mtime_ns], or None when the file is missing or changed too recently to trust
    (a rewrite of the same size within the file system's timestamp granularity would keep
    the same mtime, so only files older than STAT_SETTLE_NS are recorded)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if time.time_ns() - st.st_mtime_ns < STAT_SETTLE_NS:
        return None
    return [st.st_size, st.st_mtime_ns]


STAT_SETTLE_NS = 100_000_000


def bgm_tracks(paths: EpisodePaths) -> list[Path]:
    return list(list_bgm_tracks(paths).values())


def _parsed(model: type, p: Path) -> Any:
    try:
        return load_model(model, p)
    except InputError as e:
        return e


def read_model(model: type, p: Path) -> Any:
    """`p` parsed as `model` (pydantic), once per version of the file: the model, or the
    InputError saying why it cannot be (None: missing). The build's input checks
    (workflow/inputcheck.py) and the gates read the same storyboard.json and shot states,
    one of each per shot of the episode, so they share this read. Callers must not change
    the model they get."""
    got = _memoised(model.__name__, p, lambda q: _parsed(model, q))
    return None if got is _MISSING else got


def _storyboard(paths: EpisodePaths) -> Storyboard | None:
    sb = read_model(Storyboard, paths.storyboard)
    return sb if isinstance(sb, Storyboard) else None


def artifacts(paths: EpisodePaths, gate: str) -> list[Path]:
    """The files a gate's stamp covers."""
    return gate_of(gate).covers(paths)


def _covers_bgm(paths: EpisodePaths) -> list[Path]:
    return [paths.bgm_config] if paths.bgm_config.exists() else []


def _covers_render(paths: EpisodePaths) -> list[Path]:
    sb = _storyboard(paths)
    return [paths.clip(s.id) for s in sb.shots] if sb else []


def _covers_final(paths: EpisodePaths) -> list[Path]:
    return [p for p in (paths.final_mp4, paths.final_srt) if p.exists()] or [paths.final_mp4]


def _rel(paths: EpisodePaths, p: Path) -> str:
    return str(p.relative_to(paths.root))


def _storyboard_sha(p: Path) -> str:
    # storyboards compiled before bgm-config.json stopped being copied in carried a `bgm`
    # key; their stamps hash the JSON without it, so those approvals stay valid
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return sha256_file(p)
    if isinstance(data, dict):
        data.pop("bgm", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return sha256_file(p)


def _artifact_sha(paths: EpisodePaths, p: Path) -> str | None:
    sha = _memoised("artifact", p, _storyboard_sha if p == paths.storyboard else sha256_file)
    return None if sha is _MISSING else sha


def current_hashes(paths: EpisodePaths, gate: str,
                   known: Approval | None = None) -> dict[str, str | None]:
    """relative path -> sha256 (None when missing). An artifact whose size and mtime are
    those the stamp `known` recorded is not read again: its stamped hash stands."""
    out: dict[str, str | None] = {}
    for p in artifacts(paths, gate):
        rel = _rel(paths, p)
        if known and rel in known.artifacts and known.stats.get(rel) is not None \
                and known.stats[rel] == file_stat(p):
            out[rel] = known.artifacts[rel]
        else:
            out[rel] = _artifact_sha(paths, p)
    return out


def _read_stamp(p: Path) -> Approval | InputError:
    try:
        return load_model(Approval, p)
    except InputError as e:  # truncated or hand-edited: reported by why_closed
        return e


def load_stamp(paths: EpisodePaths, gate: str) -> Approval | None:
    stamp = _memoised("stamp", paths.approval(gate), _read_stamp)
    return stamp if isinstance(stamp, Approval) else None


def stamp_problem(paths: EpisodePaths, gate: str) -> str | None:
    """Why the approval stamp on disk cannot be read (None: absent or fine)."""
    stamp = _memoised("stamp", paths.approval(gate), _read_stamp)
    if isinstance(stamp, InputError):
        return (f"its approval stamp {paths.approval(gate)} is unreadable ({stamp.detail}); "
                f"approve again: uv run spark-video approve {gate} --project {paths.project} "
                f"--episode {paths.episode}")
    return None


def why_closed(paths: EpisodePaths, gate: str) -> list[str]:
    """Empty list = open. Otherwise the reasons the gate is closed."""
    g = gate_of(gate)
    if not g.in_use(paths):
        return []
    stamp = load_stamp(paths, gate)
    if stamp is None and g.open_without_stamp:
        return []
    if stamp is None:
        return [stamp_problem(paths, gate) or "not approved yet"]
    now = current_hashes(paths, gate, known=stamp)
    reasons = []
    for rel, sha in now.items():
        if sha is None:
            reasons.append(f"{rel} is missing")
        elif rel not in stamp.artifacts:
            reasons.append(f"{rel} is new since approval")
        elif stamp.artifacts[rel] != sha:
            reasons.append(f"{rel} changed since approval")
    for rel in stamp.artifacts:
        if rel not in now:
            reasons.append(f"{rel} was removed since approval")
    return reasons + g.also_closed_by(paths)


def failed_shots(paths: EpisodePaths) -> list[str]:
    """One line per shot whose render FAILED for good: code, message, retry command."""
    lines = (_failed_line(p) for p in sorted((paths.root / "state").glob("*.json")))
    return [line for line in lines if line]


def _failed_line(p: Path) -> str | None:
    """A shot state's FAILED line (None: not failed or gone)."""
    st = read_model(ShotState, p)
    if isinstance(st, InputError):
        ep = p.parent.parent  # <projects>/<project>/episode-<E>/state/<shot>.json
        return (f"{p.name} is unreadable ({st}); rebuild it from the takes on disk (nothing "
                f"is paid): uv run spark-video render --shot {p.stem} --rebuild-state "
                f"--project {ep.parent.name} --episode {ep.name.removeprefix('episode-')}")
    if st is not None and st.failed:
        return (f"{st.shot_id} FAILED ({st.failed.code}: {st.failed.message[:200]}); "
                f"retry: {st.failed.retry}")
    return None


def is_open(paths: EpisodePaths, gate: str) -> bool:
    return not why_closed(paths, gate)


def holds_build(paths: EpisodePaths, gate: str) -> bool:
    """True when the build must stop at this gate: it is closed, or (GATE 3) approved work
    behind it is about to change in this build."""
    return not is_open(paths, gate) or gate_of(gate).held_while(paths)


def renders_pending(paths: EpisodePaths) -> bool:
    """A shot spec changed, or a new take was requested (takes/<shot>.json), after GATE 3
    was approved: that clip (and those chained after it) will re-render in this build, so
    the approved renders are about to change. Spec files are rewritten only when their
    content changes, so their mtime says exactly that."""
    stamp = paths.approval("render")
    if not stamp.exists():
        return False
    t = stamp.stat().st_mtime_ns
    return any(p.stat().st_mtime_ns > t for d in ("shots", "takes")
               for p in (paths.root / d).glob("*.json"))


def needs_bgm_gate(paths: EpisodePaths) -> bool:
    return bool(bgm_tracks(paths))


def episode_mode(paths: EpisodePaths, default: str) -> str:
    stamp = load_stamp(paths, "mode")
    return str(stamp.data.get("mode", default)) if stamp else default


# --------------------------------------------------------------------------- checks


def check(paths: EpisodePaths, gate: str, *, threshold: float = 7.0) -> GateReport:
    r = GateReport(gate)
    gate_of(gate).checks(paths, r, threshold)
    return r


def _check_mode(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    r.add("episode folder exists", paths.root.is_dir(), str(paths.root))


def _check_bgm(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    tracks = bgm_tracks(paths)
    r.add("music tracks found", True, ", ".join(t.name for t in tracks) or "none",
          severity="warn")
    if paths.bgm_config.exists():
        try:
            load_model(BGMConfig, paths.bgm_config)
            r.add("bgm-config.json valid", True)
        except InputError as e:
            r.add("bgm-config.json valid", False, str(e))


def _check_script(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    mds = paths.scene_files("md")
    r.add("script.md exists and is not empty",
          paths.script.exists() and paths.script.stat().st_size > 0, _rel(paths, paths.script))
    r.add("at least one scene-NN.md", bool(mds), f"{len(mds)} scene file(s)")
    _check_lore_filled(paths, r)
    if paths.outline.exists():
        try:
            n = len(load_model(Outline, paths.outline).scenes)
            r.add("every outlined scene written", len(mds) == n, f"{len(mds)} of {n}")
        except InputError as e:
            r.add("outline.json valid", False, str(e))


def _check_lore_filled(paths: EpisodePaths, r: GateReport) -> None:
    """A scaffold placeholder left in lore.md would be appended to every paid prompt."""
    try:
        lore, _ = load_lore(paths)
    except InputError as e:
        r.add("lore.md valid", False, str(e))
        return
    for f in lore_placeholders(lore):
        r.add(f"lore.md field {f} filled", False,
              f"{paths.project_paths.lore}: field {f} is still the placeholder "
              f"{getattr(lore, f)!r}; write one line there (it is appended to every prompt)")


def _check_storyboard(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    jsons = paths.scene_files("json")
    mds = paths.scene_files("md")
    r.add("storyboard.json exists", paths.storyboard.exists())
    sb = None
    if paths.storyboard.exists():
        try:
            sb = load_model(Storyboard, paths.storyboard)
            r.add("storyboard.json valid", True, f"{len(sb.shots)} shots")
        except InputError as e:
            r.add("storyboard.json valid", False, str(e))
    r.add("scene json count matches scene md count", len(jsons) == len(mds),
          f"{len(jsons)} json / {len(mds)} md", severity="warn")
    r.add("estimate.json exists", paths.estimate.exists(), "cost estimate for GATE 2")
    _check_vfx_review(paths, r)
    if sb:
        for w in lint(paths, sb):
            r.add("lint", False, w, severity="warn")


def _check_vfx_review(paths: EpisodePaths, r: GateReport) -> None:
    """A VFX review of the current storyboard that BLOCKs keeps GATE 2 closed; a review of
    an older storyboard only warns (the next build with `vfx` on runs it again). A review
    that was requested and produced no report keeps it closed too: the review is never
    skipped without the producer saying so."""
    failed = vfx.review_failure(paths)
    if failed is not None:
        r.add("requested VFX review made a report", False,
              f"it failed: {failed[:600]}; {vfx.failure_hint(paths)}")
        return
    if not (paths.storyboard.exists() and paths.vfx_review_json.exists()):
        return
    try:
        rep = load_model(VfxReport, paths.vfx_review_json)
    except InputError as e:
        r.add("VFX review readable", False, str(e))
        return
    if rep.storyboard_sha256 != file_sha(paths.storyboard):
        r.add("VFX review is current", False, "the storyboard changed since "
              f"{_rel(paths, paths.vfx_review)}; run it again (--vfx)", severity="warn")
        return
    r.add("VFX review does not BLOCK", rep.verdict != "BLOCK",
          f"{rep.verdict}: see {_rel(paths, paths.vfx_review)}"
          + (f"; scenes back to the director: {', '.join(rep.failing_scenes())}"
             if rep.verdict == "BLOCK" else ""))


def _check_render(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    sb = _storyboard(paths)
    r.add("storyboard present with shots", bool(sb and sb.shots))
    if sb:
        for s in sb.shots:
            sp = paths.shot_state(s.id)
            st = load_model(ShotState, sp) if sp.exists() else None
            if st is not None and st.failed is not None:
                r.add(f"{s.id} has a winner", False,
                      f"FAILED ({st.failed.code}: {st.failed.message[:200]}); retry: "
                      f"{st.failed.retry}")
                continue
            if st is None or st.winner_version is None:
                r.add(f"{s.id} has a winner", False,
                      f"render it: uv run spark-video render --shot {s.id} "
                      f"--project {paths.project} --episode {paths.episode}")
                continue
            r.add(f"{s.id} winner clip exists", paths.clip(s.id).exists(),
                  _rel(paths, paths.clip(s.id)))
            att = st.attempt(st.winner_version)
            rev = att.review if att else None
            if rev is None or rev.score is None:
                sev = "error" if rev is None else "warn"
                r.add(f"{s.id} winner scored", False,
                      "UNSCORED" if rev is None else f"review {rev.verdict}", severity=sev)
            elif rev.score < threshold or rev.verdict != "ACCEPT":
                r.add(f"{s.id} accepted below threshold", False,
                      f"score {rev.score} < {threshold} (best of retries)", severity="warn")
            if st.needs_director_rewrite:
                r.add(f"{s.id} escalation resolved", False,
                      f"see {_rel(paths, paths.escalation(s.id))}; rewrite the shot in its "
                      f"scene json, or keep the best take: uv run spark-video render --shot "
                      f"{s.id} --accept-version {st.winner_version} --project "
                      f"{paths.project} --episode {paths.episode}")


def _check_final(paths: EpisodePaths, r: GateReport, threshold: float) -> None:
    ok = paths.final_mp4.exists() and paths.final_mp4.stat().st_size > 0
    r.add("final mp4 exists", ok, _rel(paths, paths.final_mp4))
    r.add("viewer.html exists", paths.viewer.exists())
    if ok and paths.viewer.exists():
        fresh = paths.viewer.stat().st_mtime >= paths.final_mp4.stat().st_mtime - 1
        r.add("viewer.html is newer than the final", fresh, severity="warn")


def approve(paths: EpisodePaths, gate: str, *, note: str | None = None,
            data: dict | None = None, threshold: float = 7.0, by: str | None = None) -> Approval:
    report = check(paths, gate, threshold=threshold)
    if not report.passed:
        raise GateError(f"cannot approve {LABELS[gate]}: its checks fail\n{report.text()}")
    # sizes and mtimes first: a file changed while it is hashed then fails to match them
    stats = {_rel(paths, p): st for p in artifacts(paths, gate) if (st := file_stat(p))}
    hashes = current_hashes(paths, gate)
    missing = [k for k, v in hashes.items() if v is None]
    if missing:
        raise GateError(f"cannot approve {LABELS[gate]}: missing {', '.join(missing)}")
    stamp = Approval(gate=gate, approved_by=by or os.environ.get("USER") or _user(),
                     note=note, artifacts={k: v for k, v in hashes.items() if v},
                     stats={k: v for k, v in stats.items() if hashes.get(k)}, data=data or {})
    atomic_write_json(paths.approval(gate), stamp)
    return stamp


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error
        return "unknown"


def closed_message(paths: EpisodePaths, gate: str) -> str:
    reasons = why_closed(paths, gate)
    p, e = paths.project, paths.episode
    revise = gate_of(gate).revise
    lines = [
        f"{LABELS[gate]} is closed: {'; '.join(reasons) or 'not approved yet'}.",
        f"  Review:  {paths.viewer}",
        f"  Check:   uv run spark-video gate check {gate} --project {p} --episode {e}",
        f"  Approve: uv run spark-video approve {gate} --project {p} --episode {e}",
    ]
    if revise:
        lines.append(f"  Revise:  {revise}")
    lines.append("Then run the build again.")
    return "\n".join(lines)


def status(paths: EpisodePaths) -> list[dict]:
    out = []
    for g in GATES:
        if not GATE[g].in_use(paths):
            continue
        stamp = load_stamp(paths, g)
        out.append({"gate": g, "label": LABELS[g], "open": is_open(paths, g),
                    "approved_at": stamp.approved_at if stamp else None,
                    "note": stamp.note if stamp else None,
                    "problems": why_closed(paths, g)})
    return out


# --------------------------------------------------------------------------- the table


def _nothing(paths: EpisodePaths) -> list:
    return []


def _always(paths: EpisodePaths) -> bool:
    return True


def _never(paths: EpisodePaths) -> bool:
    return False


def _render_shown_after(paths: EpisodePaths) -> list[Path]:
    sb = _storyboard(paths)
    return [*(paths.clip(s.id) for s in (sb.shots if sb else [])), paths.shots_state]


@dataclass(frozen=True)
class Gate:
    """Everything the build, the jobs and the CLI know about one gate."""

    name: str
    label: str
    covers: Callable[[EpisodePaths], list[Path]]  # the files its stamp hashes
    checks: Callable[[EpisodePaths, GateReport, float], None]  # the checklist before approval
    targets: Callable[[EpisodePaths], list[str]]  # Snakemake targets that bring the build here
    shown_after: Callable[[EpisodePaths], list[Path]] = _nothing  # built before it is shown
    revise: str = ""  # how to change what it covers
    in_use: Callable[[EpisodePaths], bool] = _always  # False: the gate does not apply
    open_without_stamp: bool = False  # no answer recorded means "use the configured default"
    also_closed_by: Callable[[EpisodePaths], list[str]] = _nothing  # reasons beyond hashes
    held_while: Callable[[EpisodePaths], bool] = _never  # hold the build though it is open
    # opt-in reviews, (config flag, file): built before the gate is shown when the flag is on
    opt_in: tuple[tuple[str, Callable[[EpisodePaths], Path]], ...] = ()
    # besides the stamps' folder, the files and folders whose mtime changes whenever the
    # answer can: those of what the stamp covers and of what else closes or holds the gate
    # (every write of ours renames into its folder)
    watches: Callable[[EpisodePaths], list[Path]] = _nothing

    def watched(self, paths: EpisodePaths) -> list[Path]:
        """The stamps' folder and `watches`: the build answers the gate once per version of
        these (spark_video/workflow/__init__.py `Workflow.holds`)."""
        return [paths.approvals_dir, *self.watches(paths)]

    def opt_in_files(self, paths: EpisodePaths, cfg: WorkflowConfig) -> list[Path]:
        return [f(paths) for flag, f in self.opt_in if getattr(cfg, flag)]

    def shown(self, paths: EpisodePaths, cfg: WorkflowConfig) -> list[Path]:
        """Everything built before the gate is shown, with the reviews `cfg` opts into."""
        return [*self.shown_after(paths), *self.opt_in_files(paths, cfg)]
    summary: Callable[..., list[str]] | None = None  # the lines shown before it asks


GATE: dict[str, Gate] = {g.name: g for g in (
    Gate("mode", "GATE 0 (mode)", covers=_nothing, checks=_check_mode,
         targets=_nothing, open_without_stamp=True),  # default mode: drama
    Gate("bgm", "GATE 0.5 (music)", covers=_covers_bgm, checks=_check_bgm, targets=_nothing,
         revise="choose music: uv run spark-video approve bgm --bgm-mode off|global|scene ...",
         in_use=needs_bgm_gate,
         watches=lambda p: [p.bgm_config, p.bgm_dir, p.project_paths.bgm_dir]),
    Gate("script", "GATE 1 (script)",
         covers=lambda p: [*p.scene_files("md"), p.script], checks=_check_script,
         targets=lambda p: [str(p.script)], shown_after=lambda p: [p.script],
         revise="edit scenes/scene-NN.md (or run: uv run spark-video revise script ...)",
         summary=summaries.script_summary,
         watches=lambda p: [p.scenes_dir, p.script]),
    Gate("storyboard", "GATE 2 (storyboard)",
         covers=lambda p: [*p.scene_files("json"), p.storyboard], checks=_check_storyboard,
         targets=lambda p: [str(p.storyboard), str(p.estimate)],
         shown_after=lambda p: [p.storyboard, p.estimate],
         opt_in=(("vfx", lambda p: p.vfx_review),),
         revise="edit scenes/scene-NN.json", summary=summaries.storyboard_summary,
         watches=lambda p: [p.scenes_dir, p.storyboard]),
    Gate("render", "GATE 3 (renders)", covers=_covers_render, checks=_check_render,
         targets=lambda p: ["clips"], shown_after=_render_shown_after,
         revise="re-render a shot: uv run spark-video render --shot S01-001 ...",
         also_closed_by=failed_shots, held_while=renders_pending,
         summary=summaries.render_summary,
         watches=lambda p: [p.storyboard, p.clips_dir, p.state_dir, p.root / "shots",
                            p.root / "takes"]),
    Gate("final", "GATE 4 (final)", covers=_covers_final, checks=_check_final,
         targets=lambda p: ["final"], summary=summaries.final_summary,
         watches=lambda p: [p.final_mp4.parent]),
)}
GATES = tuple(GATE)
LABELS = {name: g.label for name, g in GATE.items()}


def gate_of(name: str) -> Gate:
    try:
        return GATE[name]
    except KeyError:
        raise GateError(f"unknown gate {name!r}; gates are {', '.join(GATES)}") from None



def summary(paths: EpisodePaths, cfg: WorkflowConfig, gate: str, *,
            provider: str | None = None) -> list[str]:
    """What a gate shows before it asks: its label, then its summary lines (if it has one)."""
    g = gate_of(gate)
    head = f"{g.label} — {paths.root}"
    if g.summary is None:
        return [head]
    try:
        return [head, *g.summary(paths, cfg, provider=provider)]
    except (InputError, OSError, ValueError) as e:
        return [head, f"  (summary unavailable: {e})"]
