"""The VFX review: code decides A, C, G, H, J, K, M, Q, R; the text model judges the rest;
a BLOCK keeps GATE 2 closed."""

from __future__ import annotations

import json

import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from writers_room import WritersRoom

from spark_video import gates
from spark_video.base.io import atomic_write_json
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import load_lore, write_manifest
from spark_video.base.settings import resolve
from spark_video.cli.autopilot import Session
from spark_video.gates.summaries import vfx_summary
from spark_video.providers.base import CallContext
from spark_video.storyboard import vfx

ANCHOR = "cinematic, salt-stained teal and amber palette, soft film grain"


@pytest.fixture
def ep(projects) -> EpisodePaths:
    paths = EpisodePaths.of("demo", "8", root=projects)
    paths.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(paths, kind)
    return paths


def shot(sid, prompt, **kw):
    base = {"id": sid, "scene": sid[:3], "kind": "r2v", "duration": 8, "prompt": prompt,
            "narrative_purpose": f"{sid}: her duty in her hands, shown in one gesture",
            "characters": ["Mara"], "use_prev_last_frame_as_first": True}
    return {**base, **kw}


def seeded(ep, defects=True):
    good = (f"Medium shot, [Image 1] Mara, 34, trims the lamp wick by the window, slow push in. "
            f"{ANCHOR}")
    shots = [
        shot("S01-001", good.replace("Medium", "Wide"), kind="t2v", characters=[],
             use_prev_last_frame_as_first=False),
        shot("S01-002", good),
        shot("S02-001", good, use_prev_last_frame_as_first=False),
        shot("S02-002", good.replace(" lamp", " lamp again")),
    ]
    if defects:
        shots[1]["prompt"] = good.replace(f" {ANCHOR}", "")  # A: no mood anchor
        shots[2]["prompt"] = good.replace("Mara, 34,", "Mara, 34, in her oilskin coat,")  # C
        shots[2]["use_prev_last_frame_as_first"] = True  # G: first shot of S02 chained
        shots[3]["set_id"] = "Nowhere"  # Q: unknown set
        shots[3]["prompt"] = good.replace("[Image 1]", "图1")  # R: 图N on bl
    sb = {"title": "t", "provider": "bl", "mode": "drama", "target_duration_s": 45,
          "scenes": [{"id": "S01", "name": "lamp room", "description": "the lamp room"},
                     {"id": "S02", "name": "lamp room", "description": "the lamp room"}],
          "shots": shots}
    atomic_write_json(ep.storyboard, sb)
    atomic_write_json(ep.direction, {"imagery_system": {"motifs": [
        {"name": "lamp", "meaning": "duty", "landings": ["S01", "S02"]}]}})
    return sb


def ctx_of(ep, **cfg):
    return CallContext(ep, resolve({"provider": "bl", "text_provider": "offline", **cfg},
                                   environ={}, config_file=None), phase="vfx-review")


def test_seeded_defects_get_the_right_findings_and_block_gate_2(ep):
    seeded(ep)
    rep = vfx.review_storyboard(ctx_of(ep))
    got = {(f.check, f.severity, tuple(f.shots)) for f in rep.findings}
    assert ("A", "CRIT", ("S01-002",)) in got
    assert ("C", "CRIT", ("S02-001",)) in got
    assert ("G", "WARN", ("S02-001",)) in got
    assert ("Q", "CRIT", ("S02-002",)) in got
    assert ("R", "WARN", ("S02-002",)) in got
    assert rep.verdict == "BLOCK" and rep.failing_scenes() == ["S01", "S02"]
    md = ep.vfx_review.read_text()
    assert "❌ BLOCK" in md and "**CRIT-1**" in md and "**WARN-1**" in md
    assert "[C wardrobe / appearance] S02-001" in md and "coat" in md and "oilskin" in md
    report = gates.check(ep, "storyboard")
    assert not report.passed and any(c.name == "VFX review does not BLOCK" and not c.ok
                                     for c in report.checks)
    with pytest.raises(gates.GateError, match="VFX review does not BLOCK"):
        gates.approve(ep, "storyboard")
    notes = vfx.director_notes_for(rep)
    assert set(notes) == {"S01", "S02"} and "S01-002" in notes["S01"]
    crit = sum(f.severity == "CRIT" for f in rep.findings)
    (line,) = vfx_summary(ep)  # what GATE 2 shows in the terminal
    assert line.startswith(f"  VFX review: BLOCK — {crit} critical")
    # the same storyboard without the defects passes (the prompts are clean)
    seeded(ep, defects=False)
    clean = vfx.review_storyboard(ctx_of(ep))
    assert clean.verdict != "BLOCK", clean.findings
    assert not any(c.name == "VFX review does not BLOCK" and not c.ok
                   for c in gates.check(ep, "storyboard").checks)


