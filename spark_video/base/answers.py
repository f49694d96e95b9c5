"""Model answers, read the way a careful engineer reads them: the one lenient layer between
what a text or review model answers and the strict pydantic models.

What capable models commonly add or vary is accepted, and each liberty taken is noted (the
role's prompt log in logs/prompts/ keeps the raw answer and these notes):

- JSON inside ``` fences, or with prose (any language) before or after it; trailing commas;
- keys in another case or spelling (`Severity`, `shot ids`, `dialogue`), a singular for a
  list field (`shot` for `shots`), extra keys (ignored);
- enum values in another case or spelling (`critical`, `Pass-With-Warnings`, `warn`, `严重`);
  a checklist letter with its name (`"D. dialog coverage"`);
- numbers sent as strings, with a unit where a duration or score is meant (`"5"`, `"5s"`,
  `"8/10"`, `"5秒"`); a string where a list of strings is meant (`"Mara, Theo"`);
  a number where text is meant; null for a field that has a default.

What still does not fit is refused with one line per problem that names the field path,
what was given and what is allowed (`findings[0].check: "p" is not one of A–R`), the text
the role is asked again with. Files a person edits are read strictly elsewhere (io); only
model answers come through here.
"""

from __future__ import annotations

import contextlib
import json
import re
import types
import typing
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# what an enum value may also be called, by the allowed value it means
ENUM_SYNONYMS: dict[str, tuple[str, ...]] = {
    "CRIT": ("critical", "error", "blocker", "blocking", "severe", "high", "major", "严重",
             "致命", "错误"),
    "WARN": ("warning", "warnings", "medium", "moderate", "警告", "注意"),
    "SUGG": ("suggestion", "suggestions", "suggest", "info", "minor", "low", "nit", "note",
             "optional", "建议", "提示"),
    "ACCEPT": ("accepted", "approve", "approved", "pass", "passed", "ok", "通过", "接受"),
    "REJECT": ("rejected", "fail", "failed", "redo", "不通过", "拒绝"),
    "BLOCK": ("blocked", "fail", "failed", "reject"),
}
# key spellings, word by word, before a key is matched to a field
KEY_WORDS = {"dialogue": "dialog", "shot_ids": "shots", "scene_ids": "scenes",
             "suggestion": "fix", "suggested_fix": "fix", "problem": "issue",
             "description_of_issue": "issue"}
NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds|秒|/\s*10|分)?"
                    r"\s*$", re.I)

_notes: ContextVar[list[str] | None] = ContextVar("answer_notes", default=None)


class AnswerError(ValueError):
    """A model answer that cannot be read: one line per problem, each naming the field path,
    what was given and what is allowed (the text the role is asked again with)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"- {p}" for p in problems))


@contextlib.contextmanager
def reading() -> Iterator[list[str]]:
    """Collect what the answers read inside this block were read as (for the prompt log)."""
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)


def note(text: str) -> None:
    notes = _notes.get()
    if notes is not None and text not in notes:
        notes.append(text)


def shown(value: object, limit: int = 80) -> str:
    """A given value as the error shows it: JSON, shortened."""
    try:
        s = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        s = repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --------------------------------------------------------------------------- JSON


FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)```", re.S)
TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def json_in(answer: str) -> Any:
    """The JSON value of an answer: the whole text, a ``` fenced block, or the first object
    (or list of objects) in prose; trailing commas are forgiven. ValueError when none."""
    text = (answer or "").strip().lstrip("\ufeff")
    if not text:
        raise AnswerError(["the answer is empty; answer with the JSON object"])
    candidates = [m.group(2) for m in FENCE.finditer(text)]
    if candidates:
        note("read the JSON inside the ``` fence")
    candidates.append(text)
    first_err = None
    for c in candidates:
        c = c.strip()
        for fixed in (c, TRAILING_COMMA.sub(r"\1", c)):
            try:
                value = json.loads(fixed)
            except json.JSONDecodeError as e:
                first_err = first_err or e
                continue
            if fixed is not c:
                note("forgave trailing commas")
            return value
        found = _embedded(c)
        if found is not None:
            return found
    if "{" not in text and "[" not in text:
        raise AnswerError(["no JSON in the answer; answer with the JSON object only"])
    e = first_err
    raise AnswerError([f"not JSON ({e.msg} at line {e.lineno} column {e.colno}); answer with "
                       "the JSON object only" if e else "not JSON"])


