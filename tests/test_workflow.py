"""End to end on the real Snakemake graph: gates stop the build, edits re-render exactly the
affected shots, the checkpoint re-detection trap (docs/snakemake-checkpoints.md) stays fixed,
and bad input fails clearly without overwriting anything."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import FINISHED_EP, offline_env, run_cli, run_snakemake

from spark_video.media import probe

pytestmark = pytest.mark.slow

EP = "007"


def ep_dir(projects: Path, episode: str = EP) -> Path:
    return projects / "demo" / f"episode-{episode}"


def final(env, projects, episode=EP, *extra):
    return run_snakemake(env, projects, "final", "-j4", "--resources", "api_slots=4", *extra,
                         episode=episode)


def approve(env, gate, episode=EP):
    run_cli(env, "approve", gate, "--project", "demo", "--episode", episode, check=True)


def viewer_shows_first(d: Path, *newer_than: Path) -> str:
    """The first section of viewer.html, after checking the page is newer than `newer_than`
    (the viewer rule follows the build to where it stops)."""
    page = d / "viewer.html"
    for p in newer_than:
        assert page.stat().st_mtime_ns >= p.stat().st_mtime_ns, f"viewer.html older than {p}"
    return re.search(r'<section id="([a-z]+)"', page.read_text(encoding="utf-8")).group(1)


def clip_mtimes(d: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((d / "clips").glob("*.mp4"))}


def test_gates_stop_the_build_in_order_then_edits_rerender_only_affected_shots(run_env,
                                                                               projects):
    env = run_env
    d = ep_dir(projects)
    # a new episode stops at GATE 1 with nothing rendered
    r = final(env, projects)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "GATE 1 (script) is closed" in out
    assert f"spark-video approve script --project demo --episode {EP}" in out
    assert (d / "script.md").exists() and not (d / "clips").exists()
    assert viewer_shows_first(d, d / "script.md", *(d / "scenes").glob("*.md")) == "script"
    # `spark-video viewer` runs the viewer rule alone: the page again, nothing else built
    script_mtime = (d / "script.md").stat().st_mtime_ns
    page_mtime = (d / "viewer.html").stat().st_mtime_ns
    r = run_cli(env, "viewer", "--project", "demo", "--episode", EP, check=True)
    assert r.stdout.strip().endswith("viewer.html")
    assert (d / "viewer.html").stat().st_mtime_ns > page_mtime
    assert (d / "script.md").stat().st_mtime_ns == script_mtime

    approve(env, "script")
    r = final(env, projects)
    assert "GATE 2 (storyboard) is closed" in r.stdout + r.stderr
    assert (d / "storyboard.json").exists() and (d / "estimate.json").exists()
    assert viewer_shows_first(d, d / "storyboard.json", d / "estimate.json") == "storyboard"
    assert not list((d / "clips").glob("*.mp4")) if (d / "clips").exists() else True

    approve(env, "storyboard")
    r = final(env, projects)
    assert "GATE 3 (renders) is closed" in r.stdout + r.stderr, r.stderr[-2000:]
    sb = json.loads((d / "storyboard.json").read_text())
    ids = [s["id"] for s in sb["shots"]]
    assert all((d / "clips" / f"{i}.mp4").exists() for i in ids)
    assert not (d / "final").exists() or not list((d / "final").glob("*.mp4"))
    assert viewer_shows_first(d, *(d / "clips").glob("*.mp4")) == "clips"

    approve(env, "render")
    r = final(env, projects)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (d / "final" / f"demo-{EP}.mp4").exists()
    assert viewer_shows_first(d, d / "final" / f"demo-{EP}.mp4") == "final"

    # a rebuild with no change does nothing
    t0 = time.monotonic()
    r = final(env, projects)
    assert r.returncode == 0 and "Nothing to be done" in r.stdout + r.stderr
    noop_s = time.monotonic() - t0
    assert noop_s < 60

    # edit one chained shot's prompt: GATE 2 closes, and after re-approval exactly that
    # shot and the shots chained after it re-render
    groups = json.loads(run_cli(env, "storyboard", "graph", "--json", "--project", "demo",
                                "--episode", EP, check=True).stdout)
    group = next(g for g in groups if len(g) >= 3)
    target = group[1]
    affected = set(group[1:])
    scene_file = d / "scenes" / f"scene-{target[1:3]}.json"
    frag = json.loads(scene_file.read_text())
    for s in frag["shots"]:
        if s["id"] == target:
            s["prompt"] = "Medium shot, the lamp gutters and flares. " + s["prompt"]
    scene_file.write_text(json.dumps(frag, indent=2))
    before = clip_mtimes(d)

    r = final(env, projects)
    assert "GATE 2 (storyboard) is closed" in r.stdout + r.stderr
    assert clip_mtimes(d) == before, "nothing may render behind a closed gate"

    approve(env, "storyboard")
    final_mp4 = d / "final" / f"demo-{EP}.mp4"
    mtime_final = final_mp4.stat().st_mtime_ns
    r = final(env, projects)
    assert "GATE 3 (renders) is closed" in r.stdout + r.stderr, r.stderr[-3000:]
    assert final_mp4.stat().st_mtime_ns == mtime_final, "the previous final must survive"
    after = clip_mtimes(d)
    changed = {n for n in after if after[n] != before.get(n)}
    winners_changed = {n[:-4] for n in changed if "-ver" not in n}
    assert winners_changed == affected
    assert {n for n in changed if "-ver" in n} == {f"{s}-ver2.mp4" for s in affected}
    state = json.loads((d / "state" / f"{target}.json").read_text())
    assert "lamp gutters" in state["attempts"][-1]["prompt"]

    approve(env, "render")
    r = final(env, projects)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (d / "final" / f"demo-{EP}.mp4").stat().st_mtime_ns != mtime_final
    r = final(env, projects)
    assert "Nothing to be done" in r.stdout + r.stderr

    # `spark-video stitch` asks for its cut in a request file (an input of the stitch rule)
    # and runs the build: hard cuts make the final longer, and a later build keeps them
    length = probe(final_mp4).duration
    r = run_cli(env, "stitch", "--crossfade", "0", "--project", "demo", "--episode", EP)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert json.loads((d / "final" / "stitch-request.json").read_text())["crossfade"] == 0
    assert probe(final_mp4).duration > length + 0.5
    r = final(env, projects)
    assert "Nothing to be done" in r.stdout + r.stderr
    assert "crossfade=0.0" in (d / "logs" / "jobs" / "stitch.log").read_text()

    # the checkpoint trap: a deleted or edited clip is rebuilt by `final`
    victim = d / "clips" / f"{ids[-1]}.mp4"
    victim.unlink()
    r = final(env, projects)
    assert r.returncode == 0, r.stderr[-3000:]
    assert victim.exists()
    final(env, projects)  # one re-stitch: the gate token left the stitch's input set
    r = final(env, projects)
    assert "Nothing to be done" in r.stdout + r.stderr

    # an edited clip closes GATE 3: the build stops there instead of stitching it unseen
    edited = d / "clips" / f"{ids[0]}.mp4"
    edited.write_bytes(edited.read_bytes() + b"\0")
    assert "clips/" + edited.name + " changed since approval" in "; ".join(
        __import__("spark_video.gates", fromlist=["x"]).why_closed(
            __import__("spark_video.base.paths", fromlist=["x"]).EpisodePaths.of(
                "demo", EP, root=projects), "render"))
    r = final(env, projects)
    assert r.returncode != 0 and "GATE 3 (renders) is closed" in r.stdout + r.stderr


@pytest.mark.parametrize("breakage, field", [
    ("malformed", "malformed JSON"),
    ("unknown_character", "unknown character 'Nobody'"),
    ("duplicate_id", "duplicate shot id"),
    ("path_like_id", "shot id"),
])
def test_bad_scene_json_fails_clearly_and_overwrites_nothing(finished_copy, breakage, field):
    """On a copy of the session's finished episode: a broken scene json is named, and no
    storyboard, shot spec or clip is replaced."""
    projects, ep = finished_copy, FINISHED_EP
    env = offline_env(projects)
    d = ep_dir(projects, ep)
    scene_file = d / "scenes" / "scene-01.json"
    frag = json.loads(scene_file.read_text())
    if breakage == "malformed":
        text = scene_file.read_text()[:-20]
    else:
        s = frag["shots"]
        if breakage == "unknown_character":
            s[1]["characters"] = ["Nobody"]
        elif breakage == "duplicate_id":
            s[1]["id"] = s[0]["id"]
        else:
            s[1]["id"] = "../../etc/passwd"
        text = json.dumps(frag, indent=2)
    scene_file.write_text(text)
    protected = {p: p.read_bytes() for p in
                 [d / "storyboard.json", *sorted((d / "shots").glob("*.json")),
                  *sorted((d / "clips").glob("*.mp4"))]}
    r = run_cli(env, "storyboard", "compile", "--project", "demo", "--episode", ep)
    assert r.returncode == 1
    assert "scene-01.json" in r.stderr and field in r.stderr, r.stderr
    r = final(env, projects, ep)
    assert r.returncode != 0
    assert "scene-01.json" in r.stdout + r.stderr
    for p, data in protected.items():
        assert p.read_bytes() == data, f"{p} was overwritten"


def test_forced_clip_restores_its_winner_and_frame_without_touching_the_chain(run_env,
                                                                              projects):
    """`snakemake -f <clip>` restores the winner (no new take); the render job rewrites the
    clip's last frame (its second output) byte for byte, so the shot chained after it
    restores its own winner instead of paying again."""
    env, ep = run_env, "012"
    d = ep_dir(projects, ep)
    final(env, projects, ep)
    approve(env, "script", ep)
    final(env, projects, ep)
    approve(env, "storyboard", ep)
    r = final(env, projects, ep)
    assert "GATE 3 (renders) is closed" in r.stdout + r.stderr, r.stderr[-2000:]
    groups = json.loads(run_cli(env, "storyboard", "graph", "--json", "--project", "demo",
                                "--episode", ep, check=True).stdout)
    first, second = next(g for g in groups if len(g) >= 2)[:2]
    frame = d / "frames" / f"{first}.last.png"
    assert frame.exists() and not list((d / "logs" / "jobs").glob("frame-*.log"))
    before = {s: json.loads((d / "state" / f"{s}.json").read_text())["attempts"]
              for s in (first, second)}
    frame_bytes = frame.read_bytes()
    r = run_snakemake(env, projects, str(d / "clips" / f"{first}.mp4"), "-f", "-j4",
                      episode=ep)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{first}: restored winner" in (d / "logs" / "jobs" / f"render-{first}.log"
                                           ).read_text()
    assert frame.read_bytes() == frame_bytes
    r = final(env, projects, ep)  # the chained shot reruns on the new frame's mtime ...
    assert "GATE 3 (renders) is closed" in r.stdout + r.stderr
    after = {s: json.loads((d / "state" / f"{s}.json").read_text())["attempts"]
             for s in (first, second)}
    assert after == before  # ... and restores: no new take anywhere


def test_renders_start_in_chain_order(finished_copy):
    """Every render job's priority is the number of shots its chain still has from it on,
    so Snakemake starts the chains' first links before the shots that wait on them."""
    from spark_video.base.paths import EpisodePaths
    from spark_video.storyboard import chain_groups, load_storyboard

    projects, ep = finished_copy, FINISHED_EP
    chains = chain_groups(load_storyboard(EpisodePaths.of("demo", ep, root=projects)))
    want = {shot: len(c) - i for c in chains for i, shot in enumerate(c)}
    assert max(want.values()) > 1, "the demo has no chained shots"
    r = run_snakemake(offline_env(projects), projects, "clips", "-n", "--forcerun",
                      "render_clip", "--cores", "4", episode=ep)
    assert r.returncode == 0, r.stdout + r.stderr
    got = {}
    for block in (r.stdout + r.stderr).split("\nrule ")[1:]:
        if block.startswith("render_clip:"):
            shot = re.search(r"wildcards: shot=(\S+)", block).group(1)
            prio = re.search(r"priority: (\d+)", block)
            got[shot] = int(prio.group(1)) if prio else 0
    assert got == want


def test_a_cast_member_added_after_gate1_reruns_no_approved_outline(run_env, projects):
    """The approved outline's inputs are the sources Snakemake recorded for it: a new cast
    card (with its metadata in .snakemake, as in a user's tree) does not change that input set,
    so neither the outline nor script.md is made again, and the change is named."""
    env, ep = run_env, "017"
    d = ep_dir(projects, ep)
    assert "GATE 1 (script) is closed" in (lambda r: r.stdout + r.stderr)(
        final(env, projects, ep))
    approve(env, "script", ep)
    zed = projects / "demo" / "cast" / "Zed"
    zed.mkdir()
    (zed / "cast.md").write_text("---\nname: Zed\nage: 40\nappearance: tall keeper\n---\n")
    r = run_snakemake(env, projects, "final", "-n", episode=ep)
    out = r.stdout + r.stderr
    jobs = set(re.findall(r"^(?:local)?rule (\w+):", out, flags=re.M))
    assert "outline" not in jobs and "script_md" not in jobs, out[-3000:]
    assert "cast/Zed/cast.md changed after GATE 1 (script) was approved" in out, out[-3000:]
    assert (d / "outline.json").exists()
