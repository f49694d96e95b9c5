"""Acceptance, end to end: a whole episode with SPARK_VIDEO_PROVIDER=bl against the local fake
DashScope over real HTTP; and a SIGKILL of the whole build while tasks run, then a restart."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def bl_env(run_env: dict[str, str], fake, tmp_path: Path) -> dict[str, str]:
    env = dict(run_env)
    env.update({
        "SPARK_VIDEO_PROVIDER": "bl", "SPARK_VIDEO_TEXT_PROVIDER": "offline",
        "SPARK_VIDEO_RESOLUTION": "720P",  # happyhorse renders 720P / 1080P only
        "DASHSCOPE_API_KEY": FAKE_KEY, "DASHSCOPE_HTTP_BASE_URL": fake.base_url,
        "SPARK_VIDEO_POLL_INTERVAL_S": "0.05", "SPARK_VIDEO_POLL_MAX_S": "0.2",
        "SPARK_VIDEO_RETRY_BASE_S": "0.02", "SPARK_VIDEO_LOCK_DIR": str(tmp_path / "slots"),
    })
    return env


def test_episode_with_bl_against_fake_server(fake_dashscope, run_env, projects, tmp_path):
    fake_dashscope.running_s = 0.2
    fake_dashscope.submit_faults.append((429, "Throttling.RateQuota", "burst"))
    env = bl_env(run_env, fake_dashscope, tmp_path)
    proc = run_cli(env, "episode", "demo", "003", "--yes", check=True)
    ep = projects / "demo" / "episode-003"
    assert (ep / "final" / "demo-003.mp4").exists()
    winners = [p for p in glob.glob(str(ep / "clips" / "S*.mp4")) if "-ver" not in p]
    assert winners
    for p in winners:  # every clip in the cut is a file the server produced
        assert hashlib.sha256(Path(p).read_bytes()).hexdigest() in fake_dashscope.served_sha256
    reviews = [json.loads(Path(p).read_text()) for p in glob.glob(str(ep / "reviews/*.json"))]
    assert reviews and all(r["reviewer"] == "qwen3.5-omni-plus" for r in reviews)
    assert len([c for c in fake_dashscope.chat_calls if c["video"]]) == len(reviews)
    assert max(fake_dashscope.submissions.values()) == 1  # never paid twice
    # portraits came from the server at a size the model accepts (else it answers 400)
    assert {c["size"] for c in fake_dashscope.image_calls} == {"1184*1568"}
    assert len(fake_dashscope.image_calls) == 2  # Mara, Theo
    est = json.loads((ep / "estimate.json").read_text())
    # the video lines match the server's bill; the reviews are priced on top of them
    video = sum(line["cost"] for line in est["cost"]["lines"])
    assert video == pytest.approx(fake_dashscope.bill_total)
    tts = (est.get("tts") or {}).get("cost") or 0.0
    assert est["cost"]["total"] == pytest.approx(video + est["cost"]["review"]["cost"] + tts)
    blob = proc.stdout + proc.stderr + "".join(
        Path(p).read_text(errors="replace") for p in glob.glob(str(ep / "**/*.json*"),
                                                                 recursive=True))
    assert FAKE_KEY not in blob + (ep / "viewer.html").read_text()
    assert not fake_dashscope.auth_leaks


def test_every_5th_task_failed_and_every_6th_submit_500_episode_completes(
        fake_dashscope, run_env, projects, tmp_path):
    fake_dashscope.fail_every = 5
    fake_dashscope.submit_500_every = 6
    env = bl_env(run_env, fake_dashscope, tmp_path)
    env["SPARK_VIDEO_FAILED_BACKOFF_S"] = "0.05"
    run_cli(env, "episode", "demo", "005", "--yes", check=True)
    ep = projects / "demo" / "episode-005"
    assert (ep / "final" / "demo-005.mp4").exists()
    failed = [t for t in fake_dashscope.tasks.values() if t.outcome == "FAILED"]
    assert failed and fake_dashscope.submit_requests >= 6  # both faults really happened
    assert fake_dashscope.paid_duplicates() == {}  # zero duplicated paid submissions
    assert len(fake_dashscope.bill) == len(fake_dashscope.tasks) - len(failed)
    states = [json.loads(p.read_text()) for p in (ep / "state").glob("*.json")]
    takes = [a for st in states for a in st["attempts"]]
    assert sum(a["error_code"] == "InternalError" for a in takes) == len(failed)
    assert not any(st.get("failed") for st in states)


def test_sigkill_whole_build_then_restart_pays_once(fake_dashscope, run_env, projects,
                                                    tmp_path):
    fake_dashscope.running_s = 2.0
    env = bl_env(run_env, fake_dashscope, tmp_path)
    cmd = [sys.executable, "-m", "spark_video.cli", "episode", "demo", "004", "--yes"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (fake_dashscope.total_submissions >= 2 and fake_dashscope.polls):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole build, mid-poll
    proc.wait()
    before = fake_dashscope.total_submissions
    assert not fake_dashscope.bill or len(fake_dashscope.bill) < before
    fake_dashscope.running_s = 0.2
    run_cli(env, "episode", "demo", "004", "--yes", check=True)
    assert (projects / "demo" / "episode-004" / "final" / "demo-004.mp4").exists()
    assert max(fake_dashscope.submissions.values()) == 1, fake_dashscope.submissions
    # every task submitted before the kill was resumed, none was paid for twice
    assert len(fake_dashscope.bill) == fake_dashscope.total_submissions


def test_shots_that_keep_failing_leave_gate_3_closed_with_retry_commands(
        fake_dashscope, run_env, projects, tmp_path):
    fake_dashscope.fail_every = 1  # every task FAILED: no shot can render
    env = bl_env(run_env, fake_dashscope, tmp_path)
    env.update({"SPARK_VIDEO_FAILED_BACKOFF_S": "0.01", "SPARK_VIDEO_FAILED_RETRIES": "1"})
    proc = run_cli(env, "episode", "demo", "006", "--yes")
    ep = projects / "demo" / "episode-006"
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and not (ep / "final" / "demo-006.mp4").exists()
    states = [json.loads(p.read_text()) for p in (ep / "state").glob("*.json")]
    assert states and all(st["failed"] for st in states)
    codes = {st["failed"]["code"] for st in states}
    assert codes <= {"InternalError", "UpstreamFailed"} and "InternalError" in codes
    assert "render --shot" in out and "FAILED" in out
    assert "Traceback" not in out
    assert fake_dashscope.bill == []  # nothing billed
    # the provider recovers: the retry command renders the failed shots for real
    fake_dashscope.fail_every = 0
    first = sorted(st["shot_id"] for st in states)[0]
    run_cli(env, "render", "--project", "demo", "--episode", "006", "--failed-only", "--now",
            check=True)
    st = json.loads((ep / "state" / f"{first}.json").read_text())
    assert st["failed"] is None and st["winner_version"]
