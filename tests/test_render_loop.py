"""The per-shot render loop with the real offline renderer and technical review:
REJECT -> rewrite -> retry -> ACCEPT, escalation after max_retry, resume without repaying."""

from __future__ import annotations

import json

import pytest
from conftest import scaffolded_episode
from test_core import shot, write_fragment

from spark_video import gates, storyboard
from spark_video.base.models import Attempt, ShotState
from spark_video.base.settings import resolve
from spark_video.render import (
    accept_version,
    derive_shots_state,
    load_state,
    load_take_request,
    render_shot,
    request_take,
    save_state,
)


@pytest.fixture
def ep(projects, monkeypatch):
    monkeypatch.delenv("SPARK_VIDEO_OFFLINE_FAULTS", raising=False)
    return scaffolded_episode(projects, "9")


@pytest.fixture
def cfg():
    return resolve({"resolution": "360P"}, environ={}, config_file=None)


def compile_one(ep, cfg, n=1, **kw):
    write_fragment(ep, 1, [shot(f"S01-{i:03d}", duration=2, **kw) for i in range(1, n + 1)])
    return storyboard.compile_storyboard(ep, cfg, "drama")


def test_reject_rewrite_retry_accept(ep, cfg, monkeypatch):
    compile_one(ep, cfg)
    monkeypatch.setenv("SPARK_VIDEO_OFFLINE_FAULTS", "S01-001:1=black")
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None)
    assert [a.review.verdict for a in st.attempts] == ["REJECT", "ACCEPT"]
    assert st.attempts[0].review.vetoed_axes  # the black frames were caught
    assert st.attempts[1].prompt != st.attempts[0].prompt  # rewritten before retrying
    assert st.winner_version == 2 and ep.clip("S01-001").read_bytes() == \
        ep.clip_version("S01-001", 2).read_bytes()
    assert json.loads(ep.review("S01-001", 1).read_text())["verdict"] == "REJECT"
    phases = [json.loads(x)["phase"] for x in ep.model_calls.read_text().splitlines()]
    assert phases.count("render") == 2 and phases.count("review") == 2 and "rewrite" in phases


def test_retries_exhausted_promote_best_and_escalate(ep, cfg, monkeypatch):
    compile_one(ep, cfg)
    monkeypatch.setenv("SPARK_VIDEO_OFFLINE_FAULTS", "S01-001:*=silent")
    st = render_shot(ep, cfg.model_copy(update={"max_retry": 2}), "S01-001",
                     log=lambda m: None)
    assert len(st.attempts) == 2 and st.needs_director_rewrite
    assert st.winner_version in (1, 2) and ep.clip("S01-001").exists()
    assert ep.escalation("S01-001").exists()
    derive_shots_state(ep, ["S01-001"])
    esc = json.loads(ep.needs_director_rewrite.read_text())
    assert esc["shots"] == ["S01-001"]
    rep = gates.check(ep, "render")
    assert not rep.passed and any("escalation" in c.name for c in rep.checks)


def test_unchanged_inputs_restore_the_winner_instead_of_repaying(ep, cfg):
    compile_one(ep, cfg)
    render_shot(ep, cfg, "S01-001", log=lambda m: None)
    ep.clip("S01-001").unlink()
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None)
    assert len(st.attempts) == 1 and ep.clip("S01-001").exists()
    req = request_take(ep, "S01-001", "try again")
    assert req.take == 2 and load_take_request(ep, "S01-001") == req
    st = render_shot(ep, cfg, "S01-001", request=req, log=lambda m: None)
    assert len(st.attempts) == 2 and st.winner_version == 2 and st.take_request_served == 2
    # the served request stays on disk; running the job again (snakemake -f) restores
    st = render_shot(ep, cfg, "S01-001", request=req, log=lambda m: None)
    assert len(st.attempts) == 2 and st.winner_version == 2


