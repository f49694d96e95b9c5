"""The autopilot's no-op against one Snakemake no-op, on the same finished episode.

    uv run python bench/autopilot_bench.py [--shots 300] [--repeat 3]

Generates a finished episode of N shots without rendering (bench/big_episode.py), then
times, in the same run and interleaved:

  autopilot  `spark-video episode demo 001 --yes` (every gate open, nothing to build);
  snakemake  `snakemake final` (nothing to do), as a user would type it.

It prints the best of --repeat runs of each and autopilot / snakemake.
Target: within 1.3x.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_episode import REPO, bench_env, make_episode, snakemake_cmd  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], expect: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode or expect not in out:
        raise SystemExit(f"unexpected: {' '.join(cmd)} (exit {proc.returncode})\n{out[-3000:]}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp dir)")
    a = ap.parse_args()
    work = (a.keep or Path(tempfile.mkdtemp(prefix="autopilot-bench-"))).resolve()
    try:
        projects = work / f"ep{a.shots}"
        make_episode(projects, a.shots)
        env = bench_env(projects)
        auto = [sys.executable, "-m", "spark_video.cli", "episode", "demo", "001", "--yes"]
        smk = snakemake_cmd(projects, "001", "final", "--cores", "4")
        timed(auto, env, "final:")  # the first run approves GATE 4 (final); then no-ops
        best_a = best_s = float("inf")
        for _ in range(a.repeat):
            best_a = min(best_a, timed(auto, env, "final:"))
            best_s = min(best_s, timed(smk, env, "Nothing to be done"))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{a.shots} shots, best of {a.repeat}: autopilot no-op {best_a:.2f} s, snakemake "
          f"no-op {best_s:.2f} s, ratio {best_a / best_s:.2f}")


if __name__ == "__main__":
    main()
