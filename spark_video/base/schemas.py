"""Export the JSON Schemas of the data model to schemas/ (a test keeps them in sync)."""

from __future__ import annotations

import json
from pathlib import Path

from .models import SCHEMA_MODELS
from .settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas"


def render_all() -> dict[str, str]:
    out = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema.setdefault("title", model.__name__)
        out[f"{name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return out


def export(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in render_all().items():
        p = directory / fname
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
