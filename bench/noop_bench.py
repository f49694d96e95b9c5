"""No-op and dry-run cost of `snakemake final` against a trivial workflow of the same size.

    uv run python bench/noop_bench.py [--shots 100 300 1000] [--repeat 3] [--keep DIR]

For each shot count it generates a finished episode without rendering (bench/big_episode.py
says what is real and what is made cheaply), counts the jobs of its DAG (`--dag`), builds a
trivial workflow with the same number of jobs (one wildcard rule `touch`-ing a file per
job, one target rule), and then times, in the same run and interleaved:

  episode  `snakemake final` on the finished episode (nothing to do) and `--dry-run`;
  trivial  `snakemake all` on the trivial workflow (nothing to do) and `--dry-run`;
  shaped   the same trivial workflow, but each job has the shape of a render job (behind a
           checkpoint; inputs: a spec, two shared portraits and, in chains of 4, the
           previous job's second output; outputs: two files; a log) and no Python of ours.

It prints the best of --repeat runs of each, wall and CPU time (user + sys), and the ratios
episode / trivial and shaped / trivial. The shaped ratio is what Snakemake itself costs for
the files a render job declares: the part of the episode's ratio no code of ours can remove.
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


def bench(shots: int, repeat: int, work: Path) -> dict:
    projects = work / f"ep{shots}"
    t0 = time.perf_counter()
    make_episode(projects, shots)
    gen_s = time.perf_counter() - t0
    jobs = dag_jobs(projects)
    triv = [*make_trivial(work / f"trivial{shots}", jobs), "--cores", "4"]
    shaped = [*make_trivial(work / f"shaped{shots}", jobs, SHAPED), "--cores", "4"]
    env = bench_env(projects)
    ep = snakemake_cmd(projects, "001", "final", "--cores", "4")
    runs = {"ep": (ep, env), "tr": (triv, None), "sh": (shaped, None),
            "ep_n": ([*ep, "--dry-run"], env), "tr_n": ([*triv, "--dry-run"], None),
            "sh_n": ([*shaped, "--dry-run"], None)}
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
        print("(shaped: the trivial workflow with a render job's declared files, no code of "
              "ours)")
        print(f"{'shots':>6} {'jobs':>6} | {'no-op':>7} {'trivial':>7} {'ratio':>6} "
              f"{'shaped':>7} {'ratio':>6} | {'dry-run':>7} {'trivial':>7} {'ratio':>6} "
              f"{'shaped':>7} {'ratio':>6}")
        for r in rows:
            ep, tr, sh, ep_n, tr_n, sh_n = (r[k + sfx] for k in ("ep", "tr", "sh", "ep_n",
                                                                  "tr_n", "sh_n"))
            print(f"{r['shots']:>6} {r['jobs']:>6} | {ep:>7.2f} {tr:>7.2f} {ep / tr:>6.2f} "
                  f"{sh:>7.2f} {sh / tr:>6.2f} | {ep_n:>7.2f} {tr_n:>7.2f} {ep_n / tr_n:>6.2f} "
                  f"{sh_n:>7.2f} {sh_n / tr_n:>6.2f}")


if __name__ == "__main__":
    main()
