"""No-op cost of `snakemake final` on a finished episode against the shaped workflow.

    uv run python bench/noop_bench.py --shots 1000 3000 --repeat 5 [--keep DIR] [--dry-run]
                                      [--trivial]

For each shot count it generates a finished episode without rendering (bench/big_episode.py
says what is real and what is made cheaply), counts the jobs of its DAG (`--dag`), and builds
the shaped workflow with the same number of jobs: one wildcard rule behind a checkpoint whose
jobs have the shape of a render job (inputs: a spec, two shared portraits and, in chains of
4, the previous job's second output; outputs: two files; a log), one target rule, and no
Python of ours. That is what Snakemake itself costs for the files a render job declares.
Then it times, in the same run and interleaved (so a load change hits both sides alike):

  episode  `snakemake final` on the finished episode (nothing to do);
  shaped   `snakemake all` on the shaped workflow (nothing to do);

and prints the best of --repeat runs of each, CPU (user + sys, the steadier figure on a
shared machine) and wall time, side by side with their ratio, and the ratio at the largest
shot count over the ratio at the smallest. `--dry-run` adds both with `--dry-run`;
`--trivial` adds a trivial workflow (one `touch` rule, one input per job) as a floor.
With --keep DIR a finished episode left there by an earlier run is used again.
Targets (issue 23): the CPU ratio <= 1.3 at 1000 shots, and the ratio at 3000 shots within
10 % of the ratio at 1000 (nothing superlinear of ours).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_episode import CHAIN, REPO, bench_env, make_episode, scratch, smk, snakemake_cmd  # noqa: E402

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


SHAPED = f"""\
N = int(config["jobs"])


checkpoint plan:
    output:
        "plan.txt",
    shell:
        "touch {{output}}"


def jobs(wildcards):
    checkpoints.plan.get()
    return expand("out/{{i}}.done", i=range(N - 1))


rule all:
    input:
        jobs,


def job_inputs(wildcards):
    i = int(wildcards.i)
    return {{"spec": f"src/{{i}}.txt", "media": ["media/a.png", "media/b.png"],
            "first_frame": [f"frame/{{i - 1}}.png"] if i % {CHAIN} else []}}


rule job:
    output:
        "out/{{i}}.done",
        "frame/{{i}}.png",
    input:
        unpack(job_inputs),
    log:
        "logs/{{i}}.log",
    shell:
        "touch {{output}}"
