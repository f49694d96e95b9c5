"""The README's first command, on a copy of the demo project: premise to final mp4 and viewer
with no keys and no questions."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

from spark_video.media import exact_duration, probe

pytestmark = pytest.mark.slow


CHROMIUM = "/usr/bin/chromium"


def _chromium_dom(url: str, profile: Path) -> str:
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-background-networking", "--disable-component-update",
                           "--no-first-run", f"--user-data-dir={profile}",
                           "--virtual-time-budget=5000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


def assert_every_video_has_a_poster_that_loads(page: Path, at_least: int) -> None:
    """In a real headless Chromium: every <video> of the page names a poster, and each
    poster, loaded by the browser from the page's folder, is a real image."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    profile = page.parent.parent / f".chrome-{page.parent.name}"
    dom = _chromium_dom(page.resolve().as_uri(), profile / "a")
    videos = re.findall(r"<video\b[^>]*>", dom)
    assert len(videos) >= at_least, len(videos)
    posters = [re.search(r'\bposter="([^"]+)"', v) for v in videos]
    assert all(posters), [v for v, p in zip(videos, posters, strict=True) if not p]
    urls = sorted({html.unescape(p.group(1)) for p in posters})
    assert all(u.endswith(".poster.jpg") for u in urls), urls
    # a probe page beside the viewer loads each poster as the browser would, and reports
    probe_page = page.with_name("poster-probe.html")
    imgs = "".join(f'<img src="{html.escape(u)}">' for u in urls)
    probe_page.write_text(
        f"<html><body>{imgs}<pre id=o>waiting</pre><script>"
        "window.addEventListener('load',()=>{document.getElementById('o').textContent="
        "Array.from(document.images).map(i=>i.naturalWidth+'x'+i.naturalHeight).join(' ');"
        "});</script></body></html>", encoding="utf-8")
    try:
        out = _chromium_dom(probe_page.resolve().as_uri(), profile / "b")
    finally:
        probe_page.unlink()
        shutil.rmtree(profile, ignore_errors=True)
    sizes = re.search(r'<pre id="o">([^<]*)</pre>', out).group(1).split()
    assert len(sizes) == len(urls), out[-500:]
    for u, wh in zip(urls, sizes, strict=True):
        w, h = (int(x) for x in wh.split("x"))
        assert w >= 64 and h >= 36, (u, wh)  # decoded: a real still, not a broken image


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

    from spark_video.stitch.timeline import cut_points

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
    assert_every_video_has_a_poster_that_loads(d / "viewer.html", len(sb["shots"]) + 1)
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
