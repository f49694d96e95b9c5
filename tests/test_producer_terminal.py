"""The producer in a real terminal (tmux): notes at the gates, quit and resume, a new take,
a terminal that still echoes, short quiet output; and exit 3 for a waiting gate without one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, run_cli

pytestmark = pytest.mark.slow

PROMPT = re.compile(r"(GATE \d(?:\.5)? \(\w+\)): approve \(y\), describe a change, or quit \(q\)\?")


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


class Pane:
    """One tmux pane running bash: type into it, read its whole scrollback."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.sock = str(tmp / "tmux.sock")
        conf = tmp / "tmux.conf"
        conf.write_text("set -g history-limit 20000\nset -g status off\n")
        env = {**env, "PS1": "$ ", "TERM": "xterm-256color", "SPARK_VIDEO_NO_OPEN": "1"}
        subprocess.run(["tmux", "-S", self.sock, "-f", str(conf), "new-session", "-d",
                        "-x", "150", "-y", "50", "bash", "--norc", "--noprofile"],
                       env=env, check=True)
        self.mark = 0

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True,
                              text=True, check=True).stdout

    def type(self, text: str) -> None:
        if text:
            self.tmux("send-keys", "-t", "0", "-l", text)
        self.tmux("send-keys", "-t", "0", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "0", "-S", "-", "-E", "-")

    def wait(self, pattern: str | re.Pattern, timeout: float = 300) -> re.Match:
        """Wait for `pattern` in what appeared since the last wait; move past it."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.screen()
            m = rx.search(text, self.mark)
            if m:
                self.mark = m.end()
                return m
            time.sleep(0.3)
        raise AssertionError(f"no {rx.pattern!r} within {timeout} s; screen:\n"
                             f"{self.screen()[-4000:]}")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


def run_lines(screen: str, start: str, end: str) -> list[str]:
    """The lines one command printed (from its command line to its EXIT marker)."""
    a = screen.index(start)
    b = screen.index(end, a)
    return screen[a:b].splitlines()[1:]


@pytest.fixture
def pane(tmp_path, run_env):
    if not shutil.which("tmux"):
        pytest.fail("tmux is required for the terminal tests (.ci/run installs it)")
    p = Pane(tmp_path, run_env)
    yield p
    p.close()


def test_producer_loop_in_a_real_terminal(pane, projects):
    d = projects / "demo" / "episode-031"
    cmd = f"cd {REPO} && {sys.executable} -m spark_video.cli episode demo 031"
    pane.type(f"{cmd}; echo EXIT=$?")
    pane.wait(r"GATE 0 \(mode\)")
    pane.type("")  # Enter: the default, drama

    # GATE 1: a note on scene 2 rewrites scene-02.md only, then the gate is shown again
    pane.wait(r"  1\. .* · \d+ s · ")  # the scene list: title, duration, characters
    pane.wait(PROMPT)
    before = {p.name: sha(p) for p in sorted((d / "scenes").glob("scene-*.md"))}
    assert len(before) == 3
    pane.type("ok maybe")  # not an approval word: it must be confirmed as a change
    pane.wait(r"as a change request\? \[y/N\]")
    pane.type("n")  # not confirmed: asked again
    pane.wait(PROMPT)
    pane.type("make scene 2 tenser, Theo should threaten to leave")
    pane.wait(r"as a change request\? \[y/N\]")
    pane.type("y")
    pane.wait(r"screenwriter rewrites scene 2.*Go ahead\? \[Y/n\]")
    pane.type("")
    m = pane.wait(PROMPT)
    assert m.group(1) == "GATE 1 (script)"
    after = {p.name: sha(p) for p in sorted((d / "scenes").glob("scene-*.md"))}
    assert after["scene-01.md"] == before["scene-01.md"]
    assert after["scene-03.md"] == before["scene-03.md"]
    assert after["scene-02.md"] != before["scene-02.md"]
    assert "Theo should threaten to leave" in (d / "scenes" / "scene-02.md").read_text()
    calls = [json.loads(x) for x in (d / "logs" / "model_calls.jsonl").read_text().splitlines()]
    writer = [c for c in calls if c.get("phase") == "screenwriter"
              and "Theo should threaten to leave" in (c.get("prompt") or "")]
    assert writer, "the note is not in the screenwriter's prompt"
    notes = json.loads((d / "notes" / "scene-02.json").read_text())
    assert notes["role"] == "screenwriter" and len(notes["notes"]) == 1
    pane.type("y")

    # GATE 2: quit; the gate waits (exit 3); a second run resumes there
    pane.wait(r"GATE 2 \(storyboard\) — ")
    pane.wait(r"kinds: ")
    pane.wait(r"chain groups: \d+")
    pane.wait(r"estimate for provider offline: ")
    pane.wait(PROMPT)
    pane.type("q")
    pane.wait(r"EXIT=3")
    first = run_lines(pane.screen(), cmd, "EXIT=3")
    pane.type(f"{cmd}; echo EXIT=$?")
    m = pane.wait(PROMPT)
    assert m.group(1) == "GATE 2 (storyboard)"
    screen = pane.screen()
    assert "GATE 1 (script)" not in screen[screen.rindex(cmd):]
    pane.type("approve")

    # GATE 3: the table, then one clip gets a new take from the prompt
    pane.wait(r"shot\s+take score\s+verdict\s+vetoed\s+flags", timeout=600)
    pane.wait(PROMPT)
    sb = json.loads((d / "storyboard.json").read_text())
    ids = [s["id"] for s in sb["shots"]]
    followers = {s.get("id") for s in sb["shots"] if s.get("use_prev_last_frame_as_first")}
    # a shot nothing is chained after, so only its own clip may change
    last = next(i for n, i in enumerate(ids) if n + 1 == len(ids) or ids[n + 1] not in followers)
    clips = {i: sha(d / "clips" / f"{i}.mp4") for i in ids}
    pane.type(f"{last} looks too dark, another take please")
    pane.wait(r"as a change request\? \[y/N\]")
    pane.type("yes")
    pane.wait(rf"a new take of {last}.*Go ahead\? \[Y/n\]")
    pane.type("y")
    m = pane.wait(PROMPT, timeout=600)
    assert m.group(1) == "GATE 3 (renders)"
    state = json.loads((d / "state" / f"{last}.json").read_text())
    assert len(state["attempts"]) == 2 and state["winner_version"] == 2
    for i in ids:
        changed = sha(d / "clips" / f"{i}.mp4") != clips[i]
        assert changed == (i == last), i
    pane.type("y")

    # GATE 4: path, duration against the target and size before approval
    pane.wait(r"GATE 4 \(final\) — ", timeout=600)
    pane.wait(r"demo-031\.mp4")
    pane.wait(r"\d+\.\d s \(target \d+ s, [+-]\d+\.\d s\), \d+\.\d MB")
    pane.wait(PROMPT)
    pane.type("y")
    pane.wait(r"EXIT=0", timeout=300)
    screen = pane.screen()
    second = screen[screen.rindex(cmd):screen.rindex("EXIT=0")].splitlines()[1:]
    # the terminal still echoes and reads lines (no child left it raw)
    pane.type("stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(echo|icanon)' | tr '\\n' ' '; "
              "echo ST''TY")
    m = pane.wait(r"(?m)^((?:-?\w+ )+)STTY$")
    assert m.group(1).split() == ["icanon", "echo"], m.group(1)

    for lines in (first, second):
        assert len(lines) < 80, "\n".join(lines)
        text = "\n".join(lines)
        for chatter in ("Building DAG", "Finished jobid", "Select jobs", "localrule",
                        "Traceback", "double '/'"):
            assert chatter not in text, text
    assert (d / "final" / "demo-031.mp4").exists()


def test_waiting_gate_without_a_terminal_exits_3(run_env, projects):
    r = run_cli(run_env, "episode", "demo", "032")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "GATE 1 (script) is waiting for approval" in r.stdout
    assert "\x1b[" not in r.stdout + r.stderr  # plain lines, no control codes
    assert (projects / "demo" / "episode-032" / "viewer.html").exists()
    # nothing reached a gate it should not: GATE 2's files are not built yet
    assert not (projects / "demo" / "episode-032" / "storyboard.json").exists()
