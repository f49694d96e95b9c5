"""A person's words are never overwritten: the record of what the build wrote
(spark_video/workflow/written.py), the keep pass run before the DAG, and the end to end with plain
`snakemake`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_video.base.paths import EpisodePaths
from spark_video.workflow import written

REPO = Path(__file__).resolve().parent.parent

SCENE = """## 场景 {n} — 客栈大堂（夜）

**人物**: 钱夫人、佟掌柜
**预估时长**: 20
**背景**: 钱夫人来讨说好的红包。
**剧情**: 钱夫人推门而入，把红包拍在柜台上。佟掌柜僵在算盘后，挤出笑脸。
**对白**:
- 钱夫人: "这是给你的。"
- 佟掌柜: "是我，夫人，是我。"
"""


def _episode(tmp_path: Path) -> EpisodePaths:
    ep = EpisodePaths.of("demo", "001", tmp_path / "projects")
    ep.scenes_dir.mkdir(parents=True)
    return ep


def test_who_wrote_tells_the_build_from_a_person(tmp_path):
    ep = _episode(tmp_path)
    f = ep.scene_md(1)
    assert written.who_wrote(ep, f) == "absent"
    f.write_text("hand-written\n", encoding="utf-8")
    assert written.who_wrote(ep, f) == "person"
    assert written.is_persons(ep, f)
    assert written.record(ep, [f]) == [f]
    assert written.who_wrote(ep, f) == "build" and not written.is_persons(ep, f)
    os.utime(f, ns=(1, 1))  # a new date alone: same content, still the build's
    assert written.who_wrote(ep, f) == "build"
    f.write_text("hand-edited\n", encoding="utf-8")
    assert written.who_wrote(ep, f) == "edited"
    assert not written.is_persons(ep, f)  # an edit may be regenerated (after history/)


def test_only_the_written_files_are_guarded(tmp_path):
    ep = _episode(tmp_path)
    clip = ep.root / "clips" / "S01-001.mp4"
    clip.parent.mkdir()
    clip.write_bytes(b"x")
    assert written.record(ep, [clip]) == []
    assert not written.is_guarded(ep, clip)
    assert written.is_guarded(ep, ep.scene_json(3)) and written.is_authored(ep, ep.scene_json(3))
    assert written.is_guarded(ep, ep.script) and not written.is_authored(ep, ep.script)
    ep.script.write_text("mine\n", encoding="utf-8")
    assert not written.is_persons(ep, ep.script)  # compiled: kept in history/, not an input
    with pytest.raises(ValueError, match="not in the episode folder"):
        written.record_path(ep, tmp_path / "elsewhere.md")


def test_the_pass_keeps_each_persons_version_once_and_the_job_names_it(tmp_path):
    ep = _episode(tmp_path)
    ep.script.write_text("built\n", encoding="utf-8")
    written.record(ep, [ep.script])
    assert written.keep_pass(ep) == []  # the build's own file: nothing to keep
    ep.script.write_text("my edit\n", encoding="utf-8")
    [line] = written.keep_pass(ep)
    assert line.startswith("script.md: your version (edited since the build wrote it)")
    [copy] = ep.root.glob("history/*-yours/script.md")
    assert copy.read_text(encoding="utf-8") == "my edit\n" and str(copy) in line
    assert written.keep_pass(ep) == []  # the same version is kept once
    # Snakemake deletes the output, then the job names what it replaces
    ep.script.unlink()
    [named] = written.replaced_lines(ep, [ep.script])
    assert named == f"script.md: the build replaces your version; it is kept in {copy}"
    ep.script.write_text("rebuilt\n", encoding="utf-8")
    written.record(ep, [ep.script])
    assert written.replaced_lines(ep, [ep.script]) == []
    ep.script.write_text("my second edit\n", encoding="utf-8")
    [line] = written.keep_pass(ep)
    assert len(list(ep.root.glob("history/*-yours/script.md"))) == 2


def test_a_hand_written_authored_file_is_not_copied_it_is_an_input(tmp_path):
    ep = _episode(tmp_path)
    ep.scene_md(1).write_text(SCENE.format(n=1), encoding="utf-8")
    ep.outline.write_text("{}", encoding="utf-8")  # a person's outline, even a bad one
    assert written.keep_pass(ep) == []
    assert not (ep.root / "history").exists()


def test_an_episode_built_before_the_record_is_adopted(tmp_path):
    ep = _episode(tmp_path)
    ep.scene_md(1).write_text("made by an older build\n", encoding="utf-8")
    written.keep_pass(ep, built=lambda f: f == ep.scene_md(1))
    assert written.who_wrote(ep, ep.scene_md(1)) == "build"


def test_snakemake_made_reads_its_metadata_store(tmp_path):
    import base64

    meta = tmp_path / ".snakemake" / "metadata"
    meta.mkdir(parents=True)
    key = "projects/demo/episode-001/outline.json"
    (meta / base64.urlsafe_b64encode(key.encode()).decode()).write_text("{}")
    made = written.snakemake_made(tmp_path)
    assert made(Path(key)) and not made(Path("projects/demo/episode-001/script.md"))


def test_hand_written_scenes_and_no_outline_derive_the_outline(tmp_path):
    from spark_video.base.io import load_model
    from spark_video.base.models import Outline

    ep = _episode(tmp_path)
    for n in (1, 2):
        ep.scene_md(n).write_text(SCENE.format(n=n), encoding="utf-8")
    before = {n: ep.scene_md(n).read_bytes() for n in (1, 2)}
    [line] = written.keep_pass(ep, "drama")
    assert "derived from your 2 scene file(s)" in line
    o = load_model(Outline, ep.outline)
    assert [s.num for s in o.scenes] == [1, 2] and o.scenes[0].characters == ["钱夫人", "佟掌柜"]
    assert ep.outline.stat().st_mtime_ns < ep.scene_md(1).stat().st_mtime_ns
    assert {n: ep.scene_md(n).read_bytes() for n in (1, 2)} == before
    assert written.is_persons(ep, ep.outline)  # derived from the person's: theirs too
    assert written.keep_pass(ep, "drama") == []  # once


def test_no_outline_is_derived_from_the_builds_scenes_or_an_unreadable_one(tmp_path):
    ep = _episode(tmp_path)
    ep.scene_md(1).write_text(SCENE.format(n=1), encoding="utf-8")
    written.record(ep, [ep.scene_md(1)])
    assert written.keep_pass(ep) == [] and not ep.outline.exists()
    ep.scene_md(2).write_text("not a scene\n", encoding="utf-8")
    assert written.keep_pass(ep) == [] and not ep.outline.exists()  # its check job names it


def _storyboard_job(ep: EpisodePaths, tmp_path: Path):
    """The storyboard checkpoint's job, as Snakemake runs it (jobs.run)."""
    from types import SimpleNamespace

    from spark_video.workflow import jobs

    log = tmp_path / "storyboard.log"
    smk = SimpleNamespace(config={"project": ep.project, "episode": ep.episode,
                                  "projects_dir": str(ep.root.parent.parent),
                                  "provider": "offline", "text_provider": "offline"},
                          log=[str(log)], input={}, output=[str(ep.storyboard)],
                          rule="compile_storyboard")
    return lambda: jobs.run(smk, "compile_storyboard"), log


def test_a_persons_edit_of_a_shot_spec_is_kept_before_the_storyboard_replaces_it(tmp_path):
    """shots/<id>.json is in the record: the storyboard job keeps a person's edit of one in
    history/<time>-yours/ and names it before it writes the compiled spec again; the build's
    own unchanged specs are not copied; a spec from before the record is the build's."""
    import json

    from test_core import shot, write_fragment

    from spark_video.base.project import write_manifest

    ep = EpisodePaths.of("demo", "001", tmp_path / "projects")
    ep.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(ep, kind)
    write_fragment(ep, 1, [shot("S01-001"), shot("S01-002")])
    run, log = _storyboard_job(ep, tmp_path)
    run()
    a, b = ep.shot_spec("S01-001"), ep.shot_spec("S01-002")
    assert written.who_wrote(ep, a) == "build" and written.who_wrote(ep, b) == "build"
    mine = json.loads(a.read_text(encoding="utf-8"))
    mine["shot"]["prompt"] = "my own prompt for the first shot"
    a.write_text(json.dumps(mine), encoding="utf-8")
    assert written.who_wrote(ep, a) == "edited"
    edited = a.read_bytes()
    write_fragment(ep, 1, [shot("S01-001", duration=5), shot("S01-002")])  # a.json changes
    run()
    [copy] = ep.root.glob("history/*-yours/shots/S01-001.json")
    assert copy.read_bytes() == edited  # the person's edit, byte for byte
    assert not list(ep.root.glob("history/*-yours/shots/S01-002.json"))  # unchanged: kept
    text = log.read_text(encoding="utf-8")
    assert f"shots/S01-001.json: your version (edited since the build wrote it) is kept in " \
        f"{copy}" in text
    assert "my own prompt" not in a.read_text(encoding="utf-8")
    assert written.who_wrote(ep, a) == "build"  # the compiled spec is recorded again
    # a spec from before the record existed, dated with its compile: the build's, not copied
    written.record_path(ep, b).unlink()
    write_fragment(ep, 1, [shot("S01-001", duration=5), shot("S01-002", duration=6)])
    run()
    assert not list(ep.root.glob("history/*-yours/shots/S01-002.json"))
    # ... but one with no record edited after the last compile is a person's
    written.record_path(ep, b).unlink()
    later = ep.storyboard.stat().st_mtime_ns + 60_000_000_000
    b.write_text(b.read_text(encoding="utf-8").replace("prompt of", "my prompt of"),
                 encoding="utf-8")
    os.utime(b, ns=(later, later))
    write_fragment(ep, 1, [shot("S01-001", duration=5), shot("S01-002", duration=7)])
    run()
    [copy_b] = ep.root.glob("history/*-yours/shots/S01-002.json")
    assert "my prompt of" in copy_b.read_text(encoding="utf-8")
    assert "(the build never wrote it)" in log.read_text(encoding="utf-8")


