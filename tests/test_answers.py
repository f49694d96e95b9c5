"""Model answers are read the way a careful engineer reads them: every case of the corpus
(tests/answer_corpus.py) through its role's real parser, and the lenient reader's parts."""

from __future__ import annotations

import pytest
from answer_corpus import ANCHOR, CASES, OUTLINE, PROMPT, SCENE, Case
from conftest import scaffolded_episode

from spark_video import roles
from spark_video.base import answers
from spark_video.base.io import InputError
from spark_video.base.models import Outline, Review, Shot, Storyboard
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import load_lore, load_manifest
from spark_video.base.settings import resolve
from spark_video.providers.base import CallContext
from spark_video.providers.openai_compat import parse_review
from spark_video.storyboard import vfx


class Scripted:
    """A text provider that gives the answers it is handed, in order."""

    name = "scripted"

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.asked: list[str] = []

    def complete(self, ctx, *, role, system, user, json_mode=False, data=None) -> str:
        self.asked.append(user)
        return self.answers.pop(0)


@pytest.fixture
def ep(projects) -> EpisodePaths:
    return scaffolded_episode(projects, "9")


def ctx_of(ep, **cfg) -> CallContext:
    c = resolve({"provider": "offline", "role_asks": 1, **cfg}, environ={}, config_file=None)
    return CallContext(ep, c, phase="test")


def outline_of(ep) -> Outline:
    return Outline.model_validate({**OUTLINE, "project": ep.project, "episode": ep.episode,
                                   "premise": "p", "target_duration_s": 45})


def storyboard() -> Storyboard:
    shots = [Shot(id=f"S01-00{i}", scene="S01", prompt=PROMPT, characters=["Mara"])
             for i in (1, 2)]
    return Storyboard.model_validate({"title": "t", "target_duration_s": 45, "shots": [
        s.model_dump() for s in shots], "scenes": [
        {"id": "S01", "name": "lamp room", "description": "the lamp room"}]})


def run_role(ep, case: Case):
    """The role's parser on one answer (asked once)."""
    if case.role == "review":
        return parse_review(case.answer)
    ctx = ctx_of(ep)
    lore, _ = load_lore(ep)
    cast = load_manifest(ep, "cast")
    if case.role == "outline":
        return roles.write_outline(ctx, premise="p", lore=lore, cast=cast, mode="drama")
    if case.role == "screenwriter":
        return roles.write_scene(ctx, outline=outline_of(ep), num=1, lore=lore, cast=cast)
    if case.role == "direction":
        return roles.write_direction(ctx, outline=outline_of(ep), script=SCENE, lore=lore,
                                     cast=cast)
    if case.role == "director":
        return roles.direct_scene(ctx, scene_md=SCENE, num=1, lore=lore, cast=cast,
                                  sets=load_manifest(ep, "set"),
                                  props=load_manifest(ep, "prop"), mode="drama")
    if case.role == "vfx":
        return vfx.judge(ctx, storyboard(), lore=lore, script=SCENE, direction={}, code=[])
    if case.role == "rewrite":
        shot = Shot(id="S01-001", scene="S01", prompt=PROMPT, characters=["Mara"])
        return roles.rewrite_prompt(ctx, shot=shot, prompt=PROMPT, mood_anchor=ANCHOR,
                                    review=Review(verdict="REJECT", critique="0:02 melts",
                                                  vetoed_axes=["physics"]))
    if case.role == "lore":
        return roles.propose_lore(ctx, premise="民国上海，茶馆老板娘钱夫人", title="茶馆")
    raise AssertionError(case.role)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.role}: {c.name}" for c in CASES])
def test_the_corpus(ep, case, monkeypatch):
    monkeypatch.setattr(roles, "get_provider", lambda cap, cfg: Scripted([case.answer]))
    monkeypatch.setattr(vfx, "get_provider", lambda cap, cfg: Scripted([]))
    if case.refused is None:
        got = run_role(ep, case)
        assert case.check(got), got
        return
    with pytest.raises((InputError, ValueError)) as e:
        run_role(ep, case)
    assert case.refused in str(e.value), str(e.value)


def test_every_role_has_accepted_and_refused_answers():
    for role in ("outline", "screenwriter", "direction", "director", "vfx", "review",
                 "rewrite", "lore"):
        cases = [c for c in CASES if c.role == role]
        assert any(c.refused for c in cases) and any(c.refused is None for c in cases), role


def test_a_refused_answer_is_asked_again_with_the_field_and_the_fix(ep, monkeypatch):
    """The issue's case: the second try fixes what the error named; the raw answers and what
    they were read as stay in logs/prompts/."""
    bad = ('{"findings": [{"id": "WARN-1", "check": "Z", "severity": "WARNING", '
           '"shots": ["S01-002"], "issue": "the line is not covered", "fix": "add it"}]}')
    good = bad.replace('"Z"', '"D"')
    text = Scripted([bad, good])
    monkeypatch.setattr(roles, "get_provider", lambda cap, cfg: text)
    lore, _ = load_lore(ep)
    got = vfx.judge(ctx_of(ep, role_asks=2), storyboard(), lore=lore, script=SCENE,
                    direction={}, code=[])
    assert [(f.check, f.severity, f.source) for f in got] == [("D", "WARN", "model")]
    assert 'findings[0].check: "Z" is not one of A–R' in text.asked[1]
    logs = sorted(ep.prompts_dir.glob("*-vfx-*.md"))
    assert len(logs) == 2
    first, second = (p.read_text() for p in logs)
    assert '"id": "WARN-1"' in first and "## Refused" in first
    assert "ignored the key findings[0].id" in second
    assert 'read "WARNING" as WARN' in second


def test_json_in_finds_the_json():
    assert answers.json_in('prose {"a": 1} more') == {"a": 1}
    assert answers.json_in("I rate it [3] stars: {\"a\": [1, 2,],}") == {"a": [1, 2]}
    assert answers.json_in("```\n[]\n```") == []
    with pytest.raises(ValueError, match="not JSON"):
        answers.json_in('{"a": ')
    with pytest.raises(ValueError, match="empty"):
        answers.json_in("")


@pytest.mark.parametrize("given,allowed,want", [
    ("CRITICAL", ("CRIT", "WARN", "SUGG"), "CRIT"),
    ("Pass-With-Warnings", ("PASS", "PASS WITH WARNINGS", "BLOCK"), "PASS WITH WARNINGS"),
    ("pass with warnings", ("PASS", "PASS WITH WARNINGS", "BLOCK"), "PASS WITH WARNINGS"),
    ("passed", ("PASS", "PASS WITH WARNINGS", "BLOCK"), "PASS"),
    ("crit", ("CRIT", "WARN", "SUGG"), "CRIT"),
    ("警告", ("CRIT", "WARN", "SUGG"), "WARN"),
    ("T2V", ("t2v", "i2v", "r2v"), "t2v"),
    ("sometimes", ("CRIT", "WARN", "SUGG"), "sometimes"),  # not guessed: refused later
])
def test_enum_spellings(given, allowed, want):
    assert answers.enum_value(given, allowed) == want


def test_a_scene_keeps_its_check_blocks_and_its_last_paragraph_of_action():
    md = ("## Scene 3 — lamp room (night)\n**Characters:** Mara\n**Estimated duration:** 15\n"
          "**Action:** Mara trims the wick.\n**Dialog:**\n- Mara: \"Done.\"\n\n"
          "<!-- CAST CHECK\nLeads: Mara\n\nNamed NPCs: none\n-->\n")
    assert answers.scene_markdown_in(md) == md
    assert answers.scene_markdown_in("```markdown\n" + md + "```\nThat is all.") == md