def _embedded(text: str) -> Any:
    """The first JSON object (or list holding an object) in text with prose around it."""
    dec = json.JSONDecoder()
    for m in re.finditer(r"[{\[]", text):
        for src in (text[m.start():], TRAILING_COMMA.sub(r"\1", text[m.start():])):
            try:
                value, _end = dec.raw_decode(src)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) or (isinstance(value, list)
                                           and any(isinstance(x, dict) for x in value)):
                note("ignored the prose around the JSON")
                return value
            break
    return None


def json_object_in(answer: str) -> dict:
    value = json_in(answer)
    if not isinstance(value, dict):
        raise AnswerError([f"expected one JSON object {{...}}, got {type(value).__name__} "
                           f"{shown(value, 40)}"])
    return value


# --------------------------------------------------------------------------- text


def unfenced(answer: str, *, wanted: re.Pattern[str] | None = None) -> str:
    """A text answer without its ``` fence (the fenced block holding `wanted`, or the
    largest) and without the prose outside the fence."""
    text = (answer or "").strip()
    blocks = [m.group(2).strip() for m in FENCE.finditer(text)]
    if not blocks:
        return text
    pick = [b for b in blocks if wanted and wanted.search(b)] or \
        sorted(blocks, key=len, reverse=True)
    note("read the text inside the ``` fence")
    return pick[0]


LABEL = re.compile(r"^\s*(?:\*\*)?(?:new |rewritten |revised |improved )?(?:video )?prompt"
                   r"(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*", re.I)
QUOTES = "\"'“”‘’「」『』`"


def one_text_in(answer: str, *, key: str = "prompt",
                is_it: Callable[[str], bool] | None = None) -> str:
    """A one-paragraph text answer (the rewritten prompt): without fences, a `Prompt:`
    label, a lead-in line ending in a colon, surrounding quotes, or a JSON wrapper
    {"prompt": ...}. Of several paragraphs, the one `is_it` recognises (the others are
    the model's remarks); several paragraphs and none recognised is refused."""
    text = unfenced(answer)
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            obj = json.loads(text)
            if isinstance(obj, dict):
                got = next((v for k, v in obj.items() if key_of(k) == key), None)
                if isinstance(got, str):
                    note(f"read the text of the JSON key {key!r}")
                    text = got
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if len(paras) > 1 and paras[0].rstrip().endswith((":", "：")):
        note("ignored the lead-in line")
        paras = paras[1:]
    if len(paras) > 1 and is_it is not None:
        mine = [p for p in paras if is_it(_bare(p))]
        if len(mine) != 1:
            raise AnswerError([f"the answer has {len(paras)} paragraphs; answer with the "
                               f"{key} only, as one paragraph"])
        note("ignored the remarks around the text")
        paras = mine
    if paras:
        text = paras[0] if len(paras) > 1 and LABEL.match(paras[0]) else "\n\n".join(paras)
    if LABEL.match(text):
        note("ignored the 'Prompt:' label")
        text = LABEL.sub("", text, count=1)
    return _bare(text)


def _bare(text: str) -> str:
    """Without a `Prompt:` label and the quotes around it."""
    text = LABEL.sub("", text.strip(), count=1).strip()
    while len(text) > 1 and text[0] in QUOTES and text[-1] in QUOTES:
        text = text[1:-1].strip()
    return text


# --------------------------------------------------------------------------- models


def key_of(k: object) -> str:
    s = re.sub(r"[\s\-]+", "_", str(k).strip().lower()).strip("_")
    return KEY_WORDS.get(s, "_".join(KEY_WORDS.get(w, w) for w in s.split("_")))


def _norm(s: str) -> str:
    return "".join(ch for ch in s.casefold() if ch.isalnum())


