"""Render makespan against its lower bound, with the local DashScope-protocol server.

    uv run python bench/makespan_bench.py [--latency 8 30] [--shots 20 100] [--slots 4]
                                          [--poll 1.0] [--quick]

For each (latency L, shot count N) it generates an episode of N shots with GATE 2 approved
and nothing rendered (bench/big_episode.py: chains of up to 4 shots, r2v with both cast
portraits, so every render uploads media and every chained shot starts from the previous
shot's last frame), starts tests/fake_dashscope.py on a free port with every video task taking
exactly L seconds, and runs the real user command `spark-video render` (provider bl for video
and review, over real HTTP) until every clip is accepted. It prints, side by side:

  makespan     wall time of `spark-video render`;
  bound        max(longest chain x L, N x L / slots): no scheduler can beat it;
  ratio        makespan / bound (targets at 100 shots: 1.05 at L=30 s, 1.15 at L=8 s);
  busy slots   provider task-seconds / makespan (the mean number of provider tasks running);
  start, tail  seconds before the first submit and after the last task was seen done;
  seen         mean seconds from a task's end until a poll saw it (the poll granularity).

The client polls every --poll seconds (the provider's own time is L; a poll interval only
adds its granularity). --quick runs L=3 s with 12 shots.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from big_episode import CHAIN, REPO, bench_env, make_storyboard, scratch  # noqa: E402
from fake_dashscope import FakeServer  # noqa: E402


def run_once(latency: float, shots: int, slots: int, poll: float, work: Path) -> dict:
    server = FakeServer(work / f"server-{latency:g}-{shots}").start()
    try:
        st = server.state
        st.pending_s, st.running_s = 0.0, latency
        projects = work / f"ep-{latency:g}-{shots}"
        env = bench_env(projects)
        env.update({
            "SPARK_VIDEO_PROVIDER": "bl", "SPARK_VIDEO_TEXT_PROVIDER": "offline",
            "SPARK_VIDEO_RESOLUTION": "720P", "SPARK_VIDEO_MAX_CONCURRENCY": str(slots),
            "DASHSCOPE_API_KEY": st.api_key, "DASHSCOPE_HTTP_BASE_URL": st.base_url,
            "SPARK_VIDEO_POLL_INTERVAL_S": str(poll), "SPARK_VIDEO_POLL_MAX_S": str(poll),
            "SPARK_VIDEO_LOCK_DIR": str(work / f"slots-{latency:g}-{shots}"),
        })
        make_storyboard(projects, shots, env=env)
        cmd = [sys.executable, "-m", "spark_video.cli", "render", "--project", "demo",
               "--episode", "001"]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        t1 = time.monotonic()
        makespan = t1 - t0
        if proc.returncode:
            raise SystemExit(f"render failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        tasks = len(st.tasks)
        clips = list((projects / "demo" / "episode-001" / "clips").glob("S??-???.mp4"))
        if len(clips) != shots:
            raise SystemExit(f"{len(clips)} clips for {shots} shots")
    finally:
        server.stop()
    chain = min(CHAIN, shots)
    bound = max(chain * latency, shots * latency / slots)
    runs = [(t.created, t.seen_done or t.created + latency) for t in st.tasks.values()]
    first, last = min(c for c, _ in runs), max(d for _, d in runs)
    return {"L": latency, "shots": shots, "makespan": makespan, "bound": bound,
            # where the time beyond the provider's went: before the first submit, after the
            # last task was seen done, and a task's end until a poll saw it
            "start": first - t0, "tail": t1 - last,
            "seen": sum(d - c - latency for c, d in runs) / len(runs),
            "tasks": tasks, "busy": tasks * latency / makespan,
            "peak": max(st.peak_running.values(), default=0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, nargs="+", default=[8.0, 30.0])
    ap.add_argument("--shots", type=int, nargs="+", default=[20, 100])
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--poll", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="L=3 s, 12 shots")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp dir)")
    a = ap.parse_args()
    if a.quick:
        a.latency, a.shots = [3.0], [12]
    rows = []
    with scratch(a.keep, "makespan-bench-") as work:
        for lat in a.latency:
            for n in a.shots:
                r = run_once(lat, n, a.slots, a.poll, work)
                rows.append(r)
                print(f"L={lat:g} s, {n} shots: {r['makespan']:.1f} s", flush=True)
    print(f"\n{a.slots} slots, poll every {a.poll:g} s, chains of up to {CHAIN}; "
          f"cpus {os.cpu_count()}")
    print(f"{'L':>5} {'shots':>6} | {'makespan':>9} {'bound':>7} {'ratio':>6} | "
          f"{'tasks':>5} {'busy':>5} {'peak':>4} | {'start':>5} {'tail':>5} {'seen':>5}")
    for r in rows:
        print(f"{r['L']:>5g} {r['shots']:>6} | {r['makespan']:>9.1f} {r['bound']:>7.1f} "
              f"{r['makespan'] / r['bound']:>6.3f} | {r['tasks']:>5} {r['busy']:>5.2f} "
              f"{r['peak']:>4} | {r['start']:>5.1f} {r['tail']:>5.1f} {r['seen']:>5.2f}")


if __name__ == "__main__":
    main()
