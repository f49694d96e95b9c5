"""spark-video: a producer for AI-generated short episodes.

Start here (no keys needed, everything runs offline):

  spark-video new myshow --premise "Two keepers argue over the last lighthouse."
  spark-video episode myshow 001

The episode command writes the script, storyboard, clips and final mp4, stopping at
each gate (script, storyboard, renders, final) to ask: approve (y), describe a change
(routed to the screenwriter, the director, a new take or the mix), or quit (q).

Exit codes: 0 done; 1 failed (the message says what and where); 2 usage error;
3 waiting at a gate for approval (never used for an error); 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from . import art, autopilot, gates
from . import storyboard as sbm
from .autopilot import failure_report_for
from .build import clear_stale_locks, run_build
from .doctor import doctor as provider_doctor
from .escalation import request_director_rewrite, request_new_takes
from .importer import import_project
from .io import InputError, atomic_write_json, atomic_write_text, dump_json, parse_model
from .media import ffmpeg_exe
from .models import BGMConfig, StitchRequest
from .paths import EpisodePaths, PathError, ProjectPaths, check_entity_name, check_shot_id
from .project import (
    KIND_CARDS,
    KIND_DIRS,
    load_lore,
    load_premise,
    lore_placeholders,
    set_lore_field,
    write_manifest,
)
from .providers.base import CallContext, ProviderError
from .render import (
    accept_version,
    derive_shots_state,
    load_state,
    rebuild_state,
    request_take,
    save_state,
)
from .revisions import Revision, RevisionError, route
from .roles import propose_lore
from .schemas import export
from .settings import WorkflowConfig, resolve

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_WAITING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    pass


# --------------------------------------------------------------------------- helpers


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


def _print_report(report: gates.GateReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.text())


def _ask(question: str) -> str:
    if not sys.stdin.isatty():
        return ""
    try:
        return input(question).strip()
    except EOFError:
        return ""


# --------------------------------------------------------------------------- commands


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


def _shot_ids(paths: EpisodePaths) -> list[str]:
    return [s.id for s in sbm.load_storyboard(paths).shots]


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


def cmd_viewer(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    # its own rule writes the page; as_is: from what exists now, building nothing else for it
    rc = run_snakemake(cfg, [str(paths.viewer)], verbose=args.verbose, label="viewer",
                       force=[str(paths.viewer)], config={"viewer_as_is": "true"})
    if rc == 0:
        print(paths.viewer)
    return EXIT_OK if rc == 0 else EXIT_FAIL


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


def cmd_doctor(args) -> int:
    cfg = _cfg(args)
    ok = True
    rows = [("ffmpeg", True, ffmpeg_exe())]
    rows.append(("espeak-ng (offline speech)", shutil.which("espeak-ng") is not None,
                 shutil.which("espeak-ng") or "not installed: offline audio is a timed bed"))
    try:
        import snakemake

        rows.append(("snakemake", True, getattr(snakemake, "__version__", "?")))
    except ImportError:
        rows.append(("snakemake", False, "not installed: run uv sync"))
    for r in provider_doctor(cfg):
        rows.append((r.get("name", "provider"), bool(r.get("ok")), r.get("detail", "")))
    for name, good, detail in rows:
        ok &= good or name.startswith("espeak")
        print(f"[{' ok ' if good else 'FAIL'}] {name}: {detail}")
    return EXIT_OK if ok else EXIT_FAIL


LORE_TEMPLATE = """---
title: {title}
mood_anchor: "TBD: one line appended to every prompt"
visual_style: ""
genre: drama
duration_target_s: 60
forbidden: []
---
# {title}

