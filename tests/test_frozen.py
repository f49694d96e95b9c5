"""Approved work is frozen against upstream changes (named, with the revise command), and a
revision keeps the versions it replaces in the episode's history."""

from __future__ import annotations

import os
import time

from spark_video.base.paths import EpisodePaths
from spark_video.gates import frozen
from spark_video.gates.revisions import Revision


def episode(tmp_path) -> EpisodePaths:
    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    (paths.root / "scenes").mkdir(parents=True)
    (paths.root / "approvals").mkdir()
    paths.project_paths.lore.write_text("---\ntitle: T\n---\nlore\n")
    mara = paths.project_paths.root / "cast" / "Mara"
    mara.mkdir(parents=True)
    (mara / "cast.md").write_text("---\nname: Mara\n---\n")
    return paths


def age(path, seconds=100) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_a_change_after_approval_is_named_with_the_revise_command(tmp_path):
    paths = episode(tmp_path)
    stamp = paths.approval("script")
    assert frozen.changes(paths) == [] and not frozen.is_frozen(paths, "script")
    stamp.write_text("{}")
    for p in (paths.project_paths.lore, paths.project_paths.root / "cast/Mara/cast.md"):
        age(p, 200)
    age(stamp)
    assert frozen.is_frozen(paths, "script") and frozen.changes(paths) == []
    # the build's own placeholder portrait is not a user's change
    (paths.project_paths.root / "cast/Mara/portrait.png").write_bytes(b"png")
    assert frozen.changes(paths) == []
    paths.project_paths.lore.write_text("---\ntitle: T2\n---\nlore\n")
    (lines,) = frozen.changes(paths)
    assert lines.startswith("lore.md changed after GATE 1 (script) was approved")
    assert "the approved script is kept" in lines
    assert "uv run spark-video revise script --scene N" in lines
    assert "--project demo --episode 001" in lines
    # the earliest approved gate is named (revising there flows on through the others)
    paths.approval("storyboard").write_text("{}")
    age(paths.approval("storyboard"), 50)
    assert len(frozen.changes(paths)) == 1 and "GATE 1" in frozen.changes(paths)[0]


def test_a_revision_keeps_what_it_replaces(tmp_path):
    paths = episode(tmp_path)
    Revision(kind="scene", text="nothing built yet", scene=2).apply(paths, cfg=None)
    assert not (paths.root / "history").exists()  # nothing to keep, nothing fails
    scene = paths.scene_md(2)
    scene.write_text("# Scene 2\nold text\n")
    paths.script.write_text("# script\nold\n")
    Revision(kind="scene", text="make it tenser", scene=2).apply(paths, cfg=None)
    (kept,) = (paths.root / "history").iterdir()
    assert kept.name.endswith("-scene-02")
    assert (kept / "scenes" / "scene-02.md").read_text() == "# Scene 2\nold text\n"
    assert (kept / "script.md").read_text() == "# script\nold\n"
    assert paths.notes("scene-02").exists()
