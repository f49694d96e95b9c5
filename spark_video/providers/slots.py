"""The provider-call slots: at most `api_slots` renders talk to a provider at once.

Snakemake may start more render jobs than there are slots (resource `render_jobs`), so a
job's start-up, its review and its frame extraction overlap other shots' provider calls; each
job holds a slot only while its provider task exists (from the submit until the task has
ended: `CallContext.call_slot`), not while it uploads media or downloads the result. A slot is
an flock on one of N files: it dies with its process, so a killed job never leaks a slot.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..base.paths import EpisodePaths


def slot_dir(paths: EpisodePaths) -> Path:
    """SPARK_VIDEO_LOCK_DIR/api (shared by every episode that sets it), else per episode."""
    base = os.environ.get("SPARK_VIDEO_LOCK_DIR")
    return Path(base) / "api" if base else paths.state_dir / ".api-slots"


@contextmanager
def hold_slot(folder: Path, slots: int, *, wait_s: float, shuffle: bool = True) -> Iterator[int]:
    """Hold one of `slots` flock'ed slot files in `folder` (waits until one is free) and
    yield its index. flock locks die with their process: a SIGKILLed job never leaks one."""
    folder.mkdir(parents=True, exist_ok=True)
    n = max(1, slots)
    while True:
        for i in (random.sample(range(n), n) if shuffle else range(n)):
            fd = os.open(folder / f"slot-{i}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                yield i
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
            return
        time.sleep(wait_s * random.uniform(0.5, 1.5))


@contextmanager
def api_slot(paths: EpisodePaths, slots: int, *, wait_s: float = 0.1) -> Iterator[int]:
    """Hold one of `slots` provider-call slots (waits until one is free); yields its index."""
    with hold_slot(slot_dir(paths), slots, wait_s=wait_s) as i:
        yield i


def render_jobs(api_slots: int) -> int:
    """How many render jobs may run at once: twice the slots, so that while api_slots calls
    are in flight the next jobs are already started and waiting at the lock."""
    return 2 * max(1, api_slots)
