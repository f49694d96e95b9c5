"""A real scheduler: the offline demo episode built through `--profile profiles/slurm` on the
single-node SLURM of `cluster/slurm.sh`, every render a SLURM job; the result matches a local
build; the controlling Snakemake is killed mid-render and restarted without repeating a
finished render or paying for a take twice; no secret reaches a job script or a log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FINISHED_EP, REPO
from test_native import fresh_copy, smk

pytestmark = pytest.mark.slow

SLURM_SH = REPO / "cluster" / "slurm.sh"
SECRET = "sk-slurm-test-secret-0123456789"
TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def slurm():
    if os.geteuid() != 0:
        pytest.skip("cluster/slurm.sh needs root (CI runs as root)")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip("uv sync --extra slurm")
    started = subprocess.run(["bash", str(SLURM_SH), "status"],
                             capture_output=True).returncode != 0
    if started:
        subprocess.run(["bash", str(SLURM_SH), "up"], check=True, timeout=600)
    yield
    if started:
        subprocess.run(["bash", str(SLURM_SH), "down"], check=True, timeout=120)


def shots_and_durations(ep: Path) -> dict[str, float]:
    from spark_video.media import probe

    sb = json.loads((ep / "storyboard.json").read_text())
    return {s["id"]: round(probe(ep / "clips" / f"{s['id']}.mp4").duration, 1)
            for s in sb["shots"]}


def render_calls(ep: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (ep / "logs" / "model_calls.jsonl").read_text().splitlines():
        c = json.loads(line)
        if c["phase"] == "render":
            out[c["shot"]] = out.get(c["shot"], 0) + 1
    return out


def through_gates(env, repo: Path, ep_name: str, *args: str, during_render=None) -> None:
    for gate, label in (("script", "GATE 1"), ("storyboard", "GATE 2"),
                        ("render", "GATE 3")):
        if gate == "render" and during_render:
            during_render()
        r = smk(env, repo, "final", *args, "--config", f"episode={ep_name}")
        assert r.returncode != 0 and f"{label} (" in r.stdout + r.stderr, \
            r.stdout[-3000:] + r.stderr[-3000:]
        subprocess.run([sys.executable, "-m", "spark_video.cli", "approve", gate, "-p", "demo",
                        "-e", ep_name], cwd=repo, env=env, check=True, capture_output=True)
    r = smk(env, repo, "final", *args, "--config", f"episode={ep_name}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_demo_episode_on_slurm_matches_local_and_survives_a_killed_controller(
        slurm, tmp_path, user_env, finished):
    """`finished` (conftest) is the same demo episode built locally, once per session."""
    env = {**user_env, "DASHSCOPE_API_KEY": SECRET}  # present, never needed offline

    repo = fresh_copy(tmp_path / "slurm")
    ep = repo / "projects" / "demo" / "episode-001"
    profile = ("--profile", "profiles/slurm")
    seen: dict[str, object] = {}

    def kill_mid_render():
        """Start the render stage, SIGKILL the controlling Snakemake once some renders have
        finished and others are still SLURM jobs, then let through_gates restart it."""
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", "final", *profile,
                                 "--config", "episode=001"], cwd=repo, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 900
        try:
            while True:
                assert proc.poll() is None, "the render stage ended before it was killed"
                assert time.monotonic() < deadline
                done = sorted(p.name for p in (ep / "clips").glob("S*-ver*.mp4"))
                queue = subprocess.run(["squeue", "-h", "-o", "%j %T"], capture_output=True,
                                       text=True).stdout
                if done and "RUNNING" in queue or len(done) >= 3:
                    break
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        seen["done"] = {n: (ep / "clips" / n).stat().st_mtime_ns for n in done}
        seen["calls"] = render_calls(ep)
        r = smk(env, repo, "--unlock", *profile, "--config", "episode=001")
        assert r.returncode == 0, r.stderr[-2000:]

    t0 = time.monotonic()
    through_gates(env, repo, "001", *profile, during_render=kill_mid_render)
    TIMES["slurm"] = time.monotonic() - t0

    # the same episode as the local build
    assert shots_and_durations(ep) == shots_and_durations(
        finished / "demo" / f"episode-{FINISHED_EP}")
    assert (ep / "final" / "demo-001.mp4").stat().st_size > 0
    # every render ran as a SLURM job with its own log
    ids = json.loads((ep / "storyboard.json").read_text())["shots"]
    logs = repo / ".snakemake" / "slurm_logs" / "rule_render_clip"
    for s in ids:
        assert list((logs / s["id"]).glob("*.log")), f"no SLURM log for {s['id']}"
    # the kill repeated nothing: finished takes untouched, one render call per take
    assert seen["done"], "nothing had finished when the controller was killed"
    for name, mtime in seen["done"].items():
        assert (ep / "clips" / name).stat().st_mtime_ns == mtime, f"{name} was rendered again"
    calls = render_calls(ep)
    for s in ids:
        state = json.loads((ep / "state" / f"{s['id']}.json").read_text())
        assert calls[s["id"]] == len(state["attempts"]), (s["id"], calls, state["attempts"])
        assert all(a["status"] == "SUCCEEDED" for a in state["attempts"])
    # no secret in a job script, a SLURM log, a job log or Snakemake's own records
    for root in (repo / ".snakemake", ep / "logs"):
        for p in root.rglob("*"):
            if p.is_file():
                assert SECRET not in p.read_text(errors="replace"), p
    notes = Path(os.environ.get("SPARK_VIDEO_TIMES_FILE", tmp_path / "times.json"))
    notes.write_text(json.dumps(TIMES))
    print(f"\nwall time of the SLURM build: {TIMES['slurm']:.0f} s")
