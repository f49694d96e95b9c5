"""Bringing the original spark-video's users along: their names, scene forms and projects."""

from __future__ import annotations

import json

import pytest
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture

from spark_video.base.io import InputError
from spark_video.base.paths import EpisodePaths, PathError, check_project_id, normalize_episode
from spark_video.base.scenefmt import parse_scene_md


def test_project_names_in_any_script_but_safe(tmp_path):
    for name in ("七侠镇", "Ma·Lin", "Harbour 2", "demo"):
        assert check_project_id(name) == name
    for bad in ("../x", "a/b", " x", "x ", ".x", "_x", "a\\b", "a:b", "", "x" * 65):
        with pytest.raises(PathError):
            check_project_id(bad)


def test_episode_ids_beyond_three_digits(tmp_path):
    assert normalize_episode("1") == "001"
    assert normalize_episode("pilot") == "pilot"
    assert normalize_episode("episode-s01e03") == "s01e03"
    for bad in ("../7", "1a", "s01/e03", "-x", ""):
        with pytest.raises(PathError):
            normalize_episode(bad)
    (tmp_path / "p" / "episode-1").mkdir(parents=True)
    assert EpisodePaths.of("p", "1", tmp_path).root.name == "episode-1"
    assert EpisodePaths.of("p", "2", tmp_path).root.name == "episode-002"
    (tmp_path / "p" / "episode-001").mkdir()
    assert EpisodePaths.of("p", "1", tmp_path).root.name == "episode-001"


ZH = """## 场景 1 — 七侠镇客栈大堂（夜）

**人物**: 钱夫人、佟掌柜
**预估时长**: 20秒
**背景**: 钱夫人来讨红包。
**剧情**: 钱夫人推门而入，把红包拍在柜台上。佟掌柜赔笑。
**对白**:
- 钱夫人: "这红包，是谁包的？"
"""

EN_ORIGINAL = """## Scene 2 — Inn yard (dawn)

**Type**: narration
**Characters**: 钱夫人
**Estimated duration**: 8
**Backstory**: after the quarrel.
**Beats**:
1. Narration: "钱夫人走了。"
   Visual: the yard empties. Suggested duration: 4s
"""


def test_original_scene_forms_are_read():
    zh = parse_scene_md(ZH, "scene-01.md")
    assert (zh.num, zh.location, zh.time_of_day, zh.estimated_duration) == (1, "七侠镇客栈大堂",
                                                                              "夜", 20)
    assert zh.characters == ["钱夫人", "佟掌柜"] and zh.dialog[0].speaker == "钱夫人"
    en = parse_scene_md(EN_ORIGINAL, "scene-02.md")
    assert en.mode == "narration" and en.beats[0].narration == "钱夫人走了。"
    assert en.beats[0].duration == 4


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_import_converts_an_original_project_and_changes_nothing_in_it(tmp_path):
    from original_project import _audio, make_original

    from spark_video.base.models import ShotState
    from spark_video.cli.importer import import_project
    from spark_video.gates import is_open, load_stamp
    from spark_video.providers.budget import spend_so_far

    src = make_original(tmp_path / "orig")
    _audio(src / "cast/佟掌柜/long-take.wav", 12)  # longer than wan2.7-r2v's 1-10 s
    before = _snapshot(src)
    res = import_project(src, tmp_path / "projects", log=lambda m: None)
    assert _snapshot(src) == before  # the source is only read
    [r] = res
    ep = EpisodePaths.of("tongfu", "001", tmp_path / "projects")
    for n in (1, 2, 3):  # the scene markdown kept byte for byte
        assert ep.scene_md(n).read_bytes() == (src / f"episode-001/scenes/scene-{n:02d}.md"
                                                ).read_bytes()
    frag = json.loads(ep.scene_json(1).read_text(encoding="utf-8"))
    s1, s2 = frag["shots"][0], frag["shots"][1]
    assert s1["kind"] == "r2v" and "model" not in s1 and s1["extra"]["model"] == "wan2.7-r2v"
    assert s2["duration"] == 15 and s2["extra"] == {"camera_notes": "dolly"}
    assert frag["scene"]["extra"] == {"mood_note": "tense"}
    st = ShotState.model_validate_json(ep.shot_state("S01-001").read_text())
    assert st.winner_version == 1 and st.attempts[0].task_id == "task-paid-1"
    assert st.attempts[0].review.verdict == "ACCEPT"
    failed = ShotState.model_validate_json(ep.shot_state("S01-002").read_text())
    assert failed.winner_version is None and failed.attempts[0].status == "FAILED"
    assert r["mode"] == "narration" and load_stamp(ep, "mode").data["mode"] == "narration"
    assert load_stamp(ep, "mode").note == "imported"
    # the gates the original had passed: script.md, the music choice, storyboard.json
    assert r["gates"] == ["mode", "bgm", "script", "storyboard"]
    for gate in ("bgm", "script", "storyboard"):
        assert load_stamp(ep, gate).note == "imported"
        assert is_open(ep, gate), gate
    assert not (ep.approvals_dir / "render.json").exists()  # a shot failed: GATE 3 asks
    assert ep.estimate.exists()  # what GATE 2 is shown with
    assert spend_so_far(ep) == pytest.approx(6 * 0.9)  # happyhorse r2v 720P, 6 s
    report = (ep.root / "import-report.md").read_text(encoding="utf-8")
    assert "camera_notes" in report and "mood_note" in report and "scenes/scene-01.json" in report
    assert (ep.project_paths.root / "cast/钱夫人/voice.mp3").exists()
    # the voice samples: kept; the one wan2.7-r2v takes is its reference voice, and the one
    # it would refuse is listed under "Could not be carried" with the limit
    assert "voice.mp3 is sent as the reference voice" in report and "not yet sent" not in report
    carried, lost = report.split("## Could not be carried")
    assert "long-take.wav" in lost and "1-10 s" in lost and "long-take.wav" not in carried
    assert (ep.project_paths.root / "cast/佟掌柜/long-take.wav").exists()
    assert (ep.project_paths.root / "cast/钱夫人/portrait2.png").exists()
    with pytest.raises(InputError):  # a second import never writes over the first
        import_project(src, tmp_path / "projects", log=lambda m: None)