def test_take_request_survives_a_crash_and_resumes_its_paid_task(ep, cfg):
    compile_one(ep, cfg)
    render_shot(ep, cfg, "S01-001", log=lambda m: None)
    req = request_take(ep, "S01-001", "")
    assert request_take(ep, "S01-001", "asked twice").take == req.take == 2  # one take
    from spark_video.render import input_key, load_spec

    # the build died after submitting take 2: the request is still open, the task resumes
    st = load_state(ep, "S01-001")
    st.attempts.append(Attempt(version=2, status="RUNNING", provider="offline",
                               prompt="p", input_key=input_key(ep, load_spec(ep, "S01-001"),
                                                               None)))
    save_state(ep, st)
    st = render_shot(ep, cfg, "S01-001", request=load_take_request(ep, "S01-001"),
                     log=lambda m: None)
    assert [a.version for a in st.attempts] == [1, 2] and st.winner_version == 2
    assert st.attempts[1].status == "SUCCEEDED"


def test_a_chosen_take_closes_the_open_request(ep, cfg):
    compile_one(ep, cfg)
    render_shot(ep, cfg, "S01-001", log=lambda m: None)
    request_take(ep, "S01-001", "")
    accept_version(ep, "S01-001", 1)
    st = render_shot(ep, cfg, "S01-001", request=load_take_request(ep, "S01-001"),
                     log=lambda m: None)
    assert len(st.attempts) == 1 and st.winner_version == 1


def test_a_take_request_for_another_shot_is_refused(ep, cfg):
    compile_one(ep, cfg, n=2)
    request_take(ep, "S01-002", "")
    ep.take_request("S01-001").write_text(ep.take_request("S01-002").read_text())
    with pytest.raises(Exception, match="S01-001"):
        load_take_request(ep, "S01-001")


def test_interrupted_attempt_resumes_with_the_same_version(ep, cfg):
    compile_one(ep, cfg)
    from spark_video.render import input_key, load_spec

    spec = load_spec(ep, "S01-001")
    key = input_key(ep, spec, None)
    save_state(ep, ShotState(shot_id="S01-001", attempts=[
        Attempt(version=1, status="RUNNING", provider="offline", prompt=spec.shot.prompt,
                input_key=key)]))
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None)
    assert [a.version for a in st.attempts] == [1] and st.attempts[0].status == "SUCCEEDED"


def test_chained_shot_starts_on_previous_last_frame(ep, cfg):
    from spark_video.media import extract_frame

    compile_one(ep, cfg, n=2, kind="t2v")
    render_shot(ep, cfg, "S01-001", log=lambda m: None)
    extract_frame(ep.clip("S01-001"), ep.last_frame("S01-001"), last=True)
    st = render_shot(ep, cfg, "S01-002", log=lambda m: None)
    att = st.attempts[-1]
    assert att.first_frame == "frames/S01-001.last.png"
    assert att.review.checks["first_frame_diff"] <= att.review.checks["first_frame_max_diff"]
    assert att.review.verdict == "ACCEPT"


def test_a_second_job_for_the_same_shot_waits_for_the_first(ep, tmp_path):
    """An orphaned cluster job (its Snakemake was killed) still renders the shot: the
    restarted build's job waits for it instead of writing the same state file at once."""
    import subprocess
    import sys
    import time

    from spark_video.render import single_writer

    done = tmp_path / "orphan-done"
    ready = tmp_path / "orphan-ready"
    code = ("import sys, time; from pathlib import Path\n"
            "from spark_video.base.paths import EpisodePaths\n"
            "from spark_video.render import single_writer\n"
            f"ep = EpisodePaths.of('demo', '9', root=Path({str(ep.project_paths.root.parent)!r}))\n"
            "with single_writer(ep, 'S01-001', log=lambda m: None):\n"
            f"    Path({str(ready)!r}).touch(); time.sleep(1.0)\n"
            f"    Path({str(done)!r}).touch()\n")
    orphan = subprocess.Popen([sys.executable, "-c", code])
    try:
        while not ready.exists():
            assert orphan.poll() is None
            time.sleep(0.01)
        said = []
        with single_writer(ep, "S01-001", log=said.append):
            assert done.exists(), "entered while the other job still held the shot"
        assert said and "waiting" in said[0]
    finally:
        orphan.wait(timeout=30)
