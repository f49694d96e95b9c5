"""One build per episode at a time: the episode's lock, held by every command that
writes to the episode or builds it (a second one is refused and told who holds it)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys

from ..base.paths import EpisodePaths
from .build import clear_stale_locks


class EpisodeBusy(Exception):
    """Another process is building this episode (a usage error: wait, or stop it)."""


@contextlib.contextmanager
def episode_lock(paths: EpisodePaths):
    """One build per episode at a time: a second one says which process holds it."""
    lock = paths.root.parent / f".episode-{paths.episode}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 400, 0).decode("utf-8", "replace").strip() or "another process"
            raise EpisodeBusy(f"{paths.root} is being built by {holder}; wait for it to "
                              "finish or stop it (Ctrl-C in its terminal), then run again"
                              ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} ({' '.join(['spark-video', *sys.argv[1:]])})"
                  .encode(), 0)

        clear_stale_locks(paths)  # left by a killed build of this episode
        yield
    finally:
        os.close(fd)

