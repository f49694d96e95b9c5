"""`spark-video` command line (SPEC §11). Exit codes: 0 ok, 1 failed check, 2 usage error."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import gates
from .io import InputError, atomic_write_json, atomic_write_text, dump_json
from .models import BGMConfig
from .paths import EpisodePaths, PathError, ProjectPaths, check_entity_name, check_shot_id
from .providers.base import ProviderError
from .settings import REPO_ROOT, WorkflowConfig, resolve
from .slots import render_jobs

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


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
    root = Path(cfg.projects_dir)
    if not root.is_absolute():
        root = (Path.cwd() / root).resolve()
    return cfg.model_copy(update={"projects_dir": str(root)})


def _paths(cfg: WorkflowConfig) -> EpisodePaths:
    return EpisodePaths.of(cfg.project, cfg.episode, root=Path(cfg.projects_dir))


def _existing_episode(cfg: WorkflowConfig) -> EpisodePaths:
    paths = _paths(cfg)
    if not paths.root.is_dir():
        raise UsageError(f"no episode folder {paths.root}: start it with "
                         f"`uv run spark-video episode {cfg.project} {cfg.episode}`")
    return paths


def run_snakemake(cfg: WorkflowConfig, targets: list[str], *, force: list[str] | None = None,
                  env: dict[str, str] | None = None, quiet: bool = False) -> int:
    """Run the build as users would type it (a subprocess: clean Ctrl-C and logging)."""
    cmd = [sys.executable, "-m", "snakemake", *targets,
           "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(REPO_ROOT),
           "--cores", str(max(render_jobs(cfg.api_slots), os.cpu_count() or 1)),
           "--resources", f"api_slots={cfg.api_slots}",
           f"render_jobs={render_jobs(cfg.api_slots)}",
           "--config", f"project={cfg.project}", f"episode={cfg.episode}",
           f"projects_dir={cfg.projects_dir}"]
    if force:
        cmd += ["--forcerun", *force]
    if quiet:
        cmd += ["--quiet", "rules"]
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.call(cmd, cwd=REPO_ROOT, env=full_env)


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
    paths = _paths(cfg)
    paths.scaffold()
    data: dict = {}
    if args.gate == "mode":
        data["mode"] = args.mode or cfg.mode
    if args.gate == "bgm":
        bgm = BGMConfig(enabled=args.bgm_mode not in (None, "off"), mode=args.bgm_mode or "off",
                        track=args.track, forbid_model_bgm=args.forbid_model_bgm)
        from .io import parse_model

        parse_model(BGMConfig, bgm.model_dump(), paths.bgm_config)
        atomic_write_json(paths.bgm_config, bgm)
    stamp = gates.approve(paths, args.gate, note=args.note, data=data,
                          threshold=cfg.review_threshold)
    print(f"{gates.LABELS[args.gate]} approved ({len(stamp.artifacts)} artifact(s) stamped) "
          f"-> {paths.approval(args.gate)}")
    _refresh_viewer(paths)
    return EXIT_OK


def _refresh_viewer(paths: EpisodePaths) -> None:
    try:
        from .jobs import build_viewer

        build_viewer(paths)
    except Exception as e:  # noqa: BLE001 - the viewer is a convenience here
        print(f"(viewer not refreshed: {e})", file=sys.stderr)


def cmd_storyboard(args) -> int:
    from . import storyboard as sbm

    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    mode = args.mode or gates.episode_mode(paths, cfg.mode)
    if args.action == "compile":
        sbm.compile_script(paths)
        sb = sbm.compile_storyboard(paths, cfg, mode)
        print(f"compiled {paths.script} and {paths.storyboard}: {len(sb.shots)} shots")
        return EXIT_OK
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
    est = sbm.estimate(sb, cfg)
    print(dump_json(est), end="")
    if est.over_long_confirm:
        print(f"WARNING: {est.total_clip_seconds} s of video is over SPARK_VIDEO_LONG_CONFIRM_S="
              f"{cfg.long_confirm_s}; confirm before rendering", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _shot_ids(paths: EpisodePaths) -> list[str]:
    from .storyboard import load_storyboard

    return [s.id for s in load_storyboard(paths).shots]


def cmd_render(args) -> int:
    from .render import accept_version, derive_shots_state, load_state, save_state

    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    ids = _shot_ids(paths)
    for s in args.shot or []:
        check_shot_id(s)
        if s not in ids:
            raise UsageError(f"{s} is not a shot of {paths.storyboard}")
    if args.accept_version is not None:
        if len(args.shot or []) != 1:
            raise UsageError("--accept-version needs exactly one --shot")
        accept_version(paths, args.shot[0], args.accept_version)
        derive_shots_state(paths, ids)
        print(f"{args.shot[0]}: ver{args.accept_version} is the winner")
        _refresh_viewer(paths)
        return EXIT_OK
    chosen = list(args.shot or [])
    if args.rejected_only or args.failed_only:
        for sid in ids:
            st = load_state(paths, sid)
            last = st.attempts[-1] if st.attempts else None
            if args.failed_only and (st.winner_version is None or st.failed
                                     or (last and last.status == "FAILED")):
                chosen.append(sid)
            if args.rejected_only and (st.needs_director_rewrite or (
                    last and last.review and last.review.verdict == "REJECT")):
                chosen.append(sid)
    if args.reset:
        for sid in chosen or ids:
            st = load_state(paths, sid)
            save_state(paths, st.model_copy(update={"attempts": [], "winner_version": None,
                                                    "winner_path": None, "input_key": None,
                                                    "needs_director_rewrite": False}))
        chosen = chosen or ids
    if not chosen and (args.shot or args.rejected_only or args.failed_only):
        print("nothing to re-render")
        return EXIT_OK
    targets = [str(paths.clip(s)) for s in chosen] or ["clips"]
    env = {"SPARK_VIDEO_RERENDER": ",".join(chosen)} if chosen else {}
    if args.resubmit:
        if not args.shot:
            raise UsageError("--resubmit needs --shot: it pays again for a submit whose "
                             "outcome is unknown, one shot at a time")
        env["SPARK_VIDEO_RESUBMIT"] = ",".join(args.shot)
    rc = run_snakemake(cfg, targets if chosen else ["clips"], force=targets if chosen else None,
                       env=env)
    return EXIT_OK if rc == 0 else EXIT_FAIL


def cmd_stitch(args) -> int:
    from .stitch import narrate, stitch_episode

    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    if not gates.is_open(paths, "render"):
        print(gates.closed_message(paths, "render"), file=sys.stderr)
        return EXIT_FAIL
    narrate(paths, cfg)  # the paid step first, on its own (cached: no call repeated)
    res = stitch_episode(paths, cfg, crossfade=args.crossfade,
                         burn_subtitles=True if args.burn_subtitles else None)
    print(dump_json(res) if hasattr(res, "model_dump") else res, end="")
    _refresh_viewer(paths)
    return EXIT_OK


def cmd_viewer(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    from .jobs import build_viewer

    print(build_viewer(paths))
    return EXIT_OK


def cmd_status(args) -> int:
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    st = gates.status(paths)
    print(f"{paths.root}")
    for g in st:
        print(f"  {g['label']:<22} {'open' if g['open'] else 'closed'}"
              + ("" if g["open"] else f"  ({'; '.join(g['problems'])})"))
    if paths.storyboard.exists():
        from .render import load_state

        ids = _shot_ids(paths)
        done = sum(1 for s in ids if paths.clip(s).exists())
        esc = [s for s in ids if load_state(paths, s).needs_director_rewrite]
        print(f"  shots: {done}/{len(ids)} rendered" + (f", escalated: {esc}" if esc else ""))
    if paths.final_mp4.exists():
        print(f"  final: {paths.final_mp4}")
    return EXIT_OK


def cmd_doctor(args) -> int:
    from .media import ffmpeg_exe

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
    try:
        from .doctor import doctor as provider_doctor

        for r in provider_doctor(cfg):
            rows.append((r.get("name", "provider"), bool(r.get("ok")), r.get("detail", "")))
    except ImportError:
        rows.append(("providers", True, f"provider {cfg.provider}"))
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


def cmd_new(args) -> int:
    cfg = _cfg(args)
    pp = ProjectPaths.of(args.name, Path(cfg.projects_dir))
    for d in (pp.cast_dir, pp.set_dir, pp.props_dir):
        d.mkdir(parents=True, exist_ok=True)
    if not pp.lore.exists():
        atomic_write_text(pp.lore, LORE_TEMPLATE.format(title=args.title or args.name))
    if args.premise and not pp.premise.exists():
        atomic_write_text(pp.premise, args.premise.strip() + "\n")
    print(f"project {pp.root} ready: edit {pp.lore}, add cast with "
          f"`uv run spark-video scaffold cast --name NAME --project {args.name}`")
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
        from .project import KIND_CARDS, KIND_DIRS

        base = paths.root if args.episode_tier else paths.project_paths.root
        folder = base / KIND_DIRS[what] / args.name
        folder.mkdir(parents=True, exist_ok=True)
        card = folder / KIND_CARDS[what][0]
        if not card.exists():
            atomic_write_text(card, f"---\nname: {args.name}\nvisual_anchor: \"\"\n---\n")
        print(card)
    elif what == "manifests":
        from .project import write_manifest

        paths.scaffold()
        for kind in ("cast", "set", "prop"):
            m = write_manifest(paths, kind)
            print(f"{kind}: {len(m.entries)} entries")
    return EXIT_OK


def cmd_schemas(args) -> int:
    from .schemas import export

    for p in export():
        print(p)
    return EXIT_OK


def cmd_revise(args) -> int:
    """Route a "no" at a gate to the step that owns it (SPEC §6)."""
    cfg = _cfg(args)
    paths = _existing_episode(cfg)
    history = paths.root / "history"
    if args.what == "script":
        nums = args.scene or []
        if not nums:
            raise UsageError("revise script needs --scene N (repeatable)")
        for n in nums:
            p = paths.scene_md(n)
            if p.exists():
                history.mkdir(exist_ok=True)
                shutil.copy2(p, history / f"{p.name}.{int(p.stat().st_mtime)}")
                p.unlink()
        if args.note:
            atomic_write_text(paths.root / "revision-notes.md", args.note + "\n")
        print(f"scene(s) {nums} will be rewritten by the screenwriter; run the build again")
    elif args.what == "shot":
        return cmd_render(argparse.Namespace(**{**vars(args), "accept_version": None,
                                                "rejected_only": False, "failed_only": False,
                                                "reset": False}))
    return EXIT_OK


def cmd_episode(args) -> int:
    """The autopilot producer: runs to each gate, asks (or approves with --yes), goes on."""
    if args.provider:
        os.environ["SPARK_VIDEO_PROVIDER"] = args.provider
    cfg = _cfg(args)
    paths = _paths(cfg)
    paths.scaffold()
    if args.premise_file:
        text = Path(args.premise_file).read_text(encoding="utf-8")
        atomic_write_text(paths.premise, text.strip() + "\n")
    elif args.premise:
        atomic_write_text(paths.premise, args.premise.strip() + "\n")
    from .project import load_premise

    load_premise(paths)  # fail now, clearly, if there is no premise anywhere
    p, e = cfg.project, paths.episode

    # GATE 0: mode
    if args.mode or args.yes or not gates.load_stamp(paths, "mode"):
        mode = args.mode
        if not mode and not args.yes and gates.load_stamp(paths, "mode") is None:
            ans = _ask("GATE 0 — mode: drama (dialog-driven shots, default) or narration "
                       "(voice-over recap)? [drama/narration] ")
            mode = ans if ans in ("drama", "narration") else None
            if mode is None and not sys.stdin.isatty():
                mode = cfg.mode
        mode = mode or cfg.mode
        if gates.episode_mode(paths, "") != mode:
            gates.approve(paths, "mode", data={"mode": mode}, note="autopilot")
    print(f"GATE 0 (mode): {gates.episode_mode(paths, cfg.mode)}")

    # GATE 0.5: music, only when a bgm/ folder has audio
    if gates.needs_bgm_gate(paths) and not paths.bgm_config.exists():
        tracks = [t.stem for t in gates.bgm_tracks(paths)]
        ans = "" if args.yes else _ask(f"GATE 0.5 — music: tracks {tracks}. off / global / "
                                       "scene? [off] ")
        mode = ans if ans in ("global", "scene") else "off"
        bgm = BGMConfig(enabled=mode != "off", mode=mode,
                        track=tracks[0] if mode == "global" else None,
                        forbid_model_bgm=mode != "off")
        atomic_write_json(paths.bgm_config, bgm)
    if gates.needs_bgm_gate(paths) and not gates.is_open(paths, "bgm"):
        gates.approve(paths, "bgm", note="autopilot")

    stages = [("script", [str(paths.script)]),
              ("storyboard", [str(paths.storyboard), str(paths.estimate)]),
              ("render", ["clips"]),
              ("final", ["final"])]
    for gate, targets in stages:
        rc = run_snakemake(cfg, targets, quiet=True)
        if rc != 0:
            print(f"\nthe build stopped before {gates.LABELS[gate]} (exit {rc}); the messages "
                  f"above say why. Fix it and run the same command again.", file=sys.stderr)
            return EXIT_FAIL
        if gates.is_open(paths, gate):
            continue
        report = gates.check(paths, gate, threshold=cfg.review_threshold)
        print(report.text())
        _show_summary(paths, cfg, gate)
        if not report.passed:
            print(f"\n{gates.LABELS[gate]} checks fail; fix the items above, then run "
                  f"`uv run spark-video episode {p} {e}` again.", file=sys.stderr)
            return EXIT_FAIL
        if args.yes:
            gates.approve(paths, gate, note="autopilot --yes", threshold=cfg.review_threshold)
            print(f"{gates.LABELS[gate]}: approved (--yes)")
            continue
        ans = _ask(f"{gates.LABELS[gate]}: approve? [y/N, or type what to change] ")
        if ans.lower() in ("y", "yes"):
            gates.approve(paths, gate, note="approved at the prompt",
                          threshold=cfg.review_threshold)
            continue
        if ans:
            atomic_write_text(paths.root / "revision-notes.md", ans + "\n")
            print(f"noted in {paths.root / 'revision-notes.md'}; edit the files named above "
                  f"(or `uv run spark-video revise ...`) and run again.")
        print(gates.closed_message(paths, gate))
        return EXIT_OK
    _refresh_viewer(paths)
    from .media import probe

    info = probe(paths.final_mp4)
    print(f"\nfinal: {paths.final_mp4} ({info.duration:.1f} s, "
          f"{paths.final_mp4.stat().st_size / 1e6:.1f} MB)\nviewer: {paths.viewer}")
    return EXIT_OK


def _show_summary(paths: EpisodePaths, cfg: WorkflowConfig, gate: str) -> None:
    print(f"  viewer: {paths.viewer}")
    if gate == "storyboard" and paths.estimate.exists():
        est = json.loads(paths.estimate.read_text(encoding="utf-8"))
        kinds = ", ".join(f"{k}: {v['shots']} shots/{v['seconds']} s"
                          for k, v in est["duration_by_kind"].items())
        cost = est["cost"]
        total = cost["total"] if cost["total"] is not None else f"unknown ({cost['note']})"
        print(f"  {est['shots']} shots ({kinds}); {est['parallel_groups']} chain groups; "
              f"{est['total_clip_seconds']} s of video; cost {total} {cost['currency']}")
        if est["over_long_confirm"]:
            print(f"  WARNING: over SPARK_VIDEO_LONG_CONFIRM_S={cfg.long_confirm_s} s")


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="spark-video", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def ep_opts(p, positional: bool = False):
        if positional:
            p.add_argument("project")
            p.add_argument("episode")
        else:
            p.add_argument("--project", "-p")
            p.add_argument("--episode", "-e")
        return p

    p = ep_opts(sub.add_parser("episode", help="autopilot: premise to final episode"), True)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--premise")
    g.add_argument("--premise-file")
    p.add_argument("--mode", choices=["drama", "narration"])
    p.add_argument("--provider", choices=["offline", "bl", "wan27", "openai"])
    p.add_argument("--vfx", action="store_true", help="(reserved) pre-render VFX review")
    p.add_argument("--yes", "-y", action="store_true", help="approve every gate whose checks pass")
    p.set_defaults(fn=cmd_episode)

    p = ep_opts(sub.add_parser("gate", help="check a gate's checklist"))
    p.add_argument("action", choices=["check"])
    p.add_argument("gate")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_gate)

    p = ep_opts(sub.add_parser("approve", help="approve a gate (writes its stamp)"))
    p.add_argument("gate", choices=list(gates.GATES))
    p.add_argument("--note")
    p.add_argument("--mode", choices=["drama", "narration"], help="for the mode gate")
    p.add_argument("--bgm-mode", choices=["off", "global", "scene"], help="for the bgm gate")
    p.add_argument("--track", help="bgm track stem (global mode)")
    p.add_argument("--forbid-model-bgm", action="store_true")
    p.set_defaults(fn=cmd_approve)

    p = ep_opts(sub.add_parser("storyboard", help="compile | validate | graph | estimate"))
    p.add_argument("action", choices=["compile", "validate", "graph", "estimate"])
    p.add_argument("--mode", choices=["drama", "narration"])
    p.add_argument("--scene", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_storyboard)

    p = ep_opts(sub.add_parser("render", help="(re-)render shots"))
    p.add_argument("--shot", action="append")
    p.add_argument("--rejected-only", action="store_true")
    p.add_argument("--failed-only", action="store_true")
    p.add_argument("--reset", action="store_true")
    p.add_argument("--accept-version", type=int)
    p.add_argument("--resubmit", action="store_true",
                   help="pay again for a shot whose last submit has an unknown outcome")
    p.set_defaults(fn=cmd_render)

    p = ep_opts(sub.add_parser("stitch", help="stitch the final mp4"))
    p.add_argument("--crossfade", type=float)
    p.add_argument("--burn-subtitles", action="store_true")
    p.set_defaults(fn=cmd_stitch)

    p = ep_opts(sub.add_parser("revise", help="route a 'no' at a gate"))
    p.add_argument("what", choices=["script", "shot"])
    p.add_argument("--scene", type=int, action="append")
    p.add_argument("--shot", action="append")
    p.add_argument("--note")
    p.set_defaults(fn=cmd_revise)

    for name, fn, hlp in (("viewer", cmd_viewer, "rebuild viewer.html"),
                          ("status", cmd_status, "gates and shots at a glance"),
                          ("doctor", cmd_doctor, "check tools and providers")):
        ep_opts(sub.add_parser(name, help=hlp)).set_defaults(fn=fn)

    p = sub.add_parser("new", help="create a project")
    p.add_argument("name")
    p.add_argument("--title")
    p.add_argument("--premise")
    p.set_defaults(fn=cmd_new)

    p = ep_opts(sub.add_parser("scaffold", help="episode | lore | cast | set | prop | manifests"))
    p.add_argument("what", choices=["episode", "lore", "cast", "set", "prop", "manifests"])
    p.add_argument("--name")
    p.add_argument("--title")
    p.add_argument("--force", action="store_true")
    p.add_argument("--episode-tier", action="store_true")
    p.set_defaults(fn=cmd_scaffold)

    sub.add_parser("schemas", help="write schemas/*.json").set_defaults(fn=cmd_schemas)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, PathError, gates.GateError, ProviderError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
