"""`spark-video render`: ask for new takes (request files the build reads), choose a
winner, rebuild a shot's state; `--now` renders them."""

from __future__ import annotations

from ..base.paths import check_shot_id
from ..render import (
    accept_version,
    derive_shots_state,
    load_state,
    rebuild_state,
    request_take,
    save_state,
)
from ..workflow.lock import episode_lock
from .command import EPISODE_OPTIONS, VERBOSE, arg, command
from .common import (
    EXIT_FAIL,
    EXIT_OK,
    UsageError,
    _cfg,
    _existing_episode,
    _shot_ids,
    run_snakemake,
)


@command("render", help="ask for new takes (takes/<shot>.json); with --now also render them",
         args=(
    *EPISODE_OPTIONS, VERBOSE,
    arg("--shot", action="append", help="a shot id such as S01-002 (repeatable)"),
    arg("--rejected-only", action="store_true", help="only shots whose last take "
        "was rejected or escalated"),
    arg("--failed-only", action="store_true", help="only shots with no winner or a "
        "failed last take"),
    arg("--reset", action="store_true", help="forget earlier takes of the shots"),
    arg("--accept-version", type=int, help="make this take the winner (one --shot)"),
    arg("--rebuild-state", action="store_true",
        help="remake a spoiled state/<shot>.json from the takes on disk (one --shot; "
             "nothing is paid)"),
    arg("--reason", help="recorded in the take request"),
    arg("--resubmit", action="store_true",
        help="submit again although the last submission's outcome is unknown "
        "(check the provider's task list first: it may have been paid)"),
    arg("--now", action="store_true",
        help="run the clip build right away (else the next `snakemake` does)")))
def cmd_render(args) -> int:
    """Ask for new takes by writing takes/<shot>.json request files (inputs of the clips, so
    `snakemake` and `snakemake -n` see them); `--now` also runs the clip build."""
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    ids = _shot_ids(paths)
    for s in args.shot or []:
        check_shot_id(s)
        if s not in ids:
            raise UsageError(f"{s} is not a shot of {paths.storyboard}")
    if getattr(args, "rebuild_state", False):
        if len(args.shot or []) != 1:
            raise UsageError("--rebuild-state needs exactly one --shot")
        st = rebuild_state(paths, args.shot[0])
        derive_shots_state(paths, ids)
        print(f"{args.shot[0]}: state rebuilt from {len(st.attempts)} take(s) on disk, "
              f"ver{st.winner_version} is the winner (nothing was paid)")
        return EXIT_OK
    if args.accept_version is not None:
        if len(args.shot or []) != 1:
            raise UsageError("--accept-version needs exactly one --shot")
        accept_version(paths, args.shot[0], args.accept_version)
        derive_shots_state(paths, ids)
        print(f"{args.shot[0]}: ver{args.accept_version} is the winner")
        return EXIT_OK
    if args.resubmit and not args.shot:
        raise UsageError("--resubmit needs --shot: it pays again for a submit whose "
                         "outcome is unknown, one shot at a time")
    chosen: dict[str, str] = {s: "asked for by shot" for s in args.shot or []}
    if args.rejected_only or args.failed_only:
        for sid in ids:
            st = load_state(paths, sid)
            last = st.attempts[-1] if st.attempts else None
            if args.failed_only and (st.winner_version is None or st.failed
                                     or (last and last.status == "FAILED")):
                chosen.setdefault(sid, "failed or no usable take")
            if args.rejected_only and st.needs_director_rewrite:
                chosen.setdefault(sid, "escalated: retries exhausted below the threshold")
            elif args.rejected_only and last and last.review and \
                    last.review.verdict == "REJECT":
                chosen.setdefault(sid, "last take rejected by review")
    if args.reset:
        for sid in chosen or ids:
            st = load_state(paths, sid)
            save_state(paths, st.model_copy(update={"attempts": [], "winner_version": None,
                                                    "winner_path": None, "input_key": None,
                                                    "needs_director_rewrite": False,
                                                    "take_request_served": 0}))
            chosen.setdefault(sid, "reset")
    if not chosen and (args.shot or args.rejected_only or args.failed_only):
        print("nothing to re-render")
        return EXIT_OK
    for sid, reason in chosen.items():
        req = request_take(paths, sid, args.reason or reason,
                           resubmit=args.resubmit and sid in (args.shot or []))
        print(f"{sid}: take {req.take} requested ({req.reason}) -> {paths.take_request(sid)}")
    if chosen and not args.now:
        print(f"`snakemake -n final --config project={cfg.project} episode={paths.episode}` "
              "lists the renders; `snakemake -j4 final ...` (or this command with --now) "
              "pays for them")
        return EXIT_OK
    with episode_lock(paths):
        rc = run_snakemake(cfg, ["clips"], verbose=args.verbose, label="rendering")
    return EXIT_OK if rc == 0 else EXIT_FAIL

