"""No-op and dry-run cost of `snakemake final` against a trivial workflow of the same size.

    uv run python bench/noop_bench.py [--shots 100 300 1000] [--repeat 3] [--keep DIR]

For each shot count it generates a finished episode without rendering (bench/big_episode.py
says what is real and what is made cheaply), counts the jobs of its DAG (`--dag`), builds a
trivial workflow with the same number of jobs (one wildcard rule `touch`-ing a file per
job, one target rule), and then times, in the same run and interleaved:

  episode  `snakemake final` on the finished episode (nothing to do) and `--dry-run`;
  trivial  `snakemake all` on the trivial workflow (nothing to do) and `--dry-run`.

It prints the best of --repeat runs of each, wall and CPU time (user + sys), and the ratios
episode / trivial.
Target: the no-op at 300 and 1000 shots within 1.2x the trivial workflow.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_episode import REPO, bench_env, make_episode, scratch, smk, snakemake_cmd  # noqa: E402

TRIVIAL = """\
N = int(config["jobs"])


rule all:
    input:
        expand("out/{i}.done", i=range(N - 1)),


rule job:
    output:
        "out/{i}.done",
    input:
        "src/{i}.txt",
    shell:
        "touch {output}"
"""


def dag_jobs(projects: Path) -> int:
    dot = smk(projects, "001", "final", "--dag").stdout
    return sum(1 for line in dot.splitlines() if "label = " in line)


def make_trivial(root: Path, jobs: int) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Snakefile").write_text(TRIVIAL, encoding="utf-8")
    (root / "src").mkdir(exist_ok=True)
    (root / "out").mkdir(exist_ok=True)
    for i in range(jobs - 1):
        (root / "src" / f"{i}.txt").write_text("x", encoding="utf-8")
    for i in range(jobs - 1):
        (root / "out" / f"{i}.done").write_text("", encoding="utf-8")
    cmd = [sys.executable, "-m", "snakemake", "all", "--snakefile", str(root / "Snakefile"),
           "--directory", str(root), "--config", f"jobs={jobs}"]
    subprocess.run([*cmd, "--touch", "--cores", "1"], cwd=REPO, check=True,
                   capture_output=True)
    return cmd


def cpu_of_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str], env: dict[str, str] | None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU (user + sys of the Snakemake process and its
    children) is the steadier figure on a shared machine."""
    t0, c0 = time.perf_counter(), cpu_of_children()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    dt, dc = time.perf_counter() - t0, cpu_of_children() - c0
    out = proc.stdout + proc.stderr
    if proc.returncode or "Nothing to be done" not in out:
        raise SystemExit(f"not a no-op: {' '.join(cmd)}\n{out[-3000:]}")
    return dt, dc


def bench(shots: int, repeat: int, work: Path) -> dict:
    projects = work / f"ep{shots}"
    t0 = time.perf_counter()
    make_episode(projects, shots)
    gen_s = time.perf_counter() - t0
    jobs = dag_jobs(projects)
    triv = make_trivial(work / f"trivial{shots}", jobs)
    env = bench_env(projects)
    ep = snakemake_cmd(projects, "001", "final", "--cores", "4")
    runs = {"ep": (ep, env), "tr": ([*triv, "--cores", "4"], None),
            "ep_n": ([*ep, "--dry-run"], env), "tr_n": ([*triv, "--cores", "4", "--dry-run"], None)}
    best = {k: float("inf") for k in runs} | {f"{k}_cpu": float("inf") for k in runs}
    for _ in range(repeat):  # interleaved, so a load change hits both sides alike
        for k, (cmd, e) in runs.items():
            wall, cpu = timed(cmd, e)
            best[k], best[f"{k}_cpu"] = min(best[k], wall), min(best[f"{k}_cpu"], cpu)
    return {"shots": shots, "jobs": jobs, "gen_s": gen_s, **best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp dir)")
    a = ap.parse_args()
    rows = []
    with scratch(a.keep, "noop-bench-") as work:
        for n in a.shots:
            r = bench(n, a.repeat, work)
            rows.append(r)
            print(f"{n} shots: generated in {r['gen_s']:.0f} s, {r['jobs']} jobs", flush=True)
    for unit, sfx in (("wall", ""), ("CPU", "_cpu")):
        print(f"\n{unit} time, best of {a.repeat}; seconds; ratio = episode / trivial "
              "workflow of the same job count")
        print(f"{'shots':>6} {'jobs':>6} | {'no-op':>7} {'trivial':>7} {'ratio':>6} | "
              f"{'dry-run':>7} {'trivial':>7} {'ratio':>6}")
        for r in rows:
            ep, tr, ep_n, tr_n = (r[k + sfx] for k in ("ep", "tr", "ep_n", "tr_n"))
            print(f"{r['shots']:>6} {r['jobs']:>6} | {ep:>7.2f} {tr:>7.2f} {ep / tr:>6.2f} | "
                  f"{ep_n:>7.2f} {tr_n:>7.2f} {ep_n / tr_n:>6.2f}")


if __name__ == "__main__":
    main()
