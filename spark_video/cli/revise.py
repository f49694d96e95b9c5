"""`spark-video revise`: a producer's note routed to the role that owns it, the episode
rebuilt up to that gate, and the gate shown."""

from __future__ import annotations

from ..base.paths import EpisodePaths, check_shot_id
from ..base.settings import WorkflowConfig
from ..cli import autopilot
from ..gates.revisions import Revision, RevisionError, route
from ..render.escalation import request_director_rewrite, request_new_takes
from ..workflow.lock import episode_lock
from .command import EPISODE_OPTIONS, VERBOSE, arg, command
from .common import EXIT_FAIL, EXIT_OK, UsageError, _cfg, _existing_episode


@command(
    "revise", help="a producer's note: rewrite a scene, redo shots, a new take, the mix",
    description="Route a note to the role that owns it and rebuild up to that gate. "
                "Example: spark-video revise script --scene 2 --note \"make it tenser\" "
                "-p demo -e 001",
    args=(*EPISODE_OPTIONS, VERBOSE,
          arg("what", choices=["script", "storyboard", "shot", "music"],
              help="script: the screenwriter rewrites scenes; storyboard: the director "
                   "redoes a scene's shots or one shot; shot: a new take of a clip (an "
                   "escalated shot goes to the director with its report first); "
                   "music: adjust the mix and stitch again"),
          arg("--scene", type=int, action="append", help="scene number (repeatable)"),
          arg("--shot", action="append", help="shot id such as S01-002 (repeatable)"),
          arg("--note", help="what to change, in your words")))
def cmd_revise(args) -> int:
    """A producer's "no" from the command line: the note goes to the role that owns it, the
    episode is rebuilt up to that gate, and the gate is shown (waiting for approval)."""
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    note = (args.note or "").strip()
    revs: list[Revision] = []
    try:
        if args.what == "script":
            if not args.scene or not note:
                raise UsageError("revise script needs --scene N (repeatable) and --note TEXT")
            revs = [route(paths, "script", note, scope=f"scene {n}") for n in args.scene]
        elif args.what == "storyboard":
            if not (args.scene or args.shot) or not note:
                raise UsageError("revise storyboard needs --scene N or --shot ID, and --note")
            scopes = [f"scene {n}" for n in args.scene or []] + list(args.shot or [])
            revs = [route(paths, "storyboard", note, scope=sc) for sc in scopes]
            revs = [Revision("shots", r.text, None, scene=r.scene, shot=r.shot) for r in revs]
        elif args.what == "shot":
            if not args.shot:
                raise UsageError("revise shot needs --shot ID (repeatable)")
            escalated = [sid for sid in args.shot if paths.escalation(sid).exists()]
            if escalated:  # the report goes back to the director, who rewrites the shot
                return _revise_escalated(cfg, paths, escalated, note, args)
            for sid in args.shot:
                check_shot_id(sid)
                r = route(paths, "render", note or "a new take", scope=sid)
                revs.append(Revision("take", r.text, None, scene=r.scene, shot=r.shot))
        elif args.what == "music":
            if not note:
                raise UsageError("revise music needs --note (e.g. \"quieter\", \"louder\", "
                                 "\"no music\")")
            revs = [Revision("music", note, None)]
    except RevisionError as e:
        raise UsageError(str(e)) from None
    gate = {"script": "script", "storyboard": "storyboard", "shot": "render",
            "music": "final"}[args.what]
    force: list[str] = []
    env: dict[str, str] = {}
    with episode_lock(paths):
        for r in revs:
            r.gate = gate
            r.apply(paths, cfg)
            force += r.force
            env.update({k: ",".join(filter(None, [env.get(k), v])) for k, v in r.env.items()})
            print(f"{r.describe()[0]} — note kept in {paths.notes(r.target)}")
        rev = Revision("take", note, gate, force=force, env=env) if force else None
        return _rebuild_and_show(cfg, paths, gate, rev, args)


def _rebuild_and_show(cfg: WorkflowConfig, paths: EpisodePaths, gate: str,
                      rev: Revision | None, args) -> int:
    """Build up to `gate` (with a revision's forced targets), then show the first gate that
    waits. A failed build is reported unless it stopped at a gate whose checks pass."""
    s = autopilot.Session(cfg=cfg, paths=paths, verbose=getattr(args, "verbose", False))
    res = autopilot.build(s, gate, rev)
    if res.interrupted:
        raise KeyboardInterrupt
    now = autopilot.first_closed(paths)
    if autopilot.stopped_by_failure(paths, cfg, res, now):
        autopilot.failure_report(s, res)
        return EXIT_FAIL
    rc = autopilot.at_gate(s, now or gate)
    return EXIT_FAIL if rc == EXIT_FAIL else EXIT_OK


def _revise_escalated(cfg: WorkflowConfig, paths: EpisodePaths, shots: list[str],
                      note: str, args) -> int:
    """An escalated shot goes to the director with its escalation report (and the note);
    the rewritten storyboard is shown at GATE 2, then the shot renders a new take."""
    for sid in shots:
        check_shot_id(sid)
    with episode_lock(paths):
        for f in request_director_rewrite(paths, shots, note):
            print(f"→ the director rewrites {', '.join(shots)} with the escalation report — "
                  f"notes in {f}")
        rc = _rebuild_and_show(cfg, paths, "storyboard", None, args)
        if rc != EXIT_FAIL:  # the rewrite is compiled: its new take waits behind GATE 2
            request_new_takes(paths, shots)
        return rc

