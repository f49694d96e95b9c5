"""The offline text provider: a deterministic writer and a rule-based director.

It answers the same role prompts an LLM gets, in the same formats (JSON or scene markdown),
so the parsing and validation path is exercised offline exactly as with a real model.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..models import MIN_DURATION
from ..scenefmt import Beat, SceneScript, render_scene_md
from .base import CallContext

WORDS_PER_S = 2.5
LOCATIONS = ["harbour wall", "lighthouse gallery", "fish market", "cliff path", "boat deck",
             "kitchen table", "rooftop", "train platform", "library stacks", "night street"]
TIMES = ["dawn", "morning", "noon", "afternoon", "dusk", "night"]
EXTERNAL = ["the storm closes in", "the clock runs down", "the crowd turns", "the tide rises"]
INTERNAL = ["doubt gives way to resolve", "fear hardens into anger", "guilt becomes courage",
            "hope flickers"]
LINES = [
    "We do this tonight, or we never do it.",
    "You promised me the truth.",
    "Then look at what the sea brought back.",
    "I was wrong about you.",
    "Hold the light steady and keep walking.",
    "Nobody leaves until we know.",
]


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]


def speech_seconds(text: str) -> float:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    words = len(re.findall(r"[A-Za-z0-9']+", text))
    return cjk / 3 + words / WORDS_PER_S


def shot_duration(text: str, *, lo: int = 3, hi: int = 15, pad: float = 1.5) -> int:
    return max(lo, min(hi, round(speech_seconds(text) + pad)))


class OfflineText:
    name = "offline"

    def complete(self, ctx: CallContext, *, role: str, system: str, user: str,
                 json_mode: bool = False, data: dict[str, Any] | None = None) -> str:
        data = data or {}
        with ctx.timed("offline", "offline-text", role, prompt=user[:2000]):
            fn = getattr(self, f"_{role}", None)
            if fn is None:
                raise ValueError(f"the offline text provider has no role {role!r}")
            return fn(data)

    # -- screenwriter -----------------------------------------------------------------
    def _outline(self, d: dict) -> str:
        n = d["scene_count"]
        beats = _sentences(d["premise"]) or [d["premise"]]
        cast = d["cast"]
        per = max(10, round(d["target_s"] / n))
        scenes = []
        for i in range(1, n + 1):
            k = _h(d["premise"], i)
            chars = [cast[(i - 1 + j) % len(cast)] for j in range(min(2, len(cast)))]
            scenes.append({
                "num": i, "id": f"S{i:02d}",
                "title": f"Part {i}",
                "location": LOCATIONS[k % len(LOCATIONS)],
                "time_of_day": TIMES[(k // 7) % len(TIMES)],
                "summary": beats[(i - 1) % len(beats)],
                "characters": chars,
                "target_duration_s": per,
            })
        return json.dumps({"title": d["title"], "scenes": scenes}, ensure_ascii=False)

    def _screenwriter(self, d: dict) -> str:
        sc = d["scene"]
        k = _h(d["premise"], sc["num"])
        chars = sc["characters"]
        summary = sc["summary"].rstrip(".")
        earlier = f"Earlier: {summary[:1].lower()}{summary[1:]}."
        action = (f"{summary}. " if summary else "") + (
            f"{chars[0]} crosses the {sc['location']} and stops at the edge of the light."
            if chars else f"Wind moves across the empty {sc['location']}.")
        lines = []
        for j, name in enumerate(chars[:2]):
            lines.append({"speaker": name, "text": LINES[(k + j) % len(LINES)]})
        if d["mode"] == "narration":
            beats = [Beat(kind="narration", narration=f"{summary}."[:60],
                          visual=f"Wide view of the {sc['location']} at {sc['time_of_day']}",
                          duration=4)]
            if lines:
                beats.append(Beat(kind="dialog", dialog=lines[:1],
                                  visual=f"{chars[0]} speaks, close on the face"))
            beats.append(Beat(kind="narration", narration="Nothing would be the same again.",
                              visual=f"The {sc['location']} empties as the light fades",
                              duration=4))
            script = SceneScript(num=sc["num"], location=sc["location"],
                                 time_of_day=sc["time_of_day"], mode="narration",
                                 characters=chars, estimated_duration=sc["target_duration_s"],
                                 backstory=earlier, beats=beats)
        else:
            script = SceneScript(
                num=sc["num"], location=sc["location"], time_of_day=sc["time_of_day"],
                characters=chars,
                pacing=f"{EXTERNAL[k % len(EXTERNAL)]} (external) + "
                       f"{INTERNAL[(k // 5) % len(INTERNAL)]} (internal)",
                estimated_duration=sc["target_duration_s"],
                backstory=earlier, action=action, dialog=lines)
        if d.get("last"):
            leads = ", ".join(d["cast"]) or "none"
            script.trailer = (f"<!-- CAST CHECK\nLeads: {leads}\nNamed NPCs: none\n"
                              "Extras: passers-by\n-->\n<!-- PROP CHECK\nnone\n-->")
        return render_scene_md(script)

    # -- director ---------------------------------------------------------------------
    def _director(self, d: dict) -> str:
        s = SceneScript.model_validate(d["script"])
        sid, anchor = d["scene_id"], d["mood_anchor"]
        place = f"{s.location} at {s.time_of_day}" if s.time_of_day else s.location
        tail = f" {anchor}" if anchor else ""
        shots: list[dict] = []

        def add(**kw: Any) -> None:
            kw.setdefault("use_prev_last_frame_as_first", bool(shots))
            kw["id"] = f"{sid}-{len(shots) + 1:03d}"
            kw["scene"] = sid
            kw["duration"] = max(MIN_DURATION, min(15, kw["duration"]))
            shots.append(kw)

        if s.mode == "narration":
            for b in s.beats:
                if b.kind == "narration":
                    add(kind="t2v", role="narration", narration_text=b.narration,
                        duration=b.duration or shot_duration(b.narration or "", lo=3, hi=6,
                                                             pad=0.8),
                        prompt=f"Wide shot, {b.visual.rstrip('.')}, {place}.{tail}",
                        narrative_purpose="Narration beat: " + (b.narration or "")[:60],
                        characters=[], use_prev_last_frame_as_first=False)
                else:
                    line = b.dialog[0]
                    add(kind="r2v", role="drama", duration=shot_duration(line.text),
                        prompt=f"Close-up, [Image 1] {line.speaker} speaks: \"{line.text}\", "
                               f"{place}.{tail}",
                        narrative_purpose=f"{line.speaker} says it aloud, on camera",
                        characters=[line.speaker],
                        dialog=[x.model_dump() for x in b.dialog])
        else:
            first = _sentences(s.action)[:1] or [s.action]
            add(kind="t2v", duration=shot_duration(first[0], lo=4, hi=8, pad=2),
                prompt=f"Establishing wide shot, {first[0].rstrip('.')}, {place}.{tail}",
                narrative_purpose=f"Establish the {s.location} and the stakes of the scene",
                characters=[], use_prev_last_frame_as_first=False)
            for line in s.dialog:
                add(kind="r2v", duration=shot_duration(line.text),
                    prompt=f"Medium close-up, [Image 1] {line.speaker} says \"{line.text}\", "
                           f"{place}, steady camera.{tail}",
                    narrative_purpose=f"{line.speaker} pushes the conflict forward in words",
                    characters=[line.speaker], dialog=[line.model_dump()])
        scene = {
            "id": sid, "name": f"{s.location} · {s.time_of_day}".strip(" ·"),
            "description": (f"The {s.location} at {s.time_of_day or 'day'}: "
                            f"{s.backstory or s.action}")[:150],
            "characters_present": s.characters, "props_present": [], "set_id": None,
        }
        return json.dumps({"scene": scene, "shots": shots}, ensure_ascii=False)

    # -- rewrite ----------------------------------------------------------------------
    def _rewrite(self, d: dict) -> str:
        fixes = {
            "physics": "hands press firmly on solid surfaces",
            "proportion": "wider framing, full figures in view",
            "style": "restated palette and light of the anchor",
            "logic": "one clear action on one object",
            "cast_match": "faces clearly lit and turned to camera",
            "dialog_attribution": "over-the-shoulder framing on the speaker",
        }
        prompt = d["prompt"]
        anchor = d["mood_anchor"]
        if anchor and prompt.endswith(anchor):
            prompt = prompt[: -len(anchor)].rstrip()
        extra = [fixes[a] for a in d["vetoed"] if a in fixes] or ["steadier camera"]
        new = f"{prompt.rstrip('. ')}; {', '.join(extra)}."
        return f"{new} {anchor}".strip()