def enum_value(value: object, allowed: tuple[Any, ...]) -> object:
    """`value` as one of `allowed` when it is that value in another case or spelling
    (unchanged when it is not)."""
    if value in allowed or not isinstance(value, str):
        return value
    texts = [a for a in allowed if isinstance(a, str)]
    k = _norm(value)
    table = {_norm(a): a for a in texts}
    got = table.get(k)
    if got is None:
        syn = {a for a in texts for s in ENUM_SYNONYMS.get(a, ()) if _norm(s) == k}
        got = syn.pop() if len(syn) == 1 else None
    if got is None and len(k) >= 3:
        hits = {a for kk, a in table.items() if kk and (kk.startswith(k) or k.startswith(kk))}
        longest = max((len(_norm(a)) for a in hits), default=0)
        hits = {a for a in hits if len(_norm(a)) == longest}  # "passed" -> PASS
        got = hits.pop() if len(hits) == 1 else None
    if got is not None:
        note(f"read {shown(value)} as {got}")
        return got
    return value


def _pattern_of(info: Any) -> str | None:
    for m in getattr(info, "metadata", ()) or ():
        p = getattr(m, "pattern", None)
        if isinstance(p, str):
            return p
    return None


def allowed_text(pattern: str) -> str:
    """`^[A-R]$` -> "one of A–R"; any other pattern as itself."""
    m = re.fullmatch(r"\^\[(\w)-(\w)\]\$", pattern)
    if m:
        return f"one of {m.group(1)}–{m.group(2)}"
    return f"text matching {pattern}"


class _Reader:
    """One pass over a model answer: tidies it toward the model's fields and remembers the
    allowed values at each path, for the error lines."""

    def __init__(self) -> None:
        self.allowed: dict[tuple, str] = {}

    def model(self, model: type[BaseModel], data: object, path: tuple) -> object:
        if not isinstance(data, dict):
            return data
        fields = model.model_fields
        keep_extra = model.model_config.get("extra") == "allow"
        by_key = {key_of(name): name for name in fields}
        out: dict[str, Any] = {}
        for k, v in data.items():
            name = k if k in fields else by_key.get(key_of(k))
            if name is None and key_of(k) + "s" in by_key:
                name = by_key[key_of(k) + "s"]
            if name is None:
                if keep_extra:
                    out[k] = v
                else:
                    note(f"ignored the key {_where(path + (k,))}")
                continue
            if name in out:
                continue  # the exact spelling came first
            info = fields[name]
            if v is None and not _optional(info.annotation) and not info.is_required():
                note(f"{_where(path + (name,))}: null read as the default")
                continue
            if name != k:
                note(f"read the key {shown(k)} as {name!r}")
            out[name] = self.value(info.annotation, v, path + (name,), _pattern_of(info))
        return out

    def value(self, tp: Any, v: object, path: tuple, pattern: str | None = None) -> object:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.value(args[0], v, path, pattern)
        if origin in (typing.Union, types.UnionType):
            if v is None:
                return v
            real = [a for a in args if a is not type(None)]
            if len(real) == 1:
                return self.value(real[0], v, path, pattern)
            if str in real and isinstance(v, list) and all(isinstance(x, str) for x in v):
                return "; ".join(v)
            return v
        if origin is Literal:
            self.allowed[path] = "one of " + ", ".join(str(a) for a in args)
            return enum_value(v, args)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return self.model(tp, v, path)
        if origin is list:
            item = args[0] if args else Any
            if isinstance(v, str) and item is str:
                parts = [p.strip() for p in re.split(r"[,，、;；]", v) if p.strip()]
                note(f"{_where(path)}: read the text {shown(v, 40)} as a list")
                return parts
            if isinstance(v, dict) and isinstance(item, type) and issubclass(item, BaseModel):
                note(f"{_where(path)}: read one object as a list of one")
                v = [v]
            if isinstance(v, list):
                return [self.value(item, x, path + (i,)) for i, x in enumerate(v)]
            return v
        if origin is dict:
            vt = args[1] if len(args) > 1 else Any
            if isinstance(v, dict):
                return {str(k): self.value(vt, x, path + (str(k),)) for k, x in v.items()}
            return v
        if tp in (int, float):
            if isinstance(v, str):
                m = NUMBER.match(v)
                if m:
                    n = float(m.group(1))
                    got = int(n) if tp is int and n.is_integer() else n
                    note(f"{_where(path)}: read {shown(v)} as {got}")
                    return got
            if tp is int and isinstance(v, float) and v.is_integer():
                return int(v)
            return v
        if tp is str:
            if isinstance(v, bool):
                return v
            if isinstance(v, int | float):
                return str(v)
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                note(f"{_where(path)}: joined a list of texts")
                return "; ".join(v)
            if isinstance(v, dict | list):
                note(f"{_where(path)}: read the JSON value as its text")
                return json.dumps(v, ensure_ascii=False)
            if pattern and isinstance(v, str):
                self.allowed[path] = allowed_text(pattern)
                return _to_pattern(v, pattern)
            return v
        return v


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and \
        type(None) in typing.get_args(tp)


