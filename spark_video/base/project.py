"""Project-level inputs: lore.md, the premise, and the cast / set / prop manifests.

One manifest shape (models.Manifest) for all three kinds, written by `build_manifest()`
and read by everyone else through `load_manifest()`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import yaml

from .io import (
    InputError,
    atomic_write_json,
    atomic_write_text,
    load_model,
    parse_model,
    read_text_checked,
)
from .models import Lore, Manifest, ManifestEntry
from .paths import AUDIO_EXTS, IMAGE_EXTS, EpisodePaths, PathError, check_entity_name

# what `new` / `scaffold` write into a field for the person to fill, and any such marker: text
# that must never reach a model (placeholder_in)
PLACEHOLDER = re.compile(r"\b(?:TBD|TODO|FIXME|XXX)\b\s*[:：]|\A\s*(?:TBD|TODO)\s*\Z")
LORE_FIELDS_FILLED = ("mood_anchor",)

FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)(.*)\Z", re.S)

KIND_DIRS = {"cast": "cast", "set": "movie-set", "prop": "props"}
KIND_CARDS = {"cast": ("cast.md", "soul.md"), "set": ("set.md",), "prop": ("prop.md",)}


def split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 2} column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(path, f"field front-matter: malformed YAML front-matter{where}: "
                         f"{what}") from None
    if not isinstance(data, dict):
        raise InputError(path, "front-matter must be a mapping of keys to values")
    return data, m.group(2)


def placeholder_in(text: str | None) -> str | None:
    """The placeholder marker ("TBD: ...") in `text`, or None."""
    m = PLACEHOLDER.search(text or "")
    return m.group(0).strip() if m else None


def refuse_placeholder(where: Path | str, text: str, field: str = "prompt") -> None:
    """The guard at the prompt-building boundary: a placeholder never reaches a provider."""
    mark = placeholder_in(text)
    if mark:
        raise InputError(where, f"field {field}: holds the placeholder {mark!r} "
                         f"({_gist(text)!r}); fill it in, then run again (nothing was sent "
                         "to a model)")


def _gist(text: str, n: int = 80) -> str:
    m = PLACEHOLDER.search(text)
    start = max(0, m.start() - 20) if m else 0
    return text[start:start + n]


def lore_placeholders(lore: Lore) -> list[str]:
    """The lore fields still holding a scaffold placeholder, e.g. ["mood_anchor"]."""
    return [f for f in LORE_FIELDS_FILLED if placeholder_in(getattr(lore, f))]


def set_lore_field(path: Path, field: str, value: str) -> None:
    """Replace one front-matter line `field: ...` of lore.md, keeping every other byte of
    the person's file (the body, comments, the other fields)."""
    text = read_text_checked(path)
    line = f"{field}: {json.dumps(value, ensure_ascii=False)}"
    new, n = re.subn(rf"^{re.escape(field)}\s*:.*$", lambda _: line, text, count=1, flags=re.M)
    if not n:
        new = re.sub(r"\A---\s*\n", lambda m: m.group(0) + line + "\n", text, count=1)
    atomic_write_text(path, new)


def load_lore(paths: EpisodePaths) -> tuple[Lore, str]:
    path = paths.project_paths.lore
    if not path.exists():
        return Lore(title=paths.project), ""
    data, body = split_front_matter(path, read_text_checked(path))
    data.setdefault("title", paths.project)
    return parse_model(Lore, data, path), body


def premise_source(paths: EpisodePaths) -> Path | None:
    for p in (paths.premise, paths.project_paths.premise):
        if p.exists() and p.read_text(encoding="utf-8").strip():
            return p
    return None


def load_premise(paths: EpisodePaths) -> str:
    src = premise_source(paths)
    if src is None:
        raise InputError(
            paths.premise,
            "no premise: pass --premise TEXT, or write the episode's premise.md "
            f"or the project's {paths.project_paths.premise}",
        )
    return read_text_checked(src).strip()


