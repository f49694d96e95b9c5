"""Approved work is frozen against upstream changes.

Once a gate has an approval stamp, a change to the sources upstream of what it approved --
lore.md, the premise, outline.json, the cast/set/prop folders (cards, photos, portraits),
the episode's mode -- never regenerates that work by itself: the build marks those sources
`ancient()` for the jobs behind the gate (workflow.py `frozen`), names what changed since the
approval, and gives the `revise` command that applies the change to the part it touches.
A revise note is an input of its own, so the rewrite it asks for still happens.
"""

from __future__ import annotations

from pathlib import Path

from ..base.paths import EpisodePaths, parse_scene_file
from ..base.project import cast_entities
from ..gates import LABELS

# what each gate approved, in words, and the command that changes it on purpose
APPROVED = {"script": "the approved script", "storyboard": "the approved storyboard",
            "render": "the approved clips"}
REVISE = {
    "script": "uv run spark-video revise script --scene N --note \"...\"",
    "storyboard": "uv run spark-video revise storyboard --scene N --note \"...\"",
    "render": "uv run spark-video revise shot --shot ID --note \"...\"",
}


def is_frozen(paths: EpisodePaths, gate: str) -> bool:
    """The gate was approved once (its stamp exists, readable or not)."""
    return paths.approval(gate).exists()


def approved_scenes(paths: EpisodePaths) -> list[int] | None:
    """Once GATE 1 is approved, the episode's scenes are the approved scene files, whatever
    outline.json says now (an outline edited to 99 scenes writes no scene); None before."""
    if not is_frozen(paths, "script"):
        return None
    nums = sorted(n for n, _ in filter(None, (parse_scene_file(p.name)
                                               for p in paths.scene_files("md"))))
    return nums or None


def sources(paths: EpisodePaths) -> list[Path]:
    """The files upstream of every gate that a user (or `cast add`) changes by hand: not
    the placeholder portraits and NPC cards the build itself makes."""
    out = [paths.premise, paths.project_paths.premise, paths.project_paths.lore, paths.outline]
    for kind in ("cast", "set", "prop"):
        for folder in cast_entities(paths, kind):
            card = folder / "cast.md"
            if card.is_file() and "\nnpc: true\n" in card.read_text(encoding="utf-8",
                                                                     errors="replace"):
                continue
            out += [p for p in sorted(folder.iterdir()) if p.is_file()
                    and not p.name.startswith(".") and p.name != "portrait.png"]
    return [p for p in out if p.exists()]


def changes(paths: EpisodePaths) -> list[str]:
    """For the earliest approved gate whose upstream sources changed after its approval:
    what changed, that the approved work is kept, and the command that applies the change
    (revising there flows on through the later gates)."""
    lines = []
    srcs = None
    for gate in APPROVED:
        if not is_frozen(paths, gate):
            continue
        t = paths.approval(gate).stat().st_mtime_ns
        srcs = sources(paths) if srcs is None else srcs
        changed = [p for p in srcs if p.stat().st_mtime_ns > t]
        if not changed:
            continue
        root = paths.project_paths.root
        names = ", ".join(str(p.relative_to(root)) for p in changed[:6])
        more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        lines.append(f"{names}{more} changed after {LABELS[gate]} was approved: "
                     f"{APPROVED[gate]} is kept. To apply the change where it matters: "
                     f"{REVISE[gate]} --project {paths.project} --episode {paths.episode}")
        break
    return lines