def _to_pattern(v: str, pattern: str) -> str:
    if re.search(pattern, v):
        return v
    for c in (v.strip(), v.strip().upper(),
              *(m.group(1).upper() for m in [re.match(r"^\s*\(?([A-Za-z])(?:[\s.:)）\-—、]|$)",
                                                      v)] if m)):
        if re.search(pattern, c):
            note(f"read {shown(v)} as {c}")
            return c
    return v


def _where(path: tuple, data: object = None) -> str:
    out = ""
    cur = data
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
            cur = cur[p] if isinstance(cur, list) and 0 <= p < len(cur) else None
            if isinstance(cur, dict) and isinstance(cur.get("id"), str):
                out += f" (id {cur['id']})"
        else:
            out += ("." if out else "") + str(p)
            cur = cur.get(p) if isinstance(cur, dict) else None
    return out or "(the answer)"


def problem_lines(err: ValidationError, data: object, allowed: dict[tuple, str]) -> list[str]:
    """One line per error: the field path, what was given, what is allowed."""
    out = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = _where(loc, data)
        kind, given, msg = e["type"], e.get("input"), e["msg"]
        if kind == "missing":
            line = f"{where}: missing; it is required"
        elif kind in ("literal_error", "string_pattern_mismatch", "enum"):
            line = f"{where}: {shown(given)} is not {allowed.get(loc) or msg}"
        elif kind in ("int_parsing", "float_parsing", "int_type", "float_type",
                      "int_from_float"):
            line = f"{where}: {shown(given)} is not {'a whole' if 'int' in kind else 'a'} number"
        elif kind == "value_error":
            line = f"{where}: {msg.removeprefix('Value error, ')}"
        elif kind in ("too_short", "string_too_short") and not given:
            line = f"{where}: {shown(given)} is empty; {msg[0].lower() + msg[1:]}"
        else:
            line = f"{where}: {shown(given)}: {msg[0].lower() + msg[1:]}"
        out.append(line)
    return out


def read(model: type[M], answer: str | object, *, fill: dict | None = None) -> M:
    """A model answer (its text, or the JSON value already taken from it) as `model`;
    `fill` sets the fields our code decides, over whatever the answer said. AnswerError
    names each field that still does not fit."""
    data = json_in(answer) if isinstance(answer, str) else answer
    if not isinstance(data, dict):
        raise AnswerError([f"expected one JSON object {{...}}, got {shown(data, 40)}"])
    r = _Reader()
    tidy = r.model(model, data, ())
    if fill and isinstance(tidy, dict):
        tidy = {**tidy, **fill}
    try:
        return model.model_validate(tidy)
    except ValidationError as e:
        raise AnswerError(problem_lines(e, tidy, r.allowed)) from None


# --------------------------------------------------------------------------- scene markdown


SCENE_HEADING = re.compile(
    r"^\s*(?:#{1,4}\s*)?(?:\*\*)?\s*(?:Scene|SCENE|场景|第)\s*(\d+)\s*(?:场|幕)?\s*"
    r"(?:[:：—–-]+\s*)?(.+?)\s*(?:\*\*)?\s*$")
FIELD_NAMES = ("Type", "Characters", "Pacing", "Estimated duration", "Backstory", "Action",
               "Plot", "Dialog", "Dialogue", "Beats")
LOOSE_FIELD = re.compile(r"^\s*(?:\*\*)?(" + "|".join(FIELD_NAMES) + r")(?:\*\*)?\s*[:：]"
                         r"\s*(?:\*\*)?\s*(.*)$", re.I)
BOLD_SPEAKER = re.compile(r'^(\s*[-*]\s*)\*\*([^*:：]+?)\s*[:：]?\s*\*\*\s*[:：]?\s*(.*)$')
PAREN_SPEAKER = re.compile(r'^(\s*[-*]\s*)([^:：(（]+?)\s*[(（][^)）]*[)）]\s*([:：].*)$')


