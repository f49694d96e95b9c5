"""What every command shares: exit codes, the usage error, the episode a command names,
and one quiet Snakemake run."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import storyboard as sbm
from ..base.paths import EpisodePaths, ProjectPaths
from ..base.settings import WorkflowConfig, resolve
from ..workflow.build import run_build
from .autopilot import failure_report_for

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_WAITING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    pass


def _cfg(args: argparse.Namespace, **extra) -> WorkflowConfig:
    over = {k: v for k, v in extra.items() if v is not None}
    project = getattr(args, "project", None) or os.environ.get("SPARK_VIDEO_PROJECT")
    episode = getattr(args, "episode", None) or os.environ.get("SPARK_VIDEO_EPISODE")
    if project:
        over["project"] = project
    if episode:
        over["episode"] = episode
    cfg = resolve(over)
    return cfg.model_copy(update={"projects_dir": str(find_projects_dir(cfg.projects_dir))})


def find_projects_dir(configured: str, cwd: Path | None = None) -> Path:
    """An absolute projects_dir is used as is. A relative one is looked up from the current
    folder upward (so commands work from any subfolder of the repository); if none is
    found, the command is refused rather than creating a projects folder in a random
    place (e.g. inside the source tree)."""
    root = Path(configured).expanduser()
    if root.is_absolute():
        return root
    cwd = (cwd or Path.cwd()).resolve()
    for d in (cwd, *cwd.parents):
        if (d / root).is_dir():
            return (d / root).resolve()
        if (d / "Snakefile").is_file() and (d / "spark_video").is_dir():
            return (d / root).resolve()  # the repository root: its projects folder
    raise UsageError(f"no {configured}/ folder found in {cwd} or above it: run spark-video "
                     "from your spark-video folder (or a folder under it), or set "
                     "VIDEOGEN_PROJECTS_DIR to your projects folder")


def require_project(cfg: WorkflowConfig) -> ProjectPaths:
    """An unknown project is refused before anything is written, with the nearest name."""
    import difflib

    pp = ProjectPaths.of(cfg.project, Path(cfg.projects_dir))
    if pp.root.is_dir():
        return pp
    base = Path(cfg.projects_dir)
    known = sorted(d.name for d in base.iterdir() if d.is_dir()) if base.is_dir() else []
    near = difflib.get_close_matches(cfg.project, known, n=1)
    hint = f" Did you mean {near[0]!r}?" if near else (
        f" Known projects: {', '.join(known)}." if known else "")
    raise UsageError(f"no project {cfg.project!r} in {base}.{hint} To start a new one: "
                     f"spark-video new {cfg.project} --premise \"...\"")


def _paths(cfg: WorkflowConfig) -> EpisodePaths:
    return EpisodePaths.of(cfg.project, cfg.episode, root=Path(cfg.projects_dir))


def _existing_episode(cfg: WorkflowConfig) -> EpisodePaths:
    paths = _paths(cfg)
    if not paths.root.is_dir():
        raise UsageError(f"no episode folder {paths.root}: start it with "
                         f"`uv run spark-video episode {cfg.project} {cfg.episode}`")
    return paths


def run_snakemake(cfg: WorkflowConfig, targets: list[str], *, force: list[str] | None = None,
                  env: dict[str, str] | None = None, verbose: bool = False,
                  label: str = "building", config: dict[str, str] | None = None) -> int:
    """One quiet Snakemake run with the progress view (logs in logs/snakemake/)."""
    paths = _paths(cfg)
    res = run_build(cfg, paths, targets, force=force, env=env, verbose=verbose, label=label,
                    config=config)
    if res.interrupted:
        raise KeyboardInterrupt
    if not res.ok:
        failure_report_for(paths, res)
    return res.rc


def _shot_ids(paths: EpisodePaths) -> list[str]:
    return [s.id for s in sbm.load_storyboard(paths).shots]

