"""Running Snakemake for the command line: quietly, with a live progress view.

One `run_build()` is one Snakemake run. Snakemake runs as a child with stdin from
/dev/null, so neither it nor any job (ffmpeg, espeak) can read or change the terminal. It
stays in this process group, so killing the command kills the whole build; on Ctrl-C (or
SIGTERM) this process waits for Snakemake to stop its jobs and says how to resume, while
the jobs' own messages stay in the log. Snakemake's text output goes to
`logs/snakemake/<time>-<target>.log` in the episode folder (or to the terminal with
--verbose). Its job events come back through the `spark-video` logger plugin (package
`snakemake_logger_plugin_spark_video`) and feed the progress view: stage, shots
done/total, shots in flight with their take, recent verdicts with scores, spend so far.
On a terminal the view redraws in place and is removed when the run ends; without one it
prints plain lines, no control codes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..base.io import InputError, load_model
from ..base.models import ShotState, WorkflowConfig
from ..base.paths import EpisodePaths, workdir_relative
from ..base.settings import FLAGS_KEY, REPO_ROOT
from ..gates import frozen
from ..providers.budget import read_calls, spend_of
from ..providers.slots import render_jobs

STAGES = {
    "portrait": "art department", "manifests": "art department",
    "outline": "writing", "scene_md": "writing", "script_md": "writing",
    "scene_json": "directing", "compile_storyboard": "storyboard", "estimate": "storyboard",
    "render_clip": "rendering", "last_frame": "rendering", "shots_state": "rendering",
    "stitch": "stitching", "reel": "stitching", "speech": "stitching",
    "master": "stitching", "build_viewer": "viewer", "gate_closed": "gate",
}
QUIET_RULES = {"gate_closed", "final", "clips", "script", "storyboard", "viewer"}  # no stage


@dataclass
class FailedJob:
    rule: str
    wildcards: dict[str, str]
    logs: list[str]


@dataclass
class BuildResult:
    rc: int
    log: Path | None
    failed: list[FailedJob] = field(default_factory=list)
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.interrupted

    @property
    def gate_jobs_only(self) -> bool:
        """Every failed job was a gate barrier (a closed gate, not an error)."""
        return bool(self.failed) and all(f.rule == "gate_closed" for f in self.failed)


def snakemake_command(cfg: WorkflowConfig, targets: list[str], *,
                      force: list[str] | None = None,
                      flags: dict[str, Any] | None = None,
                      config: dict[str, str] | None = None) -> list[str]:
    """The Snakemake command line; `flags`: settings chosen by the CLI's own flags, handed
    to every job as the config key `flags` (they beat the environment, see settings);
    `config`: more plain config keys (e.g. viewer_as_is)."""
    # the rules spell paths under the repository relative to it: name targets the same way
    targets = [str(workdir_relative(t, REPO_ROOT)) for t in targets]
    force = [str(workdir_relative(t, REPO_ROOT)) for t in force or []]
    cmd = [sys.executable, "-m", "snakemake", *targets,
           "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(REPO_ROOT),
           "--cores", str(max(render_jobs(cfg.api_slots), os.cpu_count() or 1)),
           "--resources", f"api_slots={cfg.api_slots}",
           f"render_jobs={render_jobs(cfg.api_slots)}",
           "--logger", "spark-video",
           "--config", f"project={cfg.project}", f"episode={cfg.episode}",
           f"projects_dir={cfg.projects_dir}", *(f"{k}={v}" for k, v in (config or {}).items())]
    # `episode --vfx`: the VFX review's target, the gate inputs and the jobs all see it
    flags = {**({"vfx": True} if cfg.vfx else {}), **(flags or {})}
    flags = {k: v for k, v in flags.items() if v is not None}
    if flags:
        cmd.append(f"{FLAGS_KEY}={json.dumps(flags)}")
    if force:
        cmd += ["--forcerun", *force]
    return cmd


class Progress:
    """What the view shows, folded from job events and the episode's files."""

    def __init__(self, paths: EpisodePaths, stream: TextIO, *, live: bool, label: str):
        self.paths = paths
        self.stream = stream
        self.live = live
        self.label = label
        self.jobs: dict[int, dict] = {}
        self.running: set[int] = set()
        self.stats: dict[str, int] = {}
        self.finished_renders = 0
        self.stage = "starting"
        self.verdicts: list[str] = []
        self.spend = 0.0
        self.currency = ""
        self._calls_sig: tuple[int, int] | None = None
        self._drawn = 0
        self._plain_stage = ""
        self.t0 = time.monotonic()

    # -- events -----------------------------------------------------------------------
    def on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "run_info":
            self.stats = {k: int(v) for k, v in ev.get("stats", {}).items() if k != "total"}
        elif kind == "job_info":
            self.jobs[ev["jobid"]] = ev
            self.running.add(ev["jobid"])
            if ev["rule"] in QUIET_RULES:
                return
            self.stage = STAGES.get(ev["rule"], ev["rule"])
            if self.stage != self._plain_stage and not self.live:
                self._plain_stage = self.stage
                self._print(f"  {self.stage} …")
        elif kind == "job_finished":
            jid = ev["jobid"]
            self.running.discard(jid)
            job = self.jobs.get(jid, {})
            if job.get("rule") == "render_clip":
                self.finished_renders += 1
                line = self._verdict(job["wildcards"].get("shot", "?"))
                if line:
                    self.verdicts.append(line)
                    if not self.live:
                        self._print(f"  {line}")
        elif kind == "job_error":
            self.running.discard(ev["jobid"])
        elif kind == "stage":  # a job's own step (the stitch: "reel 3 of 12", "mix", "mux")
            self.stage = str(ev.get("text", ""))[:120]
            if not self.live:
                self._print(f"  {self.stage}")

    def _verdict(self, shot: str) -> str | None:
        try:
            st = load_model(ShotState, self.paths.shot_state(shot))
        except (InputError, ValueError):
            return None
        att = st.attempt(st.winner_version) if st.winner_version else None
        if att is None:
            return f"{shot} no winner yet"
        rev = att.review
        if rev is None or rev.score is None:
            return f"{shot} take {att.version} {rev.verdict if rev else 'UNSCORED'}"
        flag = "" if rev.verdict == "ACCEPT" else " (best of retries)"
        return f"{shot} take {att.version} {rev.verdict} {rev.score:.1f}{flag}"

    def _take(self, shot: str) -> int | None:
        try:
            st = load_model(ShotState, self.paths.shot_state(shot))
        except (InputError, ValueError):
            return 1
        running = [a.version for a in st.attempts if a.status == "RUNNING"]
        return running[-1] if running else len(st.attempts) + 1

    def _refresh_spend(self) -> None:
        p = self.paths.model_calls
        try:
            st = p.stat()
        except OSError:
            return
        sig = (st.st_size, st.st_mtime_ns)
        if sig == self._calls_sig:
            return
        self._calls_sig = sig

        calls = read_calls(p)
        self.spend = spend_of(calls)
        self.currency = next((c["currency"] for c in calls if c.get("currency")), "")

    # -- drawing ----------------------------------------------------------------------
    def lines(self) -> list[str]:
        self._refresh_spend()
        secs = int(time.monotonic() - self.t0)
        head = f"{self.label}: {self.stage} · {secs} s"
        renders = self.stats.get("render_clip", 0)
        if renders:
            head += f" · shots {self.finished_renders}/{renders} rendered"
        head += f" · spend {self.spend:.2f} {self.currency or 'CNY'}"
        out = [head]
        flight = []
        for jid in sorted(self.running):
            job = self.jobs.get(jid, {})
            shot = job.get("wildcards", {}).get("shot")
            if job.get("rule") == "render_clip" and shot:
                flight.append(f"{shot} (take {self._take(shot)})")
        if flight:
            out.append("  rendering: " + ", ".join(flight))
        for v in self.verdicts[-3:]:
            out.append(f"  {v}")
        return out

    def draw(self) -> None:
        if not self.live:
            return
        lines = self.lines()
        width = max(20, _term_width() - 1)
        buf = ""
        if self._drawn:
            buf += f"\x1b[{self._drawn}F"
        buf += "\x1b[J" + "".join(line[:width] + "\n" for line in lines)
        self._drawn = len(lines)
        self.stream.write(buf)
        self.stream.flush()

    def clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self.stream.flush()
            self._drawn = 0

    def _print(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _term_width() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except OSError:
        return 100


_TOLD: set[str] = set()


def run_build(cfg: WorkflowConfig, paths: EpisodePaths, targets: list[str], *,
              label: str = "building", verbose: bool = False, force: list[str] | None = None,
              env: dict[str, str] | None = None, flags: dict[str, Any] | None = None,
              out: TextIO | None = None, config: dict[str, str] | None = None) -> BuildResult:
    """One Snakemake run for `targets`. Ctrl-C stops it (SIGINT to its whole process group,
    then SIGTERM) and returns with `interrupted` set."""
    out = out or sys.stdout
    for line in frozen.changes(paths):  # approved work stays; say so once per command
        if line not in _TOLD:
            _TOLD.add(line)
            out.write(f"note: {line}\n")
    live = out.isatty() and not verbose and os.environ.get("TERM", "") != "dumb"
    log_dir = paths.logs_dir / "snakemake"
    log_dir.mkdir(parents=True, exist_ok=True)
    name = Path(targets[0]).name if targets else "default"
    log = log_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{name}.log"
    fd, ev_name = tempfile.mkstemp(prefix="spark-video-events-", suffix=".jsonl")
    os.close(fd)
    events = Path(ev_name)
    full_env = {**os.environ, **(env or {}), "SPARK_VIDEO_EVENTS": str(events)}
    cmd = snakemake_command(cfg, targets, force=force, flags=flags, config=config)
    progress = Progress(paths, out, live=live, label=label)
    failed: list[FailedJob] = []
    errors: list[str] = []
    interrupted = False
    logf = None if verbose else open(log, "w", encoding="utf-8")  # noqa: SIM115
    try:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT if logf else None)
        with events.open(encoding="utf-8") as evf:
            def pump() -> None:
                for raw in evf.readlines():
                    try:
                        ev = json.loads(raw)
                    except ValueError:
                        continue
                    progress.on_event(ev)
                    if ev.get("event") == "job_error":
                        job = progress.jobs.get(ev["jobid"], {})
                        failed.append(FailedJob(ev.get("rule", "?"), job.get("wildcards", {}),
                                                ev.get("log", [])))
                    elif ev.get("event") == "error":
                        errors.append(ev.get("msg", ""))

            try:
                while proc.poll() is None:
                    pump()
                    progress.draw()
                    try:  # wakes at once when Snakemake exits, not on the next tick
                        proc.wait(timeout=0.25)
                    except subprocess.TimeoutExpired:
                        pass
            except KeyboardInterrupt:
                interrupted = True
                progress.clear()
                _stop(proc)
            pump()
        progress.clear()
        return BuildResult(proc.returncode if proc.returncode is not None else 1,
                           None if verbose else log, failed, interrupted, errors)
    finally:
        if logf:
            logf.close()
        events.unlink(missing_ok=True)


def clear_stale_locks(paths: EpisodePaths) -> list[Path]:
    """Remove Snakemake's directory locks that name this episode's files.

    Call only while holding the episode's own lock (`lock.episode_lock`): then no other
    spark-video build of this episode is running, so such locks were left by a build that
    was killed (SIGKILL, power loss) and would refuse every later run with LockException.
    """
    lock_dir = REPO_ROOT / ".snakemake" / "locks"
    root = str(paths.root.resolve())
    rel = os.path.relpath(root, REPO_ROOT)
    removed = []
    for f in sorted(lock_dir.glob("*.lock")) if lock_dir.is_dir() else []:
        try:
            names = f.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        if any(n.startswith((root + os.sep, rel + os.sep)) for n in names):
            f.unlink(missing_ok=True)
            removed.append(f)
    return removed


def _stop(proc: subprocess.Popen) -> None:
    """Stop Snakemake: SIGINT (it cancels its jobs and removes incomplete outputs; from a
    terminal it has had one already), then SIGTERM, then SIGKILL. Another Ctrl-C skips
    ahead."""
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue
