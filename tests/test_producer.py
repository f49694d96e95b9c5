"""The producer's pieces without a build: routing a note, the prompt's words, the offline roles
using notes, finding the projects folder, refusing mistakes before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from spark_video import autopilot, cli
from spark_video.io import atomic_write_json
from spark_video.models import Outline, OutlineScene
from spark_video.paths import EpisodePaths
from spark_video.providers.offline_text import OfflineText
from spark_video.revisions import Revision, RevisionError, add_note, route


@pytest.fixture
def ep(tmp_path: Path) -> EpisodePaths:
    paths = EpisodePaths.of("demo", "041", root=tmp_path / "projects")
    paths.scaffold()
    scenes = [OutlineScene(num=i, id=f"S{i:02d}", title=f"T{i}") for i in (1, 2, 3)]
    atomic_write_json(paths.outline, Outline(project="demo", episode="041", title="x",
                                             premise="p", scenes=scenes))
    shots = [{"id": f"S0{i}-00{j}", "scene": f"S0{i}", "prompt": "p"} for i in (1, 2, 3)
             for j in (1, 2)]
    paths.storyboard.write_text(json.dumps({"title": "x", "shots": shots}))
    return paths


def test_scope_comes_from_the_words_and_the_gate(ep):
    r = route(ep, "script", "make scene 2 tenser")
    assert (r.kind, r.scene, r.target) == ("scene", 2, "scene-02")
    r = route(ep, "storyboard", "scene 3 needs a wider opening")
    assert (r.kind, r.target) == ("shots", "shots-03")
    r = route(ep, "storyboard", "scene 3: rewrite the dialog lines")
    assert r.kind == "scene"  # words about the script go to the screenwriter
    r = route(ep, "storyboard", "S02-001 should be a close-up")
    assert (r.kind, r.shot, r.target) == ("shots", "S02-001", "shots-02")
    r = route(ep, "render", "s02-002 is too dark")
    assert (r.kind, r.shot, r.target) == ("take", "S02-002", "take-S02-002")
    assert route(ep, "final", "the music is too loud").kind == "music"
    assert route(ep, "script", "more tension", scope="2").scene == 2
    with pytest.raises(RevisionError, match="which scene or shot"):
        route(ep, "script", "more tension")
    with pytest.raises(RevisionError, match="no scene 7"):
        route(ep, "script", "scene 7 is slow")
    with pytest.raises(RevisionError, match="S09-001 is not a shot"):
        route(ep, "render", "S09-001 again")


def test_notes_keep_their_history(ep):
    add_note(ep, Revision("scene", "first", "script", scene=2))
    add_note(ep, Revision("scene", "second", "script", scene=2))
    data = json.loads(ep.notes("scene-02").read_text())
    assert [n["text"] for n in data["notes"]] == ["first", "second"]
    assert data["role"] == "screenwriter"


def test_the_prompt_words(ep):
    answers = iter(["", "OK", "later", "tighten it", "n", "tighten it", "y"])
    s = autopilot.Session(cfg=None, paths=ep, interactive=True,  # type: ignore[arg-type]
                          ask=lambda q: next(answers))
    assert autopilot.prompt(s, "script") == ("approve", "OK")
    assert autopilot.prompt(s, "script") == ("quit", "later")
    assert autopilot.prompt(s, "script") == ("change", "tighten it")  # after one "n"


def test_offline_writer_and_director_use_the_note():
    w = OfflineText()
    scene = {"num": 2, "title": "T", "location": "pier", "time_of_day": "dusk",
             "summary": "They argue.", "characters": ["Mara", "Theo"],
             "target_duration_s": 15}
    d = {"title": "x", "mode": "drama", "scene": scene, "last": False, "cast": ["Mara", "Theo"],
         "premise": "p", "mood_anchor": "teal"}
    note = "Producer's note: scene 2: Theo threatens to leave"
    plain = w._screenwriter(d)
    noted = w._screenwriter({**d, "notes": note})
    assert "Theo threatens to leave" in noted and "Theo threatens" not in plain
    assert w._screenwriter({**d, "notes": note}) == noted  # deterministic
    from spark_video.scenefmt import parse_scene_md

    script = parse_scene_md(plain, "scene-02.md").model_dump()
    dd = {"scene_id": "S02", "script": script, "mood_anchor": "teal", "mode": "drama"}
    base = json.loads(w._director(dd))["shots"]
    one = json.loads(w._director({**dd, "notes": "Producer's note on S02-002: closer on the "
                                                  "hands"}))["shots"]
    assert "Closer on the hands" in one[1]["prompt"] and one[1]["prompt"].endswith("teal")
    assert one[0]["prompt"] == base[0]["prompt"]  # the other shots are untouched


def test_notes_reach_the_roles_as_text(ep):
    from spark_video.notes import notes_text

    add_note(ep, Revision("shots", "wider", "storyboard", scene=2))
    add_note(ep, Revision("shots", "closer", "storyboard", scene=2, shot="S02-001"))
    assert notes_text(ep, "shots-02") == ("Producer's note: wider\n"
                                          "Producer's note on S02-001: closer")
    assert notes_text(ep, "scene-01") == ""


def test_projects_dir_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "projects").mkdir()
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert cli.find_projects_dir("projects", sub) == (tmp_path / "projects").resolve()
    assert cli.find_projects_dir(str(tmp_path / "x"), sub) == tmp_path / "x"
    lone = Path("/") / "proc" / "self"
    with pytest.raises(cli.UsageError, match="no projects/ folder found"):
        cli.find_projects_dir("projects", lone)


def test_mistakes_are_refused_before_anything_is_written(tmp_path, monkeypatch, capsys):
    root = tmp_path / "projects"
    (root / "demo").mkdir(parents=True)
    monkeypatch.setenv("VIDEOGEN_PROJECTS_DIR", str(root))
    assert cli.main(["episode", "demo", "a/b"]) == 2  # (abc is a valid episode name)
    assert "episode 'a/b' is not valid" in capsys.readouterr().err
    assert cli.main(["episode", "demoo", "030", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'demo'" in err and "spark-video new demoo" in err
    assert not (root / "demoo").exists()
    assert cli.main(["episode", "demo", "031", "--yes"]) == 1  # no premise anywhere
    assert "no premise" in capsys.readouterr().err
    assert cli.main(["approve", "script", "-p", "demo", "-e", "009"]) == 2
    assert "no episode folder" in capsys.readouterr().err
    assert sorted(p.name for p in (root / "demo").iterdir()) == []


def test_plain_snakemake_from_elsewhere_names_the_missing_project(tmp_path, user_env):
    """`snakemake -s REPO/Snakefile` from another folder resolves projects_dir there: a
    project that is not in it stops the run with one line (where it looked, how to fix),
    before any job runs and without writing an episode folder."""
    r = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                        "-n", "final", "--config", "project=demo", "episode=003"],
                       cwd=tmp_path, env=user_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert f"no project 'demo' in {tmp_path.resolve() / 'projects'}" in r.stderr, r.stderr
    assert "--directory REPO" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "projects").exists()


def test_a_second_build_names_the_process_that_holds_the_episode(tmp_path):
    paths = EpisodePaths.of("demo", "001", root=tmp_path)
    paths.root.mkdir(parents=True)
    with cli.episode_lock(paths):
        with pytest.raises(cli.UsageError, match=r"is being built by process \d+"):
            with cli.episode_lock(paths):
                pass
    with cli.episode_lock(paths):  # released
        pass


def test_the_logger_plugin_is_found_by_snakemake():
    from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry

    assert "spark-video" in LoggerPluginRegistry().get_registered_plugins()


def test_the_viewer_shows_notes_and_waiting_gates(ep):
    from spark_video.viewer import render_viewer

    add_note(ep, Revision("scene", "make it <tenser>", "script", scene=2))
    page = render_viewer(ep, gate_status=[{"gate": "script", "label": "GATE 1", "open": False,
                                           "problems": ["not approved yet"]}])
    assert "scene-02" in page and "make it &lt;tenser&gt;" in page  # escaped
    assert ">waiting<" in page and ">closed<" not in page
