"""`spark-video storyboard`: compile (through Snakemake), validate, graph, estimate."""

from __future__ import annotations

import json
import sys

from .. import gates
from .. import storyboard as sbm
from ..base.io import dump_json
from ..base.paths import EpisodePaths
from ..base.settings import WorkflowConfig
from ..workflow.lock import episode_lock
from .command import EPISODE_OPTIONS, VERBOSE, arg, command
from .common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    _cfg,
    _existing_episode,
    run_snakemake,
)


@command("storyboard", help="compile | validate | graph | estimate", args=(
    *EPISODE_OPTIONS, VERBOSE,
    arg("action", choices=["compile", "validate", "graph", "estimate"],
        help="compile the scenes, validate them, show chain groups, or price it"),
    arg("--mode", choices=["drama", "narration"],
        help="compile: answer GATE 0 first (a new mode rewrites the script, which "
        "then waits at GATE 1)"),
    arg("--scene", type=int, help="validate only this scene number"),
    arg("--provider", choices=["offline", "bl", "wan27", "openai"],
        help="estimate for this provider instead of the storyboard's"),
    arg("--json", action="store_true", help="print JSON")))
def cmd_storyboard(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    if args.action == "compile":
        return _compile_storyboard(args, cfg, paths)
    if args.action == "validate":
        if args.scene:
            f = paths.scene_json(args.scene)
            sbm.load_fragments(paths, [f])
            print(f"{f}: valid")
            return EXIT_OK
        if not paths.storyboard.exists():
            raise UsageError(f"{paths.storyboard} not found: run `storyboard compile` first")
        sb = sbm.load_storyboard(paths)
        sbm.load_fragments(paths)
        for w in sbm.lint(paths, sb):
            print(f"WARN: {w}")
        print(f"{paths.storyboard}: valid ({len(sb.shots)} shots)")
        return EXIT_OK
    sb = sbm.load_storyboard(paths)
    if args.action == "graph":
        groups = sbm.chain_groups(sb)
        if args.json:
            print(json.dumps(groups))
        else:
            print(f"{len(groups)} chain group(s), longest {max(len(g) for g in groups)} shot(s)")
            for g in groups:
                print("  " + " → ".join(g))
        return EXIT_OK
    if getattr(args, "provider", None):
        sb = sb.model_copy(update={"provider": args.provider})
    est = sbm.estimate(sb, cfg)
    print(dump_json(est), end="")
    if est.over_long_confirm:
        print(f"WARNING: {est.total_clip_seconds} s of video is over SPARK_VIDEO_LONG_CONFIRM_S="
              f"{cfg.long_confirm_s}; confirm before rendering", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _compile_storyboard(args, cfg: WorkflowConfig, paths: EpisodePaths) -> int:
    """The storyboard checkpoint, run by Snakemake (forced: compile it now). `--mode`
    answers GATE 0 first: the mode stamp is an input of the storyboard."""
    with episode_lock(paths):
        if args.mode and gates.episode_mode(paths, "") != args.mode:
            gates.approve(paths, "mode", data={"mode": args.mode}, note="storyboard --mode")
        rc = run_snakemake(cfg, [str(paths.storyboard)], force=[str(paths.storyboard)],
                           verbose=getattr(args, "verbose", False), label="compiling")
    if rc:
        return EXIT_FAIL
    sb = sbm.load_storyboard(paths)
    print(f"compiled {paths.script} and {paths.storyboard}: {len(sb.shots)} shots")
    return EXIT_OK

