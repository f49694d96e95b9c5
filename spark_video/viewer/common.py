"""What every part of the viewer shares: where the page is (URLs relative to the episode
folder), how a file that cannot be read becomes a note for its section only, and number
formats."""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..base.io import InputError, format_validation_error, read_json, read_text_checked
from ..base.paths import EpisodePaths, PathError, inside, poster_of

READ_ERRORS = (InputError, ValidationError, OSError, ValueError, PathError)


@dataclass
class Note:
    """A placeholder (nothing yet) or an error (could not read) for one section."""

    kind: str  # "missing" | "error"
    text: str


def fmt_cost(value: float | None) -> str:
    if value is None:
        return ""
    if value == 0:
        return "0.00"
    if abs(value) < 0.01:
        return f"{value:.4f}"
    return f"{value:,.2f}"


def fmt_duration_ms(ms: int) -> str:
    s = ms / 1000
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class Locator:
    """The episode seen from its viewer.html: relative URLs, readable paths, error text."""

    def __init__(self, paths: EpisodePaths):
        self.paths = paths
        self.root = paths.root
        self.project_root = paths.project_paths.root
        self.projects_dir = self.project_root.parent

    def url(self, target: Path) -> str:
        """A relative URL from the episode folder (the page's location) to `target`."""
        rel = os.path.relpath(Path(target).absolute(), self.root.absolute())
        return urllib.parse.quote(Path(rel).as_posix())

    def poster_url(self, video: Path) -> str | None:
        """The still made next to a video when it was made (paths.poster_of), if it exists."""
        p = poster_of(video)
        return self.url(p) if p.exists() else None

    def show_path(self, target: Path | None) -> str:
        """A path for humans: relative to the projects folder when it is inside it."""
        if target is None:
            return ""
        try:
            return Path(target).absolute().relative_to(self.projects_dir.absolute()).as_posix()
        except ValueError:
            return str(target)

    def err(self, e: Exception) -> str:
        if isinstance(e, InputError):
            return f"{self.show_path(e.path)}: {e.detail}" if e.path else e.detail
        if isinstance(e, ValidationError):
            return format_validation_error(e)
        if isinstance(e, OSError):
            return f"{self.show_path(Path(e.filename)) if e.filename else ''} {e.strerror or e}"
        return str(e)

    def media_url(self, rel: str) -> str | None:
        """A manifest media path (relative to the projects folder), if it stays in the project."""
        try:
            target = inside(self.project_root, self.projects_dir / rel)
        except (PathError, OSError, ValueError):
            return None
        return self.url(target)

    def json_section(self, p: Path, missing: str) -> dict[str, Any]:
        if not p.exists():
            return {"note": Note("missing", missing), "data": None}
        try:
            data = read_json(p)
        except READ_ERRORS as e:
            return {"note": Note("error", self.err(e)), "data": None}
        return {"note": None, "data": data, "source": self.show_path(p)}

    def text_file(self, p: Path, missing: str) -> dict[str, Any]:
        if not p.exists():
            return {"note": Note("missing", missing), "text": None}
        try:
            return {"note": None, "text": read_text_checked(p), "source": self.show_path(p)}
        except READ_ERRORS as e:
            return {"note": Note("error", self.err(e)), "text": None}
