"""The terminal a command runs in: found as it was on every exit (no child may leave it
raw), SIGTERM and SIGHUP stop the command as Ctrl-C does, and the producer's questions
are read from it."""

from __future__ import annotations

import contextlib
import os
import signal
import sys


@contextlib.contextmanager
def terminal_kept():
    """Run the body with the terminal's settings saved and restored on every exit, and
    SIGTERM/SIGHUP raised as KeyboardInterrupt (so a stop says how to resume)."""
    tty = _save_terminal()
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    old_hup = signal.signal(signal.SIGHUP, _raise_interrupt)
    try:
        yield
    finally:
        _restore_terminal(tty)
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)


def ask_line(question: str) -> str:
    """One answer typed at the terminal; end of input (Ctrl-D) answers "q"."""
    try:
        return input(question)
    except EOFError:
        return "q"


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def _save_terminal():
    """The terminal's settings, to restore on every exit (no child may leave it raw)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        if os.isatty(fd):
            return fd, termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError):
        pass
    return None


def _restore_terminal(saved) -> None:
    if saved is None:
        return
    import termios

    fd, attrs = saved
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
    except (OSError, termios.error):
        pass