DURATION_WORDS = re.compile(r"Suggested duration\s*[:：]\s*(\d+)\s*(?:seconds?|secs?|秒|s\b)",
                            re.I)
SCENE_ID = re.compile(r"^(?:s|scene)[\s_-]*0*(\d{1,2})$", re.I)


def scene_id(value: object) -> object:
    """`S1`, `s01`, `Scene 1` as our scene id `S01` (anything else unchanged)."""
    m = SCENE_ID.match(str(value).strip()) if isinstance(value, str | int) else None
    if m and f"S{int(m.group(1)):02d}" != value:
        note(f"read the scene id {shown(value)} as S{int(m.group(1)):02d}")
        return f"S{int(m.group(1)):02d}"
    return value


def _heading(line: str) -> bool:
    """A scene heading, marked as one (`#`, bold, or a separator after the number), not a
    sentence of prose that starts with "Scene 1"."""
    return bool(SCENE_HEADING.match(line)) and not LOOSE_FIELD.match(line) and (
        line.lstrip().startswith(("#", "**"))
        or bool(re.search(r"\d+\s*(?:场|幕)?\s*[:：—–-]", line)))


def scene_markdown_in(answer: str) -> str:
    """A screenwriter's scene in our format: fences and the prose around them dropped, the
    heading and field labels in their usual spelling (`# Scene 1: Harbour` ->
    `## Scene 1 — Harbour`, `Characters:` -> `**Characters:**`), bold or annotated
    speakers (`- **Mara:** "..."`, `- Mara (quietly): "..."`) as plain names."""
    text = unfenced(answer, wanted=re.compile(r"Scene\s*\d+|场景|第\s*\d+", re.I))
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if _heading(ln)), None)
    if start is None:
        return text.strip() + "\n"
    if any(ln.strip() for ln in lines[:start]):
        note("ignored the prose before the scene heading")
    out = []
    for i, ln in enumerate(lines[start:]):
        if i == 0:
            m = SCENE_HEADING.match(ln)
            rest = re.sub(r"\s*[（(]([^)）]+)[)）]\s*$", r" (\1)", m.group(2).strip(" *—–-:"))
            head = f"## Scene {int(m.group(1))} — {rest}"
            if head != ln.strip():
                note(f"read the heading {ln.strip()!r} as {head!r}")
            out.append(head)
            continue
        f = LOOSE_FIELD.match(ln)
        if f and not ln.lstrip().startswith(("-", "*  ")):
            name = next(n for n in FIELD_NAMES if n.lower() == f.group(1).lower())
            name = "Dialog" if name == "Dialogue" else name
            fixed = f"**{name}:** {f.group(2).strip()}".rstrip()
            if fixed != ln.strip():
                note(f"read the field line {ln.strip()[:40]!r} as **{name}:**")
            out.append(fixed)
            continue
        b = BOLD_SPEAKER.match(ln)
        if b:
            out.append(f"{b.group(1)}{b.group(2).strip()}: {b.group(3).strip()}")
            note("read bold speaker names as plain names")
            continue
        p = PAREN_SPEAKER.match(ln)
        if p:
            out.append(f"{p.group(1)}{p.group(2).strip()}{p.group(3)}")
            note("dropped the parenthetical after a speaker's name")
            continue
        d = DURATION_WORDS.search(ln)
        if d:
            ln = DURATION_WORDS.sub(lambda m: f"Suggested duration: {m.group(1)}s", ln)
            note("read the suggested duration in seconds")
        out.append(ln)
    while out and re.fullmatch(r"\s*(?:-{3,}|\*{3,}|_{3,})?\s*", out[-1]):
        out.pop()
    # a closing remark after the scene ("Let me know if ...") is not part of it
    body = "\n".join(out)
    paras = re.split(r"\n\s*\n", body)
    inside_comment = body.rfind("<!--") > body.rfind("-->")
    if len(paras) > 1 and not inside_comment and "-->" not in paras[-1] \
            and "<!--" not in paras[-1] and not re.search(
            r"^\s*(?:[-*]|\d+\.|\*\*|Visual\s*:)", paras[-1], re.M | re.I):
        note("ignored the remark after the scene")
        body = "\n\n".join(paras[:-1])
    return body.strip() + "\n"
