"""The lore.md a project starts with, and its mood anchor proposed from the premise when
it is missing or still the scaffold's placeholder."""

from __future__ import annotations

from ..base.io import atomic_write_text
from ..base.paths import EpisodePaths
from ..base.project import load_lore, lore_placeholders, set_lore_field
from ..base.settings import WorkflowConfig
from ..providers.base import CallContext
from ..roles import propose_lore

LORE_TEMPLATE = """---
title: {title}
mood_anchor: "TBD: one line appended to every prompt"
visual_style: ""
genre: drama
duration_target_s: 60
forbidden: []
---
# {title}

World, protagonist arc and visual anchors go here.
"""


def _scaffold_lore(cfg: WorkflowConfig, paths: EpisodePaths, premise: str) -> None:
    """A missing lore.md, with a mood anchor proposed from the premise (edit it freely)."""
    import yaml

    lore = propose_lore(CallContext(paths, cfg, phase="producer"), premise=premise,
                        title=cfg.project)
    fm = yaml.safe_dump(lore, allow_unicode=True, sort_keys=False).strip()
    atomic_write_text(paths.project_paths.lore,
                      f"---\n{fm}\n---\n# {lore['title']}\n\nProposed from the premise; "
                      "edit the mood anchor, style and forbidden terms to taste.\n")
    print(f"lore.md was missing: scaffolded {paths.project_paths.lore} with the mood anchor "
          f"\"{lore['mood_anchor']}\" (edit it to taste)")


def _fill_lore_placeholders(cfg: WorkflowConfig, paths: EpisodePaths, premise: str) -> None:
    """A lore.md whose mood anchor is still the scaffold's "TBD: ..." gets one proposed from
    the premise by the text model (offline: from the premise's own words); only that line of
    the person's file changes. GATE 1 shows it."""
    lore, _ = load_lore(paths)
    if "mood_anchor" not in lore_placeholders(lore):
        return
    proposed = propose_lore(CallContext(paths, cfg, phase="producer"), premise=premise,
                            title=lore.title)
    set_lore_field(paths.project_paths.lore, "mood_anchor", proposed["mood_anchor"])
    print(f"lore.md: the mood anchor was a placeholder; filled it from the premise with "
          f"\"{proposed['mood_anchor']}\" (edit {paths.project_paths.lore} to change it)")

