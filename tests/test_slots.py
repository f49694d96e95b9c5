"""Provider-call slots: a cross-process cap on concurrent calls that a killed job never leaks."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

from spark_video.base.paths import EpisodePaths
from spark_video.providers.slots import api_slot, render_jobs, slot_dir


def _hold(root: str, slots: int, seconds: float, log: str) -> None:
    paths = EpisodePaths.of("demo", "001", root=Path(root))
    with api_slot(paths, slots, wait_s=0.02):
        t0 = time.monotonic()
        time.sleep(seconds)
        with open(log, "a") as fh:
            fh.write(f"{t0} {time.monotonic()}\n")


def test_slots_cap_concurrent_calls_across_processes(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_VIDEO_LOCK_DIR", raising=False)
    log = tmp_path / "held.txt"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_hold, args=(str(tmp_path), 2, 0.4, str(log)))
             for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    spans = [tuple(map(float, line.split())) for line in log.read_text().splitlines()]
    assert len(spans) == 6
    # at any moment at most 2 holders (a holder's start inside 2 others' spans would be 3)
    for s, _ in spans:
        assert sum(1 for a, b in spans if a <= s < b) <= 2
    paths = EpisodePaths.of("demo", "001", root=tmp_path)
    assert slot_dir(paths) == paths.state_dir / ".api-slots"
    monkeypatch.setenv("SPARK_VIDEO_LOCK_DIR", str(tmp_path / "locks"))
    assert slot_dir(paths) == tmp_path / "locks" / "api"
    assert render_jobs(4) == 8 and render_jobs(0) == 2


def test_a_killed_holder_frees_its_slot(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARK_VIDEO_LOCK_DIR", raising=False)
    ctx = mp.get_context("fork")
    holder = ctx.Process(target=_hold, args=(str(tmp_path), 1, 60.0, str(tmp_path / "x")))
    holder.start()
    paths = EpisodePaths.of("demo", "001", root=tmp_path)
    lock = slot_dir(paths) / "slot-0.lock"
    deadline = time.monotonic() + 20
    while not lock.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    waiter = ctx.Process(target=_hold, args=(str(tmp_path), 1, 0.0, str(tmp_path / "y")))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive()  # the only slot is held
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    waiter.join(10)
    assert waiter.exitcode == 0 and (tmp_path / "y").exists()
