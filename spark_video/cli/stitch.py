"""`spark-video stitch`: ask for the cut, then build the final through Snakemake."""

from __future__ import annotations

import sys

from .. import gates
from ..base.io import atomic_write_json
from ..base.models import StitchRequest
from ..workflow.lock import episode_lock
from .command import EPISODE_OPTIONS, VERBOSE, arg, command
from .common import EXIT_FAIL, EXIT_OK, _cfg, _existing_episode, run_snakemake


@command("stitch", help="stitch the final mp4 (the cut's settings are kept for later builds)",
         args=(*EPISODE_OPTIONS, VERBOSE,
               arg("--crossfade", type=float, help="crossfade seconds between clips"),
               arg("--burn-subtitles", action="store_true",
                   help="burn subtitles into the video")))
def cmd_stitch(args) -> int:
    """Ask for the cut (final/stitch-request.json, an input of the stitch), then build the
    final through Snakemake: narration (paid, cached) and the stitch are its jobs."""
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    if not gates.is_open(paths, "render"):
        print(gates.closed_message(paths, "render"), file=sys.stderr)
        return EXIT_FAIL
    req = StitchRequest(crossfade=args.crossfade,
                        burn_subtitles=True if args.burn_subtitles else None)
    with episode_lock(paths):
        atomic_write_json(paths.stitch_request, req)
        rc = run_snakemake(cfg, gates.GATE["final"].targets(paths),
                           verbose=getattr(args, "verbose", False), label="stitching")
    if rc:
        return EXIT_FAIL
    print(f"final: {paths.final_mp4}\nsubtitles: {paths.final_srt}")
    otio = paths.final_otio
    if otio.exists():
        print(f"timeline: {otio}")
    return EXIT_OK

