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
# Line, action and narration patterns; the writer fills them from the premise, the lore and
# the cast cards, and walks through them by scene so no two scenes repeat a line.
LINES = [
    "{other}, the {motif} will not wait for us.",
    "I came down to the {place} because of the {keyword}.",
    "Tell me what you saw at {time}.",
    "Leave the {keyword} where it is, {other}.",
    "If we go now, who tends the {motif}?",
    "You talk about the {keyword} like it is already gone.",
    "{other}, look at me. Not at the {place}.",
    "Every {time} I tell myself this is the last one.",
    "We never agreed about the {keyword}.",
    "Then say it plainly, {other}.",
    "I kept the {motif} going for both of us.",
    "The {place} was quieter before the {keyword}.",
    "What does the {keyword} cost us, honestly?",
    "Stay until {time}. Then decide.",
    "I am not afraid of the {keyword}. I am afraid of the quiet after.",
    "Help me with the {motif}, and I will listen.",
    "Nobody leaves the {place} until we know.",
    "You read it, {other}. I saw your hands.",
]
ACTIONS = [
    "{a} crosses the {place} and stops at the edge of the light.",
    "{a} sets the {keyword} down and waits for {b} to speak.",
    "{a} turns from {b} toward the {motif}.",
    "{a} braces against the wind at the {place}, eyes on the {keyword}.",
    "{a} counts the steps of the {place} under the {time} sky.",
    "{a} holds out the {keyword}; {b} does not take it.",
    "{a} climbs one step, then looks back at {b}.",
    "{a} wipes the glass of the {motif} and listens.",
]
NARRATION = [
    "At {time}, the {place} held its breath.",
    "{a} had not spoken of the {keyword} in years.",
    "The {motif} still burned, for now.",
    "No one on the {place} slept that night.",
    "The {keyword} changed what {a} owed {b}.",
    "By {time}, the choice could not wait.",
    "The {place} remembered every keeper.",
    "Some promises outlast the {keyword}.",
]
DIRECTOR_FIXES = ["wider framing, one clear action on one object",
                  "locked-off camera, hands on solid surfaces",
                  "over-the-shoulder framing on the speaker, then a cut"]
