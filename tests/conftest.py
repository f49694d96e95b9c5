"""Shared fixtures: an isolated copy of the demo project and ways to run the real tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_video.base.paths import EpisodePaths
from spark_video.base.project import write_manifest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "projects" / "demo"


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    """tmp/projects/demo: the shipped demo project (sources only, no episodes)."""
    return demo_sources(tmp_path / "projects")


def demo_sources(root: Path) -> Path:
    """Copy the shipped demo project's sources (no episodes, no portraits) into root/demo."""
    shutil.copytree(DEMO, root / "demo",
                    ignore=shutil.ignore_patterns("episode-*", "portrait.png"))
    return root


FINISHED_EP = "001"


def offline_env(projects: Path) -> dict[str, str]:
    """The subprocess environment of an offline run on `projects` (no provider settings)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPARK_VIDEO_", "DASHSCOPE_", "OPENAI_"))}
    env.update({"VIDEOGEN_PROJECTS_DIR": str(projects), "SPARK_VIDEO_RESOLUTION": "360P"})
    return env


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A projects folder with one finished demo episode (FINISHED_EP, every gate approved),
    built once per test session: the slow modules that spoil or edit a finished episode
    work on copies of it (`finished_copy`) instead of each paying for a build."""
    root = demo_sources(tmp_path_factory.mktemp("finished") / "projects")
    run_cli(offline_env(root), "episode", "demo", FINISHED_EP, "--yes", check=True)
    return root


@pytest.fixture
def finished_copy(finished, tmp_path) -> Path:
    """A private copy of the finished projects folder (mtimes kept)."""
    root = tmp_path / "projects"
    shutil.copytree(finished, root, symlinks=True)
    return root


@pytest.fixture
def run_env(projects: Path, monkeypatch) -> dict[str, str]:
    """Environment for subprocess runs: offline, small frames, isolated projects folder."""
    env = offline_env(projects)
    for k in list(os.environ):
        if k.startswith(("SPARK_VIDEO_", "DASHSCOPE_", "OPENAI_")):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("VIDEOGEN_PROJECTS_DIR", str(projects))
    monkeypatch.setenv("SPARK_VIDEO_RESOLUTION", "360P")
    return env


@pytest.fixture
def user_env() -> dict[str, str]:
    """The environment of a new user: no project, provider or key settings, small frames."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPARK_VIDEO_", "DASHSCOPE_", "OPENAI_", "VIDEOGEN_"))}
    env["SPARK_VIDEO_RESOLUTION"] = "360P"
    return env


def run_cli(env: dict[str, str], *args: str, check: bool = False,
            timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "spark_video.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"spark-video {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def run_snakemake(env: dict[str, str], projects: Path, *args: str, project: str = "demo",
                  episode: str = "001", timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", *args, "--directory", str(REPO),
           "--config", f"project={project}", f"episode={episode}",
           f"projects_dir={projects}"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def scaffolded_episode(projects: Path, episode: str) -> EpisodePaths:
    """An episode folder of the demo project, with its cast/set/prop manifests written."""
    paths = EpisodePaths.of("demo", episode, root=projects)
    paths.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(paths, kind)
    return paths


@pytest.fixture
def cfg():
    """The shipped config/config.yaml, with no environment."""
    from spark_video.base.settings import REPO_ROOT, resolve

    return resolve({}, environ={}, config_file=REPO_ROOT / "config" / "config.yaml")


@pytest.fixture
def ep(projects: Path) -> EpisodePaths:
    """Episode 005 of the demo project, scaffolded (a module may define its own `ep`)."""
    return scaffolded_episode(projects, "5")
