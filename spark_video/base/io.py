"""Atomic writes and model loading with errors that name the file and the field."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

MAX_INPUT_BYTES = 5 * 1024 * 1024  # a scene or storyboard file larger than this is refused


class InputError(ValueError):
    """Bad user or model input: names the file, the field and what to do."""

    def __init__(self, path: Path | str | None, message: str):
        self.path = Path(path) if path else None
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_json(data: object) -> str:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_none=False)
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def atomic_write_json(path: Path, data: object) -> None:
    atomic_write_text(path, dump_json(data))


def write_if_changed(path: Path, text: str) -> bool:
    """Write only when the content differs, so the file's mtime means 'content changed'."""
    path = Path(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def read_text_checked(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> str:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(path, f"file is {size} bytes, more than the {max_bytes} allowed")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from e


def read_json(path: Path) -> object:
    text = read_text_checked(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") \
            from e


def format_validation_error(err: ValidationError, data: object = None) -> str:
    lines = []
    for e in err.errors():
        loc = _loc_to_str(e["loc"], data)
        lines.append(f"field {loc}: {e['msg']}")
    return "; ".join(lines)


def _loc_to_str(loc: tuple, data: object) -> str:
    parts: list[str] = []
    cur = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(cur, list) and 0 <= item < len(cur):
                cur = cur[item]
                if isinstance(cur, dict) and isinstance(cur.get("id"), str):
                    label = f"[{item}] (id {cur['id']})"
            else:
                cur = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + str(item))
            cur = cur.get(item) if isinstance(cur, dict) else None
    return "".join(parts) or "(root)"


def parse_model(model: type[M], data: object, path: Path | str | None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(path, format_validation_error(e, data)) from None


def load_model(model: type[M], path: Path) -> M:
    return parse_model(model, read_json(path), path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def append_jsonl(path: Path, record: dict) -> None:
    """Append one line; a single O_APPEND write keeps parallel writers from interleaving."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_jsonl(path: Path) -> list[tuple[int, dict | str]]:
    """The records of a JSON-lines file written by `append_jsonl`: (line number, object),
    or (line number, what is wrong) for a line that is not a JSON object (a torn last line
    after a crash, a hand edit). Blank lines are skipped; a missing file has no records."""
    path = Path(path)
    if not path.exists():
        return []
    out: list[tuple[int, dict | str]] = []
    text = path.read_bytes().decode("utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            out.append((n, f"malformed JSON at column {e.colno}: {e.msg}"))
            continue
        out.append((n, rec) if isinstance(rec, dict) else (n, "not a JSON object"))
    return out
