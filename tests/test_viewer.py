"""viewer.html: built from a synthetic episode, escaping, partial stages, a real Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from spark_video.base.io import append_jsonl, atomic_write_json, atomic_write_text
from spark_video.base.models import (
    Attempt,
    BGMConfig,
    DialogLine,
    Manifest,
    ManifestEntry,
    ModelCall,
    Review,
    Scene,
    SceneFragment,
    Shot,
    ShotState,
    Storyboard,
)
from spark_video.base.paths import EpisodePaths
from spark_video.media import run
from spark_video.viewer import build_viewer, simple_markdown

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = f"{XSS_SCRIPT} {XSS_IMG}"
CHROMIUM = "/usr/bin/chromium"

GATES = [
    {"gate": "gate1-script", "label": "Script", "open": True,
     "approved_at": "2026-01-01T10:00:00Z", "note": "fine", "problems": []},
    {"gate": "gate3-renders", "label": "Renders", "open": False, "approved_at": None,
     "note": None, "problems": ["S01-002 needs a director rewrite", XSS_IMG]},
]


def _tiny_mp4(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=10:duration=1",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", str(path)], what="making a test clip")


def _tiny_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=1", "-frames:v", "1", str(path)],
        what="making a test frame")


def _shot(sid: str, scene: str, prompt: str, **kw) -> Shot:
    return Shot(id=sid, scene=scene, prompt=prompt, duration=4, **kw)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("media")
    mp4, png = d / "clip.mp4", d / "frame.png"
    _tiny_mp4(mp4)
    _tiny_png(png)
    return mp4, png


@pytest.fixture
def episode(tmp_path, media) -> EpisodePaths:
    mp4, png = media
    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    paths.scaffold()
    proj = paths.project_paths.root
    atomic_write_text(proj / "lore.md", "---\ntitle: Harbour Lights\nmood_anchor: cold blue dusk"
                      "\nforbidden: [guns]\n---\n# World\n\nA **foggy** port town.\n")
    atomic_write_text(paths.premise, "Mara must decide whether to sail.\n")
    atomic_write_text(paths.script, "# Script\n\n## Scene 1 — Harbour\n- Mara: \"We sail.\"\n")
    atomic_write_json(paths.direction, {"tone": "quiet", "director_reference": "Kore-eda",
                                        "imagery_system": {"motifs": [
                                            {"name": "lamp", "landings": ["S01", "S02"]}]}})
    atomic_write_text(paths.scene_md(1), f"## Scene 1 — Harbour (night)\n**Action:** {HOSTILE}\n")
    atomic_write_text(paths.scene_md(2), "## Scene 2 — Lighthouse (dawn)\n**Action:** climbs\n")

    scenes = [Scene(id="S01", name="Harbour", description="night dock"),
              Scene(id="S02", name="Lighthouse", description="dawn climb")]
    shots = [
        _shot("S01-001", "S01", f"Wide dusk harbour {HOSTILE}", characters=["Mara"],
              narrative_purpose="establish", use_prev_last_frame_as_first=False,
              dialog=[DialogLine(speaker="Mara", text="We sail at dawn.")]),
        _shot("S01-002", "S01", "Close on Mara's hands", characters=["Mara"]),
        _shot("S02-001", "S02", "Lighthouse stairs", use_prev_last_frame_as_first=False),
    ]
    sb = Storyboard(title="The Crossing", scenes=scenes, shots=shots, provider="offline")
    atomic_write_json(paths.storyboard, sb)
    atomic_write_json(paths.scene_json(1), SceneFragment(scene=scenes[0], shots=shots[:2]))

    # S01-001: two versions, ver2 wins; ver1 rejected with a hostile critique
    rej = Review(verdict="REJECT", score=5.5, version=1, shot_id="S01-001",
                 breakdown={a: 6.0 for a in ("logic", "proportion", "physics", "style",
                                             "cast_match", "dialog_attribution")}
                 | {"physics": 3.0}, vetoed_axes=["physics"], critique=f"Bad hands {HOSTILE}")
    acc = Review(verdict="ACCEPT", score=8.2, version=2, shot_id="S01-001",
                 breakdown={"logic": 8, "proportion": 8, "physics": 8, "style": 9,
                            "cast_match": 8, "dialog_attribution": 8.2}, critique="good")
    state = ShotState(shot_id="S01-001", winner_version=2, attempts=[
        Attempt(version=1, status="SUCCEEDED", provider="offline", prompt=shots[0].prompt,
                task_id="task-v1", review=rej),
        Attempt(version=2, status="SUCCEEDED", provider="offline",
                prompt="Rewritten: wide harbour, steady hands", task_id="task-v2"),
    ])
    atomic_write_json(paths.shot_state("S01-001"), state)
    atomic_write_json(paths.review("S01-001", 2), acc)
    for v in (1, 2):
        shutil.copy(mp4, paths.clip_version("S01-001", v))
        shutil.copy(png, paths.version_last_frame("S01-001", v))
    # S01-002: escalated, one version on disk, no state
    shutil.copy(mp4, paths.clip_version("S01-002", 1))
    atomic_write_text(paths.escalation("S01-002"), "# Escalation\nRetries ran out.\n")
    atomic_write_json(paths.shot_state("S01-002"), ShotState(
        shot_id="S01-002", needs_director_rewrite=True, winner_version=1,
        attempts=[Attempt(version=1, status="SUCCEEDED", provider="offline",
                          prompt="Close on Mara's hands")]))

    cast_img = proj / "cast" / "Mara" / "portrait.png"
    cast_img.parent.mkdir(parents=True)
    shutil.copy(png, cast_img)
    atomic_write_json(paths.cast_manifest, Manifest(kind="cast", project="demo", entries=[
        ManifestEntry(name="Mara", id="mara", folder="demo/cast/Mara",
                      images=["demo/cast/Mara/portrait.png"], card={"age": 34, "gender": "f"})]))
    atomic_write_json(paths.bgm_config, BGMConfig(enabled=False))

    for c in (
        ModelCall(shot="S01-001", phase="render", attempt=1, provider="offline",
                  prompt=shots[0].prompt, cost=1.5, currency="CNY", duration_ms=1200,
                  task_id="task-v1", endpoint="tasks/task-v1", billed_units=4, unit="second"),
        ModelCall(shot="S01-001", phase="review", attempt=1, provider="offline", cost=0.25,
                  currency="CNY", duration_ms=300),
        ModelCall(shot="S01-001", phase="render", attempt=2, provider="offline",
                  prompt="Rewritten: wide harbour, steady hands", cost=1.5, currency="CNY"),
        ModelCall(phase="text", provider="offline", status="error", error="timeout"),
    ):
        append_jsonl(paths.model_calls, c.model_dump(mode="json"))
    return paths


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", page)


def test_full_episode_page(episode: EpisodePaths):
    out = build_viewer(episode, gate_status=GATES)
    assert out == episode.viewer and out.exists()
    page = out.read_text(encoding="utf-8")
    flat = _text(page)
    assert "The Crossing" in page and "Harbour Lights" in page
    for sid in ("S01-001", "S01-002", "S02-001"):
        assert f'id="shot-{sid}"' in page
    # storyboard order in the shot list and in the shot cards
    pos = [page.index(f'id="shot-{s}"') for s in ("S01-001", "S01-002", "S02-001")]
    assert pos == sorted(pos)
    # winner first, both versions present, relative media URLs, no copies made
    assert page.index('id="shot-S01-001-ver2"') < page.index('id="shot-S01-001-ver1"')
    assert 'src="clips/S01-001-ver1.mp4"' in page and 'src="clips/S01-001-ver2.mp4"' in page
    assert 'src="frames/S01-001-ver2_last.png"' in page
    assert 'src="../cast/Mara/portrait.png"' in page
    assert "task-v1" in page and "task-v2" in page
    # ver2's sent prompt differs from the storyboard; ver1's does not
    ver2 = page[page.index('id="shot-S01-001-ver2"'):page.index('id="shot-S01-001-ver1"')]
    assert "differs" in ver2 and "Rewritten: wide harbour" in ver2
    ver1 = page[page.index('id="shot-S01-001-ver1"'):page.index('id="shot-S01-002"')]
    assert "same as storyboard" in ver1
    # reviews: state (ver1) and reviews/ file (ver2), verdict colours, vetoed axis
    assert "v-reject" in ver1 and "vetoed" in ver1 and "physics" in ver1
    assert "v-accept" in ver2 and "8.2" in ver2
    # costs: per shot and episode total, from model_calls.jsonl
    assert "3.25 CNY" in page
    # escalation, gates, scenes with shot counts, model-call summary
    assert "Retries ran out." in page and "needs director rewrite" in page
    assert "gate3-renders" in page and "b-closed" in page and "b-open" in page
    assert "2 shots" in flat and "Scene 2 — Lighthouse (dawn)" in page
    assert "timeout" in page and "Kore-eda" in page and "Mara must decide" in page
    assert "demo/episode-001/premise.md" in page
    # self-contained: no external resources
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<link" not in page


def _status(waiting: str | None) -> list[dict]:
    """gates.status() rows: every gate before `waiting` approved, it and the rest waiting."""
    names = ["mode", "script", "storyboard", "render", "final"]
    cut = names.index(waiting) if waiting else len(names)
    return [{"gate": g, "label": g, "open": i < cut, "problems": []}
            for i, g in enumerate(names)]


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', page)


@pytest.mark.parametrize("waiting, first", [
    ("script", ["script", "scenes"]),
    ("storyboard", ["storyboard"]),
    ("render", ["clips"]),
    ("final", ["final"]),
    (None, ["final"]),
])
def test_what_the_waiting_gate_approves_comes_first(episode: EpisodePaths, waiting, first):
    page = build_viewer(episode, gate_status=_status(waiting)).read_text(encoding="utf-8")
    order = _sections(page)
    assert order[:len(first)] == first, order
    assert order[len(first)] == "gates"  # then the gate table, then the rest
    # every section exactly once, and the menu in the same order
    assert len(order) == len(set(order)) and {"script", "clips", "final", "calls"} <= set(order)
    nav = page.split('<nav class="sections"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'href="#([a-z]+)"', nav)[:len(first) + 1] == [*first, "gates"]
    banner = page.split('id="waiting"', 1)[1].split("</p>", 1)[0]
    if waiting:
        assert "waiting" in banner and f"spark-video approve {waiting} -p demo -e 001" in banner
    else:
        assert "Every gate is approved" in banner


def test_clips_table_at_gate_3(episode: EpisodePaths):
    page = build_viewer(episode, gate_status=_status("render")).read_text(encoding="utf-8")
    clips = page.split('<section id="clips">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", clips, re.S)
    assert len(rows) == 3  # one per shot
    s1 = _text(rows[0])
    assert "S01-001" in s1 and "ver2" in s1 and "ACCEPT" in s1 and "8.2" in s1
    assert "needs rewrite" in _text(rows[1]) and "escalated" in _text(rows[1])
    assert "not rendered" in _text(rows[2])


def _header_costs(page: str) -> tuple[str, str | None]:
    spent = re.search(r'id="cost-spent">spent <b>([^<]*)</b>', page)
    est = re.search(r'id="cost-estimate">estimate[^<]*<b>([^<]*)</b>', page)
    return spent.group(1), est.group(1) if est else None


def test_one_cost_figure_with_its_currency(episode: EpisodePaths):
    atomic_write_json(episode.estimate, {"provider": "bl", "cost": {
        "currency": "CNY", "total": 12.5, "known_total": 12.5, "no_price_data": []}})
    page = build_viewer(episode).read_text(encoding="utf-8")
    # spent: the priced calls (1.5 + 0.25 + 1.5), estimate: estimate.json; one code each
    assert _header_costs(page) == ("3.25 CNY", "12.50 CNY")
    assert "(bl)" in page.split('id="cost-estimate"', 1)[1][:40]
    assert "+" not in _header_costs(page)[0]
    # a line naming no currency is counted in the page's one currency, not beside it
    append_jsonl(episode.model_calls, ModelCall(phase="review", provider="offline", cost=0.75,
                                                shot="S01-001").model_dump(mode="json"))
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert _header_costs(page)[0] == "4.00 CNY"
    assert "4.00 CNY" in page.split('id="shot-S01-001"', 1)[1][:2000]


def test_no_price_data_is_said_never_zero(episode: EpisodePaths):
    # calls without a price: "no price data", never 0 / 0.0
    atomic_write_text(episode.model_calls, "")
    for _ in range(2):
        append_jsonl(episode.model_calls, ModelCall(phase="text", provider="bl").model_dump())
    atomic_write_json(episode.estimate, {"provider": "bl", "cost": {
        "currency": "CNY", "total": None, "known_total": 0.0,
        "no_price_data": ["happyhorse-1.0-t2v"]}})
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert _header_costs(page) == ("no price data",
                                   "no price data for happyhorse-1.0-t2v")
    assert "0.00 CNY" not in page and not re.search(r"<b>0(\.0+)?( CNY)?</b><span>spent", page)
    assert "2 calls without price data" in _text(page)
    # nothing logged yet, no estimate yet
    episode.model_calls.unlink()
    episode.estimate.unlink()
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert _header_costs(page) == ("nothing spent yet", None)


def test_hostile_text_is_escaped(episode: EpisodePaths):
    page = build_viewer(episode, gate_status=GATES).read_text(encoding="utf-8")
    body = page.split("<body>", 1)[1]
    # the only <script> elements are ours: the JSON data block and the static tabs script
    assert body.count("<script") == 2
    assert "alert(1)</script>" not in page
    assert "<img src=x" not in page and '"><img' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # in the prompt, the critique, the scene markdown and a gate problem
    for where in ("Wide dusk harbour &lt;script&gt;", "Bad hands &lt;script&gt;",
                  "<strong>Action:</strong> &lt;script&gt;", "<li>&#34;&gt;&lt;img src=x"):
        assert where in page, where
    # embedded JSON cannot close its script element
    data = page.split('id="viewer-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["shots"][0]["id"] == "S01-001"


def test_secrets_are_masked(episode: EpisodePaths, monkeypatch):
    key = "sk-abcdef0123456789abcdef"
    monkeypatch.setenv("DASHSCOPE_API_KEY", key)
    append_jsonl(episode.model_calls, ModelCall(phase="text", provider="bl", status="error",
                                                error=f"401 for key {key}").model_dump())
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert key not in page and "401 for key ***" in page


def test_premise_only_episode(tmp_path):
    paths = EpisodePaths.of("solo", "7", root=tmp_path / "projects")
    atomic_write_text(paths.premise, "A lighthouse keeper finds a <b>bottle</b>.\n")
    out = build_viewer(paths)
    page = out.read_text(encoding="utf-8")
    assert out == tmp_path / "projects" / "solo" / "episode-007" / "viewer.html"
    assert "A lighthouse keeper finds a &lt;b&gt;bottle&lt;/b&gt;." in page
    assert "solo/episode-007/premise.md" in page
    assert "No storyboard yet" in page and "No final cut yet" in page
    assert page.rstrip().endswith("</html>")


def test_project_premise_fallback_and_empty_folder(tmp_path):
    paths = EpisodePaths.of("solo", "1", root=tmp_path / "projects")
    page = build_viewer(paths).read_text(encoding="utf-8")
    assert "No premise yet" in page
    atomic_write_text(paths.project_paths.premise, "Project-wide premise.\n")
    page = build_viewer(paths).read_text(encoding="utf-8")
    assert "Project-wide premise." in page and "solo/premise.md" in page


def test_malformed_files_give_error_notes(episode: EpisodePaths):
    atomic_write_text(episode.storyboard, '{"title": "x", "shots": [')
    atomic_write_text(episode.cast_manifest, '{"kind": "cast"}')
    atomic_write_text(episode.direction, "not json")
    with episode.model_calls.open("a") as fh:
        fh.write("{broken\n")
        fh.write(json.dumps({"phase": "x", "provider": "y", "api_key": "sk-secret"}) + "\n")
    atomic_write_text(episode.project_paths.lore, "---\n: [\n---\nbody\n")
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert page.count('class="note note-error"') >= 5
    assert "storyboard.json: malformed JSON" in page
    assert "cast.json" in page and "direction.json: malformed JSON" in page
    assert "malformed YAML front-matter" in page
    assert "2 lines could not be read" in page and "sk-secret" not in page


def test_invalid_storyboard_model_and_state(episode: EpisodePaths):
    atomic_write_json(episode.storyboard, {"title": "x", "shots": [{"id": "../etc", "scene": "S01",
                                                                    "prompt": "p"}]})
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert "field shots[0] (id ../etc).id" in page
    atomic_write_text(episode.storyboard, "")
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert "storyboard.json" in page and "note-error" in page


def test_bad_state_file_keeps_other_shots(episode: EpisodePaths):
    atomic_write_text(episode.shot_state("S01-001"), '{"shot_id": 3}')
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert "state/S01-001.json" in page
    assert 'id="shot-S02-001"' in page and 'src="clips/S01-001-ver1.mp4"' in page


def test_final_cut_with_subtitles(episode: EpisodePaths, media):
    shutil.copy(media[0], episode.final_mp4)
    atomic_write_text(episode.final_srt, "1\n00:00:00,000 --> 00:00:01,000\n<i>We sail</i>\n")
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert 'src="final/demo-001.mp4"' in page
    assert 'src="data:text/vtt;base64,' in page and 'href="final/demo-001.srt"' in page


def test_posters_made_next_to_videos_are_shown_before_they_play(episode: EpisodePaths, media):
    from spark_video.media import make_poster, probe

    shutil.copy(media[0], episode.final_mp4)
    made = [make_poster(episode.clip_version("S01-001", 2), 1.0),
            make_poster(episode.final_mp4, 1.0),
            make_poster(episode.clip_version("S01-001", 1), 60.0)]  # past its end: 1st frame
    assert [p.name for p in made] == ["S01-001-ver2.poster.jpg", "demo-001.poster.jpg",
                                      "S01-001-ver1.poster.jpg"]
    for p in made:
        assert p.read_bytes()[:3] == b"\xff\xd8\xff" and probe(p).width == 160  # a JPEG still
    page = build_viewer(episode).read_text(encoding="utf-8")
    for url in ("clips/S01-001-ver2.poster.jpg", "clips/S01-001-ver1.poster.jpg",
                "final/demo-001.poster.jpg"):
        assert f'poster="{url}"' in page
    # the clips table shows the winner's still; a take without one has no poster attribute
    clips = page.split('<section id="clips">', 1)[1].split("</section>", 1)[0]
    assert 'src="clips/S01-001-ver2.poster.jpg"' in clips
    s2 = page.split('id="shot-S01-002"', 1)[1].split("</article>", 1)[0]
    assert "<video" in s2 and "poster=" not in s2


def test_manifest_media_outside_project_is_not_linked(episode: EpisodePaths):
    atomic_write_json(episode.cast_manifest, Manifest(kind="cast", project="demo", entries=[
        ManifestEntry(name="Eve", id="eve", folder="x", images=["../../../etc/passwd"])]))
    page = build_viewer(episode).read_text(encoding="utf-8")
    assert "passwd" not in page and "no image" in page


def test_simple_markdown_is_safe():
    out = str(simple_markdown("# T <b>\n- **a** `<i>`\n\n> q\n\ntext & *more*\n```\n<x>\n```"))
    assert "<h3>T &lt;b&gt;</h3>" in out and "<li><strong>a</strong> <code>&lt;i&gt;</code>" in out
    assert "<blockquote>q</blockquote>" in out and "text &amp; <em>more</em>" in out
    assert "<pre>&lt;x&gt;</pre>" in out


# --------------------------------------------------------------------------- real browser


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chrome-profile-{len(list(tmp_path.iterdir()))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=2000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_real_chromium_renders_page(episode: EpisodePaths, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed: the real-browser viewer test needs Chromium")
    out = build_viewer(episode, gate_status=GATES)
    url = out.resolve().as_uri()

    proc = _chromium(["--dump-dom", url], tmp_path)
    dom = proc.stdout
    assert proc.returncode == 0 and "</html>" in dom, proc.stderr[-2000:]
    sb = Storyboard.model_validate_json(episode.storyboard.read_text(encoding="utf-8"))
    for shot in sb.shots:
        assert f'id="shot-{shot.id}"' in dom
    # the tab script ran (allowed by its CSP hash): the winner tab is the active one
    assert 'class="versions js"' in dom
    # hostile text arrived as text, never as elements
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert not re.search(r"<img[^>]*\bsrc=\"?x\b", dom)
    assert not re.search(r"<[^>]*\bonerror=", dom)
    assert "alert(1)" in html.unescape(re.sub(r"<[^>]+>", "", dom))

    shot = tmp_path / "viewer.png"
    proc = _chromium([f"--screenshot={shot}", "--window-size=1280,2400", url], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.parametrize("junk", [b"\xff\xfe\x00garbage", b"[]", b"null", b'{"a": 1}', b""])
def test_junk_in_every_file_never_crashes(episode: EpisodePaths, junk: bytes):
    files = [p for p in episode.project_paths.root.rglob("*")
             if p.is_file() and p.suffix in (".json", ".jsonl", ".md", ".srt")]
    files += [episode.final_srt, episode.outline, episode.estimate,
              episode.review("S01-001", 1), episode.shot_state("S02-001")]
    for p in files:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(junk)
    (episode.root / "script.md").unlink()
    (episode.root / "script.md").mkdir()  # a folder where a file should be
    page = build_viewer(episode, gate_status=[{"gate": "g"}, "odd"]).read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")


@pytest.mark.slow
def test_phone_width_no_sideways_page_and_a_readable_gate_table(episode: EpisodePaths,
                                                                 tmp_path):
    """At 390 px (a phone; a desktop window cannot be that narrow, so the page is shown in a
    390 px frame): nothing makes the page itself scroll sideways, the gate table scrolls in
    its own box and its first columns (gate, what, status) stay in view with their
    approved / waiting wording."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    page = build_viewer(episode, gate_status=_status("render")).read_text(encoding="utf-8")
    # a copy with a measuring script (the real page's CSP allows only its own script)
    probe = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = probe.replace("</body>", """<script>
window.addEventListener('load', function () {
  var d = document.documentElement, box = document.querySelector('#gates .scroll');
  var status = Array.prototype.map.call(document.querySelectorAll('#gates td .badge'),
    function (b) { var r = b.getBoundingClientRect(); return [b.textContent, r.right]; });
  parent.postMessage(JSON.stringify({width: d.clientWidth, scroll: d.scrollWidth,
    box: box.clientWidth, status: status}), '*');
});
</script></body>""")
    (episode.root / "probe.html").write_text(probe, encoding="utf-8")
    frame = episode.root / "phone.html"
    frame.write_text("<html><body style='margin:0'><iframe src='probe.html' width='390' "
                     "height='900' style='border:0'></iframe><pre id=o>waiting</pre><script>"
                     "addEventListener('message',function(e){document.getElementById('o')"
                     ".textContent=e.data;});</script></body></html>", encoding="utf-8")
    proc = _chromium(["--dump-dom", frame.resolve().as_uri()], tmp_path)
    m = re.search(r'<pre id="o">(\{.*?\})</pre>', proc.stdout)
    assert m, proc.stdout[-800:] + proc.stderr[-800:]
    got = json.loads(html.unescape(m.group(1)))
    assert got["width"] <= 390 and got["scroll"] <= got["width"], got  # no sideways page
    words = [w for w, _ in got["status"]]
    assert words == ["approved", "approved", "approved", "waiting", "waiting"], words
    assert all(right <= got["width"] for _, right in got["status"]), got  # status in view
