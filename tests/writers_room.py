"""A scripted writers' room behind the fake OpenAI-compatible server: it answers the role
prompts (outline, screenwriter, direction, director, VFX review) from what the prompt says,
so a whole episode can be written by "a text model" over real HTTP. Every answer carries the
marker SERVER so tests can tell it from the offline writer. `faults` makes the next director
answers break a rule (to test the re-ask loop)."""

from __future__ import annotations

import collections
import json
import re
from typing import Any

MARK = "SERVER"


class WritersRoom:
    def __init__(self) -> None:
        self.faults: collections.deque[str] = collections.deque()
        self.vfx_answers: collections.deque[str] = collections.deque()
        self.asked: collections.Counter[str] = collections.Counter()

    def __call__(self, texts: list[str], json_mode: bool) -> str | None:
        system, user = texts[0], texts[-1]
        if "First you plan the scenes" in system:
            return self.outline(user)
        if "You write one scene at a time" in system:
            return self.scene(user)
        if "you write the episode's direction" in system:
            return self.direction(user)
        if "You turn one scene of the script" in system:
            return self.director(system, user)
        if "You are the VFX supervisor" in system:
            self.asked["vfx"] += 1
            return self.vfx_answers.popleft() if self.vfx_answers else json.dumps(
                {"findings": [{"check": "N", "severity": "SUGG", "shots": [],
                               "issue": f"{MARK}: no standout shot yet",
                               "fix": "give one shot a bold angle"}]})
        return None

    @staticmethod
    def cast(user: str) -> list[str]:
        return re.findall(r"^- (\w+) \(age", user, re.M)

    def outline(self, user: str) -> str:
        self.asked["outline"] += 1
        n = int(re.search(r"in (\d+) scenes", user).group(1))
        cast = re.search(r"Cast \(only these names may speak\): (.*)", user).group(1)
        names = [c.strip() for c in cast.split(",")]
        return json.dumps({"title": f"{MARK} title", "scenes": [
            {"num": i, "id": f"S{i:02d}", "title": f"{MARK} part {i}", "location": "lamp room",
             "time_of_day": "night", "summary": f"{MARK} summary {i}", "characters": names,
             "target_duration_s": 20} for i in range(1, n + 1)]})

    def scene(self, user: str) -> str:
        self.asked["screenwriter"] += 1
        num, total = map(int, re.search(r"Write scene (\d+) of (\d+)", user).groups())
        names = self.cast(user)
        md = (f"## Scene {num} — lamp room (night)\n\n**Characters:** {', '.join(names)}\n"
              f"**Pacing:** wind rises (external) + doubt (internal)\n"
              f"**Estimated duration:** 20\n**Backstory:** {MARK} backstory {num}.\n"
              f"**Action:** {names[0]} trims the wick. {MARK} action {num}.\n**Dialog:**\n"
              f'- {names[0]}: "{MARK} line {num}a."\n- {names[-1]}: "{MARK} line {num}b."\n')
        if num == total:
            md += ("\n<!-- CAST CHECK\nLeads: " + ", ".join(names) + "\nNamed NPCs: Old Tom — "
                   f"{MARK} grizzled ferryman in his sixties\n"
                   "Extras: none\n-->\n<!-- PROP CHECK\nnone\n-->\n")
        return md

    def direction(self, user: str) -> str:
        self.asked["direction"] += 1
        return json.dumps({
            "tone_dimensions": {"realism": f"{MARK}-grounded"},
            "director_reference": f"{MARK}-REFERENCE: Bergman's faces",
            "audiovisual_decisions": {"camera": "locked off", "light": "one lamp"},
            "imagery_system": {"motifs": [{"name": f"{MARK}-motif", "meaning": "duty",
                                           "landings": ["S01"]}], "highlight_elements": []},
            "dual_pacing": {"external": "storm", "internal": "resolve"}})

    def director(self, system: str, user: str) -> str:
        self.asked["director"] += 1
        sid = re.search(r"Scene (S\d\d) script:", user).group(1)
        anchor = re.search(r"end every prompt with it, verbatim\): (.*)", user).group(1).strip()
        ref = "图1" if "write 图N" in system else "[Image 1]"
        names = self.cast(user)
        fault = self.faults.popleft() if self.faults else ""
        if fault == "bad_json":
            return '{"scene": {"id": "' + sid + '"'
        shots = [
            {"id": f"{sid}-001", "scene": sid, "kind": "t2v", "duration": 5,
             "prompt": f"Wide shot, {MARK} the lamp room at night, slow push in. {anchor}",
             "narrative_purpose": f"{MARK}: isolate the lamp room before the argument",
             "characters": [], "use_prev_last_frame_as_first": False},
            {"id": f"{sid}-002", "scene": sid, "kind": "r2v", "duration": 8,
             "prompt": f"Medium shot, {ref} {names[0]} trims the wick, {MARK}. {anchor}",
             "narrative_purpose": f"{MARK}: the duty in her hands, shown not told",
             "characters": [names[0]], "use_prev_last_frame_as_first": True,
             "dialog": [{"speaker": names[0], "text": f"{MARK} line"}]},
        ]
        if "VFX review (BLOCK)" in user:  # the director fixes what the review found
            shots[1]["prompt"] = shots[1]["prompt"].replace(" trims the wick,",
                                                            " trims the wick in the lamp room,")
        if fault == "no_anchor":
            shots[1]["prompt"] = f"Medium shot, {ref} {names[0]} trims the wick, {MARK}."
        elif fault == "unknown_char":
            shots[1]["characters"] = ["Zed"]
        elif fault == "duration":
            shots[0]["duration"] = 2  # under every provider's t2v minimum but wan27's
        return json.dumps({"scene": {"id": sid, "name": f"{MARK} lamp room",
                                     "description": f"{MARK} the lamp room at night, one lamp",
                                     "characters_present": names, "props_present": [],
                                     "set_id": None}, "shots": shots})


def server_answers(chat_calls: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
    return [c for c in chat_calls if c["texts"] and marker in c["texts"][0]]