def slug(name: str) -> str:
    norm = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")
    if not s:
        s = "x" + "".join(f"{ord(c):x}" for c in name)[:24]
    return s


def _entries(base: Path, kind: str, tier: str, rel_to: Path) -> list[ManifestEntry]:
    out: list[ManifestEntry] = []
    if not base.is_dir():
        return out
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            name = check_entity_name(folder.name)
        except PathError as e:
            raise InputError(folder, str(e)) from None
        card: dict = {}
        for card_name in KIND_CARDS[kind]:
            cp = folder / card_name
            if cp.exists():
                card, _ = split_front_matter(cp, read_text_checked(cp))
                break
        images = sorted(
            str(p.relative_to(rel_to)) for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".")
        )
        voices = sorted(
            str(p.relative_to(rel_to)) for p in folder.iterdir()
            if p.suffix.lower() in AUDIO_EXTS and not p.name.startswith(".")
        )
        out.append(ManifestEntry(name=name, id=slug(name), tier=tier,
                                 folder=str(folder.relative_to(rel_to)), card=card,
                                 images=images, voices=voices))
    return out


# several portraits of one cast member, as the one image a model is sent (art.reference_image)
PORTRAIT_GRID = ".portraits-grid.png"  # a dot-file: never listed as one of the folder's images


def voice_samples(paths: EpisodePaths) -> dict[str, list[str]]:
    """A cast member's reference image, as a shot spec's media names it (any one of their
    portraits, or their portraits' grid; relative to the projects folder) -> that member's
    voice samples (their folder's audio files, sorted), by the cast manifest. Which sample
    a model may take is the provider's check (its page's limits)."""
    out: dict[str, list[str]] = {}
    for e in load_manifest(paths, "cast").entries:
        if e.voices:
            for ref in [*e.images, f"{e.folder}/{PORTRAIT_GRID}"]:
                out[ref] = list(e.voices)
    return out


def build_manifest(paths: EpisodePaths, kind: str) -> Manifest:
    """Merge project and episode tiers (an episode entry replaces a project one)."""
    rel_to = paths.project_paths.root.parent  # paths in manifests are relative to projects/
    d = KIND_DIRS[kind]
    merged = {e.name: e for e in _entries(paths.project_paths.root / d, kind, "project", rel_to)}
    for e in _entries(paths.root / d, kind, "episode", rel_to):
        merged[e.name] = e
    return Manifest(kind=kind, project=paths.project, episode=paths.episode,
                    entries=list(merged.values()))


def manifest_path(paths: EpisodePaths, kind: str) -> Path:
    return {"cast": paths.cast_manifest, "set": paths.set_manifest,
            "prop": paths.props_manifest}[kind]


def write_manifest(paths: EpisodePaths, kind: str) -> Manifest:
    m = build_manifest(paths, kind)
    atomic_write_json(manifest_path(paths, kind), m)
    return m


def load_manifest(paths: EpisodePaths, kind: str) -> Manifest:
    p = manifest_path(paths, kind)
    if p.exists():
        return load_model(Manifest, p)
    return build_manifest(paths, kind)


def media_path(paths: EpisodePaths, rel: str, *, source: Path | None = None) -> Path:
    """A manifest image path (relative to the projects folder) as a real path. A path that
    leaves the project (absolute, `..`, or a symlink pointing elsewhere) is refused."""
    project = paths.project_paths.root
    p = project.parent / rel
    try:
        inside = p.resolve().is_relative_to(project.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise InputError(source, f"field media: {rel!r} points outside the project "
                         f"{project}; media must be files inside the project folder "
                         "(cast/, sets/, props/). Fix the path or recompile the storyboard.")
    return p


def cast_entities(paths: EpisodePaths, kind: str) -> list[Path]:
    """Folders of every entity of `kind` in both tiers (for portrait generation)."""
    d = KIND_DIRS[kind]
    out = []
    for base in (paths.project_paths.root / d, paths.root / d):
        if base.is_dir():
            out += sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    return out