World, protagonist arc and visual anchors go here.
"""


def _scaffold_lore(cfg: WorkflowConfig, paths: EpisodePaths, premise: str) -> None:
    """A missing lore.md, with a mood anchor proposed from the premise (edit it freely)."""
    import yaml

    lore = propose_lore(CallContext(paths, cfg, phase="producer"), premise=premise,
                        title=cfg.project)
    fm = yaml.safe_dump(lore, allow_unicode=True, sort_keys=False).strip()
    atomic_write_text(paths.project_paths.lore,
                      f"---\n{fm}\n---\n# {lore['title']}\n\nProposed from the premise; "
                      "edit the mood anchor, style and forbidden terms to taste.\n")
    print(f"lore.md was missing: scaffolded {paths.project_paths.lore} with the mood anchor "
          f"\"{lore['mood_anchor']}\" (edit it to taste)")


def _fill_lore_placeholders(cfg: WorkflowConfig, paths: EpisodePaths, premise: str) -> None:
    """A lore.md whose mood anchor is still the scaffold's "TBD: ..." gets one proposed from
    the premise by the text model (offline: from the premise's own words); only that line of
    the person's file changes. GATE 1 shows it."""
    lore, _ = load_lore(paths)
    if "mood_anchor" not in lore_placeholders(lore):
        return
    proposed = propose_lore(CallContext(paths, cfg, phase="producer"), premise=premise,
                            title=lore.title)
    set_lore_field(paths.project_paths.lore, "mood_anchor", proposed["mood_anchor"])
    print(f"lore.md: the mood anchor was a placeholder; filled it from the premise with "
          f"\"{proposed['mood_anchor']}\" (edit {paths.project_paths.lore} to change it)")


def cmd_import(args) -> int:
    cfg = _cfg(args)
    res = import_project(Path(args.path), Path(cfg.projects_dir), project=args.project,
                         episode=args.episode, in_place=args.in_place, cfg=cfg)
    for r in res:
        print(f"next: uv run spark-video episode {Path(r['root']).parent.name} "
              f"{r['episode']}")
    return EXIT_OK if res else EXIT_FAIL


def cmd_new(args) -> int:
    cfg = _cfg(args)
    pp = ProjectPaths.of(args.name, Path(cfg.projects_dir))
    for d in (pp.cast_dir, pp.set_dir, pp.props_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not pp.lore.exists():
        atomic_write_text(pp.lore, LORE_TEMPLATE.format(title=args.title or args.name))
    if args.premise and not pp.premise.exists():
        atomic_write_text(pp.premise, args.premise.strip() + "\n")
    print(f"project {pp.root} ready: edit {pp.lore} (a \"TBD\" mood anchor is proposed from "
          "the premise when the first episode starts), add cast with "
          f"`uv run spark-video cast add NAME --appearance TEXT --project {args.name}` "
          "(a card and a reference image; `set add`, `prop add` likewise)")
    return EXIT_OK


def cmd_scaffold(args) -> int:
    cfg = _cfg(args)
    paths = _paths(cfg)
    what = args.what
    if what == "episode":
        paths.scaffold()
        print(paths.root)
    elif what == "lore":
        if paths.project_paths.lore.exists() and not args.force:
            raise UsageError(f"{paths.project_paths.lore} exists (use --force to replace it)")
        atomic_write_text(paths.project_paths.lore,
                          LORE_TEMPLATE.format(title=args.title or cfg.project))
        print(paths.project_paths.lore)
    elif what in ("cast", "set", "prop"):
        if not args.name:
            raise UsageError(f"scaffold {what} needs --name")
        check_entity_name(args.name)

        base = paths.root if args.episode_tier else paths.project_paths.root
        folder = base / KIND_DIRS[what] / args.name
        folder.mkdir(parents=True, exist_ok=True)
        card = folder / KIND_CARDS[what][0]
        if not card.exists():
            atomic_write_text(card, f"---\nname: {args.name}\nvisual_anchor: \"\"\n---\n")
        print(card)
    elif what == "manifests":
        paths.scaffold()
        for kind in ("cast", "set", "prop"):
            m = write_manifest(paths, kind)
            print(f"{kind}: {len(m.entries)} entries")
    return EXIT_OK


def cmd_art(args) -> int:
    """cast add | cast fork | set add | prop add: cards and reference images."""
    cfg = _cfg(argparse.Namespace(project=args.project, episode=None))
    pp = ProjectPaths.of(cfg.project, Path(cfg.projects_dir))
    if not pp.root.is_dir():
        raise UsageError(f"no project folder {pp.root}: create it with "
                         f"`uv run spark-video new {cfg.project}`")
    episode = args.episode
    if args.kind == "cast" and args.action == "fork":
        if not episode or not args.costume:
            raise UsageError("cast fork needs --episode E and --costume TEXT")
        card, image = art.fork(cfg, pp, args.name, episode=episode, costume=args.costume,
                               force=args.force)
    else:
        if args.action != "add":
            raise UsageError(f"{args.kind} {args.action}: only cast has fork")
        need = {"cast": "appearance", "set": "lighting", "prop": "state"}[args.kind]
        if not getattr(args, need, None):
            raise UsageError(f"{args.kind} add needs --{need} TEXT")
        a = vars(args)
        fields = {"cast": {"age": a.get("age"), "gender": a.get("gender"),
                           "visual_anchor": a.get("appearance"),
                           "voice_traits": a.get("voice_traits"), "dont": a.get("dont") or []},
                  "set": {"lighting": a.get("lighting"), "time_of_day": a.get("time_of_day"),
                          "description": a.get("description")},
                  "prop": {"state": a.get("state"),
                           "description": a.get("description")}}[args.kind]
        card, image = art.add(cfg, pp, args.kind, args.name, fields=fields, episode=episode,
                              force=args.force)
    print(f"{card}\n{image}")
    print("the manifests are rebuilt by the next build (or `spark-video scaffold manifests`)")
    return EXIT_OK


def cmd_schemas(args) -> int:
    for p in export():
        print(p)
    return EXIT_OK


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
                                    ask=_ask_line, open_viewer=autopilot.should_open_viewer(
                                        no_open=args.no_open, stdout_tty=sys.stdout.isatty(),
                                        environ=os.environ, platform=sys.platform))
        return autopilot.run(session)


def _mode_gate(args, cfg: WorkflowConfig, paths: EpisodePaths, interactive: bool) -> None:
    """GATE 0: drama or narration. Asked once; --mode answers it."""
    mode = args.mode
    if not mode and gates.load_stamp(paths, "mode") is None:
        if interactive:
            while mode is None:
                ans = _ask_line("GATE 0 (mode): drama (dialog-driven shots) or narration "
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
        ans = _ask_line(f"GATE 0.5 (music): tracks {', '.join(tracks)}. off / global / "
                        "scene? [off] ").strip().lower() if interactive else ""
        mode = ans if ans in ("global", "scene") else "off"
        bgm = BGMConfig(enabled=mode != "off", mode=mode,
                        track=tracks[0] if mode == "global" else None,
                        forbid_model_bgm=mode != "off")
        atomic_write_json(paths.bgm_config, bgm)
    if gates.needs_bgm_gate(paths) and not gates.is_open(paths, "bgm"):
        gates.approve(paths, "bgm", note="autopilot")


def _ask_line(question: str) -> str:
    try:
        return input(question)
    except EOFError:
        return "q"


class EpisodeBusy(UsageError):
    pass


@contextlib.contextmanager
def episode_lock(paths: EpisodePaths):
    """One build per episode at a time: a second one says which process holds it."""
    import fcntl

    lock = paths.root.parent / f".episode-{paths.episode}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip() or "another process"
            raise EpisodeBusy(f"{paths.root} is being built by {holder}; wait for it to "
                              "finish or stop it (Ctrl-C in its terminal), then run again"
                              ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({' '.join(['spark-video', *sys.argv[1:]])})"
                  .encode(), 0)

        clear_stale_locks(paths)  # left by a killed build of this episode
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="spark-video", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def ep_opts(p, positional: bool = False):
        if positional:
            p.add_argument("project", help="project folder name under projects/, e.g. demo")
            p.add_argument("episode", help="episode number, e.g. 001")
        else:
            p.add_argument("--project", "-p", help="project folder name under projects/ "
                           "(default: SPARK_VIDEO_PROJECT or the config's project)")
            p.add_argument("--episode", "-e", help="episode number, e.g. 001 (default: "
                           "SPARK_VIDEO_EPISODE or the config's episode)")
        return p

    def verbose(p):
        p.add_argument("--verbose", "-v", action="store_true",
                       help="show Snakemake's own output instead of the progress view")
        return p

    p = verbose(ep_opts(sub.add_parser(
        "episode", help="autopilot: premise to final episode, asking at each gate",
        description="Build an episode from its premise, stopping at each gate to ask: "
                    "approve (y), describe a change, or quit (q). Without a terminal a "
                    "waiting gate exits 3. Example: spark-video episode demo 001"), True))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--premise", help="the episode's premise as text (else premise.md of the "
                   "episode or project)")
    g.add_argument("--premise-file", help="read the premise from this file")
    p.add_argument("--mode", choices=["drama", "narration"],
                   help="answer GATE 0: dialog-driven drama or voice-over narration")
    p.add_argument("--provider", choices=["offline", "bl", "wan27", "openai"],
                   help="who renders (also prices the GATE 2 estimate); offline needs no key")
    p.add_argument("--vfx", action="store_true",
                   help="VFX review of the storyboard before GATE 2 (a BLOCK sends the failing "
                   "scenes back to the director); same as `vfx: true` in the config")
    p.add_argument("--yes", "-y", action="store_true",
                   help="approve every gate whose checks pass, without asking")
    p.add_argument("--no-open", action="store_true",
                   help="do not open viewer.html in the browser at each gate (it opens only "
                   "on a desktop terminal, never in CI; SPARK_VIDEO_NO_OPEN=1 also stops it)")
    p.set_defaults(fn=cmd_episode)

    p = ep_opts(sub.add_parser("gate", help="check a gate's checklist"))
    p.add_argument("action", choices=["check"], help="what to do with the gate")
    p.add_argument("gate", help=f"one of {', '.join(gates.GATES)}, or all")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(fn=cmd_gate)

    p = ep_opts(sub.add_parser("approve", help="approve a gate (writes its stamp)"))
    p.add_argument("gate", choices=list(gates.GATES), help="the gate to approve")
    p.add_argument("--note", help="a note kept in the stamp")
    p.add_argument("--mode", choices=["drama", "narration"], help="for the mode gate")
    p.add_argument("--bgm-mode", choices=["off", "global", "scene"], help="for the bgm gate")
    p.add_argument("--track", help="bgm track stem (global mode)")
    p.add_argument("--forbid-model-bgm", action="store_true",
                   help="ask the video model not to add its own music")
    p.set_defaults(fn=cmd_approve)

    p = verbose(ep_opts(sub.add_parser("storyboard",
                                       help="compile | validate | graph | estimate")))
    p.add_argument("action", choices=["compile", "validate", "graph", "estimate"],
                   help="compile the scenes, validate them, show chain groups, or price it")
    p.add_argument("--mode", choices=["drama", "narration"],
                   help="compile: answer GATE 0 first (a new mode rewrites the script, which "
                   "then waits at GATE 1)")
    p.add_argument("--scene", type=int, help="validate only this scene number")
    p.add_argument("--provider", choices=["offline", "bl", "wan27", "openai"],
                   help="estimate for this provider instead of the storyboard's")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(fn=cmd_storyboard)

    p = verbose(ep_opts(sub.add_parser("render", help="ask for new takes (takes/<shot>.json); "
                                       "with --now also render them")))
    p.add_argument("--shot", action="append", help="a shot id such as S01-002 (repeatable)")
    p.add_argument("--rejected-only", action="store_true", help="only shots whose last take "
                   "was rejected or escalated")
    p.add_argument("--failed-only", action="store_true", help="only shots with no winner or a "
                   "failed last take")
    p.add_argument("--reset", action="store_true", help="forget earlier takes of the shots")
    p.add_argument("--accept-version", type=int, help="make this take the winner (one --shot)")
    p.add_argument("--rebuild-state", action="store_true",
                   help="remake a spoiled state/<shot>.json from the takes on disk (one --shot; "
                        "nothing is paid)")
    p.add_argument("--reason", help="recorded in the take request")
    p.add_argument("--resubmit", action="store_true",
                   help="submit again although the last submission's outcome is unknown "
                   "(check the provider's task list first: it may have been paid)")
    p.add_argument("--now", action="store_true",
                   help="run the clip build right away (else the next `snakemake` does)")
    p.set_defaults(fn=cmd_render)

    p = verbose(ep_opts(sub.add_parser(
        "stitch", help="stitch the final mp4 (the cut's settings are kept for later builds)")))
    p.add_argument("--crossfade", type=float, help="crossfade seconds between clips")
    p.add_argument("--burn-subtitles", action="store_true", help="burn subtitles into the video")
    p.set_defaults(fn=cmd_stitch)

    p = verbose(ep_opts(sub.add_parser(
        "revise", help="a producer's note: rewrite a scene, redo shots, a new take, the mix",
        description="Route a note to the role that owns it and rebuild up to that gate. "
                    "Example: spark-video revise script --scene 2 --note \"make it tenser\" "
                    "-p demo -e 001")))
    p.add_argument("what", choices=["script", "storyboard", "shot", "music"],
                   help="script: the screenwriter rewrites scenes; storyboard: the director "
                        "redoes a scene's shots or one shot; shot: a new take of a clip (an "
                        "escalated shot goes to the director with its report first); "
                        "music: adjust the mix and stitch again")
    p.add_argument("--scene", type=int, action="append", help="scene number (repeatable)")
    p.add_argument("--shot", action="append", help="shot id such as S01-002 (repeatable)")
    p.add_argument("--note", help="what to change, in your words")
    p.set_defaults(fn=cmd_revise)

    verbose(ep_opts(sub.add_parser(
        "viewer", help="rewrite viewer.html from what the episode holds now (its Snakemake "
        "rule, building nothing else)"))).set_defaults(fn=cmd_viewer)
    for name, fn, hlp in (("status", cmd_status, "gates and shots at a glance"),
                          ("doctor", cmd_doctor, "check tools and providers")):
        ep_opts(sub.add_parser(name, help=hlp)).set_defaults(fn=fn)

    p = sub.add_parser("import", help="turn an original spark-video project (or one "
                       "episode) into ours; the source is never changed")
    p.add_argument("path", help="the original's projects/<p> or projects/<p>/episode-NNN")
    p.add_argument("--project", "-p", help="the new project's name (default: the folder's)")
    p.add_argument("--episode", "-e", help="import only this episode")
    p.add_argument("--in-place", action="store_true",
                   help="convert the folder itself, after copying it to <p>.backup-<time>")
    p.set_defaults(fn=cmd_import)

    p = sub.add_parser("new", help="create a project")
    p.add_argument("name", help="the project's folder name (letters, digits, - or _)")
    p.add_argument("--title", help="the show's title (default: the name)")
    p.add_argument("--premise", help="the project's premise, used by episodes without their own")
    p.set_defaults(fn=cmd_new)

    p = ep_opts(sub.add_parser("scaffold", help="episode | lore | cast | set | prop | manifests"))
    p.add_argument("what", choices=["episode", "lore", "cast", "set", "prop", "manifests"],
                   help="what to create")
    p.add_argument("--name", help="the cast/set/prop name")
    p.add_argument("--title", help="the title (lore)")
    p.add_argument("--force", action="store_true", help="replace an existing lore.md")
    p.add_argument("--episode-tier", action="store_true",
                   help="create the cast/set/prop in the episode, not the project")
    p.set_defaults(fn=cmd_scaffold)

    for kind, actions, hlp in (("cast", ["add", "fork"], "add a cast member, or fork a "
                                "costume for one episode"),
                               ("set", ["add"], "add a movie set (one lighting state)"),
                               ("prop", ["add"], "add a prop (one narrative state)")):
        p = sub.add_parser(kind, help=hlp)
        p.add_argument("action", choices=actions)
        p.add_argument("name")
        p.add_argument("--project", "-p")
        p.add_argument("--episode", "-e", help="the episode's own tier (default: project)")
        p.add_argument("--force", action="store_true", help="replace an existing card/image")
        p.add_argument("--description")
        if kind == "cast":
            p.add_argument("--appearance", help="one-line look for the portrait (add)")
            p.add_argument("--age", type=int)
            p.add_argument("--gender")
            p.add_argument("--voice-traits")
            p.add_argument("--dont", action="append", help="what the character never does")
            p.add_argument("--costume", help="the episode's costume (fork)")
        elif kind == "set":
            p.add_argument("--lighting", help="the set's one lighting state")
            p.add_argument("--time-of-day")
        else:
            p.add_argument("--state", help="the prop's one narrative state")
        p.set_defaults(fn=cmd_art, kind=kind)

    sub.add_parser("schemas", help="write schemas/*.json").set_defaults(fn=cmd_schemas)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    tty = _save_terminal()
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    old_hup = signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        return args.fn(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except PathError as e:  # an id given on the command line that cannot be a file name
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, gates.GateError, ProviderError, RevisionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        again = " ".join(["spark-video", *(sys.argv[1:] if argv is None else argv)])
        print(f"\nstopped. Nothing approved is lost; resume with: {again}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _restore_terminal(tty)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def _save_terminal():
    """The terminal's settings, to restore on every exit (no child may leave it raw)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return fd, termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError):
        pass
    return None


def _restore_terminal(saved) -> None:
    if saved is None:
        return
    import termios

    fd, attrs = saved
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
    except (OSError, termios.error):
        pass


if __name__ == "__main__":
    sys.exit(main())
