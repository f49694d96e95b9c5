"""Escalation closes the loop: the report goes to the director, who rewrites only that shot
in its scene json; the shot renders again with a fresh retry budget; never auto-accepted."""

from __future__ import annotations

import json

import pytest
from conftest import scaffolded_episode

from spark_video import roles
from spark_video.base.io import atomic_write_json, load_model
from spark_video.base.models import ShotState
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import load_lore, load_manifest
from spark_video.base.settings import resolve
from spark_video.providers.base import CallContext
from spark_video.render.escalation import escalated_shots, request_director_rewrite


@pytest.fixture
def ep(projects) -> EpisodePaths:
    return scaffolded_episode(projects, "9")


def test_director_rewrites_only_the_escalated_shot(ep):
    ctx = CallContext(ep, resolve({}, environ={}, config_file=None), phase="director")
    lore, _ = load_lore(ep)
    cast = load_manifest(ep, "cast")
    outline = roles.write_outline(ctx, premise="A storm. A bottle.", lore=lore, cast=cast,
                                  mode="drama")
    md = roles.write_scene(ctx, outline=outline, num=1, lore=lore, cast=cast)
    kw = {"scene_md": md, "num": 1, "lore": lore, "cast": cast,
          "sets": load_manifest(ep, "set"), "props": load_manifest(ep, "prop"), "mode": "drama"}
    first = roles.direct_scene(ctx, **kw)
    atomic_write_json(ep.shot_state("S01-002"), ShotState(shot_id="S01-002",
                                                          needs_director_rewrite=True))
    ep.escalation("S01-002").write_text("# Escalation: S01-002\n\n| ver | logic |\n"
                                        "| 1 | 3 |\n\n- ver1: 0:02 the hand melts\n")
    assert escalated_shots(ep) == ["S01-002"]
    (note,) = request_director_rewrite(ep, ["S01-002"], "keep it short")
    notes = note.read_text()
    assert note == ep.director_notes(1) and notes.startswith("Rewrite only: S01-002")
    assert "0:02 the hand melts" in notes and "Producer's note: keep it short" in notes
    second = roles.direct_scene(ctx, **kw, notes=notes, previous=first)
    changed = [s.id for s, t in zip(first.shots, second.shots, strict=True) if s != t]
    assert changed == ["S01-002"]
    assert second.shot("S01-002").prompt.endswith(lore.mood_anchor)
    third = roles.direct_scene(ctx, **kw, notes=notes, previous=second)  # comes back again
    assert third.shot("S01-002").prompt != second.shot("S01-002").prompt
    told = sorted(ep.prompts_dir.glob("*director-S01*"))[-1].read_text()
    assert "Rewrite only: S01-002" in told and "Your current version of this scene" in told


@pytest.mark.slow
def test_a_shot_rejected_on_every_take_is_rewritten_and_rendered_again(run_env, projects):
    from conftest import run_cli

    env = {**run_env, "SPARK_VIDEO_OFFLINE_FAULTS": "S01-002:1|2|3=black"}
    proc = run_cli(env, "episode", "demo", "032", "--yes", check=True)
    assert "escalated after 3 rounds: S01-002" in proc.stdout
    ep = EpisodePaths.of("demo", "032", root=projects)
    st = load_model(ShotState, ep.shot_state("S01-002"))
    assert [a.review.verdict for a in st.attempts] == ["REJECT"] * 3 + ["ACCEPT"]
    assert st.winner_version == 4 and not st.needs_director_rewrite
    assert len({a.input_key for a in st.attempts}) == 2  # a new spec: a fresh retry budget
    frag = json.loads(ep.scene_json(1).read_text())
    new = next(s for s in frag["shots"] if s["id"] == "S01-002")
    assert "wider framing" in new["prompt"] and st.attempts[-1].prompt == new["prompt"]
    assert "Rewrite only: S01-002" in ep.director_notes(1).read_text()
    assert not ep.needs_director_rewrite.exists() and ep.final_mp4.exists()
    # the new take was asked for through takes/<shot>.json (after the rewrite compiled)
    assert json.loads(ep.take_request("S01-002").read_text())["take"] == 4
    assert st.take_request_served == 4


@pytest.mark.slow
def test_revise_shot_sends_an_escalated_shot_to_the_director(run_env, projects):
    """By hand: with no autopilot rewrite (escalation_rounds 0) GATE 3 stays closed on the
    escalation; `revise shot` hands the report to the director, GATE 2 waits for the rewritten
    storyboard, and after approval the shot renders a new take (takes/<shot>.json)."""
    from conftest import run_cli

    env = {**run_env, "SPARK_VIDEO_OFFLINE_FAULTS": "S01-002:1|2|3=black",
           "SPARK_VIDEO_ESCALATION_ROUNDS": "0"}
    proc = run_cli(env, "episode", "demo", "033", "--yes")
    assert proc.returncode == 1 and "S01-002 escalation resolved" in proc.stdout + proc.stderr
    ep = EpisodePaths.of("demo", "033", root=projects)
    before = json.loads(ep.scene_json(1).read_text())
    proc = run_cli(env, "revise", "shot", "--shot", "S01-002", "--note", "keep the lamp lit",
                   "-p", "demo", "-e", "033")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the director rewrites S01-002 with the escalation report" in proc.stdout
    notes = ep.director_notes(1).read_text()
    assert "Rewrite only: S01-002" in notes and "Producer's note: keep the lamp lit" in notes
    after = json.loads(ep.scene_json(1).read_text())
    changed = [a["id"] for a, b in zip(before["shots"], after["shots"], strict=True) if a != b]
    assert changed == ["S01-002"]
    assert "GATE 2 (storyboard)" in proc.stdout  # shown again, waiting for approval
    st = load_model(ShotState, ep.shot_state("S01-002"))
    assert len(st.attempts) == 3  # nothing rendered before the rewrite is approved
    assert json.loads(ep.take_request("S01-002").read_text())["take"] == 4
    run_cli(env, "approve", "storyboard", "-p", "demo", "-e", "033", check=True)
    run_cli(env, "episode", "demo", "033", "--yes", check=True)
    st = load_model(ShotState, ep.shot_state("S01-002"))
    assert [a.review.verdict for a in st.attempts] == ["REJECT"] * 3 + ["ACCEPT"]
    assert len({a.input_key for a in st.attempts}) == 2 and not st.needs_director_rewrite
    assert st.take_request_served == 4
    assert ep.final_mp4.exists()
