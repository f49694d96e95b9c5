"""Each kind of provider fault, one shot rendered through it against the local DashScope
server: survived (one winner, nothing paid twice that was not lost) or clearly reported."""

from __future__ import annotations

import hashlib

import pytest
from conftest import scaffolded_episode
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from test_render_failures import cfg_of, compile_shots

from spark_video import render


@pytest.fixture
def ep(projects, fake_dashscope, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_TEXT_PROVIDER", "offline")
    return scaffolded_episode(projects, "9")


def storm(fake, status, code, n):
    fake.submit_faults.extend([(status, code, "storm")] * n)


FAULTS = {
    # kind: (set-up, tasks created, tasks billed)
    "FAILED task": (lambda f, m: f.task_outcomes.append("FAILED"), 2, 1),
    "expired task (UNKNOWN)": (lambda f, m: f.task_outcomes.append("UNKNOWN"), 2, 1),
    "moderation as a FAILED task": (lambda f, m: f.task_outcomes.append(
        "DataInspectionFailed"), 2, 1),
    "429 storm past the HTTP retries": (lambda f, m: storm(f, 429, "Throttling.RateQuota",
                                                           8), 1, 1),
    "5xx storm past the HTTP retries": (lambda f, m: storm(f, 503, "ServiceUnavailable", 8),
                                        1, 1),
    "poll errors (5xx) while polling": (lambda f, m: f.poll_faults.extend(
        [(500, "InternalError", "x")] * 3), 1, 1),
    "slow task past the render timeout": (lambda f, m: (
        f.task_outcomes.append("slow"), m.setenv("SPARK_VIDEO_RENDER_TIMEOUT_S", "1.2")), 1, 1),
    "truncated download": (lambda f, m: setattr(f, "truncate_downloads", 1), 1, 1),
    "expired result URL": (lambda f, m: setattr(f, "expire_next_urls", 1), 2, 2),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_is_survived(ep, fake_dashscope, monkeypatch, capsys, kind):
    setup, created, billed = FAULTS[kind]
    monkeypatch.setenv("SPARK_VIDEO_HTTP_RETRIES", "3")
    setup(fake_dashscope, monkeypatch)
    cfg = cfg_of()
    compile_shots(ep, cfg)
    logs: list[str] = []
    st = render.render_shot(ep, cfg, "S01-001", log=logs.append, sleep=lambda s: None)
    assert st.failed is None and st.winner_version, kind
    assert len(fake_dashscope.tasks) == created, kind
    assert len(fake_dashscope.bill) == billed, kind  # an expired result was paid and lost
    assert fake_dashscope.paid_duplicates() == {} or kind == "expired result URL"
    clip = ep.clip("S01-001").read_bytes()
    assert hashlib.sha256(clip).hexdigest() in fake_dashscope.served_sha256
    # the key appears in no file and no output
    blob = "\n".join(logs) + "".join(capsys.readouterr()) + "".join(
        p.read_text(errors="replace") for p in ep.root.rglob("*") if p.is_file()
        and p.suffix in (".json", ".jsonl", ".md", ".log", ".txt"))
    assert FAKE_KEY not in blob and "0123456789abcdef" not in blob


def test_fault_kinds_counted():
    assert len(FAULTS) >= 9
