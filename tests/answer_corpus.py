"""A corpus of model answers per role, in the shapes capable models return them: fences,
prose before and after (English and Chinese), extra keys, enum spellings, numbers as strings,
trailing commas. Each case says what must come of it: ACCEPT with a check of the parsed
value, or REFUSE with the text the error must contain (the text the role is asked again
with). tests/test_answers.py runs every case through the role's real parser."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ANCHOR = "cinematic, salt-stained teal and amber palette, soft film grain"


@dataclass
class Case:
    role: str
    name: str
    answer: str
    check: Any = None  # ACCEPT: callable(parsed) -> bool
    refused: str | None = None  # REFUSE: text the error contains


def j(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


# --------------------------------------------------------------------------- outline

OUTLINE = {"title": "The Lighthouse Keepers", "scenes": [
    {"num": 1, "id": "S01", "title": "The lamp", "location": "lamp room", "time_of_day": "night",
     "summary": "Mara trims the wick while the storm builds.", "characters": ["Mara"],
     "target_duration_s": 15},
    {"num": 2, "id": "S02", "title": "The letter", "location": "kitchen", "time_of_day": "dawn",
     "summary": "Theo shows her the mainland letter.", "characters": ["Mara", "Theo"],
     "target_duration_s": 15},
]}


def _outline(**change: Any) -> dict:
    o = json.loads(json.dumps(OUTLINE))
    for k, v in change.items():
        i, _, field = k.partition("__")
        o["scenes"][int(i)][field] = v
    return o


CASES: list[Case] = [
    Case("outline", "fenced, prose before and after, extra keys",
         "Here is the outline you asked for:\n\n```json\n"
         + j({**_outline(**{"0__notes": "keep it quiet"}), "logline": "duty vs. a life"})
         + "\n```\n\nLet me know if you want a third scene.",
         check=lambda o: [s.id for s in o.scenes] == ["S01", "S02"]),
    Case("outline", "numbers and durations as strings, Chinese prose, trailing comma",
         "好的，以下是大纲：\n" + j(_outline(**{"0__num": "1", "0__target_duration_s": "15s",
                                             "1__target_duration_s": "20 秒"}))[:-2]
         + ",\n}\n希望对你有帮助。",
         check=lambda o: [s.target_duration_s for s in o.scenes] == [15, 20]
         and o.scenes[0].num == 1),
    Case("outline", "keys in another case, characters as one string",
         j({"Title": "The Lighthouse Keepers", "Scenes": [
             {**OUTLINE["scenes"][0], "Characters": "Mara"},
             {**OUTLINE["scenes"][1], "characters": "Mara, Theo"}]}),
         check=lambda o: o.scenes[1].characters == ["Mara", "Theo"]),
    Case("outline", "scene ids as S1 and scene 2",
         j(_outline(**{"0__id": "S1", "1__id": "scene 2"})),
         check=lambda o: [s.id for s in o.scenes] == ["S01", "S02"]),
    Case("outline", "a scene number that is not a number", j(_outline(**{"1__num": "two"})),
         refused='scenes[1] (id S02).num: "two" is not a whole number'),
    Case("outline", "no scenes", j({"title": "x"}), refused="scenes: missing; it is required"),
    Case("outline", "prose only", "I think the story should start in the lamp room.",
         refused="no JSON in the answer"),
    Case("outline", "an unknown character", j(_outline(**{"1__characters": ["Captain"]})),
         refused="scenes[1].characters: unknown character 'Captain'"),
]

# --------------------------------------------------------------------------- screenwriter

SCENE = """## Scene 1 — lamp room (night)
**Characters:** Mara, Theo
**Pacing:** storm builds (external) + doubt (internal)
**Estimated duration:** 15
**Backstory:** Mara has kept the lamp for ten years.
**Action:** Mara trims the wick. The storm shakes the glass. Theo watches from the stairs.
**Dialog:**
- Mara: "The lamp does not wait."
- Theo: "Neither does the ferry."
"""

CASES += [
    Case("screenwriter", "canonical", SCENE, check=lambda t: t.startswith("## Scene 1 — ")),
    Case("screenwriter", "fenced with prose before and after",
         "Sure! Here is scene 1:\n\n```markdown\n" + SCENE + "```\n\nI kept it short.",
         check=lambda t: t.startswith("## Scene 1 — lamp room (night)")
         and "I kept it short" not in t),
    Case("screenwriter", "loose heading, unbolded fields, bold and annotated speakers, a "
         "closing remark",
         "# Scene 1: lamp room (night)\n\nCharacters: Mara, Theo\n**Pacing**: storm builds\n"
         "Estimated duration: 15s\nBackstory: ten years at the lamp.\n"
         "Action: Mara trims the wick. Theo watches.\nDialogue:\n"
         '- **Mara:** "The lamp does not wait."\n- Theo (quietly): "Neither does the ferry."\n'
         "\nLet me know if you want changes.",
         check=lambda t: "## Scene 1 — lamp room (night)" in t and "**Dialog:**" in t
         and '- Theo: "Neither does the ferry."' in t and "Let me know" not in t),
    Case("screenwriter", "Chinese heading and prose",
         "好的，这是第一场：\n\n## 第1场：灯塔（夜）\n**Characters:** Mara\n"
         "**Estimated duration:** 15\n**Backstory:** 十年守灯。\n"
         "**Action:** Mara 修剪灯芯。风暴摇动玻璃。\n"
         '**Dialog:**\n- Mara：「灯不会等人。」\n',
         check=lambda t: t.startswith("## Scene 1 — 灯塔 (夜)")),
    Case("screenwriter", "narration beats with durations in words",
         "## Scene 1 — lamp room (night)\n**Type:** narration\n**Characters:** Mara\n"
         "**Estimated duration:** 10\n**Backstory:** ten years.\n**Beats:**\n"
         '1. Narration: "She keeps the lamp."\n   Visual: Mara at the lamp. '
         "Suggested duration: 5 seconds\n"
         '2. Narration: "The storm does not care."\n   Visual: waves. Suggested duration: 5秒\n',
         check=lambda t: t.count("Suggested duration: 5s") == 2),
    Case("screenwriter", "an unknown speaker", SCENE.replace("- Theo:", "- Captain:"),
         refused="unknown character 'Captain'"),
    Case("screenwriter", "no heading", SCENE.split("\n", 1)[1],
         refused="missing heading '## Scene N"),
    Case("screenwriter", "the wrong scene number", SCENE.replace("Scene 1", "Scene 3"),
         refused="the heading says scene 3, expected 1"),
]

# --------------------------------------------------------------------------- direction

DIRECTION = {
    "tone_dimensions": {"warmth": "low", "tension": 7},
    "director_reference": "Bergman's island films",
    "audiovisual_decisions": {"camera": "handheld close-ups", "sound": "wind and glass"},
    "imagery_system": {"motifs": [{"name": "the lamp", "meaning": "duty",
                                   "landings": ["S01", "S02"]}]},
    "dual_pacing": {"external": "the storm builds", "internal": "her doubt grows"},
}

CASES += [
    Case("direction", "fenced, extra keys, landings as one string, a list where text is meant",
         "```json\n" + j({**DIRECTION, "id": "DIR-1", "audiovisual_decisions": {
             "camera": ["handheld", "close-ups"], "sound": "wind"},
             "imagery_system": {"motifs": [{"name": "the lamp", "meaning": "duty",
                                            "landings": "S01, S02", "weight": 3}]}})
         + "\n```",
         check=lambda d: d.imagery_system.motifs[0].landings == ["S01", "S02"]
         and d.audiovisual_decisions["camera"] == "handheld; close-ups"),
    Case("direction", "keys with spaces and capitals",
         j({"Tone Dimensions": DIRECTION["tone_dimensions"],
            "Director Reference": "Bergman", "audiovisual-decisions": {"camera": "still"},
            "imagery_system": DIRECTION["imagery_system"],
            "dual_pacing": DIRECTION["dual_pacing"]}),
         check=lambda d: d.director_reference == "Bergman"),
    Case("direction", "a missing half of the dual pacing",
         j({**DIRECTION, "dual_pacing": {"external": "storm"}}),
         refused="dual_pacing.internal: missing; it is required"),
    Case("direction", "a motif landing in an unknown scene",
         j({**DIRECTION, "imagery_system": {"motifs": [{"name": "lamp",
                                                        "landings": ["S09"]}]}}),
         refused="lands in unknown scenes ['S09']"),
]

# --------------------------------------------------------------------------- director

PROMPT = (f"Medium shot, [Image 1] Mara, 34, trims the lamp wick by the window, slow push "
          f"in. {ANCHOR}")


def fragment(**shot: Any) -> dict:
    return {"scene": {"id": "S01", "name": "lamp room", "description": "the lamp room at night",
                      "characters_present": ["Mara"]},
            "shots": [{"id": "S01-001", "scene": "S01", "kind": "r2v", "duration": 5,
                       "prompt": PROMPT, "narrative_purpose": "her duty, in one gesture",
                       "characters": ["Mara"], "use_prev_last_frame_as_first": False,
                       "dialog": [{"speaker": "Mara", "text": "The lamp does not wait."}],
                       **shot}]}


CASES += [
    Case("director", "JSON then prose, extra keys, enum case, numbers as strings",
         j({**fragment(kind="R2V", duration="5s", seed="42", camera="slow dolly",
                       characters="Mara", negative_prompt=None), "notes": "one shot"})
         + "\n\nThis keeps the scene to a single take.",
         check=lambda f: (f.shots[0].kind, f.shots[0].duration, f.shots[0].seed,
                          f.shots[0].characters) == ("r2v", 5, 42, ["Mara"])),
    Case("director", "the shots as a bare object, role in capitals",
         j({"scene": fragment()["scene"], "shots": {**fragment()["shots"][0],
                                                    "role": "Drama"}}),
         check=lambda f: len(f.shots) == 1 and f.shots[0].role == "drama"),
    Case("director", "a duration over the limit", j(fragment(duration=40)),
         refused="shots[0] (id S01-001).duration: 40: input should be less than or equal "
                 "to 15"),
    Case("director", "a kind that does not exist", j(fragment(kind="video")),
         refused='shots[0] (id S01-001).kind: "video" is not one of t2v, i2v, r2v'),
    Case("director", "the mood anchor dropped",
         j(fragment(prompt=PROMPT.replace(" " + ANCHOR, ""))),
         refused="must end with the mood anchor verbatim"),
]

# --------------------------------------------------------------------------- VFX review


def finding(**kw: Any) -> dict:
    return {"check": "D", "severity": "WARN", "shots": ["S01-002"],
            "issue": "the scripted line is not covered", "fix": "add a dialog shot", **kw}


CASES += [
    Case("vfx", "extra id on each finding (issue 18)",
         j({"verdict": "PASS WITH WARNINGS", "findings": [finding(id="WARN-1"),
                                                          finding(id="WARN-2", check="L")]}),
         check=lambda fs: [f.check for f in fs] == ["D", "L"]),
    Case("vfx", "severity spellings, a lowercase letter, shots as one string",
         j({"findings": [finding(severity="CRITICAL", check="d", shots="S01-002"),
                         finding(severity="warning"), finding(severity="Suggestion"),
                         finding(severity="crit")]}),
         check=lambda fs: [f.severity for f in fs] == ["CRIT", "WARN", "SUGG", "CRIT"]
         and fs[0].shots == ["S01-002"] and fs[0].check == "D"),
    Case("vfx", "Chinese prose around a fence, the letter with its name, 严重",
         "审查结果如下：\n```json\n" + j({"findings": [
             finding(check="D. dialog coverage", severity="严重")]}) + "\n```\n以上。",
         check=lambda fs: (fs[0].check, fs[0].severity) == ("D", "CRIT")),
    Case("vfx", "a bare list, trailing commas", '[\n  {"check": "B", "severity": "SUGG", '
         '"scenes": ["S01"], "issue": "the set drifts", "fix": "",},\n]',
         check=lambda fs: fs[0].scenes == ["S01"]),
    Case("vfx", "nothing found", '```json\n{"verdict": "PASS", "findings": []}\n```',
         check=lambda fs: fs == []),
    Case("vfx", "capitalised keys, shot ids under another name, fix as a list",
         j({"Findings": [{"Check": "P", "Severity": "Warn", "shot_ids": ["S01-001"],
                          "Issue": "every dialog shot is shot-reverse-shot",
                          "Fix": ["stage one as a two-shot", "or a walk-and-talk"]}]}),
         check=lambda fs: (fs[0].check, fs[0].severity, fs[0].shots) == ("P", "WARN",
                                                                         ["S01-001"])
         and fs[0].fix == "stage one as a two-shot; or a walk-and-talk"),
    Case("vfx", "a letter outside the checklist", j({"findings": [finding(check="Z")]}),
         refused='findings[0].check: "Z" is not one of A–R'),
    Case("vfx", "an unknown severity", j({"findings": [finding(severity="meh")]}),
         refused='findings[0].severity: "meh" is not one of CRIT, WARN, SUGG'),
    Case("vfx", "a check that code decides", j({"findings": [finding(check="A")]}),
         refused="findings[0].check 'A': judge only"),
    Case("vfx", "an unknown shot", j({"findings": [finding(shots=["S07-001"])]}),
         refused="findings[0]: unknown shots or scenes ['S07-001']"),
    Case("vfx", "no findings key", j({"verdict": "PASS"}), refused='expected {"findings"'),
    Case("vfx", "an empty issue", j({"findings": [finding(issue="")]}),
         refused='findings[0].issue: "" is empty'),
]

# --------------------------------------------------------------------------- clip review

AXES6 = {"logic": 8, "proportion": 7, "physics": 9, "style": 8, "cast_match": 7,
         "dialog_attribution": 10}

CASES += [
    Case("review", "scores as strings, verdict in lower case, critique as a list",
         j({"breakdown": {**AXES6, "logic": "8", "style": "7/10"}, "verdict": "accept",
            "critique": ["0:02 the hand blurs", "0:04 fine"]}),
         check=lambda r: r[0]["style"] == 7.0 and r[1] == "ACCEPT"
         and r[2] == "0:02 the hand blurs; 0:04 fine"),
    Case("review", "the axes at the top level, spaced keys, prose around",
         "Review:\n" + j({"Logic": 6, "proportion": 7, "physics": 7, "style": 7,
                           "Cast Match": 6, "dialogue_attribution": 10, "verdict": "Rejected",
                           "critique": "0:01 the face drifts", "overall": 6.5}) + "\nDone.",
         check=lambda r: r[0]["cast_match"] == 6.0 and r[1] == "REJECT"),
    Case("review", "a scores wrapper", j({"scores": AXES6, "verdict": "ACCEPT"}),
         check=lambda r: r[0] == {k: float(v) for k, v in AXES6.items()}),
    Case("review", "Chinese prose around a fence, verdict 通过",
         "评审结果：\n```json\n" + j({"breakdown": AXES6, "verdict": "通过",
                                        "critique": "0:02 手部略有模糊"}) + "\n```\n总体不错。",
         check=lambda r: r[1] == "ACCEPT" and r[2] == "0:02 手部略有模糊"),
    Case("review", "an axis missing",
         j({"breakdown": {k: v for k, v in AXES6.items() if k != "physics"}}),
         refused="breakdown.physics: missing; it is required"),
    Case("review", "an axis out of range", j({"breakdown": {**AXES6, "logic": 11}}),
         refused="breakdown.logic: 11: input should be less than or equal to 10"),
    Case("review", "prose only", "The clip looks good to me.", refused="no JSON"),
]

# --------------------------------------------------------------------------- prompt rewrite

NEW = (f"Wide shot, [Image 1] Mara, 34, grips the lamp rail with both hands as the storm hits, "
       f"slow push in. {ANCHOR}")

CASES += [
    Case("rewrite", "plain", NEW, check=lambda p: p == NEW),
    Case("rewrite", "a lead-in line and quotes",
         f'Here is the rewritten prompt:\n\n"{NEW}"', check=lambda p: p == NEW),
    Case("rewrite", "fenced with a note after", f"```\n{NEW}\n```\nThis fixes the physics.",
         check=lambda p: p == NEW),
    Case("rewrite", "a Prompt: label", f"**Prompt:** {NEW}", check=lambda p: p == NEW),
    Case("rewrite", "a JSON wrapper", j({"prompt": NEW, "changes": ["grip"]}),
         check=lambda p: p == NEW),
    Case("rewrite", "the mood anchor left off (added back)", NEW.replace(f" {ANCHOR}", ""),
         check=lambda p: p.endswith(ANCHOR)),
    Case("rewrite", "the prompt, then a remark", f"{NEW}\n\nThis version fixes the physics.",
         check=lambda p: p == NEW),
    Case("rewrite", "a remark, then the quoted prompt, then a remark",
         f'I tightened the grip.\n\n"{NEW}"\n\nHope this helps!', check=lambda p: p == NEW),
    Case("rewrite", "two prompts", f"{NEW}\n\n{NEW.replace('Wide', 'Medium')}",
         refused="answer with the prompt only, as one paragraph"),
    Case("rewrite", "an image reference dropped", NEW.replace("[Image 1] ", ""),
         refused="keep the image references exactly as they were"),
    Case("rewrite", "empty", "  ", refused="empty prompt"),
]

# --------------------------------------------------------------------------- lore

LORE = {"title": "茶馆", "mood_anchor": "warm lamplight, 1930s Shanghai, soft film grain",
        "visual_style": "period drama", "genre": "drama", "forbidden": ["gore"]}

CASES += [
    Case("lore", "fenced with extra keys, a duration as a string",
         "```json\n" + j({**LORE, "duration_target_s": "60s", "reasoning": "period"}) + "\n```",
         check=lambda d: d["duration_target_s"] == 60 and d["mood_anchor"] == LORE["mood_anchor"]),
    Case("lore", "forbidden as one string", j({**LORE, "forbidden": "gore, brand logos"}),
         check=lambda d: d["forbidden"] == ["gore", "brand logos"]),
    Case("lore", "a two-line mood anchor", j({**LORE, "mood_anchor": "warm\nlamplight"}),
         refused="mood_anchor must be one line"),
]
