"""On the real Snakemake graph: a bad user-editable file is found BEFORE the job that would
replace an output starts (Snakemake deletes a job's outputs before it runs), and a spoiled
clip or last frame is rebuilt. One finished episode is built once; each case spoils one file
in a copy of it and runs `snakemake final`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import FINISHED_EP, offline_env, run_cli, run_snakemake

pytestmark = pytest.mark.slow

EP = FINISHED_EP


def snapshot(projects: Path) -> dict[Path, bytes]:
    """Every artifact of the project and episode (logs, Snakemake's own files and the record
    of what the build wrote, .written/, aside)."""
    return {p: p.read_bytes() for p in projects.rglob("*")
            if p.is_file() and "logs" not in p.parts and ".written" not in p.parts
            and not p.name.endswith(".closed")}


def build(projects: Path):
    r = run_snakemake(offline_env(projects), projects, "final", "-j2", episode=EP)
    return r.returncode, r.stdout + r.stderr


def _lore_yaml(d: Path, project: Path) -> Path:
    p = project / "lore.md"
    p.write_text(p.read_text().replace("genre: drama", "genre: [drama"))
    return p


def _lore_field(d: Path, project: Path) -> Path:
    p = project / "lore.md"
    p.write_text(p.read_text().replace("duration_target_s: 45", "duration_target_s: long"))
    return p


def _premise_bytes(d: Path, project: Path) -> Path:
    p = project / "premise.md"
    p.write_bytes(p.read_bytes() + b"\xff\xfe")
    return p


def _bgm_json(d: Path, project: Path) -> Path:
    p = d / "bgm-config.json"
    p.write_text('{"mode": "global", "volume": ')
    return p


def _bgm_field(d: Path, project: Path) -> Path:
    p = d / "bgm-config.json"
    p.write_text(json.dumps({"enabled": True, "mode": "loud"}))
    return p


def _scene_md_bytes(d: Path, project: Path) -> Path:
    p = d / "scenes" / "scene-02.md"
    p.write_bytes(p.read_bytes() + b"\n\xff\xfe")
    return p


def _scene_md_heading(d: Path, project: Path) -> Path:
    p = d / "scenes" / "scene-02.md"
    p.write_text(p.read_text().split("\n", 1)[1])  # the "## Scene 2 — ..." line gone
    return p


def _scene_md_speaker(d: Path, project: Path) -> Path:
    p = d / "scenes" / "scene-02.md"
    p.write_text(re.sub(r"^- Theo:", "- Zed:", p.read_text(), count=1, flags=re.M))
    return p


def _scene_md_empty(d: Path, project: Path) -> Path:
    p = d / "scenes" / "scene-02.md"
    p.write_text("")
    return p


def _bgm_track_outside(d: Path, project: Path) -> Path:
    p = d / "bgm-config.json"
    p.write_text(json.dumps({"enabled": True, "mode": "global", "track": "../../etc/passwd"}))
    return p


def _bgm_volume(d: Path, project: Path) -> Path:
    p = d / "bgm-config.json"
    p.write_text(json.dumps({"enabled": True, "mode": "global", "volume": 7}))
    return p


def _cast_card(d: Path, project: Path) -> Path:
    p = project / "cast" / "Mara" / "cast.md"
    p.write_text("---\nname: [Mara\n---\nA keeper.\n")
    return p


def _cast_card_symlink(d: Path, project: Path) -> Path:
    p = project / "cast" / "Theo" / "cast.md"
    p.unlink(missing_ok=True)
    os.symlink("/nonexistent/cast.md", p)
    return p


def _cast_card_outside(d: Path, project: Path) -> Path:
    outside = project.parent.parent / "elsewhere.md"
    outside.write_text("---\nname: Theo\n---\n")
    p = project / "cast" / "Theo" / "cast.md"
    p.unlink(missing_ok=True)
    os.symlink(outside, p)
    return p


def _cast_folder_name(d: Path, project: Path) -> Path:
    p = project / "cast" / " Ghost"
    p.mkdir()
    (p / "cast.md").write_text("---\nname: Ghost\n---\n")
    return p


def _outline(d: Path, project: Path) -> Path:
    p = d / "outline.json"
    p.write_bytes(p.read_bytes()[:30])
    return p


def _storyboard(d: Path, project: Path) -> Path:
    p = d / "storyboard.json"
    p.write_bytes(p.read_bytes()[:50])
    return p


def _shot_spec(d: Path, project: Path) -> Path:
    p = d / "shots" / "S01-002.json"
    data = json.loads(p.read_text())
    data["shot"]["duration"] = "long"
    p.write_text(json.dumps(data))
    return p


def _take_request(d: Path, project: Path) -> Path:
    p = d / "takes" / "S01-001.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text('{"shot_id": "S01-001", "take": 0}')
    return p


def _notes(d: Path, project: Path) -> Path:
    p = d / "notes" / "scene-01.json"
    p.parent.mkdir(exist_ok=True)
    p.write_text('{"target": "scene-01", "role": "poet"}')
    return p


BAD = {
    "lore front-matter YAML": (_lore_yaml, "field front-matter"),
    "lore front-matter field": (_lore_field, "field duration_target_s"),
    "premise not UTF-8": (_premise_bytes, "not UTF-8"),
    "bgm-config malformed": (_bgm_json, "malformed JSON"),
    "bgm-config field": (_bgm_field, "field mode"),
    "scene md not UTF-8": (_scene_md_bytes, "not UTF-8"),
    "scene md heading gone": (_scene_md_heading, "line 1: missing heading"),
    "scene md unknown speaker": (_scene_md_speaker, "unknown character 'Zed'"),
    "scene md emptied": (_scene_md_empty, "line 1: the scene is empty"),
    "bgm-config track outside bgm/": (_bgm_track_outside, "field track"),
    "bgm-config volume out of range": (_bgm_volume, "field volume"),
    "cast card YAML": (_cast_card, "field front-matter"),
    "cast card dangling symlink": (_cast_card_symlink, "does not exist"),
    "cast card symlink out of the project": (_cast_card_outside, "outside the project"),
    "cast folder odd name": (_cast_folder_name, "folder name"),
    "outline truncated": (_outline, "malformed JSON"),
    "storyboard truncated": (_storyboard, "malformed JSON"),
    "shot spec field": (_shot_spec, "field shot.duration"),
    "take request field": (_take_request, "field take"),
    "producer notes field": (_notes, "field role"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_named_before_any_output_is_replaced(finished_copy, case):
    spoil, field = BAD[case]
    project = finished_copy / "demo"
    d = project / f"episode-{EP}"
    bad = spoil(d, project)
    before = snapshot(finished_copy)
    rc, out = build(finished_copy)
    assert rc != 0, out[-3000:]
    assert f"{bad}: " in out and field in out, out[-3000:]
    assert "fix or restore the file" in out
    assert "Traceback" not in out, out[-3000:]
    after = snapshot(finished_copy)
    # a person's edit of a file the build wrote is kept in history/<time>-yours/ (a copy of
    # the spoiled file, byte for byte); nothing else appears, changes or goes
    kept = {p for p in after.keys() - before.keys()
            if "history" in p.parts and any(part.endswith("-yours") for part in p.parts)}
    for p in kept:
        assert after[p] == after[bad], p
    assert after.keys() - kept == before.keys(), sorted(
        str(p) for p in (after.keys() - kept) ^ before.keys())
    changed = [str(p) for p in before if before[p] != after[p]]
    assert not changed, changed


def test_bad_input_through_the_command_line(finished_copy):
    project = finished_copy / "demo"
    d = project / f"episode-{EP}"
    bad = _lore_yaml(d, project)
    outline = (d / "outline.json").read_bytes()
    r = run_cli(offline_env(finished_copy), "episode", "demo", EP, "--yes")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and str(bad) in out and "field front-matter" in out, out
    assert "Traceback" not in out
    assert (d / "outline.json").read_bytes() == outline


@pytest.mark.parametrize("case", ["0-byte clip", "truncated clip", "deleted frame",
                                  "truncated frame", "0-byte clip and take"])
def test_spoiled_clip_or_frame_is_rebuilt(finished_copy, case):
    d = finished_copy / "demo" / f"episode-{EP}"
    clip, frame = d / "clips" / "S02-002.mp4", d / "frames" / "S01-002.last.png"
    final = d / "final" / f"demo-{EP}.mp4"
    keep = {p: p.read_bytes() for p in (clip, frame, final)}
    if case == "0-byte clip":
        clip.write_bytes(b"")
    elif case == "truncated clip":
        clip.write_bytes(keep[clip][: len(keep[clip]) // 2])
    elif case == "deleted frame":
        frame.unlink()
    elif case == "truncated frame":
        frame.write_bytes(keep[frame][:200])
    else:
        clip.write_bytes(b"")
        (d / "clips" / "S02-002-ver1.mp4").write_bytes(b"")
    calls = (d / "logs" / "model_calls.jsonl").read_text().splitlines()
    if case == "0-byte clip and take":  # nothing to restore from: rendered again
        r = run_cli(offline_env(finished_copy), "episode", "demo", EP, "--yes")
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert "Traceback" not in r.stdout + r.stderr
        state = json.loads((d / "state" / "S02-002.json").read_text())
        assert state["winner_version"] == 2
        assert clip.read_bytes() == (d / "clips" / "S02-002-ver2.mp4").read_bytes()
        return
    rc, out = build(finished_copy)
    assert rc == 0, out[-3000:]
    assert "Traceback" not in out
    assert {p: p.read_bytes() for p in keep} == keep
    assert (d / "logs" / "model_calls.jsonl").read_text().splitlines() == calls  # nothing paid
    rc, out = build(finished_copy)
    assert rc == 0 and "Nothing to be done" in out, out[-2000:]


# --------------------------------------------------------------------------- frozen work


def final_files(d: Path) -> list[Path]:
    """Every file of final/, its reels and sound parts included."""
    return sorted(p for p in (d / "final").rglob("*") if p.is_file())


def approved_work(d: Path) -> dict[Path, bytes]:
    """What the gates approved (and what is made from it): never regenerated by an upstream
    change alone."""
    files = [d / "outline.json", d / "script.md", d / "storyboard.json", d / "direction.json",
             *sorted((d / "scenes").glob("*")), *sorted((d / "shots").glob("*.json")),
             *sorted((d / "clips").glob("*.mp4")), *final_files(d)]
    return {p: p.read_bytes() for p in files}


def _lore_mood(project: Path) -> str:
    p = project / "lore.md"
    p.write_text(p.read_text().replace("soft film grain", "hard noon light"))
    return "lore.md"


def _new_cast_folder(project: Path) -> str:
    p = project / "cast" / "Ines"
    p.mkdir()
    (p / "cast.md").write_text("---\nname: Ines\nvisual_anchor: a ferry captain\n---\n")
    return "cast/Ines"


def _episode_premise(project: Path) -> str:
    (project / f"episode-{EP}" / "premise.md").write_text("A different story entirely.\n")
    return f"episode-{EP}/premise.md"


def _card_edit(project: Path) -> str:
    p = project / "cast" / "Mara" / "cast.md"
    p.write_text(p.read_text() + "\nShe wears a red coat now.\n")
    return "cast/Mara/cast.md"


UPSTREAM = {"lore edited": _lore_mood, "cast folder added": _new_cast_folder,
            "premise replaced": _episode_premise, "cast card edited": _card_edit}


@pytest.mark.parametrize("case", list(UPSTREAM))
def test_upstream_change_never_regenerates_approved_work(finished_copy, case):
    project = finished_copy / "demo"
    d = project / f"episode-{EP}"
    before = approved_work(d)
    calls = (d / "logs" / "model_calls.jsonl").read_text().splitlines()
    changed = UPSTREAM[case](project)
    rc, out = build(finished_copy)
    assert rc == 0, out[-3000:]
    assert approved_work(d) == before
    assert f"{changed}" in out and "changed after GATE 1 (script) was approved" in out, out
    assert "uv run spark-video revise script --scene N" in out
    paid = [c for c in (d / "logs" / "model_calls.jsonl").read_text().splitlines()
            if c not in calls]
    assert all('"phase": "portrait"' in c for c in paid), paid  # a new folder's portrait only


def test_upstream_change_under_yes_keeps_approved_work(finished_copy):
    project = finished_copy / "demo"
    d = project / f"episode-{EP}"
    before = approved_work(d)
    _lore_mood(project)
    r = run_cli(offline_env(finished_copy), "episode", "demo", EP, "--yes")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "lore.md changed after GATE 1 (script) was approved" in out, out
    assert "revise script" in out
    assert approved_work(d) == before


def test_a_shot_the_storyboard_lacks_is_named_without_traceback(finished_copy):
    d = finished_copy / "demo" / f"episode-{EP}"
    r = run_snakemake(offline_env(finished_copy), finished_copy,
                      str(d / "clips" / "S09-999.mp4"), "-j1", episode=EP)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "shots/S09-999.json" in out, out[-2000:]
    assert "Traceback" not in out, out[-2000:]


@pytest.mark.parametrize("also", ["nothing else", "spec edited"])
def test_spoiled_shot_state_costs_nothing_and_names_the_command(finished_copy, also):
    """A truncated state/<shot>.json never costs a clip or a frame (even when the shot's
    spec changed, so its render job would run); the message gives the command that rebuilds
    it from the takes on disk, and after it the build pays for nothing."""
    d = finished_copy / "demo" / f"episode-{EP}"
    state = d / "state" / "S01-002.json"
    good = json.loads(state.read_text())
    state.write_bytes(state.read_bytes()[:40])
    if also == "spec edited":
        spec = d / "shots" / "S01-002.json"
        spec.write_text(spec.read_text().replace('"duration": ', '"duration":  '))
    keep = {p: p.read_bytes() for p in [*sorted((d / "clips").glob("S01-00*")),
                                        *sorted((d / "frames").glob("S01-00*")),
                                        *final_files(d)]}
    calls = (d / "logs" / "model_calls.jsonl").read_text().splitlines()
    rc, out = build(finished_copy)
    assert rc != 0 and str(state.name) in out, out[-3000:]
    fix = f"uv run spark-video render --shot S01-002 --rebuild-state --project demo --episode {EP}"
    assert fix in out and "Traceback" not in out, out[-3000:]
    assert {p: p.read_bytes() for p in keep} == keep
    assert (d / "logs" / "model_calls.jsonl").read_text().splitlines() == calls
    r = run_cli(offline_env(finished_copy), *fix.split()[3:])
    assert r.returncode == 0, r.stdout + r.stderr
    rebuilt = json.loads(state.read_text())
    assert rebuilt["winner_version"] == good["winner_version"]
    assert (state.parent / "S01-002.json.spoiled").exists()
    if also == "nothing else":
        rc, out = build(finished_copy)
        assert rc == 0, out[-3000:]
        assert (d / "logs" / "model_calls.jsonl").read_text().splitlines() == calls
        media = [p for p in keep if "final" not in p.parts]  # (the stitch may run again: free)
        assert {p: p.read_bytes() for p in media} == {p: keep[p] for p in media}


def _outline_99(project: Path) -> str:
    p = project / f"episode-{EP}" / "outline.json"
    o = json.loads(p.read_text())
    o["scenes"] = [{**o["scenes"][0], "num": i, "id": f"S{i:02d}"} for i in range(1, 100)]
    p.write_text(json.dumps(o))
    return f"episode-{EP}/outline.json"


def _premise_1mb(project: Path) -> str:
    (project / "premise.md").write_text("A storm. " * 120_000)
    return "premise.md"


@pytest.mark.parametrize("case", ["outline edited to 99 scenes", "1 MB premise"])
def test_after_gate1_outline_and_premise_edits_change_nothing(finished_copy, case):
    """Until `revise`: no approved file and no stamp changes (bytes and mtimes)."""
    project = finished_copy / "demo"
    d = project / f"episode-{EP}"
    before = approved_work(d)
    stamps = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (d / "approvals").iterdir()}
    mtimes = {p: p.stat().st_mtime_ns for p in before}
    changed = {"outline edited to 99 scenes": _outline_99, "1 MB premise": _premise_1mb}[case](
        project)
    if case == "outline edited to 99 scenes":
        before[d / "outline.json"] = (d / "outline.json").read_bytes()
        mtimes[d / "outline.json"] = (d / "outline.json").stat().st_mtime_ns
    rc, out = build(finished_copy)
    assert rc == 0, out[-3000:]
    assert approved_work(d) == before
    assert {p: p.stat().st_mtime_ns for p in before} == mtimes
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in (d / "approvals").iterdir()} == stamps
    assert not (d / "scenes" / "scene-04.md").exists()
    assert f"{changed} changed after GATE 1 (script) was approved" in out, out[-3000:]
    assert "uv run spark-video revise script --scene N" in out
