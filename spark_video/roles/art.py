"""The art department: cast, movie sets and props as cards plus reference images.

One folder = one frozen visual state (`cast/<name>/`, `movie-set/<name>/`, `props/<name>/`),
at the project tier or an episode's tier (an episode entry replaces a project one). Each
`add` writes the card and makes the reference image through the image provider, with the
lore's mood anchor appended and a size the image model accepts; `fork` gives a cast member an
episode-only costume by editing the project portrait (a visibly changed placeholder offline).
The manifests are rebuilt by the build graph (they depend on every card and image).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from ..base.io import InputError, atomic_write_bytes, atomic_write_text, read_text_checked
from ..base.models import ManifestEntry
from ..base.paths import IMAGE_EXTS, EpisodePaths, PathError, ProjectPaths, check_entity_name
from ..base.project import (
    KIND_CARDS,
    KIND_DIRS,
    PORTRAIT_GRID,
    build_manifest,
    load_lore,
    split_front_matter,
)
from ..base.settings import WorkflowConfig
from ..providers import get_provider
from ..providers.base import CallContext

REFERENCE = "reference.png"
# the shape of each kind's reference image (the original's defaults: portrait 3:4, set 16:9,
# prop 1:1 product shot)
KIND_RATIO = {"cast": "3:4", "set": "16:9", "prop": "1:1"}


def image_ratio(kind: str) -> str:
    """The aspect the image provider is asked for; it picks a pixel size its model accepts
    (the image capability table in capabilities.py)."""
    return KIND_RATIO[kind]


def art_paths(pp: ProjectPaths, episode: str | None) -> EpisodePaths:
    """Where the call log goes: the episode's logs, or the project's own logs/."""
    if episode:
        return pp.episode(episode)
    return EpisodePaths(pp, "project", pp.root)


def entity_folder(pp: ProjectPaths, kind: str, name: str, episode: str | None) -> Path:
    check_entity_name(name)
    base = pp.episode(episode).root if episode else pp.root
    return base / KIND_DIRS[kind] / name


def _card_text(fields: dict, body: str) -> str:
    fm = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False).strip()
    return f"---\n{fm}\n---\n{body.strip()}\n"


def image_prompt(kind: str, card: dict, mood_anchor: str) -> str:
    name = card["name"]
    if kind == "cast":
        age = f", {card['age']}" if card.get("age") else ""
        what = f"Character portrait of {name}{age}: {card.get('visual_anchor') or name}"
    elif kind == "set":
        what = (f"Establishing view of {name}, no people: {card.get('description') or name}; "
                f"lighting: {card.get('lighting') or 'natural'}")
    else:
        what = (f"Product shot of {name} ({card.get('state') or 'as is'}) on a plain white "
                f"background: {card.get('description') or name}")
    return f"{what}. {mood_anchor}".strip() if mood_anchor else what


def add(cfg: WorkflowConfig, pp: ProjectPaths, kind: str, name: str, *, fields: dict,
        episode: str | None = None, body: str = "", force: bool = False) -> tuple[Path, Path]:
    """Write the card and make the reference image. Returns (card, image)."""
    folder = entity_folder(pp, kind, name, episode)
    card_path = folder / KIND_CARDS[kind][0]
    if card_path.exists() and not force:
        raise InputError(card_path, f"{kind} {name!r} already exists (use --force to replace "
                         "its card and reference image)")
    card = {"name": name, **{k: v for k, v in fields.items() if v not in (None, "")}}
    paths = art_paths(pp, episode)
    lore, _ = load_lore(paths)
    prompt = image_prompt(kind, card, lore.mood_anchor)
    # built next to the folder and moved into place: a failed call leaves nothing behind
    tmp = folder.with_name(f".{folder.name}.new")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ctx = CallContext(paths, cfg, phase="portrait")
        get_provider("image", cfg).generate(ctx, prompt, tmp / REFERENCE,
                                            size=image_ratio(kind), label=name)
        atomic_write_text(tmp / card_path.name, _card_text(card, body or f"{name}."))
        folder.mkdir(parents=True, exist_ok=True)
        for f in tmp.iterdir():
            f.replace(folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return card_path, folder / REFERENCE


def fork(cfg: WorkflowConfig, pp: ProjectPaths, name: str, *, episode: str, costume: str,
         force: bool = False) -> tuple[Path, Path]:
    """An episode-only costume for a project cast member: the card copied to the episode
    tier with the costume, the project portrait edited (face kept)."""
    src = entity_folder(pp, "cast", name, None)
    src_card = next((src / c for c in KIND_CARDS["cast"] if (src / c).exists()), None)
    if src_card is None:
        raise InputError(src, f"no project cast member {name!r} to fork: add it first with "
                         f"`spark-video cast add {name} --appearance ...`")
    images = sorted(p for p in src.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not images:
        raise InputError(src, f"{name!r} has no portrait to edit yet: run the build once or "
                         f"`spark-video cast add {name} --force ...`")
    dst = entity_folder(pp, "cast", name, episode)
    if dst.exists() and not force:
        raise InputError(dst, f"episode {episode} already has its own {name!r} (use --force)")
    fm, body = split_front_matter(src_card, read_text_checked(src_card))
    fm = {**fm, "costume": costume, "forked_from": str(src.relative_to(pp.root))}
    paths = art_paths(pp, episode)
    lore, _ = load_lore(paths)
    prompt = (f"Same person, same face, hair and body: change the outfit to {costume}. "
              f"{lore.mood_anchor}").strip()
    tmp = dst.with_name(f".{dst.name}.fork")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ctx = CallContext(paths, cfg, phase="portrait")
        get_provider("image", cfg).edit(ctx, prompt, [images[0]], tmp / REFERENCE,
                                        size=image_ratio("cast"), label=name)
        atomic_write_text(tmp / "cast.md", _card_text(fm, body))
        for v in src.iterdir():  # the voice comes along; portraits do not
            if v.is_file() and v.suffix.lower() not in IMAGE_EXTS and v.name not in KIND_CARDS[
                    "cast"]:
                shutil.copy2(v, tmp / v.name)
        if dst.exists():
            shutil.rmtree(dst)
        tmp.replace(dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dst / "cast.md", dst / REFERENCE


CAST_CHECK = re.compile(r"<!--\s*CAST CHECK(.*?)-->", re.S)
NPC_LINE = re.compile(r"^\s*[-*]?\s*([^\W\d][\w .'-]{0,60}?)\s*(?:—|–|-|:|\()\s*(.+?)\)?\s*$")


def parse_cast_check(text: str) -> list[tuple[str, str]]:
    """(name, one-line appearance) of the named NPCs in a script's CAST CHECK block."""
    m = CAST_CHECK.search(text)
    if not m:
        return []
    out: list[tuple[str, str]] = []
    in_npcs = False
    for raw in m.group(1).splitlines():
        line = raw.strip()
        head = re.match(r"^(Leads|Named NPCs|Extras)\s*:\s*(.*)$", line, re.I)
        if head:
            in_npcs = head.group(1).lower() == "named npcs"
            line = head.group(2).strip()
        if not in_npcs or not line or line.lower().rstrip(".") in ("none", "-", "—"):
            continue
        for item in re.split(r"\s*;\s*", line):
            n = NPC_LINE.match(item)
            if n:
                out.append((n.group(1).strip(), n.group(2).strip().rstrip(".")))
    return out


