"""`spark-video gate check` and `spark-video approve`: a gate's checklist, and its stamp."""

from __future__ import annotations

import json

from .. import gates
from ..base.io import atomic_write_json, parse_model
from ..base.models import BGMConfig
from .command import EPISODE_OPTIONS, arg, command
from .common import EXIT_FAIL, EXIT_OK, UsageError, _cfg, _existing_episode


@command("gate", help="check a gate's checklist", args=(
    *EPISODE_OPTIONS,
    arg("action", choices=["check"], help="what to do with the gate"),
    arg("gate", help=f"one of {', '.join(gates.GATES)}, or all"),
    arg("--json", action="store_true", help="print the report as JSON")))
def cmd_gate(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    names = list(gates.GATES) if args.gate == "all" else [args.gate]
    if args.gate != "all" and args.gate not in gates.GATES:
        raise UsageError(f"unknown gate {args.gate!r}; gates: {', '.join(gates.GATES)}, all")
    reports = [gates.check(paths, g, threshold=cfg.review_threshold) for g in names]
    if args.json:
        print(json.dumps({"project": cfg.project, "episode": paths.episode,
                          "requested": args.gate, "passed": all(r.passed for r in reports),
                          "gates": [r.as_dict() | {"open": gates.is_open(paths, r.gate)}
                                    for r in reports]}, indent=2))
    else:
        for r in reports:
            print(r.text())
            state = "open (approved)" if gates.is_open(paths, r.gate) else \
                "closed: " + "; ".join(gates.why_closed(paths, r.gate))
            print(f"  stamp: {state}")
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAIL


@command("approve", help="approve a gate (writes its stamp)", args=(
    *EPISODE_OPTIONS,
    arg("gate", choices=list(gates.GATES), help="the gate to approve"),
    arg("--note", help="a note kept in the stamp"),
    arg("--mode", choices=["drama", "narration"], help="for the mode gate"),
    arg("--bgm-mode", choices=["off", "global", "scene"], help="for the bgm gate"),
    arg("--track", help="bgm track stem (global mode)"),
    arg("--forbid-model-bgm", action="store_true",
        help="ask the video model not to add its own music")))
def cmd_approve(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)  # approving never creates an episode folder
    data: dict = {}
    if args.gate == "mode":
        data["mode"] = args.mode or cfg.mode
    if args.gate == "bgm":
        bgm = BGMConfig(enabled=args.bgm_mode not in (None, "off"), mode=args.bgm_mode or "off",
                        track=args.track, forbid_model_bgm=args.forbid_model_bgm)

        parse_model(BGMConfig, bgm.model_dump(), paths.bgm_config)
        atomic_write_json(paths.bgm_config, bgm)
    stamp = gates.approve(paths, args.gate, note=args.note, data=data,
                          threshold=cfg.review_threshold)
    print(f"{gates.LABELS[args.gate]} approved ({len(stamp.artifacts)} artifact(s) stamped) "
          f"-> {paths.approval(args.gate)}")
    return EXIT_OK

