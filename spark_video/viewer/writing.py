"""GATE 1's material in the viewer: premise, lore, direction, the script and its scenes."""

from __future__ import annotations

import re
from typing import Any

from ..base.io import load_model, read_text_checked
from ..base.models import Outline, SceneFragment, Storyboard
from ..base.paths import parse_scene_file
from ..base.project import split_front_matter
from .common import READ_ERRORS, Locator, Note

DIRECTION_KEYS = ("tone", "tone_dimensions", "director_reference", "audiovisual_decisions",
                  "imagery_system")


class WritingReader(Locator):
    def premise(self) -> dict[str, Any]:
        for p in (self.paths.premise, self.paths.project_paths.premise):
            if not p.exists():
                continue
            try:
                text = read_text_checked(p).strip()
            except READ_ERRORS as e:
                return {"note": Note("error", self.err(e)), "source": self.show_path(p)}
            if text:
                return {"text": text, "source": self.show_path(p), "note": None}
        return {"note": Note("missing", "No premise yet: pass --premise or write premise.md."),
                "source": None}

    def lore(self) -> dict[str, Any]:
        p = self.paths.project_paths.lore
        out: dict[str, Any] = {"source": self.show_path(p), "meta": {}, "body": "", "note": None}
        if not p.exists():
            out["note"] = Note("missing", "No lore.md in this project.")
            return out
        try:
            meta, body = split_front_matter(p, read_text_checked(p))
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        out.update(meta=meta, body=body)
        return out

    def direction(self) -> dict[str, Any]:
        out = self.json_section(self.paths.direction, "No direction.json yet.")
        data = out.get("data")
        if isinstance(data, dict):
            ordered = {k: data[k] for k in DIRECTION_KEYS if k in data}
            ordered.update({k: v for k, v in data.items() if k not in ordered})
            out["data"] = ordered
        return out

    def script(self) -> dict[str, Any]:
        return self.text_file(self.paths.script, "No script yet (the screenwriter writes it).")

    def scenes(self, storyboard: Storyboard | None) -> list[dict[str, Any]]:
        out = []
        for p in self.paths.scene_files("md"):
            num = parse_scene_file(p.name)[0]
            item: dict[str, Any] = {"num": num, "source": self.show_path(p), "text": None,
                                    "note": None, "shots": None, "shots_note": None,
                                    "title": f"Scene {num}"}
            try:
                item["text"] = read_text_checked(p)
                m = re.search(r"^##\s*(.+)$", item["text"], re.M)
                if m:
                    item["title"] = m.group(1).strip()
            except READ_ERRORS as e:
                item["note"] = Note("error", self.err(e))
            frag = self.paths.scene_json(num)
            if frag.exists():
                try:
                    item["shots"] = len(load_model(SceneFragment, frag).shots)
                except READ_ERRORS as e:
                    item["shots_note"] = Note("error", self.err(e))
            elif storyboard is not None:
                sid = f"S{num:02d}"
                item["shots"] = sum(1 for s in storyboard.shots if s.scene == sid)
            out.append(item)
        return out

    def title(self, storyboard: Storyboard | None, lore_meta: dict) -> str | None:
        if storyboard:
            return storyboard.title
        if self.paths.outline.exists():
            try:
                return load_model(Outline, self.paths.outline).title
            except READ_ERRORS:
                pass
        t = lore_meta.get("title") if isinstance(lore_meta, dict) else None
        return str(t) if t else None