def test_a_stale_report_only_warns(ep):
    seeded(ep)
    vfx.review_storyboard(ctx_of(ep))
    seeded(ep, defects=False)  # the storyboard changed since the report
    checks = [c for c in gates.check(ep, "storyboard").checks if "VFX" in c.name]
    assert [(c.name, c.severity) for c in checks] == [("VFX review is current", "warn")]
    assert "made for an earlier storyboard" in vfx_summary(ep)[0]


def test_wan27_and_motif_rules(ep):
    seeded(ep, defects=False)
    rep = vfx.review_storyboard(ctx_of(ep, provider="wan27"))
    assert any(f.check == "R" and f.severity == "SUGG" for f in rep.findings)  # [Image N]
    sb = json.loads(ep.storyboard.read_text())
    for s in sb["shots"]:
        s["prompt"] = s["prompt"].replace("lamp", "wick")
    atomic_write_json(ep.storyboard, sb)
    rep = vfx.review_storyboard(ctx_of(ep))
    assert any(f.check == "O" and f.severity == "CRIT" for f in rep.findings)


def test_the_text_model_judges_the_rest_and_is_asked_again(ep, fake_dashscope, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", fake_dashscope.compatible_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    room = WritersRoom()
    fake_dashscope.text_responder = room
    seeded(ep, defects=False)
    room.vfx_answers.extend([
        json.dumps({"findings": [{"check": "A", "severity": "CRIT", "shots": ["S01-001"],
                                  "issue": "x", "fix": "y"}]}),  # code's item: refused
        json.dumps({"findings": [{"check": "D", "severity": "CRIT", "shots": ["S02-002"],
                                  "issue": "the scripted line is missing", "fix": "add it"}]}),
    ])
    rep = vfx.review_storyboard(ctx_of(ep, text_provider="openai"))
    assert room.asked["vfx"] == 2 and rep.verdict == "BLOCK"
    assert [(f.check, f.source) for f in rep.findings if f.severity == "CRIT"] == \
        [("D", "model")]
    system, user = fake_dashscope.chat_calls[-1]["texts"]
    assert "O imagery motifs" in system and "judge only" in user and ANCHOR in user
    lore, _ = load_lore(ep)
    assert lore.mood_anchor == ANCHOR


def test_the_resume_hint_keeps_vfx(ep):
    cfg = resolve({"vfx": True}, environ={}, config_file=None)
    assert Session(cfg=cfg, paths=ep).resume.endswith(f"{ep.episode} --vfx")
    assert not Session(cfg=cfg.model_copy(update={"vfx": False}), paths=ep).resume.endswith(
        "--vfx")


class _Refused:
    """A text model whose every answer is refused (a letter outside the checklist)."""

    name = "refusing"

    def __init__(self):
        self.asked = 0

    def complete(self, ctx, **_):
        self.asked += 1
        return json.dumps({"findings": [{"id": "WARN-1", "check": "Z", "severity": "WARN",
                                         "issue": "x"}]})


def _vfx_job(ep, tmp_path):
    from types import SimpleNamespace

    from spark_video.workflow import jobs
    log = tmp_path / "vfx-review.log"
    smk = SimpleNamespace(config={"project": ep.project, "episode": ep.episode,
                                  "projects_dir": str(ep.root.parent.parent),
                                  "provider": "bl", "text_provider": "offline",
                                  "vfx": True, "role_asks": 2},
                          log=[str(log)], input={}, output=[str(ep.vfx_review)])
    return lambda: jobs.run(smk, "vfx_review"), log


def test_a_requested_review_that_made_no_report_keeps_gate_2_closed(ep, tmp_path, monkeypatch):
    from spark_video import roles
    seeded(ep, defects=False)
    run, log = _vfx_job(ep, tmp_path)
    text = _Refused()
    monkeypatch.setattr(roles, "get_provider", lambda cap, cfg: text)
    with pytest.raises(SystemExit) as e:
        run()
    assert e.value.code == 1 and text.asked == 2
    assert not ep.vfx_review.exists() and vfx.failure_file(ep).exists()
    said = log.read_text()
    assert "the VFX review produced no report" in said and "GATE 2 stays closed" in said
    assert 'findings[0].check: "Z" is not one of A–R' in said  # what the model was told
    report = gates.check(ep, "storyboard")
    (c,) = [c for c in report.checks if c.name == "requested VFX review made a report"]
    assert not c.ok and not report.passed
    assert "is not one of A–R" in c.detail
    assert f"spark-video episode {ep.project} {ep.episode} --vfx" in c.detail  # retry
    assert "without --vfx" in c.detail and "vfx-review-failed.json" in c.detail  # go on
    with pytest.raises(gates.GateError, match="requested VFX review made a report"):
        gates.approve(ep, "storyboard")
    # the retry that works removes the record, and the report decides again
    monkeypatch.undo()  # the offline text model answers
    run()
    assert ep.vfx_review.exists() and not vfx.failure_file(ep).exists()
    assert not any(c.name == "requested VFX review made a report"
                   for c in gates.check(ep, "storyboard").checks)


def test_going_on_without_the_failed_review(ep):
    seeded(ep, defects=False)
    vfx.record_failure(ep, "the vfx gave no usable answer after 3 tries")
    assert any(c.name == "requested VFX review made a report" and not c.ok
               for c in gates.check(ep, "storyboard").checks)
    vfx.failure_file(ep).unlink()  # what the message says to do
    assert not any(c.name == "requested VFX review made a report"
                   for c in gates.check(ep, "storyboard").checks)


@pytest.mark.slow
def test_with_vfx_a_review_refused_every_time_renders_nothing(run_env, projects, fake_dashscope):
    """The issue's run: `--vfx` with a text model whose VFX answers are all refused. The
    build stops before GATE 2 opens: no stamp, no render job, and the message says why and
    how to retry or go on."""
    from conftest import run_cli

    room = WritersRoom()
    fake_dashscope.text_responder = room
    bad = json.dumps({"findings": [{"id": "WARN-1", "check": "Z", "severity": "WARN",
                                    "issue": "x"}]})
    room.vfx_answers.extend([bad] * 5)
    env = {**run_env, "SPARK_VIDEO_TEXT_PROVIDER": "openai", "SPARK_VIDEO_ROLE_ASKS": "2",
           "OPENAI_BASE_URL": fake_dashscope.compatible_base_url, "OPENAI_API_KEY": FAKE_KEY}
    proc = run_cli(env, "episode", "demo", "032", "--yes", "--vfx")
    ep = EpisodePaths.of("demo", "032", root=projects)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said[-3000:]
    assert room.asked["vfx"] == 2
    assert "the VFX review produced no report" in said and "is not one of A–R" in said
    assert "GATE 2 stays closed" in said and "--vfx" in said and "without --vfx" in said
    assert ep.storyboard.exists() and not ep.approval("storyboard").exists()
    assert not list(ep.root.glob("clips/*.mp4")) and not list(ep.root.glob("state/*.json"))
    # approving by hand is refused too, with the same reason
    proc = run_cli(env, "approve", "storyboard", "--project", "demo", "--episode", "032")
    assert proc.returncode != 0 and "requested VFX review made a report" in \
        proc.stdout + proc.stderr


def test_a_review_stopped_midway_keeps_gate_2_closed(ep, tmp_path, monkeypatch):
    from spark_video import roles

    seeded(ep, defects=False)
    run, _ = _vfx_job(ep, tmp_path)

    def killed(cap, cfg):
        raise KeyboardInterrupt  # the job is stopped while the model is asked

    monkeypatch.setattr(roles, "get_provider", killed)
    with pytest.raises(KeyboardInterrupt):
        run()
    (c,) = [c for c in gates.check(ep, "storyboard").checks
            if c.name == "requested VFX review made a report"]
    assert not c.ok and "did not finish" in c.detail