def test_a_portrait_a_person_put_in_place_of_the_placeholder_is_theirs(tmp_path):
    """portrait.png, the placeholder the portrait rule makes, is in the project's record: once
    a person replaced it, the rule's inputs are ancient (a card edited later does not make it
    again), and their image is kept in history/<time>-yours/project/... once."""
    from spark_video.base.settings import resolve
    from spark_video.workflow import Workflow

    class Ancient(str):
        pass

    ep = EpisodePaths.of("demo", "001", tmp_path / "projects")
    ep.scaffold()
    ann = ep.project_paths.cast_dir / "Ann"
    ann.mkdir(parents=True)
    card = ann / "cast.md"
    card.write_text("---\nname: Ann\n---\n", encoding="utf-8")
    portrait = ann / "portrait.png"
    portrait.write_bytes(b"placeholder made by the build")
    assert written.is_guarded(ep, portrait) and written.is_authored(ep, portrait)
    assert written.record(ep, [portrait]) == [portrait]  # what the job entry does after it
    assert written.record_path(ep, portrait) == \
        ep.project_paths.root / ".written/cast/Ann/portrait.png.json"
    wf = Workflow(ep, resolve({}, environ={}, config_file=None), None, ancient=Ancient)
    assert not any(isinstance(p, Ancient) for p in wf.kept(portrait, [str(card)]))
    assert written.keep_pass(ep) == []
    portrait.write_bytes(b"the person's own photo")
    assert written.who_wrote(ep, portrait) == "edited" and written.is_persons(ep, portrait)
    assert all(isinstance(p, Ancient) for p in wf.kept(portrait, [str(card)]))
    [line] = written.keep_pass(ep)
    [copy] = ep.root.glob("history/*-yours/project/cast/Ann/portrait.png")
    assert copy.read_bytes() == b"the person's own photo"
    assert line.startswith("demo/cast/Ann/portrait.png: your version (edited since the build "
                           "wrote it)") and str(copy) in line
    assert written.keep_pass(ep) == []  # once per content
    # an episode-tier portrait the build never wrote: an input from the start, not copied
    bob = ep.root / "cast" / "Bob"
    bob.mkdir(parents=True)
    (bob / "portrait.png").write_bytes(b"drawn by a person")
    assert written.is_persons(ep, bob / "portrait.png")
    assert written.keep_pass(ep) == []
    # one the build made before the record existed (Snakemake's metadata says so) is adopted
    (bob / "portrait.png").unlink()
    carl = ep.project_paths.root / "movie-set" / "Pier"
    carl.mkdir(parents=True)
    (carl / "portrait.png").write_bytes(b"old placeholder")
    written.keep_pass(ep, built=lambda f: f == carl / "portrait.png")
    assert written.who_wrote(ep, carl / "portrait.png") == "build"
    assert not written.is_guarded(ep, ann / "other.png")  # a person's own image: just theirs