def test_a_shot_still_saying_model_gets_a_hint():
    from pydantic import ValidationError

    from spark_video.base.models import Shot

    with pytest.raises(ValidationError, match="now `kind`"):
        Shot.model_validate({"id": "S01-001", "scene": "S01", "prompt": "x",
                             "model": "wan2.7-r2v"})


@pytest.mark.slow
@pytest.mark.parametrize("zh,name", [(False, "tongfu"), (True, "七侠镇")])
def test_import_then_episode_renders_only_shots_without_an_accepted_take(tmp_path, zh, name):
    """import + `episode --yes` offline: the accepted take is kept (not rendered, not paid),
    the failed shot and the never-rendered ones are rendered, every scene file is unchanged."""
    import os
    import subprocess
    import sys

    from original_project import make_original

    from spark_video.base.models import ShotState

    src = make_original(tmp_path / "orig", name, zh=zh)
    projects = tmp_path / "projects"
    env = {**os.environ, "VIDEOGEN_PROJECTS_DIR": str(projects), "SPARK_VIDEO_PROVIDER": "offline"}
    run = [sys.executable, "-m", "spark_video.cli"]
    subprocess.run([*run, "import", str(src)], check=True, env=env, capture_output=True)
    ep = EpisodePaths.of(name, "001", projects)
    scenes = _snapshot(ep.scenes_dir)
    outline = ep.outline.read_bytes()
    # the original's natural next step: compiling the storyboard never touches the scenes
    proc = subprocess.run([*run, "storyboard", "compile", "-p", name, "-e", "001"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _snapshot(ep.scenes_dir) == scenes and ep.outline.read_bytes() == outline
    proc = subprocess.run([*run, "episode", name, "001", "--yes"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _snapshot(ep.scenes_dir) == scenes
    states = {s: ShotState.model_validate_json(ep.shot_state(s).read_text())
              for s in ("S01-001", "S01-002", "S01-003", "S02-001", "S02-002", "S03-001",
                        "S03-002")}
    kept = [s for s, st in states.items() if all(a.provider != "offline" for a in st.attempts)]
    rendered = [s for s, st in states.items() if any(a.provider == "offline"
                                                     for a in st.attempts)]
    assert kept == ["S01-001"] and len(rendered) == 6
    assert states["S01-001"].winner_version == 1 and len(states["S01-001"].attempts) == 1
    assert ep.final_mp4.exists()


def test_the_viewer_shows_the_import_report(tmp_path):
    from original_project import make_original

    from spark_video.cli.importer import import_project
    from spark_video.viewer import render_viewer

    import_project(make_original(tmp_path / "orig"), tmp_path / "projects", log=lambda m: None)
    html = render_viewer(EpisodePaths.of("tongfu", "001", tmp_path / "projects"))
    assert 'id="import-report"' in html and "camera_notes" in html


def test_in_place_keeps_a_backup_that_holds_the_original(tmp_path):
    """--in-place converts the project where it is; the original, byte for byte, is first
    copied beside it, and the import reads from that copy."""
    from original_project import make_original

    from spark_video.cli.importer import import_project

    src = make_original(tmp_path / "projects")
    before = _snapshot(src)
    lines = []
    [r] = import_project(src, tmp_path / "elsewhere", in_place=True, log=lines.append)
    [backup] = [p for p in (tmp_path / "projects").iterdir() if p.name != "tongfu"]
    assert backup.name.startswith("tongfu.backup-")
    assert any(str(backup) in line for line in lines)  # the backup is named
    assert _snapshot(backup) == before  # the backup is the original, unchanged
    ep = EpisodePaths.of("tongfu", "001", tmp_path / "projects")
    assert r["root"] == str(ep.root) and not (tmp_path / "elsewhere").exists()
    for n in (1, 2, 3):  # converted where it was, the person's scenes byte for byte
        assert ep.scene_md(n).read_bytes() == before[ep.scene_md(n).relative_to(src)]
    assert ep.shot_state("S01-001").exists() and (ep.root / "import-report.md").exists()


def test_an_imported_voice_sample_reaches_wan27_r2v_as_the_reference_voice(
        tmp_path, fake_dashscope, monkeypatch):
    """import, then a render with provider wan27 against the local DashScope server: the
    shot with 钱夫人 (two portraits: one grid image) carries her voice.mp3 as reference_voice."""
    from original_project import make_original

    from spark_video.base.settings import resolve
    from spark_video.cli.importer import import_project
    from spark_video.render import load_spec, publish_last_frame, render_shot
    from spark_video.storyboard import compile_storyboard

    monkeypatch.setenv("SPARK_VIDEO_TEXT_PROVIDER", "offline")
    src = make_original(tmp_path / "orig")
    import_project(src, tmp_path / "projects", log=lambda m: None)
    ep = EpisodePaths.of("tongfu", "001", tmp_path / "projects")
    report = (ep.root / "import-report.md").read_text(encoding="utf-8")
    assert "voice.mp3 is sent as the reference voice" in report
    cfg = resolve({"provider": "wan27", "text_provider": "offline", "resolution": "720P",
                   "failed_backoff_s": 0.01}, environ={}, config_file=None)
    compile_storyboard(ep, cfg, "narration")
    spec = load_spec(ep, "S03-002")
    assert spec.shot.characters == ["钱夫人"] and spec.media[0].endswith(".portraits-grid.png")
    said: list[str] = []
    for sid in ("S03-001", "S03-002"):  # S03-002 starts on S03-001's last frame
        st = render_shot(ep, cfg, sid, log=said.append, sleep=lambda s: None)
        assert st.winner_version, said
        publish_last_frame(ep, sid)  # as the render job does
    first, second = [t for t in fake_dashscope.tasks.values() if t.model == "wan2.7-r2v"]
    assert all("reference_voice" not in m for m in first.media)  # 佟掌柜 has no voice
    grid = second.media[0]
    assert grid["type"] == "reference_image" and grid["reference_voice"].startswith("oss://")
    [voice] = fake_dashscope.reference_voices
    assert voice["path"].read_bytes() == (src / "cast/钱夫人/voice.mp3").read_bytes()
    # the set image and the first frame carry no voice
    assert [m["type"] for m in second.media] == ["reference_image", "reference_image",
                                                 "first_frame"]
    assert all("reference_voice" not in m for m in second.media[1:])
    assert not [line for line in said if "reference voice" in line]  # nothing refused
