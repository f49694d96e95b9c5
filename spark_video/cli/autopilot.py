"""The producer: `spark-video episode` runs the build to each gate, shows it, and asks.

One Snakemake run per stretch between two gates: before a run the gates are checked here,
in this process, and the run builds exactly up to the first gate not yet approved (or the
whole episode when every gate is open, so a finished episode costs one no-op run).

At a gate the prompt offers approve / change / quit. `y`, `yes`, `ok`, `approve` approve;
`q` quits (the gate stays waiting, exit 3); any other text is a change request once the
user confirms it, routed to the role that owns it (see `revisions`), and the same gate is
shown again after the rebuild.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import gates
from ..base.io import InputError
from ..base.paths import EpisodePaths, PathError
from ..base.settings import REPO_ROOT, WorkflowConfig
from ..gates.revisions import Revision, plan_revision
from ..media import probe
from ..render.escalation import (
    escalated_shots,
    request_director_rewrite,
    request_new_takes,
    write_director_notes,
)
from ..storyboard.vfx import director_notes_for, load_report
from ..workflow.build import BuildResult, FailedJob, run_build

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_WAITING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
ORDER = ("script", "storyboard", "render", "final")
APPROVE_WORDS = {"y", "yes", "ok", "okay", "approve", "approved", "a"}
QUIT_WORDS = {"q", "quit", "exit", "stop", "later"}


@dataclass
class Session:
    cfg: WorkflowConfig
    paths: EpisodePaths
    yes: bool = False
    verbose: bool = False
    provider: str | None = None
    interactive: bool = False
    ask: Callable[[str], str] = input
    out: Callable[[str], None] = print
    vfx_round: int = 0
    escalation_round: int = 0
    approved_since_build: bool = False  # the page still shows that gate waiting
    open_viewer: bool = False  # open viewer.html in the browser at each gate (see below)

    @property
    def resume(self) -> str:
        # --vfx is a flag of this run, not of the episode: say it again so the review runs
        return (f"spark-video episode {self.paths.project} {self.paths.episode}"
                + (" --vfx" if self.cfg.vfx else ""))


def stretch_targets(paths: EpisodePaths, gate: str | None,
                    cfg: WorkflowConfig | None = None) -> list[str]:
    """What one Snakemake run builds to reach `gate` (None: the whole episode), with the
    reviews `cfg` opts into before that gate (the VFX review before GATE 2), and the page
    that shows it (the viewer rule follows the build to where it stops)."""
    g = gates.GATE[gate or "final"]
    extra = [str(p) for p in g.opt_in_files(paths, cfg)] if cfg else []
    targets = [*g.targets(paths), *extra] or gates.GATE["final"].targets(paths)
    return [*targets, str(paths.viewer)]


def first_closed(paths: EpisodePaths) -> str | None:
    for g in ORDER:
        if not gates.is_open(paths, g):
            return g
    return None


def build(s: Session, gate: str | None, rev: Revision | None = None) -> BuildResult:
    label = f"building to {gates.LABELS[gate]}" if gate else "building the episode"
    s.approved_since_build = False
    return run_build(s.cfg, s.paths, stretch_targets(s.paths, gate, s.cfg), label=label,
                     verbose=s.verbose, force=rev.force if rev else None,
                     env=rev.env if rev else None, flags={"provider": s.provider})


def stopped_by_failure(paths: EpisodePaths, cfg: WorkflowConfig, res: BuildResult,
                       gate: str | None) -> bool:
    """Did the build stop on a failure rather than at a gate? A failed job (anything but a
    closed gate's barrier) is a failure even when the gate's checks pass on older files: its
    output was removed or is stale, so the gate must not be shown as waiting (exit 3)."""
    if res.ok:
        return False
    if not res.failed or any(f.rule != "gate_closed" and not held_at_gate(paths, f)
                             for f in res.failed):
        return True  # a job failed, or Snakemake refused to start (a missing input, …)
    return gate is None or not gates.check(paths, gate, threshold=cfg.review_threshold).passed


def held_at_gate(paths: EpisodePaths, job: FailedJob) -> bool:
    """A job that refused to start because its gate closed while the build ran (a storyboard
    recompiled under a running build: jobs.gates_require) stopped at that gate like its
    barrier does; it failed at nothing. Told by the last words in its log, the gate's own
    closed message, and the gate still being closed."""
    log = Path(job.logs[0]) if job.logs else None
    if log is None or not log.exists():
        return False
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
    return any(ln.startswith(f"{label} is closed:") and not gates.is_open(paths, gate)
               for ln in tail for gate, label in gates.LABELS.items())


def failure_report(s: Session, res: BuildResult) -> None:
    failure_report_for(s.paths, res, resume=s.resume)


def failure_report_for(paths: EpisodePaths, res: BuildResult, *,
                       resume: str | None = None) -> None:
    """What failed, in a few lines: each failed job, its log, the last lines it wrote."""
    err = sys.stderr
    jobs = [f for f in res.failed if f.rule != "gate_closed"]
    missing = [f for e in res.errors for f in missing_inputs(e)]
    if jobs:
        print(f"the build failed ({len(jobs)} failed job(s)).", file=err)
    elif missing:
        print("the build cannot run: a file it needs is missing.", file=err)
    else:
        print("the build stopped before any job ran.", file=err)
    for f in dict.fromkeys(missing):
        print(f"  missing {f}: {remedy(paths, f)}", file=err)
    for f in jobs[:5]:
        what = f.rule + "".join(f" {v}" for v in f.wildcards.values())
        log = f.logs[0] if f.logs else None
        print(f"  {what}: log {log or '(none)'}", file=err)
        if log and Path(log).exists():
            tail = [ln for ln in Path(log).read_text(encoding="utf-8", errors="replace")
                    .strip().splitlines() if ln.strip()][-3:]
            for ln in tail:
                print(f"    {ln[:200]}", file=err)
    for e in res.errors[:2]:
        if "LockException" in e:
            print(f"  another Snakemake run holds {paths.root} (or one was killed and left "
                  "its lock): if none is running, unlock it with `uv run snakemake --unlock "
                  f"--config project={paths.project} episode={paths.episode}`", file=err)
            continue
        if missing_inputs(e):
            continue  # said above, with what makes it
        for ln in _error_lines(e):
            print(f"  snakemake: {ln[:300]}", file=err)
    if res.log:
        print(f"  full log: {res.log}", file=err)
    print(f"Fix it, then run `{resume}` again." if resume else "Fix it and run again.",
          file=err)


def missing_inputs(msg: str) -> list[Path]:
    """The files of Snakemake's "Missing input files for rule …: affected files:" error."""
    if "Missing input files" not in msg or "affected files:" not in msg:
        return []
    out = []
    for ln in msg.split("affected files:", 1)[1].splitlines()[1:]:
        ln = ln.strip()
        if not ln or ln.endswith(":") or " " in ln.split("/")[0]:
            break
        p = Path(ln.split(" (")[0])
        out.append(p if p.is_absolute() else REPO_ROOT / p)
    return out


def remedy(paths: EpisodePaths, missing: Path) -> str:
    """The command that makes (or the step that restores) a missing input."""
    ep = f"-p {paths.project} -e {paths.episode}"
    try:
        rel = missing.resolve().relative_to(paths.root.resolve())
    except ValueError:
        rel = None
    if rel is not None and rel.parts[:1] == ("shots",):
        return (f"the storyboard writes every shot's spec: run `spark-video storyboard compile "
                f"{ep}`, then `spark-video episode {paths.project} {paths.episode}` again")
    if rel is not None:
        kept = sorted(paths.root.glob(f"history/*/{rel.as_posix()}"))
        if kept:
            return (f"no rule makes it; the last kept copy is {kept[-1]}: copy it back, then "
                    f"run `spark-video episode {paths.project} {paths.episode}` again")
    if missing.name in ("premise.md", "lore.md"):
        return (f"`spark-video episode {paths.project} {paths.episode} --premise \"…\"` writes "
                "the premise (and a lore.md from it)")
    if "bgm" in missing.parts:
        return f"put the track back in bgm/, or name another in {paths.bgm_config}"
    return ("no rule makes it: restore it (from a backup or history/), then run "
            f"`spark-video episode {paths.project} {paths.episode}` again")


def _error_lines(msg: str) -> list[str]:
    """Snakemake's error, shortly: its first line and the message under `Error:` (a rule's
    input function that refused bad input names the file there), never the traceback."""
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    out = lines[:1]
    if "Error:" in lines:
        for ln in lines[lines.index("Error:") + 1:]:
            if ln in ("Wildcards:", "Traceback:") or len(out) > 4:
                break
            if not ln.endswith("Error:"):  # the exception's class name, e.g. WorkflowError:
                out.append(ln)
    return out


def run(s: Session) -> int:
    """Build to each gate and ask, until the episode is done or the user stops."""
    built_final = False
    pending: Revision | None = None
    while True:
        gate = first_closed(s.paths)
        if gate is None and built_final and pending is None:
            break
        res = build(s, gate, pending)
        pending = None
        if res.interrupted:
            print(f"\nstopped. Nothing approved is lost; resume with: {s.resume}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        now = first_closed(s.paths)
        if now and back_to_director(s, now):
            continue  # the director's rewrite is built next, then the gate is shown again
        if stopped_by_failure(s.paths, s.cfg, res, now):
            failure_report(s, res)
            return EXIT_FAIL
        built_final = gate is None or gate == "final"
        if now is None:
            if res.ok:
                break
            failure_report(s, res)
            return EXIT_FAIL
        answer = at_gate(s, now)
        if isinstance(answer, Revision):
            pending = answer  # rebuilt by the next run, then the gate is shown again
        elif answer is not None:
            return answer
    return finished(s)


def back_to_director(s: Session, gate: str) -> bool:
    """Before a gate is shown: a VFX BLOCK sends its failing scenes to the director (up to
    vfx_rounds), escalated shots go to the director with their reports (up to
    escalation_rounds). True when notes were written and the build must run again."""
    if gate == "storyboard" and s.cfg.vfx and s.vfx_round < s.cfg.vfx_rounds:
        rep = load_report(s.paths)
        if rep and rep.verdict == "BLOCK" and s.paths.storyboard.exists() and \
                rep.storyboard_sha256 == gates.file_sha(s.paths.storyboard):
            s.vfx_round += 1
            notes = director_notes_for(rep)
            s.out(f"VFX review: BLOCK ({s.paths.vfx_review}); scenes {', '.join(notes)} go "
                  f"back to the director (round {s.vfx_round} of {s.cfg.vfx_rounds})")
            for sc, text in notes.items():
                write_director_notes(s.paths, int(sc[1:]), text + "\n")
            return True
    if gate == "render" and s.escalation_round < s.cfg.escalation_rounds:
        esc = escalated_shots(s.paths)
        if esc:
            s.escalation_round += 1
            s.out(f"escalated after {s.cfg.max_retry} rounds: {', '.join(esc)}; the director "
                  f"rewrites {'it' if len(esc) == 1 else 'them'} (round {s.escalation_round} "
                  f"of {s.cfg.escalation_rounds})")
            request_director_rewrite(s.paths, esc)
            build(s, "storyboard")  # `clips` alone does not look behind the storyboard
            request_new_takes(s.paths, esc)
            return True
    return False


def at_gate(s: Session, gate: str) -> int | Revision | None:
    """Show a gate and take the answer: None to go on, a Revision (already recorded) to
    rebuild and show the gate again, or an exit code."""
    report = gates.check(s.paths, gate, threshold=s.cfg.review_threshold)
    s.out("")
    for line in gates.summary(s.paths, s.cfg, gate, provider=s.provider):
        s.out(line)
    problems = [c for c in report.checks if not c.ok]
    for c in problems[:8]:
        tag = "FAIL" if c.severity == "error" else "warn"
        s.out(f"  [{tag}] {c.name}" + (f" — {c.detail}" if c.detail else ""))
    s.out(f"  viewer: {s.paths.viewer}")
    if s.open_viewer and not s.yes:
        show_in_browser(s.paths.viewer)
    if not report.passed:
        print(f"{gates.LABELS[gate]} checks fail; fix the items above, then run "
              f"`{s.resume}` again.", file=sys.stderr)
        return EXIT_FAIL
    if s.yes:
        gates.approve(s.paths, gate, note="autopilot --yes", threshold=s.cfg.review_threshold)
        s.approved_since_build = True
        s.out(f"{gates.LABELS[gate]}: approved (--yes)")
        return None
    if not s.interactive:
        s.out(f"{gates.LABELS[gate]} is waiting for approval: spark-video approve {gate} "
              f"-p {s.paths.project} -e {s.paths.episode}, or run `{s.resume}` in a terminal.")
        return EXIT_WAITING
    while True:
        answer, text = prompt(s, gate)
        if answer == "quit":
            s.out(f"{gates.LABELS[gate]} is waiting; resume with: {s.resume}")
            return EXIT_WAITING
        # whatever an approval, a note or its routing refuses is one line, then the same
        # gate is asked again: the producer never loses the run to a traceback
        try:
            if answer == "approve":
                gates.approve(s.paths, gate, note="approved at the prompt",
                              threshold=s.cfg.review_threshold)
                s.approved_since_build = True
                s.out(f"{gates.LABELS[gate]}: approved")
                return None
            rev = plan_revision(s.paths, gate, text, ask=s.ask)
            rev.apply(s.paths, s.cfg)
        except ANSWER_ERRORS as e:
            s.out(f"  {one_line(e)}")
            continue
        s.out(f"  note kept in {s.paths.notes(rev.target)}; rebuilding …")
        return rev


# what an answer can raise: a note that cannot be routed (RevisionError, a ValueError), a
# file it reads or writes that is bad or unwritable, a gate whose checks changed
ANSWER_ERRORS = (ValueError, InputError, PathError, gates.GateError, OSError)
MAX_NOTE = 2000  # characters: a note goes into a role's prompt, maybe a paid one


def one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "…"


NO_OPEN_ENV = "SPARK_VIDEO_NO_OPEN"


def should_open_viewer(*, no_open: bool, stdout_tty: bool, environ: Mapping[str, str],
                       platform: str) -> bool:
    """Open viewer.html at each gate only for a producer at a desktop: never with
    `--no-open` or SPARK_VIDEO_NO_OPEN=1, never in CI, never without a terminal, and only
    where a browser can show (macOS, Windows, or a DISPLAY / WAYLAND_DISPLAY)."""
    if no_open or environ.get(NO_OPEN_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    if not stdout_tty:
        return False
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def show_in_browser(page: Path) -> None:
    """Best effort: a browser that cannot start is no reason to stop the producer."""
    import webbrowser

    try:
        webbrowser.open(page.resolve().as_uri(), new=0, autoraise=False)
    except (webbrowser.Error, OSError):
        pass


def prompt(s: Session, gate: str) -> tuple[str, str]:
    """approve / change / quit, with clear words; free text is a change once confirmed."""
    label = gates.LABELS[gate]
    while True:
        raw = s.ask(f"{label}: approve (y), describe a change, or quit (q)? ").strip()
        word = raw.lower().rstrip(".!")
        if not raw:
            continue
        if word in APPROVE_WORDS:
            return "approve", raw
        if word in QUIT_WORDS:
            return "quit", raw
        if len(raw) > MAX_NOTE:
            s.out(f"  that note is {len(raw)} characters; a note is at most {MAX_NOTE}: "
                  "say it shorter")
            continue
        shown = raw if len(raw) <= 120 else raw[:117] + "…"
        ok = s.ask(f"Treat “{shown}” as a change request? [y/N] ").strip().lower()
        if ok in APPROVE_WORDS:
            return "change", raw


def finished(s: Session) -> int:
    if s.approved_since_build:  # the last approval is not on the page yet: its rule redoes it
        res = run_build(s.cfg, s.paths, [str(s.paths.viewer)], label="viewer",
                        verbose=s.verbose)
        if not res.ok:
            print(f"(viewer not refreshed: see {res.log})", file=sys.stderr)
    final = s.paths.final_mp4
    info = probe(final)
    s.out(f"final: {final} ({info.duration:.1f} s, {final.stat().st_size / 1e6:.1f} MB)")
    s.out(f"viewer: {s.paths.viewer}")
    return EXIT_OK


def load_json(p: Path) -> dict:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
