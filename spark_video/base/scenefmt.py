"""scenes/scene-NN.md: the screenwriter's format (drama and narration), parsed and written.

Drama:
    ## Scene 1 — Harbour (night)
    **Characters:** Mara, Theo
    **Pacing:** storm builds (external) + doubt (internal)
    **Estimated duration:** 20
    **Backstory:** one sentence.
    **Action:** two to four camera-visible sentences.
    **Dialog:**
    - Mara: "We sail at dawn."

Narration adds `**Type:** narration` and replaces Action/Dialog with numbered `**Beats:**`,
each `Narration: "..."` or `Dialog:` bullets, followed by `Visual: ... Suggested duration: Ns`.

The original spark-video's forms are read too (a person's file is never rewritten to fit):
the label's colon outside the bold (`**Characters**: ...`), `Plot`/`Dialogue` for
Action/Dialog, and its Chinese template (`## 场景 N — 地点（时间）`, `**人物**`, `**节奏**`,
`**预估时长**`, `**背景**`, `**剧情**`, `**对白**`, `**类型**: 旁白`, `**节拍**` with
`旁白:` / `对白:` / `画面:` / `建议时长: Ns`). FIELD_ALIASES maps every label to ours.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, Field

from .io import InputError
from .models import DialogLine

HEADING = re.compile(r"^##\s*(?:Scene\s+|场景\s*)(\d+)\s*(?:[—–:：-]+\s*(.+?))?\s*"
                     r"(?:[(（](.+?)[)）])?\s*$", re.M)
# **Label:** value, **Label**: value (the original's form), full-width colons too
FIELD = re.compile(r"^\*\*(.+?)(?:[:：]\*\*|\*\*\s*[:：])\s*(.*)$")
DIALOG = re.compile(r'^\s*[-*]\s*([^:：]+?)\s*[:：]\s*["“「]?(.+?)["”」]?\s*$')
BEAT = re.compile(r"^\s*(\d+)[.、]\s*(Narration|Dialog|Dialogue|旁白|解说|对白|台词)"
                  r"\s*[:：]\s*(.*)$", re.I)
VISUAL = re.compile(r"^\s*(?:Visual|画面)\s*[:：]\s*(.+?)\s*"
                    r"(?:(?:Suggested duration|建议时长)\s*[:：]\s*(\d+)\s*(?:s|秒))?\s*$", re.I)
FIELD_ALIASES = {
    "plot": "action", "dialogue": "dialog",
    "人物": "characters", "角色": "characters", "节奏": "pacing", "预估时长": "estimated duration",
    "时长": "estimated duration", "背景": "backstory", "前情": "backstory", "剧情": "action",
    "情节": "action", "动作": "action", "对白": "dialog", "台词": "dialog", "类型": "type",
    "节拍": "beats",
}
BEAT_KINDS = {"旁白": "narration", "解说": "narration", "对白": "dialog", "台词": "dialog",
              "dialogue": "dialog"}
NARRATION_TYPES = {"narration", "旁白", "解说"}


class Beat(BaseModel):
    kind: str  # narration | dialog
    narration: str | None = None
    dialog: list[DialogLine] = Field(default_factory=list)
    visual: str = ""
    duration: int | None = None


class SceneScript(BaseModel):
    num: int
    location: str
    time_of_day: str = ""
    mode: str = "drama"
    characters: list[str] = Field(default_factory=list)
    pacing: str = ""
    estimated_duration: int = 0
    backstory: str = ""
    action: str = ""
    dialog: list[DialogLine] = Field(default_factory=list)
    beats: list[Beat] = Field(default_factory=list)
    trailer: str = ""


def _names(value: str) -> list[str]:
    return [n.strip() for n in re.split(r"[,，、]", value) if n.strip() and n.strip() != "—"]


def parse_scene_md(text: str, path: Path | str) -> SceneScript:
    body, _, trailer = text.partition("<!--")
    trailer = ("<!--" + trailer) if trailer else ""
    m = HEADING.search(body)
    if not m:
        raise InputError(path, "missing heading '## Scene N — <location> (<time of day>)'")
    num, location, tod = int(m.group(1)), (m.group(2) or "").strip(), (m.group(3) or "").strip()
    fields: dict[str, str] = {}
    dialog: list[DialogLine] = []
    beats: list[Beat] = []
    current = None
    lines = body[m.end():].splitlines()
    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            continue
        f = FIELD.match(line.strip())
        if f:
            current = f.group(1).strip().lower()
            current = FIELD_ALIASES.get(current, current)
            fields[current] = f.group(2).strip()
            continue
        if current == "dialog":
            d = DIALOG.match(line)
            if not d:
                raise InputError(path, f"field Dialog: cannot read line {line.strip()!r}; "
                                 'write it as - Name: "line"')
            dialog.append(DialogLine(speaker=d.group(1).strip(), text=d.group(2).strip()))
        elif current == "beats":
            b = BEAT.match(line)
            if b:
                kind = b.group(2).lower()
                kind = BEAT_KINDS.get(kind, kind)
                beat = Beat(kind=kind)
                if kind == "narration":
                    beat.narration = b.group(3).strip().strip('"“”「」')
                    if not beat.narration:
                        raise InputError(path, f"beat {b.group(1)}: empty Narration")
                beats.append(beat)
                continue
            v = VISUAL.match(line)
            if v and beats:
                beats[-1].visual = v.group(1).strip().rstrip(".") + "."
                if v.group(2):
                    beats[-1].duration = int(v.group(2))
                continue
            d = DIALOG.match(line)
            if d and beats and beats[-1].kind == "dialog":
                beats[-1].dialog.append(DialogLine(speaker=d.group(1).strip(),
                                                   text=d.group(2).strip()))
                continue
            raise InputError(path, f"field Beats: cannot read line {line.strip()!r}")
        elif current is not None:
            fields[current] = (fields[current] + " " + line.strip()).strip()
    mode = "narration" if fields.get("type", "").strip().lower() in NARRATION_TYPES else "drama"
    est = fields.get("estimated duration", "0")
    em = re.match(r"\s*(\d+)", est)
    if not em:
        raise InputError(path, f"field Estimated duration: {est!r} is not a number of seconds")
    if mode == "narration" and not beats:
        raise InputError(path, "field Beats: a narration scene needs at least one beat")
    if mode == "drama" and not fields.get("action"):
        raise InputError(path, "field Action: a drama scene needs 2–4 sentences of action")
    return SceneScript(
        num=num, location=location, time_of_day=tod, mode=mode,
        characters=_names(fields.get("characters", "")), pacing=fields.get("pacing", ""),
        estimated_duration=int(em.group(1)), backstory=fields.get("backstory", ""),
        action=fields.get("action", ""), dialog=dialog, beats=beats,
        trailer=trailer.strip(),
    )


def render_scene_md(s: SceneScript) -> str:
    head = f"## Scene {s.num} — {s.location}" + (f" ({s.time_of_day})" if s.time_of_day else "")
    out = [head, ""]
    if s.mode == "narration":
        out.append("**Type:** narration")
    out.append(f"**Characters:** {', '.join(s.characters) or '—'}")
    if s.pacing:
        out.append(f"**Pacing:** {s.pacing}")
    out.append(f"**Estimated duration:** {s.estimated_duration}")
    out.append(f"**Backstory:** {s.backstory}")
    if s.mode == "narration":
        out.append("**Beats:**")
        for i, b in enumerate(s.beats, 1):
            if b.kind == "narration":
                out.append(f'{i}. Narration: "{b.narration}"')
            else:
                out.append(f"{i}. Dialog:")
                out += [f'   - {d.speaker}: "{d.text}"' for d in b.dialog]
            dur = f" Suggested duration: {b.duration}s" if b.duration else ""
            out.append(f"   Visual: {b.visual}{dur}")
    else:
        out.append(f"**Action:** {s.action}")
        out.append("**Dialog:**")
        out += [f'- {d.speaker}: "{d.text}"' for d in s.dialog]
    if s.trailer:
        out += ["", s.trailer]
    return "\n".join(out) + "\n"


# -- how long a scene's beats run (GATE 1's total; the offline director shoots the same) ---
WORDS_PER_S = 2.5  # spoken English words per second
HANZI_PER_S = 3.0  # spoken Chinese characters per second


def speech_seconds(text: str) -> float:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    words = len(re.findall(r"[A-Za-z0-9']+", text))
    return cjk / HANZI_PER_S + words / WORDS_PER_S


def shot_seconds(text: str, *, lo: int = 3, hi: int = 15, pad: float = 1.5) -> int:
    """A shot carrying `text`: its speaking time plus a breath, within lo..hi seconds."""
    return max(lo, min(hi, round(speech_seconds(text) + pad)))


def _first_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.!?。！？])\s*", text) if p.strip()]
    return parts[0] if parts else text


def beat_seconds(s: SceneScript) -> list[int]:
    """Seconds of each beat of a scene: drama is an establishing shot of the action's first
    sentence and one shot per dialog line; narration is each beat's suggested duration (else
    its spoken length)."""
    if s.mode == "narration":
        return [b.duration or (shot_seconds(b.narration or "", lo=3, hi=6, pad=0.8)
                               if b.kind == "narration" else
                               shot_seconds(b.dialog[0].text) if b.dialog else 0)
                for b in s.beats]
    out = [shot_seconds(_first_sentence(s.action), lo=5, hi=8, pad=2)] if s.action else []
    return out + [shot_seconds(d.text) for d in s.dialog]