"""


# The Snakefile's last lines (gc.freeze() after the parse) on the shaped workflow: the like-for-
# like column, so the ratio against it shows what our code costs and the freeze is not
# counted as our gain.
FROZEN = "\n\nimport gc\n\ngc.freeze()\n"


def dag_jobs(projects: Path) -> int:
    dot = smk(projects, "001", "final", "--dag").stdout
    return sum(1 for line in dot.splitlines() if "label = " in line)


def make_trivial(root: Path, jobs: int, snakefile: str = TRIVIAL) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Snakefile").write_text(snakefile, encoding="utf-8")
    for d in ("src", "out", "media", "frame"):
        (root / d).mkdir(exist_ok=True)
    for i in range(jobs - 1):
        (root / "src" / f"{i}.txt").write_text("x", encoding="utf-8")
    for name in ("a.png", "b.png"):
        (root / "media" / name).write_text("x", encoding="utf-8")
    for out in ["plan.txt", *(f"{d}/{i}.{ext}" for i in range(jobs - 1)
                              for d, ext in (("out", "done"), ("frame", "png")))]:
        (root / out).write_text("", encoding="utf-8")
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


def bench(shots: int, repeat: int, work: Path, *, dry_run: bool, trivial: bool) -> dict:
    projects = work / f"ep{shots}"
    done = projects / ".finished"  # a finished episode an earlier run kept (--keep)
    t0 = time.perf_counter()
    if not done.exists():
        make_episode(projects, shots)
        done.write_text("", encoding="utf-8")
    gen_s = time.perf_counter() - t0
    jobs = dag_jobs(projects)
    env = bench_env(projects)
    ep = snakemake_cmd(projects, "001", "final", "--cores", "4")
    shaped = [*make_trivial(work / f"shaped{shots}", jobs, SHAPED), "--cores", "4"]
    frozen = [*make_trivial(work / f"shaped-frozen{shots}", jobs, SHAPED + FROZEN), "--cores",
              "4"]
    runs = {"ep": (ep, env), "sh": (shaped, None), "sf": (frozen, None)}
    if trivial:
        runs["tr"] = ([*make_trivial(work / f"trivial{shots}", jobs), "--cores", "4"], None)
    for k, (cmd, e) in list(runs.items()):
        if dry_run:
            runs[f"{k}_n"] = ([*cmd, "--dry-run"], e)
    best = {k: float("inf") for k in runs} | {f"{k}_cpu": float("inf") for k in runs}
    for _ in range(repeat):  # interleaved, so a load change hits both sides alike
        for k, (cmd, e) in runs.items():
            wall, cpu = timed(cmd, e)
            best[k], best[f"{k}_cpu"] = min(best[k], wall), min(best[f"{k}_cpu"], cpu)
    return {"shots": shots, "jobs": jobs, "gen_s": gen_s, **best}


def table(rows: list[dict], runs: str, what: str, repeat: int) -> None:
    """One line per shot count: the episode, the shaped workflow and their ratio, CPU then
    wall; the trivial workflow's figures where it was run."""
    trivial = f"tr{runs}" in rows[0]
    print(f"\n{what}, best of {repeat}, seconds (ratio = episode / shaped; like for like = "
          "episode / the shaped workflow with the Snakefile's gc.freeze())")
    print(f"{'shots':>6} {'jobs':>6} | {'CPU':>7} {'shaped':>7} {'ratio':>6} | "
          f"{'wall':>7} {'shaped':>7} {'ratio':>6} | {'frozen CPU':>10} {'like for like':>13}"
          + (f" | {'trivial CPU':>11} {'wall':>7}" if trivial else ""))
    for r in rows:
        ep, sh, ep_c, sh_c = (r[k] for k in (f"ep{runs}", f"sh{runs}", f"ep{runs}_cpu",
                                             f"sh{runs}_cpu"))
        print(f"{r['shots']:>6} {r['jobs']:>6} | {ep_c:>7.2f} {sh_c:>7.2f} {ep_c / sh_c:>6.2f} | "
              f"{ep:>7.2f} {sh:>7.2f} {ep / sh:>6.2f} | {r[f'sf{runs}_cpu']:>10.2f} "
              f"{ep_c / r[f'sf{runs}_cpu']:>13.2f}"
              + (f" | {r[f'tr{runs}_cpu']:>11.2f} {r[f'tr{runs}']:>7.2f}" if trivial else ""))
    if len(rows) > 1:
        lo, hi = rows[0], rows[-1]
        drift = (hi[f"ep{runs}_cpu"] / hi[f"sh{runs}_cpu"]) / (lo[f"ep{runs}_cpu"]
                                                               / lo[f"sh{runs}_cpu"])
        print(f"CPU ratio at {hi['shots']} shots / at {lo['shots']}: {drift:.3f} "
              f"({(drift - 1) * 100:+.1f} %)")
        like = (hi[f"ep{runs}_cpu"] / hi[f"sf{runs}_cpu"]) / (lo[f"ep{runs}_cpu"]
                                                             / lo[f"sf{runs}_cpu"])
        print(f"like for like at {hi['shots']} shots / at {lo['shots']}: {like:.3f} "
              f"({(like - 1) * 100:+.1f} %)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", type=Path, help="work folder to keep and reuse (default: a "
                    "temp dir)")
    ap.add_argument("--dry-run", action="store_true", help="also time `--dry-run`")
    ap.add_argument("--trivial", action="store_true", help="also time a trivial workflow")
    a = ap.parse_args()
    rows = []
    with scratch(a.keep, "noop-bench-") as work:
        for n in sorted(a.shots):
            r = bench(n, a.repeat, work, dry_run=a.dry_run, trivial=a.trivial)
            rows.append(r)
            print(f"{n} shots: episode ready in {r['gen_s']:.0f} s, {r['jobs']} jobs",
                  flush=True)
    table(rows, "", "no-op", a.repeat)
    if a.dry_run:
        table(rows, "_n", "dry-run", a.repeat)
    print("\ntargets: CPU ratio <= 1.3 at 1000 shots; at 3000 within 10 % of it at 1000")


if __name__ == "__main__":
    main()
