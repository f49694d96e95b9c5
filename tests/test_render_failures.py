"""FAILED is an attempt, not the end: the render loop against the local DashScope server.
FAILED tasks are failed takes (never billed) retried with backoff; a shot that still fails is
marked FAILED with code and message, a slate stands in for its clip, GATE 3 stays closed and
names the retry command; a chained shot never pays for a take on a failed shot's slate."""

from __future__ import annotations

import hashlib

import pytest
from conftest import scaffolded_episode
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_core import shot, write_fragment

from spark_video import gates, storyboard
from spark_video.base.settings import resolve
from spark_video.media import probe
from spark_video.render import derive_shots_state, render_shot


@pytest.fixture
def ep(projects, fake_dashscope, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_TEXT_PROVIDER", "offline")
    return scaffolded_episode(projects, "9")


def cfg_of(**kw):
    base = {"provider": "bl", "text_provider": "offline", "resolution": "720P",
            "failed_backoff_s": 0.01}
    return resolve({**base, **kw}, environ={}, config_file=None)


def compile_shots(ep, cfg, n=1):
    write_fragment(ep, 1, [shot(f"S01-{i:03d}", duration=3) for i in range(1, n + 1)])
    return storyboard.compile_storyboard(ep, cfg, "drama")


def test_failed_task_is_a_failed_take_retried_with_backoff(ep, fake_dashscope):
    cfg = cfg_of()
    compile_shots(ep, cfg)
    fake_dashscope.task_outcomes.extend(["FAILED", "UNKNOWN"])  # InternalError, then expired
    waits: list[float] = []
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=waits.append)
    assert [a.status for a in st.attempts] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert [a.error_code for a in st.attempts[:2]] == ["InternalError", "TaskExpired"]
    assert waits == [0.01, 0.02]  # growing backoff
    assert st.winner_version == 3 and st.failed is None
    assert len(fake_dashscope.bill) == 1  # only the good take was billed
    assert max(fake_dashscope.submissions.values()) == 3  # same request, tried three times


def test_failed_retries_are_separate_from_review_rounds(ep, fake_dashscope):
    cfg = cfg_of(max_retry=1, failed_retries=2)
    compile_shots(ep, cfg)
    fake_dashscope.task_outcomes.extend(["FAILED", "FAILED"])
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.winner_version == 3 and not st.needs_director_rewrite


def test_shot_that_still_fails_is_marked_and_gate_stays_closed(ep, fake_dashscope):
    cfg = cfg_of(failed_retries=1)
    compile_shots(ep, cfg, n=2)  # S01-002 chains
    fake_dashscope.task_outcomes.extend(["FAILED", "FAILED"])
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.failed and st.failed.code == "InternalError"
    assert "please retry" in st.failed.message
    assert st.failed.retry.startswith("uv run spark-video render --shot S01-001")
    assert probe(ep.clip("S01-001")).has_video  # a slate, so the build keeps going
    assert fake_dashscope.bill == []
    # the chained shot never pays for a take that starts on the slate
    before = fake_dashscope.total_submissions
    from spark_video.media import extract_frame

    extract_frame(ep.clip("S01-001"), ep.last_frame("S01-001"), last=True)
    st2 = render_shot(ep, cfg, "S01-002", log=lambda m: None, sleep=lambda s: None)
    assert st2.failed and st2.failed.code == "UpstreamFailed"
    assert fake_dashscope.total_submissions == before
    # GATE 3 cannot be approved, and its check names the shot, the code and the command
    derive_shots_state(ep, ["S01-001", "S01-002"])
    with pytest.raises(gates.GateError, match=r"FAILED \(InternalError.*render --shot S01-001"):
        gates.approve(ep, "render")
    assert any("S01-001 FAILED (InternalError" in r and "render --shot S01-001" in r
               for r in gates.failed_shots(ep))
    # the retry renders it for real
    from spark_video.render import request_take

    st = render_shot(ep, cfg, "S01-001", request=request_take(ep, "S01-001", "retry"),
                     log=lambda m: None, sleep=lambda s: None)
    assert st.failed is None and st.winner_version
    assert hashlib.sha256(ep.clip("S01-001").read_bytes()).hexdigest() in \
        fake_dashscope.served_sha256  # the slate is gone: the clip came from the server
    assert not any(r.startswith("S01-001") for r in gates.failed_shots(ep))


def test_invalid_request_is_not_retried(ep, fake_dashscope):
    cfg = cfg_of()
    compile_shots(ep, cfg)
    fake_dashscope.submit_faults.append((400, "InvalidParameter", "bad"))
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.failed and st.failed.code == "InvalidParameter"
    assert len(st.attempts) == 1


def test_moderation_failure_gets_a_rewritten_prompt(ep, fake_dashscope):
    cfg = cfg_of()
    compile_shots(ep, cfg)
    fake_dashscope.task_outcomes.append("DataInspectionFailed")
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.attempts[0].error_code == "DataInspectionFailed"
    assert st.attempts[1].prompt != st.attempts[0].prompt and st.winner_version == 2
