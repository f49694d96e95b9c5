"""GATE 4's material in the viewer: the final cut, its subtitles and its timeline."""

from __future__ import annotations

import base64
import re
from typing import Any

from ..base.io import read_text_checked
from .common import READ_ERRORS, Locator, Note

MAX_SRT_BYTES = 1024 * 1024


def srt_to_vtt(srt: str) -> str:
    lines = ["WEBVTT", ""]
    for line in srt.replace("\r\n", "\n").lstrip("\ufeff").split("\n"):
        if "-->" in line:
            line = re.sub(r"(\d{2}:\d{2}:\d{2}),(\d{3})", r"\1.\2", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


class FinalReader(Locator):
    def final(self) -> dict[str, Any]:
        mp4, srt, otio = self.paths.final_mp4, self.paths.final_srt, self.paths.final_otio
        out: dict[str, Any] = {"path": self.show_path(mp4), "url": None, "srt_url": None,
                               "vtt": None, "note": None, "poster_url": None, "otio_url": None}
        if not mp4.exists():
            out["note"] = Note("missing", "No final cut yet (it is made after GATE 3).")
            return out
        out["url"], out["poster_url"] = self.url(mp4), self.poster_url(mp4)
        out["size_mb"] = f"{mp4.stat().st_size / 1e6:.1f}"
        if otio.exists():
            out["otio_url"] = self.url(otio)
        if srt.exists():
            out["srt_url"] = self.url(srt)
            try:
                text = read_text_checked(srt, MAX_SRT_BYTES)
                vtt = srt_to_vtt(text).encode("utf-8")
                out["vtt"] = "data:text/vtt;base64," + base64.b64encode(vtt).decode("ascii")
            except READ_ERRORS as e:
                out["srt_error"] = self.err(e)
        return out
