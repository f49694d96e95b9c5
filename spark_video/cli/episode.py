"""`spark-video episode`: the autopilot producer, from the premise to the final episode,
asking at each gate (GATE 0, the mode, and GATE 0.5, the music, are asked here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import gates
from ..base.io import atomic_write_json, atomic_write_text
from ..base.models import BGMConfig
from ..base.paths import EpisodePaths
from ..base.project import load_premise
from ..base.settings import WorkflowConfig
from ..cli import autopilot
from ..workflow.lock import episode_lock
from .command import EPISODE, VERBOSE, arg, command, one_of
from .common import UsageError, _cfg, _paths, require_project
from .lore import _fill_lore_placeholders, _scaffold_lore
from .terminal import ask_line


@command(
    "episode", help="autopilot: premise to final episode, asking at each gate",
    description="Build an episode from its premise, stopping at each gate to ask: "
                "approve (y), describe a change, or quit (q). Without a terminal a "
                "waiting gate exits 3. Example: spark-video episode demo 001",
    args=(*EPISODE, VERBOSE,
          one_of(arg("--premise", help="the episode's premise as text (else premise.md of the "
                     "episode or project)"),
                 arg("--premise-file", help="read the premise from this file")),
          arg("--mode", choices=["drama", "narration"],
              help="answer GATE 0: dialog-driven drama or voice-over narration"),
          arg("--provider", choices=["offline", "bl", "wan27", "openai"],
              help="who renders (also prices the GATE 2 estimate); offline needs no key"),
          arg("--vfx", action="store_true",
              help="VFX review of the storyboard before GATE 2 (a BLOCK sends the failing "
              "scenes back to the director); same as `vfx: true` in the config"),
          arg("--yes", "-y", action="store_true",
              help="approve every gate whose checks pass, without asking"),
          arg("--no-open", action="store_true",
              help="do not open viewer.html in the browser at each gate (it opens only "
              "on a desktop terminal, never in CI; SPARK_VIDEO_NO_OPEN=1 also stops it)")))
def cmd_episode(args) -> int:
    """The autopilot producer: runs to each gate, asks (or approves with --yes), goes on."""
    flags = {k: v for k, v in (("provider", args.provider), ("vfx", args.vfx or None)) if v}
    cfg = _cfg(args, flags=flags or None)
    paths = _paths(cfg)
    require_project(cfg)
    interactive = sys.stdin.isatty() and not args.yes
    # everything that can be refused is checked before the episode folder is created
    premise = None
    if args.premise_file:
        pf = Path(args.premise_file)
        if not pf.is_file():
            raise UsageError(f"--premise-file {pf}: no such file")
        premise = pf.read_text(encoding="utf-8")
    elif args.premise:
        premise = args.premise
    if premise is not None and not premise.strip():
        raise UsageError("the premise is empty: pass --premise TEXT or a non-empty file")
    if premise is None:
        load_premise(paths)  # fail now, clearly, if there is no premise anywhere
    with episode_lock(paths):
        paths.scaffold()
        if premise is not None:
            atomic_write_text(paths.premise, premise.strip() + "\n")
        if not paths.project_paths.lore.exists():
            _scaffold_lore(cfg, paths, load_premise(paths))
        _fill_lore_placeholders(cfg, paths, load_premise(paths))
        _mode_gate(args, cfg, paths, interactive)
        _music_gate(args, paths, interactive)
        session = autopilot.Session(cfg=cfg, paths=paths, yes=args.yes, verbose=args.verbose,
                                    provider=args.provider, interactive=interactive,
                                    ask=ask_line, open_viewer=autopilot.should_open_viewer(
                                        no_open=args.no_open, stdout_tty=sys.stdout.isatty(),
                                        environ=os.environ, platform=sys.platform))
        return autopilot.run(session)


def _mode_gate(args, cfg: WorkflowConfig, paths: EpisodePaths, interactive: bool) -> None:
    """GATE 0: drama or narration. Asked once; --mode answers it."""
    mode = args.mode
    if not mode and gates.load_stamp(paths, "mode") is None:
        if interactive:
            while mode is None:
                ans = ask_line("GATE 0 (mode): drama (dialog-driven shots) or narration "
                                "(voice-over recap)? [drama] ").strip().lower() or "drama"
                mode = ans if ans in ("drama", "narration") else None
        else:
            mode = cfg.mode
    if mode and gates.episode_mode(paths, "") != mode:
        gates.approve(paths, "mode", data={"mode": mode},
                      note="--mode" if args.mode else "answered at the prompt")
    print(f"{paths.root}: mode {gates.episode_mode(paths, cfg.mode)}")


def _music_gate(args, paths: EpisodePaths, interactive: bool) -> None:
    """GATE 0.5, only when a bgm/ folder has audio: off, one global track, or per scene."""
    if gates.needs_bgm_gate(paths) and not paths.bgm_config.exists():
        tracks = [t.stem for t in gates.bgm_tracks(paths)]
        ans = ask_line(f"GATE 0.5 (music): tracks {', '.join(tracks)}. off / global / "
                        "scene? [off] ").strip().lower() if interactive else ""
        mode = ans if ans in ("global", "scene") else "off"
        bgm = BGMConfig(enabled=mode != "off", mode=mode,
                        track=tracks[0] if mode == "global" else None,
                        forbid_model_bgm=mode != "off")
        atomic_write_json(paths.bgm_config, bgm)
    if gates.needs_bgm_gate(paths) and not gates.is_open(paths, "bgm"):
        gates.approve(paths, "bgm", note="autopilot")

