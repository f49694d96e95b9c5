"""Producer notes on disk: notes/<target>.json, one file per target, with history.

Targets: scene-NN (the screenwriter's scene), shots-NN (the director's shot list of scene
NN; a note about one shot carries its id), take-<shot> (a new take), music (the mix). The
`scene_md` and `scene_json` jobs take their scene's notes file as an input, so a new note
rebuilds exactly that scene, and the role gets every note in its prompt, latest last.
"""

from __future__ import annotations

from ..base.io import InputError, load_model
from ..base.models import Notes
from ..base.paths import EpisodePaths


def load_notes(paths: EpisodePaths, target: str) -> Notes | None:
    p = paths.notes(target)
    if not p.exists():
        return None
    return load_model(Notes, p)


def note_texts(paths: EpisodePaths, target: str) -> list[dict]:
    """What a role gets in its prompt: [{"text", "shot"}], oldest first."""
    notes = load_notes(paths, target)
    return [{"text": n.text, "shot": n.shot} for n in notes.notes] if notes else []


def notes_text(paths: EpisodePaths, target: str) -> str:
    """The notes as the roles' prompts take them: one line each, oldest first, e.g.
    "Producer's note: make it tenser" or "Producer's note on S02-002: closer on the hands"."""
    return "\n".join(f"Producer's note on {n['shot']}: {n['text']}" if n["shot"] else
                     f"Producer's note: {n['text']}" for n in note_texts(paths, target))


def all_notes(paths: EpisodePaths) -> list[Notes]:
    """Every notes file of the episode (for the viewer), skipping unreadable ones."""
    out = []
    for p in sorted(paths.notes_dir.glob("*.json")) if paths.notes_dir.is_dir() else []:
        try:
            out.append(load_model(Notes, p))
        except InputError:
            continue
    return out
