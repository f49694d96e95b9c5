"""`spark-video viewer` and `spark-video status`: what the episode holds now."""

from __future__ import annotations

from .. import gates
from ..render import load_state
from .command import EPISODE_OPTIONS, VERBOSE, command
from .common import EXIT_FAIL, EXIT_OK, _cfg, _existing_episode, _shot_ids, run_snakemake


@command("viewer", help="rewrite viewer.html from what the episode holds now (its Snakemake "
         "rule, building nothing else)", args=(*EPISODE_OPTIONS, VERBOSE))
def cmd_viewer(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    # its own rule writes the page; as_is: from what exists now, building nothing else for it
    rc = run_snakemake(cfg, [str(paths.viewer)], verbose=args.verbose, label="viewer",
                       force=[str(paths.viewer)], config={"viewer_as_is": "true"})
    if rc == 0:
        print(paths.viewer)
    return EXIT_OK if rc == 0 else EXIT_FAIL


@command("status", help="gates and shots at a glance", args=EPISODE_OPTIONS)
def cmd_status(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    st = gates.status(paths)
    print(f"{paths.root}")
    for g in st:
        print(f"  {g['label']:<22} {'open' if g['open'] else 'closed'}"
              + ("" if g["open"] else f"  ({'; '.join(g['problems'])})"))
    if paths.storyboard.exists():
        ids = _shot_ids(paths)
        done = sum(1 for s in ids if paths.clip(s).exists())
        esc = [s for s in ids if load_state(paths, s).needs_director_rewrite]
        print(f"  shots: {done}/{len(ids)} rendered" + (f", escalated: {esc}" if esc else ""))
    if paths.final_mp4.exists():
        print(f"  final: {paths.final_mp4}")
    return EXIT_OK