STOP = {"about", "after", "again", "their", "there", "these", "those", "which", "where", "while",
        "would", "could", "should", "before", "other", "under", "every", "until", "because",
        "decide", "finds", "worst", "cuts"}


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _gist(text: str, n: int = 48) -> str:
    """The start of a line, cut at a word: each shot's purpose names its own line, so no two
    shots of the episode share one (VFX check M)."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0] + "…"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]


def _keywords(*texts: str, cast: list[str] = ()) -> list[str]:
    """Content words of the premise/summary, in order, without names or filler."""
    names = {c.lower() for c in cast}
    out: list[str] = []
    for t in texts:  # nouns first: the word after an article
        for w in re.findall(r"\b(?:a|an|the)\s+([a-z][a-z'-]{3,})", t, re.I):
            lw = w.lower().strip("'")
            if lw not in STOP and lw not in names and lw not in out:
                out.append(lw)
    return out or ["silence"]


def _bare(name: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", name.strip(), flags=re.I)


def _fill(pattern: str, **kw: str) -> str:
    text = pattern.format(**kw)
    return text[:1].upper() + text[1:]


def speech_seconds(text: str) -> float:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    words = len(re.findall(r"[A-Za-z0-9']+", text))
    return cjk / 3 + words / WORDS_PER_S


def shot_duration(text: str, *, lo: int = 3, hi: int = 15, pad: float = 1.5) -> int:
    return max(lo, min(hi, round(speech_seconds(text) + pad)))


PRODUCER_NOTE = re.compile(r"^Producer's note(?: on (S\d{2}-\d{3}[a-z]?))?:\s*(.+)$", re.M)


def producer_notes(notes: str | None) -> list[tuple[str | None, str]]:
    """(shot or None, sentence) for each "Producer's note[ on S01-002]: …" line of `notes`,
    without the scope words that routed it ("scene 2:")."""
    out = []
    for m in PRODUCER_NOTE.finditer(notes or ""):
        t = re.sub(r"^\s*(?:scene\s*\d+|S\d{2}-\d{3}[a-z]?)\s*[:,—-]?\s*", "", m.group(2),
                   flags=re.I).strip() or m.group(2).strip()
        out.append((m.group(1), t[:1].upper() + t[1:].rstrip(".") + "."))
    return out


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
        num = sc["num"]
        k = _h(d["premise"])
        chars = sc["characters"]
        keys = _keywords(sc["summary"], d["premise"], cast=d["cast"])
        motifs = [_bare(m) for m in d.get("motifs", []) if m] or keys[1:2] or ["light"]
        kw = {"place": sc["location"], "time": sc["time_of_day"] or "night",
              "keyword": keys[(num - 1) % len(keys)], "motif": motifs[(num - 1) % len(motifs)],
              "a": chars[0] if chars else "The keeper",
              "b": chars[1] if len(chars) > 1 else "the sea"}
        first = set(d.get("first_seen") or [])

        def who(name: str) -> str:
            age = next((c.get("age") for c in d.get("cast_cards", []) if c["name"] == name), None)
            return f"{name}, {age}," if name in first and age else name

        summary = sc["summary"].rstrip(".")
        earlier = f"Before this: {summary}." if summary else "Before this: an ordinary day."
        act = _fill(ACTIONS[(k + num) % len(ACTIONS)], **{**kw, "a": who(kw["a"])})
        act2 = _fill(ACTIONS[(k + num + 3) % len(ACTIONS)], **kw)
        action = (f"{summary}. " if summary else "") + (
            f"{act} {act2}" if chars else f"Wind moves across the empty {sc['location']}.")
        asked = " ".join(t for _, t in producer_notes(d.get("notes")))
        if asked:  # the producer's notes, visibly worked into the scene
            action += f" Rewritten to the producer's note: {asked}"
        lines = []
        for j, name in enumerate(chars[:2]):
            other = chars[1 - j] if len(chars) > 1 else "friend"
            pat = LINES[(k + 2 * (num - 1) + j) % len(LINES)]
            lines.append({"speaker": name, "text": _fill(pat, **{**kw, "other": other})})
        if d["mode"] == "narration":
            n1 = _fill(NARRATION[(k + 2 * (num - 1)) % len(NARRATION)], **kw)
            n2 = _fill(NARRATION[(k + 2 * (num - 1) + 1) % len(NARRATION)], **kw)
            visual = f"Wide view of the {sc['location']} at {sc['time_of_day']}"
            if asked:
                visual += f", rewritten to the producer's note: {asked.rstrip('.')}"
            beats = [Beat(kind="narration", narration=n1[:60], visual=visual, duration=4)]
            if lines:
                beats.append(Beat(kind="dialog", dialog=lines[:1],
                                  visual=f"{who(chars[0])} speaks, close on the face"))
            beats.append(Beat(kind="narration", narration=n2[:60],
                              visual=_fill(ACTIONS[(k + num + 5) % len(ACTIONS)], **kw)
                              .rstrip("."), duration=4))
            script = SceneScript(num=num, location=sc["location"],
                                 time_of_day=sc["time_of_day"], mode="narration",
                                 characters=chars, estimated_duration=sc["target_duration_s"],
                                 backstory=earlier, beats=beats)
        else:
            script = SceneScript(
                num=num, location=sc["location"], time_of_day=sc["time_of_day"],
                characters=chars,
                pacing=f"{EXTERNAL[(k + num) % len(EXTERNAL)]} (external) + "
                       f"{INTERNAL[(k // 5 + num) % len(INTERNAL)]} (internal)",
                estimated_duration=sc["target_duration_s"],
                backstory=earlier, action=action, dialog=lines)
        if d.get("last"):
            leads = ", ".join(d["cast"]) or "none"
            script.trailer = (f"<!-- CAST CHECK\nLeads: {leads}\nNamed NPCs: none\n"
                              "Extras: passers-by\n-->\n<!-- PROP CHECK\nnone\n-->")
        return render_scene_md(script)

    # -- direction --------------------------------------------------------------------
    def _direction(self, d: dict) -> str:
        scenes = [s["id"] for s in d["scenes"]]
        k = _h(d["premise"])
        motifs = []
        for m in json.loads(d["lore_motifs"]) if d.get("lore_motifs") else []:
            lands = [x for x in (m.get("landings") or []) if x in scenes] or scenes[:2]
            motifs.append({"name": str(m.get("name") or "motif"),
                           "meaning": str(m.get("meaning") or ""), "landings": lands})
        if not motifs:
            word = _keywords(d["premise"], cast=d["cast"])[0]
            motifs = [{"name": word, "meaning": "what the episode turns on",
                       "landings": [scenes[0], scenes[-1]]}]
        return json.dumps({
            "tone_dimensions": {"realism": "grounded", "warmth": ["cool", "warm"][k % 2],
                                "tempo": "patient, then urgent", "distance": "close",
                                "hope": "earned at the end"},
            "director_reference": ["Andrea Arnold: handheld closeness to bodies in weather",
                                   "Kelly Reichardt: patience with small gestures"][k % 2],
            "audiovisual_decisions": {
                "camera": "handheld at shoulder height, still when a choice is made",
                "lens": "normal lenses, close-ups for decisions, wides for isolation",
                "light": "practical and natural sources only",
                "colour": d.get("mood_anchor") or d.get("visual_style") or "natural",
                "sound": "wind and room tone under every line",
                "editing": "long takes inside a scene, hard cuts between places",
                "performance": "underplayed; faces do the work"},
            "imagery_system": {"motifs": motifs,
                               "highlight_elements": list(d.get("lore_highlights") or [])},
            "dual_pacing": {"external": "the pressure outside rises scene by scene",
                            "internal": "resistance gives way to a shared decision"},
        }, ensure_ascii=False)

    # -- director ---------------------------------------------------------------------
    def _director(self, d: dict) -> str:
        s = SceneScript.model_validate(d["script"])
        sid, anchor = d["scene_id"], d["mood_anchor"]
        caps = d.get("caps") or {}
        kinds = caps.get("kinds") or {}
        ref1 = "图1" if caps.get("ref_syntax") == "图N" else "[Image 1]"
        ages = {c["name"]: c.get("age") for c in d.get("cast_cards", [])}
        place = f"{s.location} at {s.time_of_day}" if s.time_of_day else s.location
        tail = f" {anchor}" if anchor else ""
        shots: list[dict] = []
        in_group: set[str] = set()

        def who(name: str, chained: bool) -> str:
            if not chained:
                in_group.clear()
            first = name not in in_group
            in_group.add(name)
            return f"{name}, {ages[name]}," if first and ages.get(name) else name

        def add(**kw: Any) -> None:
            kw.setdefault("use_prev_last_frame_as_first", bool(shots))
            kw["id"] = f"{sid}-{len(shots) + 1:03d}"
            kw["scene"] = sid
            r = kinds.get(kw["kind"], {"min_s": MIN_DURATION, "max_s": 15})
            kw["duration"] = max(r["min_s"], min(r["max_s"], kw["duration"]))
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
                    in_group.clear()
                else:
                    line = b.dialog[0]
                    chained = bool(shots) and shots[-1]["role"] == "drama"
                    add(kind="r2v", role="drama", duration=shot_duration(line.text),
                        prompt=f"Close-up, {ref1} {who(line.speaker, chained)} speaks: "
                               f"\"{line.text}\", {place}.{tail}",
                        narrative_purpose=f"{line.speaker} says it aloud, on camera: "
                                          f"\"{_gist(line.text)}\"",
                        characters=[line.speaker], use_prev_last_frame_as_first=chained,
                        dialog=[x.model_dump() for x in b.dialog])
        else:
            first = _sentences(s.action)[:1] or [s.action]
            motifs = [m["name"] for m in ((d.get("direction") or {}).get("imagery_system") or {})
                      .get("motifs", []) if sid in (m.get("landings") or [])]
            seen = "".join(f", {m} in view" for m in motifs)
            add(kind="t2v", role="drama", duration=shot_duration(first[0], lo=5, hi=8, pad=2),
                prompt=f"Establishing wide shot, {first[0].rstrip('.')}{seen}, {place}.{tail}",
                narrative_purpose=f"Establish the {s.location} and the stakes: "
                                  f"{_gist(first[0])}",
                characters=[], use_prev_last_frame_as_first=False)
            for line in s.dialog:
                add(kind="r2v", role="drama", duration=shot_duration(line.text),
                    prompt=f"Medium close-up, {ref1} {who(line.speaker, True)} says "
                           f"\"{line.text}\", {place}, steady camera.{tail}",
                    narrative_purpose=f"{line.speaker} pushes the conflict forward: "
                                      f"\"{_gist(line.text)}\"",
                    characters=[line.speaker], dialog=[line.model_dump()])
        # the producer's notes: on the shot they name, or on every shot of the scene
        for shot_id, text in producer_notes(d.get("notes")):
            for sh in shots:
                if shot_id in (None, sh["id"]):
                    body = sh["prompt"][: -len(tail)] if tail and sh["prompt"].endswith(tail) \
                        else sh["prompt"]
                    sh["prompt"] = (f"{body.rstrip('. ')}; producer's note: "
                                    f"{text.rstrip('.')}.{tail}")
        # notes naming shots (a VFX finding, an escalation): the minimal fix on those shots,
        # a different one each time the same shot comes back
        previous = d.get("previous") or ""
        for sh in shots:
            if sh["id"] in (d.get("notes") or ""):
                body = sh["prompt"][: -len(tail)] if tail and sh["prompt"].endswith(tail) \
                    else sh["prompt"]
                tried = sum(previous.count(f) for f in DIRECTOR_FIXES)
                fix = DIRECTOR_FIXES[tried % len(DIRECTOR_FIXES)]
                sh["prompt"] = f"{body.rstrip('. ')}; {fix}.{tail}"
        scene = {
            "id": sid, "name": f"{s.location} · {s.time_of_day}".strip(" ·"),
            "description": (f"The {s.location} at {s.time_of_day or 'day'}: "
                            f"{s.backstory or s.action}")[:150],
            "characters_present": s.characters, "props_present": [], "set_id": None,
        }
        return json.dumps({"scene": scene, "shots": shots}, ensure_ascii=False)

    # -- producer: a lore for a project without one ----------------------------------
    def _lore(self, d: dict) -> str:
        k = _h(d["premise"])
        keys = _keywords(d["premise"])
        palettes = ["teal and amber", "slate and rust", "ink blue and candle gold",
                    "sea green and bone white", "charcoal and ember red"]
        textures = ["soft film grain", "35mm grain, gentle halation", "natural light, deep shadows",
                    "overcast softness, fine grain"]
        anchor = (f"cinematic, {keys[0]}-lit, {palettes[k % len(palettes)]} palette, "
                  f"{textures[(k // 7) % len(textures)]}")
        return json.dumps({"title": d["title"], "mood_anchor": anchor,
                           "visual_style": "grounded drama, natural light, handheld close-ups",
                           "genre": "drama", "forbidden": ["gore", "brand logos"],
                           "duration_target_s": 60})

    # -- VFX review (judgment items, decided by simple rules offline) ----------------
    def _vfx(self, d: dict) -> str:
        findings = []
        shots = d["shots"]
        limit = 2 if d["target_s"] <= 300 else 5
        for m in d.get("motifs") or []:
            if not m:
                continue
            n = sum(1 for s in shots if _bare(m).lower() in s["prompt"].lower())
            if n < limit:
                findings.append({"check": "O", "severity": "CRIT" if limit == 2 else "WARN",
                                 "shots": [], "scenes": [],
                                 "issue": f"the motif {m!r} appears in {n} prompt(s), "
                                          f"under {limit}",
                                 "fix": "land it where the direction says"})
        by_scene: dict[str, set] = {}
        for s in shots:
            by_scene.setdefault(s["scene"], set()).add(s["seed"])
        for sc, seeds in by_scene.items():
            if len(seeds) > 1:
                findings.append({"check": "I", "severity": "WARN", "shots": [], "scenes": [sc],
                                 "issue": "the scene's shots use different seeds",
                                 "fix": "share one seed per scene"})
        return json.dumps({"findings": findings}, ensure_ascii=False)

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
