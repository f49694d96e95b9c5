"""GATE 2's material in the viewer: the storyboard and its estimate, the VFX review, and what
the shots are made from (cast, sets, props, music)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..base.io import load_model
from ..base.models import BGMConfig, Storyboard
from ..base.project import load_manifest, manifest_path
from ..media.sound import list_bgm_tracks
from ..storyboard import load_storyboard
from .common import READ_ERRORS, Locator, Note, fmt_cost, is_scalar

# shown first, in this order, when present (the original viewer's choice of card keys)
CARD_KEYS = ("age", "gender", "occupation", "archetype", "voice_style")
MANIFESTS = (("cast", "Cast"), ("set", "Movie sets"), ("prop", "Props"))


class StoryboardReader(Locator):
    def storyboard(self) -> tuple[Storyboard | None, Note | None]:
        if not self.paths.storyboard.exists():
            return None, Note("missing", "No storyboard yet (the director writes it after GATE 1).")
        try:
            return load_storyboard(self.paths), None
        except READ_ERRORS as e:
            return None, Note("error", self.err(e))

    def estimate(self) -> dict[str, Any]:
        """estimate.json, with its price as one figure: "12.00 CNY", or "no price data"."""
        out = self.json_section(self.paths.estimate, "No estimate yet.")
        data = out.get("data")
        cost = data.get("cost") if isinstance(data, dict) else None
        out["figure"] = estimate_figure(cost) if isinstance(cost, dict) else None
        out["provider"] = data.get("provider") if isinstance(data, dict) else None
        return out

    def vfx_review(self) -> dict[str, Any]:
        return self.text_file(self.paths.vfx_review, "No VFX review for this storyboard.")

    def manifest(self, kind: str, label: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind, "label": label, "entries": [], "note": None,
                               "source": self.show_path(manifest_path(self.paths, kind))}
        try:
            m = load_manifest(self.paths, kind)
        except READ_ERRORS as e:
            out["note"] = Note("error", self.err(e))
            return out
        for e in m.entries:
            card = e.card if isinstance(e.card, dict) else {}
            keys = [k for k in CARD_KEYS if k in card and is_scalar(card[k])]
            keys += [k for k in card if k not in keys and is_scalar(card[k])][: 8 - len(keys)]
            out["entries"].append({
                "name": e.name, "id": e.id, "tier": e.tier,
                "image": self.media_url(e.images[0]) if e.images else None,
                "extra_images": [u for u in (self.media_url(i) for i in e.images[1:]) if u],
                "voices": [(Path(v).name, self.media_url(v)) for v in e.voices],
                "card": {k: card[k] for k in keys},
            })
        if not out["entries"]:
            out["note"] = Note("missing", f"No {label.lower()} yet.")
        return out

    def manifests(self) -> list[dict[str, Any]]:
        return [self.manifest(kind, label) for kind, label in MANIFESTS]

    def bgm(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": None, "note": None, "tracks": []}
        p = self.paths.bgm_config
        if p.exists():
            try:
                out["config"] = load_model(BGMConfig, p)
            except READ_ERRORS as e:
                out["note"] = Note("error", self.err(e))
        # the tracks the stitch can use: an episode track hides a project track of its name
        for f in list_bgm_tracks(self.paths).values():
            tier = "episode" if f.parent == self.paths.bgm_dir else "project"
            out["tracks"].append({"tier": tier, "name": f.name, "url": self.url(f)})
        return out


def estimate_figure(cost: dict[str, Any]) -> str:
    """The estimate's `cost` block as one figure with its currency; never a bare 0 where a
    model has no price."""
    cur = str(cost.get("currency") or "CNY")
    missing = [str(m) for m in cost.get("no_price_data") or []]
    if missing:
        known = cost.get("known_total")
        tail = f" (known part {fmt_cost(float(known))} {cur})" if known else ""
        return f"no price data for {', '.join(missing)}{tail}"
    total = cost.get("total")
    if not isinstance(total, int | float):
        return "no price data"
    return f"{fmt_cost(float(total))} {cur}"
