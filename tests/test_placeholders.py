"""No placeholder a scaffold writes reaches a model: a "TBD" mood anchor is filled from the
premise before the build (only that line of lore.md changes), GATE 1 names lore.md and the
field while one is left, and the prompt-building boundary refuses any placeholder."""

from __future__ import annotations

import pytest

from spark_video import gates, roles
from spark_video.base.io import InputError
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import (
    load_lore,
    lore_placeholders,
    placeholder_in,
    refuse_placeholder,
)
from spark_video.base.settings import resolve
from spark_video.cli.lore import LORE_TEMPLATE, _fill_lore_placeholders
from spark_video.providers.base import CallContext

PREMISE = "民国上海，茶馆老板娘钱夫人收留了一个受伤的学生。巡捕房的林探长每天来喝茶，越问越近。"


def scaffolded(tmp_path) -> tuple[EpisodePaths, object]:
    ep = EpisodePaths.of("teahouse", "001", root=tmp_path)
    ep.scaffold()
    ep.project_paths.lore.write_text(LORE_TEMPLATE.format(title="茶馆") + "\nMy own notes.\n")
    cfg = resolve({"project": "teahouse"}, environ={}, config_file=None)
    return ep, cfg


def test_placeholder_markers():
    assert placeholder_in("TBD: one line appended to every prompt") == "TBD:"
    assert placeholder_in("TODO: fill") and placeholder_in("  TBD ")
    assert placeholder_in("cinematic, teal and amber palette") is None
    assert placeholder_in("a to-do list app, XXXL sizes, TBDs") is None


def test_tbd_mood_anchor_is_filled_from_the_premise_keeping_the_file(tmp_path, capsys):
    ep, cfg = scaffolded(tmp_path)
    before = ep.project_paths.lore.read_text()
    lore, _ = load_lore(ep)
    assert lore_placeholders(lore) == ["mood_anchor"]
    _fill_lore_placeholders(cfg, ep, PREMISE)
    lore, body = load_lore(ep)
    assert lore_placeholders(lore) == [] and lore.mood_anchor
    assert any(w in lore.mood_anchor for w in ("上海", "茶馆", "民国")), lore.mood_anchor
    assert "My own notes." in body and lore.title == "茶馆"
    after = ep.project_paths.lore.read_text()
    changed = [a for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0].startswith("mood_anchor:")
    assert lore.mood_anchor in capsys.readouterr().out
    _fill_lore_placeholders(cfg, ep, PREMISE)  # filled: never asked again
    assert ep.project_paths.lore.read_text() == after


def test_gate1_check_names_lore_and_the_field(tmp_path):
    ep, _ = scaffolded(tmp_path)
    report = gates.check(ep, "script")
    bad = [c for c in report.checks if not c.ok and "mood_anchor" in c.name]
    assert bad and str(ep.project_paths.lore) in bad[0].detail
    assert "field mood_anchor" in bad[0].detail


def test_the_prompt_boundary_refuses_a_placeholder(tmp_path):
    ep, cfg = scaffolded(tmp_path)
    with pytest.raises(InputError, match="field prompt: holds the placeholder 'TBD:'"):
        refuse_placeholder(ep.shot_spec("S01-001"), "Wide shot. TBD: one line")
    lore, _ = load_lore(ep)
    ctx = CallContext(ep, cfg, phase="screenwriter")
    from spark_video.base.project import load_manifest

    with pytest.raises(InputError) as e:
        roles.write_outline(ctx, premise=PREMISE, lore=lore, cast=load_manifest(ep, "cast"),
                            mode="drama")
    assert str(ep.project_paths.lore) in str(e.value) and "mood_anchor" in str(e.value)
    assert not ep.outline.exists() and not ep.model_calls.exists()  # nothing was asked