@pytest.mark.slow
def test_plain_snakemake_keeps_hand_written_scenes_and_an_edit_in_history():
    """From the repo root with relative paths: hand-written scenes and no outline, then a
    premise: `snakemake final` writes no outline or scene by a model, uses the scenes as
    written (byte-identical), and an edited build-written script.md goes to history/ before
    the build replaces it, named on the console."""
    import shutil
    import uuid

    name = f"kept-{uuid.uuid4().hex[:8]}"
    projects = REPO / "projects"
    ep = EpisodePaths.of(name, "001", Path("projects"))
    env = {**os.environ, "SPARK_VIDEO_PROVIDER": "offline", "VIDEOGEN_PROJECTS_DIR": "projects"}
    smk = [sys.executable, "-m", "snakemake", "-j2", "final", "--config", f"project={name}",
           "episode=001", "projects_dir=projects"]
    try:
        subprocess.run([sys.executable, "-m", "spark_video.cli", "new", name], cwd=REPO,
                       env=env, check=True, capture_output=True)
        (REPO / ep.scenes_dir).mkdir(parents=True, exist_ok=True)
        for n in (1, 2):
            (REPO / ep.scene_md(n)).write_text(SCENE.format(n=n), encoding="utf-8")
        scenes = {n: (REPO / ep.scene_md(n)).read_bytes() for n in (1, 2)}
        (REPO / ep.premise).write_text("A widow comes to the inn.\n", encoding="utf-8")
        first = subprocess.run(smk, cwd=REPO, env=env, capture_output=True, text=True,
                               timeout=600)
        log = first.stdout + first.stderr
        assert "rule outline:" not in log and "rule scene_md:" not in log, log[-3000:]
        assert "derived from your 2 scene file(s)" in log
        assert {n: (REPO / ep.scene_md(n)).read_bytes() for n in (1, 2)} == scenes
        script = (REPO / ep.script).read_text(encoding="utf-8")
        assert "这是给你的。" in script  # compiled from their words
        # a person edits the build's script.md, then a scene: the script is compiled again
        (REPO / ep.script).write_text(script + "\nMy note.\n", encoding="utf-8")
        (REPO / ep.scene_md(2)).write_text(SCENE.format(n=2) + "\n", encoding="utf-8")
        second = subprocess.run(smk, cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=600)
        log = second.stdout + second.stderr
        assert "rule script_md:" in log and "rule scene_md:" not in log, log[-3000:]
        [copy] = (REPO / ep.root).glob("history/*-yours/script.md")
        assert copy.read_text(encoding="utf-8") == script + "\nMy note.\n"
        assert "script.md: your version (edited since the build wrote it) is kept in" in log
        assert "script.md: the build replaces your version" in log
        assert "My note." not in (REPO / ep.script).read_text(encoding="utf-8")
    finally:
        shutil.rmtree(projects / name, ignore_errors=True)
