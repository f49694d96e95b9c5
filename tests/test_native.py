"""Snakemake-native use, as a new user types it: plain `snakemake` with a relative
projects_dir in a fresh copy of the repository, approvals with the CLI between runs, other
working directories (`--directory`), an absolute projects_dir, and take requests
(`takes/<shot>.json`) that plain Snakemake renders and `snakemake -n` lists."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

EP = "011"
LAYOUT = ("Snakefile", "rules", "scripts", "config", "profiles", "schemas", "spark_video")


def fresh_copy(tmp_path: Path) -> Path:
    """The repository's workflow files and the demo project's sources, nothing built."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "episode-*", "portrait.png")
    for name in LAYOUT:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, repo / name, ignore=ignore)
        else:
            shutil.copy2(src, repo / name)
    shutil.copytree(REPO / "projects" / "demo", repo / "projects" / "demo", ignore=ignore)
    return repo


def smk(env, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def cli(env, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "spark_video.cli", *args, "-p", "demo",
                        "-e", EP], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def versions(clips: Path) -> set[str]:
    return {p.name for p in clips.glob("*-ver*.mp4")}


def mtimes(clips: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in clips.glob("*.mp4")}


def planned_renders(out: str) -> list[str]:
    """The shots whose render_clip job a dry run lists."""
    return sorted(re.findall(r"rule render_clip:\n(?:    .*\n)*?    wildcards: shot=(\S+)",
                             out))


@pytest.mark.slow
def test_plain_snakemake_relative_paths_and_take_requests(tmp_path, user_env):
    env = user_env
    repo = fresh_copy(tmp_path)
    d = repo / "projects" / "demo" / f"episode-{EP}"
    outputs = []

    def final(*extra):
        r = smk(env, repo, "-j4", "final", "--config", f"episode={EP}", *extra)
        outputs.append(r.stdout + r.stderr)
        return r

    for gate, label in (("script", "GATE 1"), ("storyboard", "GATE 2"),
                        ("render", "GATE 3")):
        r = final()
        assert r.returncode != 0 and f"{label} (" in r.stdout + r.stderr, r.stderr[-3000:]
        cli(env, repo, "approve", gate)
    r = final()
    assert r.returncode == 0, r.stderr[-3000:]
    assert (d / "final" / f"demo-{EP}.mp4").stat().st_size > 0
    log = "\n".join(outputs)
    assert "contains double" not in log
    # logs are clean relative paths inside the episode (the portraits' too)
    logs = re.findall(r"^\s+log: (\S+)", log, re.M)
    assert logs and all(p.startswith(f"projects/demo/episode-{EP}/logs/jobs/") and "//" not in p
                        for p in logs), logs
    assert any("/portraits/cast/" in p for p in logs)

    # the same build seen from elsewhere: --directory, and an absolute projects_dir
    other = tmp_path / "elsewhere"
    other.mkdir()
    for args in (("-s", str(repo / "Snakefile"), "--directory", str(repo)),
                 ("--config", f"projects_dir={repo / 'projects'}")):
        cwd = other if "--directory" in args else repo
        r = smk(env, cwd, "-n", "final", *args, "--config", f"episode={EP}")
        assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr, \
            r.stdout[-3000:] + r.stderr[-3000:]

    # a take request: the CLI only writes takes/<shot>.json; plain snakemake renders it
    clips = d / "clips"
    groups = json.loads(cli(env, repo, "storyboard", "graph", "--json").stdout)
    group = next(g for g in groups if len(g) >= 3)
    target, successors = group[1], group[2:]
    before_v, before_t = versions(clips), mtimes(clips)
    out = cli(env, repo, "render", "--shot", target, "--reason", "eyes closed").stdout
    assert f"{target}: take 2 requested (eyes closed)" in out
    req = json.loads((d / "takes" / f"{target}.json").read_text())
    assert req["shot_id"] == target and req["take"] == 2 and req["reason"] == "eyes closed"
    assert versions(clips) == before_v and mtimes(clips) == before_t  # nothing ran yet

    r = smk(env, repo, "-n", "final", "--config", f"episode={EP}")
    assert planned_renders(r.stdout) == sorted([target, *successors]), r.stdout[-4000:]

    r = final()
    assert "GATE 3 (renders) is closed" in r.stdout + r.stderr, r.stderr[-3000:]
    new = versions(clips) - before_v
    assert new == {f"{s}-ver2.mp4" for s in [target, *successors]}
    after = mtimes(clips)
    untouched = [n for n in before_t if "-ver" not in n and n[:-4] not in [target, *successors]]
    assert all(after[n] == before_t[n] for n in untouched)
    # served: building again pays for nothing, and `-f` restores the accepted take
    r = final()
    assert versions(clips) - before_v == new and mtimes(clips) == after
    rel = f"projects/demo/episode-{EP}/clips/{target}.mp4"
    r = smk(env, repo, "-j1", rel, "-f", "--config", f"episode={EP}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert versions(clips) - before_v == new
    state = json.loads((d / "state" / f"{target}.json").read_text())
    assert state["winner_version"] == 2 and state["take_request_served"] == 2

    cli(env, repo, "approve", "render")
    r = final()
    assert r.returncode == 0, r.stderr[-3000:]
    r = final()
    assert "Nothing to be done" in r.stdout + r.stderr


@pytest.mark.slow
def test_provider_keys_are_declared_envvars_checked_before_any_job(tmp_path, user_env):
    """A provider key is an `envvars:` of the workflow: missing, the build stops at once
    (nothing runs, nothing is submitted to a cluster); offline needs none."""
    repo = fresh_copy(tmp_path)
    r = smk({**user_env, "SPARK_VIDEO_VIDEO_PROVIDER": "bl"}, repo, "-n", "final")
    assert r.returncode != 0 and "DASHSCOPE_API_KEY" in r.stdout + r.stderr
    assert not (repo / "projects" / "demo" / "episode-001").exists()
    r = smk({**user_env, "SPARK_VIDEO_REVIEW_PROVIDER": "openai"}, repo, "-n", "final")
    assert r.returncode != 0 and "OPENAI_API_KEY" in r.stdout + r.stderr
    r = smk(user_env, repo, "-n", "final")
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.slow
def test_each_cluster_profile_lints_clean_but_for_the_container_advice(tmp_path, user_env):
    """`snakemake --lint` with every profile: the one remaining lint (no conda env or
    container per rule) is justified in the README: the jobs run the locked uv environment,
    and profiles/kubernetes names the image (cluster/Containerfile)."""
    repo = fresh_copy(tmp_path)
    env = {**user_env, "SPARK_VIDEO_IMAGE": "registry.example/spark-video:1",
           "SPARK_VIDEO_BUCKET": "s3://bucket/spark", "SPARK_VIDEO_S3_ENDPOINT": "http://s3:9000"}
    for profile in ("default", "slurm", "cluster-generic", "kubernetes"):
        args = ("--workflow-profile", "profiles/default") if profile == "default" else \
            ("--profile", f"profiles/{profile}")
        r = smk(env, repo, "--lint", *args, "--config", "episode=001")
        out = r.stdout + r.stderr
        assert "Lints for rule render_clip" in out, out[-2000:]  # the linter did run
        titles = {line.strip()[2:].rstrip(":") for line in out.splitlines()
                  if line.startswith("    * ")}
        assert titles == {"Specify a conda environment or container for each rule."}, \
            (profile, titles)


@pytest.mark.slow
def test_cluster_generic_profile_runs_jobs_through_its_submit_script(tmp_path, user_env):
    """profiles/cluster-generic for real: the writing stage's jobs go through submit.sh and
    status.sh (a local queue), the build stops at GATE 1 as it does locally."""
    repo = fresh_copy(tmp_path)
    r = smk(user_env, repo, "final", "--profile", "profiles/cluster-generic",
            "--config", f"episode={EP}")
    assert r.returncode != 0 and "GATE 1 (script) is closed" in r.stdout + r.stderr, \
        r.stdout[-3000:] + r.stderr[-3000:]
    queued = list((repo / ".snakemake" / "localq").glob("*.rc"))
    assert len(queued) >= 4 and all(p.read_text().strip() == "0" for p in queued)
    assert (repo / "projects" / "demo" / f"episode-{EP}" / "script.md").exists()


def test_autopilot_names_targets_as_the_rules_spell_them():
    """The rules write paths under the repository relative to it; the autopilot's targets
    (built from absolute EpisodePaths when projects_dir is the repository's projects/) must
    be spelled the same way, or Snakemake finds no rule for them (the README's episode
    command failed with MissingRuleException)."""
    from spark_video.base.settings import resolve
    from spark_video.workflow.build import REPO_ROOT, snakemake_command

    cfg = resolve({"project": "demo", "episode": "1", "projects_dir": str(REPO_ROOT / "projects")},
                  environ={}, config_file=None)
    absolute = str(REPO_ROOT / "projects" / "demo" / "episode-001" / "script.md")
    cmd = snakemake_command(cfg, [absolute, "/elsewhere/x.md"], force=[absolute])
    assert cmd[3:5] == ["projects/demo/episode-001/script.md", "/elsewhere/x.md"]
    assert cmd[cmd.index("--forcerun") + 1] == "projects/demo/episode-001/script.md"