def npcs_from_script(cfg: WorkflowConfig, paths: EpisodePaths) -> dict:
    """Named NPCs of the CAST CHECK get an episode-tier card and portrait before directing."""
    text = paths.script.read_text(encoding="utf-8") if paths.script.exists() else ""
    known = build_manifest(paths, "cast").names()
    found, made, skipped = [], [], []
    for name, look in parse_cast_check(text):
        found.append({"name": name, "appearance": look})
        if name in known:
            continue
        try:
            check_entity_name(name)
        except PathError as e:
            skipped.append(f"{name}: {e}")
            continue
        add(cfg, paths.project_paths, "cast", name, episode=paths.episode,
            fields={"visual_anchor": look, "npc": True},
            body=f"{name}: a named NPC from the script's CAST CHECK.")
        made.append(name)
    return {"npcs": found, "created": made, "skipped": skipped}


GRID = PORTRAIT_GRID
GRID_CELL = (384, 512)  # 3:4, the portraits' ratio


def reference_image(paths: EpisodePaths, entry: ManifestEntry) -> str | None:
    """The one image a model is sent for a cast member (relative to the projects folder):
    their portrait, or, when the folder holds several, all of them as one grid (as the
    original spark-video did), made again whenever a portrait is newer than it."""
    if len(entry.images) <= 1:
        return entry.image
    root = paths.project_paths.root.parent
    rel = f"{entry.folder}/{GRID}"
    out = root / rel
    srcs = [root / i for i in entry.images]
    try:
        fresh = out.stat().st_mtime_ns >= max(p.stat().st_mtime_ns for p in srcs)
    except FileNotFoundError:
        fresh = False
    if not fresh:
        portrait_grid(srcs, out)
    return rel


def portrait_grid(images: list[Path], out: Path) -> Path:
    """Tile the images, each fitted into a 3:4 cell, left to right, top to bottom, in a
    near-square grid; written atomically as PNG."""
    import io
    import math

    from PIL import Image

    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    cw, ch = GRID_CELL
    sheet = Image.new("RGB", (cols * cw, rows * ch), (0, 0, 0))
    for i, src in enumerate(images):
        try:
            with Image.open(src) as im:
                im = im.convert("RGB")
                im.thumbnail((cw, ch))
                x = (i % cols) * cw + (cw - im.width) // 2
                sheet.paste(im, (x, (i // cols) * ch + (ch - im.height) // 2))
        except OSError as e:
            raise InputError(src, f"not a readable image ({e}); replace or remove it") from None
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(out, buf.getvalue())
    return out
