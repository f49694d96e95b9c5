"""The README's first command, on a copy of the demo project: premise to final mp4 and viewer
with no keys and no questions."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from spark_video.media import exact_duration, probe

pytestmark = pytest.mark.slow


def test_autopilot_makes_the_demo_episode(run_env, projects):
    r = run_cli(run_env, "episode", "demo", "001", "--yes", check=True)
    d = projects / "demo" / "episode-001"
    final = d / "final" / "demo-001.mp4"
    assert final.exists(), r.stdout[-2000:]
    info = probe(final)
    assert info.vcodec == "h264" and info.acodec == "aac"
    sb = json.loads((d / "storyboard.json").read_text())
    durations = [exact_duration(d / "clips" / f"{s['id']}.mp4") for s in sb["shots"]]
    crossfade = 0.5
    expected = sum(durations) - crossfade * (len(durations) - 1)
    assert abs(exact_duration(final) - expected) <= 0.5
    # the open timeline reads back with the mp4's cut points: each shot starts at the middle
    # of its crossfade in, and the shots' spans add up to the mp4's length
    import opentimelineio as otio

    from spark_video.timeline import cut_points

    otio_file = d / "final" / "demo-001.otio"
    cuts = cut_points(otio_file)
    assert len(cuts) == len(durations) and cuts[0] == 0.0
    for k in range(1, len(durations)):
        want = sum(durations[:k]) - crossfade * k + crossfade / 2
        assert abs(cuts[k] - want) < 0.1, (k, cuts[k], want)
    tl = otio.adapters.read_from_file(str(otio_file))
    video = tl.tracks[0]
    assert abs(video.duration().to_seconds() - exact_duration(final)) < 0.15
    assert sum(isinstance(t, otio.schema.Transition) for t in video) == len(durations) - 1
    assert len(video.markers) >= 1  # the subtitles
    html = (d / "viewer.html").read_text()
    for s in sb["shots"]:
        assert s["id"] in html
    for gate in ("mode", "script", "storyboard", "render", "final"):
        assert (d / "approvals" / f"{gate}.json").exists()
    # the premise came from the project (no --premise given)
    assert "storm" in json.loads((d / "outline.json").read_text())["premise"]
    # a second run does nothing new and says where the result is
    before = final.stat().st_mtime_ns
    r = run_cli(run_env, "episode", "demo", "001", "--yes", check=True)
    assert final.stat().st_mtime_ns == before
    assert "final:" in r.stdout
    # the timeline is a declared output of the stitch: deleted alone, the next run redoes it
    # (the same cut: GATE 4 stays approved)
    otio_file.unlink()
    r = run_cli(run_env, "episode", "demo", "001", "--yes", check=True)
    assert cut_points(otio_file) == cuts
    assert r.returncode == 0 and "GATE 4" not in r.stdout


def test_episode_with_its_own_premise_and_narration_mode(run_env, projects):
    r = run_cli(run_env, "episode", "demo", "002", "--mode", "narration", "--yes",
                "--premise", "The keepers count the ships that never came. One finally does.",
                check=True)
    d = projects / "demo" / "episode-002"
    assert (d / "premise.md").read_text().startswith("The keepers count")
    sb = json.loads((d / "storyboard.json").read_text())
    assert sb["mode"] == "narration"
    assert any(s["role"] == "narration" for s in sb["shots"])
    assert (d / "final" / "demo-002.mp4").exists(), r.stdout[-2000:]


def test_no_premise_anywhere_is_a_clear_error(run_env, projects):
    (projects / "demo" / "premise.md").unlink()
    r = run_cli(run_env, "episode", "demo", "003", "--yes")
    assert r.returncode == 1
    assert "no premise" in r.stderr and "--premise" in r.stderr


def test_gate_check_json_and_usage_errors(run_env, projects):
    r = run_cli(run_env, "gate", "check", "all", "--json", "--project", "demo",
                "--episode", "004")
    assert r.returncode == 2 and "no episode folder" in r.stderr
    run_cli(run_env, "scaffold", "episode", "--project", "demo", "--episode", "004", check=True)
    r = run_cli(run_env, "gate", "check", "all", "--json", "--project", "demo",
                "--episode", "004")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["requested"] == "all" and not data["passed"]
    assert {g["gate"] for g in data["gates"]} >= {"script", "storyboard", "render", "final"}
