"""The producer's pieces without a build: routing a note, the prompt's words, the offline roles
using notes, finding the projects folder, refusing mistakes before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from spark_video import cli
from spark_video.base.io import atomic_write_json
from spark_video.base.models import Outline, OutlineScene
from spark_video.base.paths import EpisodePaths
from spark_video.cli import autopilot
from spark_video.cli.common import UsageError, find_projects_dir
from spark_video.gates.revisions import Revision, RevisionError, add_note, route
from spark_video.providers.offline_text import OfflineText
from spark_video.workflow.lock import EpisodeBusy, episode_lock


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
    with pytest.raises(RevisionError, match="no music to change"):
        route(ep, "final", "the music is too loud")  # no bgm/ tracks in this project
    ep.bgm_config.write_text('{"enabled": true, "mode": "global", "track": "a"}')
    assert route(ep, "final", "the music is too loud").kind == "music"
    ep.bgm_config.unlink()
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
    from spark_video.base.scenefmt import parse_scene_md

    script = parse_scene_md(plain, "scene-02.md").model_dump()
    dd = {"scene_id": "S02", "script": script, "mood_anchor": "teal", "mode": "drama"}
    base = json.loads(w._director(dd))["shots"]
    one = json.loads(w._director({**dd, "notes": "Producer's note on S02-002: closer on the "
                                                  "hands"}))["shots"]
    assert "Closer on the hands" in one[1]["prompt"] and one[1]["prompt"].endswith("teal")
    assert one[0]["prompt"] == base[0]["prompt"]  # the other shots are untouched


def test_notes_reach_the_roles_as_text(ep):
    from spark_video.gates.notes import notes_text

    add_note(ep, Revision("shots", "wider", "storyboard", scene=2))
    add_note(ep, Revision("shots", "closer", "storyboard", scene=2, shot="S02-001"))
    assert notes_text(ep, "shots-02") == ("Producer's note: wider\n"
                                          "Producer's note on S02-001: closer")
    assert notes_text(ep, "scene-01") == ""


def test_projects_dir_is_found_from_a_subfolder(tmp_path):
    (tmp_path / "projects").mkdir()
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_projects_dir("projects", sub) == (tmp_path / "projects").resolve()
    assert find_projects_dir(str(tmp_path / "x"), sub) == tmp_path / "x"
    lone = Path("/") / "proc" / "self"
    with pytest.raises(UsageError, match="no projects/ folder found"):
        find_projects_dir("projects", lone)


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
    with episode_lock(paths):
        with pytest.raises(EpisodeBusy, match=r"is being built by process \d+"):
            with episode_lock(paths):
                pass
    with episode_lock(paths):  # released
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


# --------------------------------------------------------------------------- the loop never dies


def _cfg():
    from spark_video.base.settings import resolve
    return resolve({"project": "demo", "episode": "041"}, environ={})


def _narrated(ep):
    shots = [{"id": "S01-001", "scene": "S01", "prompt": "p", "role": "narration",
              "narration_text": "Once, the tide came in."},
             {"id": "S01-002", "scene": "S01", "prompt": "p"}]
    ep.storyboard.write_text(json.dumps({"title": "x", "mode": "narration", "shots": shots}))


def test_gate4_notes_about_narration_and_subtitles_are_routed(ep):
    with pytest.raises(RevisionError, match="no narration shots"):
        route(ep, "final", "the narration is too fast, slow it down")
    assert route(ep, "final", "burn the subtitles in").kind == "subtitles"
    with pytest.raises(RevisionError, match="no music to change"):
        route(ep, "final", "the music is too loud")
    assert route(ep, "script", "the narration is slow", scope="2").kind == "scene"
    with pytest.raises(RevisionError, match="no music to change"):
        route(ep, "final", "too fast", scope="music")  # the crash of issue 18
    cfg = _cfg()
    # drama: no narration shot, so nothing is written and the gate says so
    with pytest.raises(RevisionError, match="no narration shots"):
        Revision("narration", "slower", "final").apply(ep, cfg)
    assert not ep.narration_settings.exists() and not ep.notes("narration").exists()


def test_narration_settings_follow_the_notes(ep):
    from spark_video.base.models import NarrationSettings, StitchRequest
    from spark_video.media.sound import load_narration_settings, with_narration_settings
    from spark_video.storyboard import load_storyboard
    _narrated(ep)
    cfg = _cfg()
    assert route(ep, "final", "the narration is too fast, slow it down").kind == "narration"
    assert route(ep, "final", "the voice is too quiet").kind == "narration"
    Revision("narration", "the narration is too fast, slow it down", "final").apply(ep, cfg)
    ns = load_narration_settings(ep)
    assert ns.speech_rate == round(cfg.narrator_speech_rate * 0.8, 2) and ns.volume_db == 0
    Revision("narration", "narration too quiet, and another voice", "final").apply(ep, cfg)
    ns = NarrationSettings.model_validate_json(ep.narration_settings.read_text())
    assert ns.volume_db == 3.0 and ns.voice and ns.voice != cfg.narrator_voice
    Revision("narration", "the narration is too slow", "final").apply(ep, cfg)
    assert load_narration_settings(ep).speech_rate == cfg.narrator_speech_rate
    # the narration job speaks with them: rate in the config, voice on every shot
    c2, sb2 = with_narration_settings(ep, cfg, load_storyboard(ep))
    assert c2.narrator_speech_rate == cfg.narrator_speech_rate and sb2.narrator_voice == ns.voice
    # kept with history and notes, like every revision
    assert len(json.loads(ep.notes("narration").read_text())["notes"]) == 3
    assert len(list((ep.root / "history").glob("*-narration"))) == 2
    with pytest.raises(RevisionError, match="what should change in the narration"):
        Revision("narration", "the narration, hmm", "final").apply(ep, cfg)
    # a louder limit: refused, nothing written
    for _ in range(3):
        Revision("narration", "narration louder", "final").apply(ep, cfg)
    with pytest.raises(RevisionError, match="already at its limit"):
        Revision("narration", "narration louder", "final").apply(ep, cfg)
    # subtitles: burned in, then out; asking again for the same says so
    Revision("subtitles", "burn the subtitles in", "final").apply(ep, cfg)
    assert StitchRequest.model_validate_json(ep.stitch_request.read_text()).burn_subtitles
    with pytest.raises(RevisionError, match="already burned in"):
        Revision("subtitles", "burn the subtitles in", "final").apply(ep, cfg)
    Revision("subtitles", "no subtitles in the picture", "final").apply(ep, cfg)
    assert not StitchRequest.model_validate_json(ep.stitch_request.read_text()).burn_subtitles


def test_every_error_at_a_gate_is_one_line_and_the_gate_asks_again(ep, monkeypatch):
    from spark_video import gates
    cfg = _cfg()
    answers = iter([
        "the narration is too fast, slow it down", "y",  # no narration: said, asked again
        "too fast", "y", "music",                         # no music: said, asked again
        "S09-001 again", "y",                             # unknown shot
        "scene 42 is slow", "y",                          # unknown scene
        "scene 2 is slow", "y", "n",                      # not confirmed: no change
        "x" * 5000,                                       # too long
        "y",                                              # approval refused by the gate
        "q"])
    out: list[str] = []
    s = autopilot.Session(cfg=cfg, paths=ep, interactive=True, ask=lambda q: next(answers),
                          out=out.append)
    monkeypatch.setattr(gates, "check", lambda *a, **k: gates.GateReport("final", []))
    monkeypatch.setattr(gates, "summary", lambda *a, **k: ["GATE 4 (final)"])

    def refuse(*a, **k):
        raise gates.GateError("cannot approve GATE 4 (final): missing final/x.mp4")
    monkeypatch.setattr(gates, "approve", refuse)
    assert autopilot.at_gate(s, "final") == autopilot.EXIT_WAITING
    text = "\n".join(out)
    for said in ("no narration shots", "no music to change", "S09-001 is not a shot",
                 "there is no scene 42", "no change made", "a note is at most 2000",
                 "cannot approve GATE 4"):
        assert said in text, text
    assert all("\n" not in line for line in out)
    assert not ep.notes_dir.exists() or not list(ep.notes_dir.iterdir())


# --------------------------------------------------------------------------- the truth about a stop


def test_a_failed_job_is_a_failure_never_a_waiting_gate(ep, monkeypatch):
    from spark_video import gates
    from spark_video.workflow.build import BuildResult, FailedJob
    cfg = _cfg()
    monkeypatch.setattr(gates, "check", lambda *a, **k: gates.GateReport("script", []))
    at_gate = BuildResult(1, None, [FailedJob("gate_closed", {"gate": "script"}, [])])
    assert not autopilot.stopped_by_failure(ep, cfg, at_gate, "script")
    # the outline failed; the old scenes still pass GATE 1's checks: still a failure
    outline = BuildResult(1, None, [FailedJob("outline", {}, ["logs/jobs/outline.log"]),
                                    FailedJob("gate_closed", {"gate": "script"}, [])])
    assert autopilot.stopped_by_failure(ep, cfg, outline, "script")
    assert autopilot.stopped_by_failure(ep, cfg, BuildResult(1, None, [], errors=["x"]), "script")
    assert not autopilot.stopped_by_failure(ep, cfg, BuildResult(0, None), "script")


def test_a_missing_input_names_the_file_and_what_makes_it(ep, capsys):
    from spark_video.workflow.build import BuildResult
    spec = ep.root / "shots" / "S01-002.json"
    msg = ("MissingInputException in rule render_clip in file rules/render.smk, line 3:\n"
           "Missing input files for rule render_clip:\n    output: x.mp4\n"
           "    wildcards: shot=S01-002\n    affected files:\n"
           f"        {spec}\n")
    assert autopilot.missing_inputs(msg) == [spec]
    autopilot.failure_report_for(ep, BuildResult(1, None, [], errors=[msg]),
                                 resume="spark-video episode demo 041")
    err = capsys.readouterr().err
    assert "no failed job" not in err and "a file it needs is missing" in err
    assert f"missing {spec}" in err and "spark-video storyboard compile -p demo -e 041" in err
    kept = ep.root / "history" / "20260101T000000.000000Z-scene-02" / "scenes" / "scene-02.md"
    kept.parent.mkdir(parents=True)
    kept.write_text("# Scene 2\n")
    assert str(kept) in autopilot.remedy(ep, ep.scene_md(2))


# ------------------------------------------------------------------- viewer.html in the browser


@pytest.mark.parametrize(("kw", "opens"), [
    ({"environ": {"DISPLAY": ":0"}}, True),
    ({"environ": {"WAYLAND_DISPLAY": "wayland-0"}}, True),
    ({"environ": {}, "platform": "darwin"}, True),
    ({"environ": {}, "platform": "win32"}, True),
    ({"environ": {}}, False),                                     # a Linux console, no desktop
    ({"environ": {"DISPLAY": ":0"}, "stdout_tty": False}, False),  # no terminal
    ({"environ": {"DISPLAY": ":0"}, "no_open": True}, False),      # --no-open
    ({"environ": {"DISPLAY": ":0", "SPARK_VIDEO_NO_OPEN": "1"}}, False),
    ({"environ": {"DISPLAY": ":0", "CI": "true"}}, False),
    ({"environ": {"CI": "1"}, "platform": "darwin"}, False),
    ({"environ": {"DISPLAY": ":0", "CI": "false"}}, True),
])
def test_when_the_viewer_opens(kw, opens):
    args = {"no_open": False, "stdout_tty": True, "platform": "linux", **kw}
    assert autopilot.should_open_viewer(**args) is opens


def test_ci_never_opens_the_browser(ep, monkeypatch):
    import webbrowser

    from spark_video import gates
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, **k: opened.append(url))
    monkeypatch.setattr(gates, "check", lambda *a, **k: gates.GateReport("script", []))
    monkeypatch.setattr(gates, "summary", lambda *a, **k: ["GATE 1 (script)"])
    for env, want in (({"CI": "true", "DISPLAY": ":0"}, 0), ({"DISPLAY": ":0"}, 1)):
        s = autopilot.Session(cfg=_cfg(), paths=ep, interactive=True, ask=lambda q: "q",
                              out=lambda line: None, open_viewer=autopilot.should_open_viewer(
                                  no_open=False, stdout_tty=True, environ=env,
                                  platform="linux"))
        opened.clear()
        assert autopilot.at_gate(s, "script") == autopilot.EXIT_WAITING
        assert len(opened) == want and all(u.endswith("viewer.html") for u in opened)
