"""A randomized producer in a real terminal (tmux): hundreds of seeded answers at every
prompt the autopilot shows (approve, quit, garbage, unicode, very long lines, unknown shots
and scenes, empty input, Ctrl-D). Passes when no traceback is printed, the terminal still
echoes afterwards, and the approvals/ stamps are exactly the gates answered yes.

SPARK_VIDEO_FUZZ_SEED, SPARK_VIDEO_FUZZ_ANSWERS and SPARK_VIDEO_FUZZ_SECONDS change the seed,
the number of answers and the time bound. It prints its closing figures.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time

import pytest
from conftest import REPO
from test_producer_terminal import PROMPT, pane  # noqa: F401 - the tmux fixture

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("SPARK_VIDEO_FUZZ_SEED", "18"))
ANSWERS = int(os.environ.get("SPARK_VIDEO_FUZZ_ANSWERS", "300"))
SECONDS = float(os.environ.get("SPARK_VIDEO_FUZZ_SECONDS", "150"))

# what the autopilot can ask, in the order the regexes are tried at one position
ASKS = {
    "gate": PROMPT,
    "confirm": re.compile(r"as a change request\? \[y/N\]"),
    "go": re.compile(r"Go ahead\? \[Y/n\]"),
    "which": re.compile(r"Which scene or shot is it about\?"),
    "mode": re.compile(r"GATE 0 \(mode\): drama .*\? \[drama\]"),
    "music": re.compile(r"GATE 0\.5 \(music\)"),
    "exit": re.compile(r"EXIT=(\d+)"),
}
GARBAGE = ["asdf", "???", "0", "-1", "yes please maybe", "nope", "  ", "\\x00", "$(reboot)",
           "'; rm -rf / #", "%s%s%n", "{{7*7}}", "<script>alert(1)</script>", "y y", "okk"]
UNICODE = ["民国上海，茶馆老板娘钱夫人太快了", "🎬🎬🎬 more drama", "ünïcödé scene 2 ✓",
           "مشهد ٢ أبطأ", "тише музыку", "\u200b\u200bzero width", "ｓｃｅｎｅ　２"]
NOTES = ["make scene 2 tenser", "scene 99 is wrong", "S09-999 again", "S01-001 closer",
         "the music is too loud", "the narration is too fast, slow it down",
         "burn the subtitles in", "another voice please", "scene 0 is slow", "more tension"]
SCOPES = ["music", "narration", "99", "S77-001", "", "scene 2", "q", "subtitles", "1"]


def answer_for(rng: random.Random, ask: str, gate: str | None) -> str | None:
    """One answer (None: Ctrl-D). Approvals are rare, so the run stays at cheap gates."""
    r = rng.random()
    if r < 0.03:
        return None
    if ask == "mode":
        return rng.choice(["", "drama", "narration", "x", "🎬"])
    if ask == "music":
        return rng.choice(["", "off", "global", "x"])
    if ask == "confirm":
        return rng.choice(["n", "n", "n", "", "y", "maybe"])
    if ask == "go":
        # rebuilds are paid in time: go ahead rarely, and only at GATE 1
        return "y" if gate == "GATE 1 (script)" and rng.random() < 0.15 else rng.choice(["n", "no"])
    if ask == "which":
        return rng.choice(SCOPES)
    r = rng.random()
    approve_p = 0.04 if gate in ("GATE 1 (script)", "GATE 2 (storyboard)") else 0.08
    if r < approve_p:
        return rng.choice(["y", "yes", "OK", "approve"])
    if r < approve_p + 0.03:
        return rng.choice(["q", "quit"])
    pool = rng.choice([GARBAGE, UNICODE, NOTES, ["", "", "   "],
                       ["x" * rng.randint(2001, 2600), "word " * rng.randint(420, 500)]])
    return rng.choice(pool)


def test_a_randomized_producer_never_breaks_the_loop(pane, projects):  # noqa: F811
    rng = random.Random(SEED)
    d = projects / "demo" / "episode-051"
    cmd = f"cd {REPO} && {sys.executable} -m spark_video.cli episode demo 051"
    pane.type(f"{cmd}; echo EXIT=$?")
    tried, runs, exits, gates_seen = 0, 1, [], set()
    approved: set[str] = set()
    gate: str | None = None
    t0 = time.monotonic()
    pos = 0
    while tried < ANSWERS and time.monotonic() - t0 < SECONDS:
        text = pane.screen()
        hits = [(m.start(), k, m) for k, rx in ASKS.items() if (m := rx.search(text, pos))]
        if not hits:
            if time.monotonic() - t0 > SECONDS:
                break
            time.sleep(0.15)
            continue
        _, ask, m = min(hits, key=lambda h: h[0])
        pos = m.end()
        if ask == "exit":
            exits.append(int(m.group(1)))
            assert exits[-1] in (0, 3), f"exit {exits[-1]}:\n{text[-3000:]}"
            if exits[-1] == 0:
                break
            runs += 1
            pane.type(f"{cmd}; echo EXIT=$?")
            continue
        if ask == "gate":
            gate = m.group(1)
            gates_seen.add(gate)
        # a prompt is answered once it is the last thing on the screen (the line is waiting)
        ans = answer_for(rng, ask, gate)
        tried += 1
        if ans is None:
            pane.tmux("send-keys", "-t", "0", "C-d")
        else:
            if ask == "gate" and ans.strip().lower() in ("y", "yes", "ok", "approve"):
                approved.add(gate.split("(")[1].rstrip(")"))
            if ans:  # `--`: an answer such as "-1" is text, not a tmux option
                pane.tmux("send-keys", "-t", "0", "-l", "--", ans)
            pane.tmux("send-keys", "-t", "0", "Enter")
    elapsed = time.monotonic() - t0
    # leave the last prompt: Ctrl-D until the command has exited (a confirm question
    # answered by Ctrl-D goes back to the gate, which Ctrl-D then quits)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not re.search(r"EXIT=\d+\s*(\$\s*)?$",
                                                        pane.screen()):
        pane.tmux("send-keys", "-t", "0", "C-d")
        time.sleep(1.0)
    screen = pane.screen()
    tracebacks = screen.count("Traceback (most recent call last)")
    # the terminal still echoes and reads lines
    pane.type("stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(echo|icanon)' | tr '\\n' ' '; "
              "echo ST''TY")
    pane.mark = len(pane.screen()) - 400 if len(pane.screen()) > 400 else 0
    sane = pane.wait(r"(?m)^((?:-?\w+ )+)STTY$", timeout=30).group(1).split()
    names = {"script": "script", "storyboard": "storyboard", "renders": "render",
             "final": "final"}
    stamps = {p.stem for p in (d / "approvals").glob("*.json")} - {"mode", "bgm"}
    print(f"\nfuzz: seed {SEED}, answers tried {tried}, runs {runs}, exits {exits}, gates "
          f"reached {len(gates_seen)} ({', '.join(sorted(gates_seen))}), approved "
          f"{sorted(stamps)}, tracebacks={tracebacks}, {elapsed:.0f} s")
    assert tracebacks == 0, screen[-6000:]
    assert sane == ["icanon", "echo"], sane
    assert stamps <= {names[g] for g in approved}, (stamps, approved)
    assert tried >= min(ANSWERS, 100), f"only {tried} answers in {elapsed:.0f} s"
