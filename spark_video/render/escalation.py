"""Escalation closes the loop: a shot whose takes were all rejected goes back to the director.

The escalation report (the rounds × six axes, the critiques, the prompts tried) becomes a note
on the shot's scene (`scenes/scene-NN.director-notes.md`, which that scene's directing depends
on), limited to that shot ("Rewrite only: S01-002"). The director rewrites the shot in its
scene json; its render spec changes, so it renders again with a fresh retry budget (round 1;
earlier takes keep their version numbers, nothing paid is overwritten). The best take is never
auto-accepted: GATE 3 stays closed while the escalation is open, and the rewritten storyboard
is shown at GATE 2 again.
"""

from __future__ import annotations

from pathlib import Path

from ..base.io import atomic_write_text, load_model
from ..base.models import ShotState
from ..base.paths import EpisodePaths, check_shot_id
from ..render import request_take


def escalated_shots(paths: EpisodePaths) -> list[str]:
    """Shots whose last render loop ran out of retries and wait for the director."""
    out = []
    d = paths.state_dir
    if not d.is_dir():
        return out
    for p in sorted(d.glob("S*.json")):
        st = load_model(ShotState, p)
        if st.needs_director_rewrite:
            out.append(st.shot_id)
    return out


def escalation_note(paths: EpisodePaths, shot_ids: list[str], note: str = "") -> str:
    parts = [f"Rewrite only: {', '.join(shot_ids)}", ""]
    for sid in shot_ids:
        report = paths.escalation(sid)
        if report.exists():
            parts += [f"The clip review rejected every take of {sid}. Its escalation report:",
                      "", report.read_text(encoding="utf-8").strip(), ""]
        else:
            parts += [f"Rewrite {sid}.", ""]
    parts.append("Rewrite only these shots (prompt, kind, duration, characters, seed) so the "
                 "next takes pass the review: fix what the critiques name, keep the action, "
                 "the narrative purpose, the mood anchor and the reference syntax; keep every "
                 "other shot exactly as it is.")
    if note:
        parts += ["", f"Producer's note: {note}"]
    return "\n".join(parts) + "\n"


def write_director_notes(paths: EpisodePaths, num: int, text: str) -> Path:
    """Notes for the director on scene `num`, with the scene json as it is now kept next to
    them (the rewrite starts from it; the build removes the old output before re-directing)."""
    cur = paths.scene_json(num)
    if cur.exists():
        atomic_write_text(paths.director_previous(num), cur.read_text(encoding="utf-8"))
    p = paths.director_notes(num)
    atomic_write_text(p, text)
    return p


def request_director_rewrite(paths: EpisodePaths, shot_ids: list[str],
                             note: str = "") -> list[Path]:
    """Write the director's notes, one file per scene; the build re-directs those scenes."""
    by_scene: dict[int, list[str]] = {}
    for sid in shot_ids:
        check_shot_id(sid)
        by_scene.setdefault(int(sid[1:3]), []).append(sid)
    out = []
    for num, ids in sorted(by_scene.items()):
        out.append(write_director_notes(paths, num, escalation_note(paths, ids, note)))
    return out


def request_new_takes(paths: EpisodePaths, shot_ids: list[str]) -> None:
    """takes/<shot>.json for each rewritten shot, written only AFTER the rewrite is compiled
    into the storyboard (a take request is an input of the clip: written earlier, the build
    would start a take of the old spec while GATE 2 still looks open). The new take renders
    once the rewritten storyboard is approved, with its own retry budget."""
    for sid in shot_ids:
        request_take(paths, sid, "the director rewrote the shot after an escalation")
