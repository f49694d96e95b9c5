"""Projects and what they hold: `spark-video new`, `import`, `scaffold`, and `cast`/`set`/
`prop` (cards and reference images)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..base.io import atomic_write_text
from ..base.paths import ProjectPaths, check_entity_name
from ..base.project import KIND_CARDS, KIND_DIRS, write_manifest
from ..roles import art
from .command import EPISODE_OPTIONS, Arg, arg, command
from .common import EXIT_FAIL, EXIT_OK, UsageError, _cfg, _paths
from .importer import import_project
from .lore import LORE_TEMPLATE


@command("import", help="turn an original spark-video project (or one "
         "episode) into ours; the source is never changed", args=(
    arg("path", help="the original's projects/<p> or projects/<p>/episode-NNN"),
    arg("--project", "-p", help="the new project's name (default: the folder's)"),
    arg("--episode", "-e", help="import only this episode"),
    arg("--in-place", action="store_true",
        help="convert the folder itself, after copying it to <p>.backup-<time>")))
def cmd_import(args) -> int:
    cfg = _cfg(args)
    res = import_project(Path(args.path), Path(cfg.projects_dir), project=args.project,
                         episode=args.episode, in_place=args.in_place, cfg=cfg)
    for r in res:
        print(f"next: uv run spark-video episode {Path(r['root']).parent.name} "
              f"{r['episode']}")
    return EXIT_OK if res else EXIT_FAIL


@command("new", help="create a project", args=(
    arg("name", help="the project's folder name (letters, digits, - or _)"),
    arg("--title", help="the show's title (default: the name)"),
    arg("--premise", help="the project's premise, used by episodes without their own")))
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


@command("scaffold", help="episode | lore | cast | set | prop | manifests", args=(
    *EPISODE_OPTIONS,
    arg("what", choices=["episode", "lore", "cast", "set", "prop", "manifests"],
        help="what to create"),
    arg("--name", help="the cast/set/prop name"),
    arg("--title", help="the title (lore)"),
    arg("--force", action="store_true", help="replace an existing lore.md"),
    arg("--episode-tier", action="store_true",
        help="create the cast/set/prop in the episode, not the project")))
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


def _art_args(actions: list[str], *own: Arg) -> tuple[Arg, ...]:
    return (arg("action", choices=actions), arg("name"), arg("--project", "-p"),
            arg("--episode", "-e", help="the episode's own tier (default: project)"),
            arg("--force", action="store_true", help="replace an existing card/image"),
            arg("--description"), *own)


# stacked: the lowest declaration is made first (cast, set, prop: the help's order)
@command("prop", help="add a prop (one narrative state)", kind="prop",
         args=_art_args(["add"], arg("--state", help="the prop's one narrative state")))
@command("set", help="add a movie set (one lighting state)", kind="set",
         args=_art_args(["add"], arg("--lighting", help="the set's one lighting state"),
                        arg("--time-of-day")))
@command("cast", help="add a cast member, or fork a costume for one episode", kind="cast",
         args=_art_args(["add", "fork"],
                        arg("--appearance", help="one-line look for the portrait (add)"),
                        arg("--age", type=int), arg("--gender"), arg("--voice-traits"),
                        arg("--dont", action="append", help="what the character never does"),
                        arg("--costume", help="the episode's costume (fork)")))
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

