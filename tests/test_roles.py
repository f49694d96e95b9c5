"""The roles at full craft: prompts that carry the rules, answers that break a rule asked
again, every prompt kept in logs/prompts/, direction.json, the offline writer."""

from __future__ import annotations

import json
import re

import pytest
from fake_dashscope import FAKE_KEY, fake_dashscope_fixture  # noqa: F401 - fixture
from writers_room import MARK, WritersRoom

from spark_video import roles
from spark_video.base.io import InputError
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import load_lore, load_manifest, write_manifest
from spark_video.base.settings import resolve
from spark_video.providers.base import CallContext


@pytest.fixture
def ep(projects) -> EpisodePaths:
    paths = EpisodePaths.of("demo", "7", root=projects)
    paths.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(paths, kind)
    return paths


@pytest.fixture
def room(fake_dashscope, monkeypatch) -> WritersRoom:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_dashscope.compatible_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    r = WritersRoom()
    fake_dashscope.text_responder = r
    return r


def ctx_for(ep, phase="director", **cfg) -> CallContext:
    c = resolve({"provider": "offline", "text_provider": "openai", **cfg}, environ={},
                config_file=None)
    return CallContext(ep, c, phase=phase)


def write_all(ep, ctx, mode="drama"):
    lore, _ = load_lore(ep)
    cast = load_manifest(ep, "cast")
    premise = (ep.project_paths.premise).read_text()
    outline = roles.write_outline(ctx, premise=premise, lore=lore, cast=cast, mode=mode)
    mds = [roles.write_scene(ctx, outline=outline, num=s.num, lore=lore, cast=cast)
           for s in outline.scenes]
    direction = roles.write_direction(ctx, outline=outline, script="\n".join(mds), lore=lore,
                                      cast=cast)
    return lore, cast, outline, mds, direction


def direct(ep, ctx, md, lore, cast, direction, num=1):
    return roles.direct_scene(ctx, scene_md=md, num=num, lore=lore, cast=cast,
                              sets=load_manifest(ep, "set"), props=load_manifest(ep, "prop"),
                              mode="drama", direction=direction)


def call_lines(ep) -> list[dict]:
    return [json.loads(x) for x in ep.model_calls.read_text().splitlines()]


def test_director_is_told_the_rules_and_every_prompt_is_kept(ep, room, fake_dashscope):
    ctx = ctx_for(ep)
    lore, cast, outline, mds, direction = write_all(ep, ctx)
    frag = direct(ep, ctx, mds[0], lore, cast, direction)
    assert MARK in frag.shots[1].prompt and direction.director_reference.startswith(MARK)
    system, user = fake_dashscope.chat_calls[-1]["texts"]
    told = system + user
    assert lore.mood_anchor in told
    for name in ("Mara", "Theo"):
        assert name in user
    for term in lore.forbidden:
        assert term in told
    assert "[Image N]" in system and "never 图N" in system and "no negative_prompt" in system
    assert "3-15 s" in system and "at most 9 images" in system
    assert direction.director_reference in user and f"{MARK}-motif" in user
    assert "12-15 s" in system and "cast portraits, then the set, then props" in system
    # screenwriter: pacing table, CAST CHECK, ages, dont
    sw = next(c for c in fake_dashscope.chat_calls if "one scene at a time" in c["texts"][0])
    assert "60 s -> 2-3 scenes" in sw["texts"][0] and "CAST CHECK" in sw["texts"][0]
    assert "Mara (age 34, female)" in sw["texts"][1] and "Never: smiling at danger" in \
        sw["texts"][1]
    # one prompt file per text call, named in its call line, holding the exact text
    lines = [c for c in call_lines(ep) if c["provider"] == "openai"]
    assert len(lines) == len(fake_dashscope.chat_calls) == 1 + len(mds) + 1 + 1
    for line, call in zip(lines, fake_dashscope.chat_calls, strict=True):
        f = ep.root / line["prompt_file"]
        text = f.read_text()
        assert call["texts"][0] in text and call["texts"][1] in text and "## Answer" in text
        assert FAKE_KEY not in text
    assert len(list(ep.prompts_dir.iterdir())) == len(lines)


@pytest.mark.parametrize("fault", ["bad_json", "no_anchor", "unknown_char", "duration"])
def test_an_answer_breaking_a_rule_is_asked_again_with_the_errors(ep, room, fake_dashscope,
                                                                  fault):
    ctx = ctx_for(ep)
    lore, cast, outline, mds, direction = write_all(ep, ctx)
    room.faults.append(fault)
    before = room.asked["director"]
    frag = direct(ep, ctx, mds[0], lore, cast, direction)
    assert room.asked["director"] - before == 2
    retry = fake_dashscope.chat_calls[-1]["texts"][1]
    expect = {"bad_json": "not JSON", "no_anchor": "must end with the mood anchor",
              "unknown_char": "unknown character 'Zed'", "duration": "outside 3-15 s"}[fault]
    assert "broke these rules" in retry and expect in retry
    assert all(s.prompt.endswith(lore.mood_anchor) for s in frag.shots)
    refused = [p for p in ep.prompts_dir.iterdir() if "## Refused" in p.read_text()]
    assert len(refused) == 1 and expect in refused[0].read_text()


def test_no_usable_answer_after_the_configured_tries_writes_nothing(ep, room, fake_dashscope):
    ctx = ctx_for(ep, role_asks=2)
    lore, cast, outline, mds, direction = write_all(ep, ctx)
    room.faults.extend(["no_anchor", "unknown_char", "no_anchor"])
    with pytest.raises(InputError, match="no usable answer after 2 tries"):
        direct(ep, ctx, mds[0], lore, cast, direction)
    assert list(room.faults) == ["no_anchor"] and not ep.scene_json(1).exists()


def test_wan27_director_gets_its_reference_syntax(ep, room, fake_dashscope):
    ctx = ctx_for(ep, video_provider="wan27")
    lore, cast, outline, mds, direction = write_all(ep, ctx)
    frag = direct(ep, ctx, mds[0], lore, cast, direction)
    system = fake_dashscope.chat_calls[-1]["texts"][0]
    assert "write 图N, never [Image N]" in system and "negative_prompt is supported" in system
    assert "t2v: 2-15 s" in system and "1-5 reference images" in system
    assert "图1" in frag.shots[1].prompt
    caps = roles.director_caps(ctx.cfg)
    bad = frag.model_copy(deep=True)
    bad.shots[1].prompt = bad.shots[1].prompt.replace("图1", "[Image 1]")
    assert any("references images as 图N" in p
               for p in roles.director_problems(bad, caps, lore, "drama"))
    bl = roles.director_caps(resolve({"provider": "bl"}, environ={}, config_file=None))
    assert any("references images as [Image N]" in p
               for p in roles.director_problems(frag, bl, lore, "drama"))


def test_offline_writer_varies_lines_by_scene_from_premise_lore_and_cast(ep):
    ctx = CallContext(ep, resolve({}, environ={}, config_file=None), phase="screenwriter")
    lore, _ = load_lore(ep)
    cast = load_manifest(ep, "cast")
    premise = ep.project_paths.premise.read_text()

    def lines():
        o = roles.write_outline(ctx, premise=premise, lore=lore, cast=cast, mode="drama")
        mds = [roles.write_scene(ctx, outline=o, num=s.num, lore=lore, cast=cast)
               for s in o.scenes]
        return mds, [m for md in mds for m in re.findall(r'^- \w+: "(.*)"$', md, re.M)]

    mds, said = lines()
    assert len(said) >= 4 and len(set(said)) == len(said)  # no line repeats across scenes
    joined = " ".join(mds).lower()
    assert "lamp" in joined  # the lore's motif
    assert any(w in joined for w in ("bottle", "island", "storm"))  # the premise
    assert "mara, 34," in joined  # age from the cast card at first appearance
    assert lines()[0] == mds  # deterministic


@pytest.mark.slow
def test_episode_written_by_a_text_model_over_http(run_env, projects, room, fake_dashscope):
    from conftest import run_cli

    env = {**run_env, "SPARK_VIDEO_TEXT_PROVIDER": "openai",
           "OPENAI_BASE_URL": fake_dashscope.compatible_base_url, "OPENAI_API_KEY": FAKE_KEY}
    room.faults.append("no_anchor")  # the first director answer breaks a rule
    room.vfx_answers.append(json.dumps({"findings": [  # the first VFX review blocks S01
        {"check": "B", "severity": "CRIT", "shots": ["S01-002"], "scenes": [],
         "issue": f"{MARK}: the prompt contradicts the scene", "fix": "name the lamp room"}]}))
    proc = run_cli(env, "episode", "demo", "031", "--yes", "--vfx", check=True)
    assert "VFX review: BLOCK" in proc.stdout and "S01 go back to the director" in proc.stdout
    assert "  VFX review: PASS" in proc.stdout  # GATE 2's summary, after the director's fix
    ep = EpisodePaths.of("demo", "031", root=projects)
    lore, _ = load_lore(ep)
    directors = [c for c in fake_dashscope.chat_calls
                 if "You turn one scene of the script" in c["texts"][0]]
    direction = json.loads(ep.direction.read_text())
    assert direction["director_reference"].startswith(MARK)
    # one re-ask (the broken answer) and one VFX fix of S01
    assert len(directors) == len(list(ep.scenes_dir.glob("scene-??.json"))) + 2
    fix = [c for c in directors if "VFX review (BLOCK)" in c["texts"][1]]
    assert len(fix) == 1 and "Scene S01 script:" in fix[0]["texts"][1]
    assert "Your current version of this scene" in fix[0]["texts"][1]
    assert room.asked["vfx"] == 2 and "BLOCK" not in ep.vfx_review.read_text()
    for c in directors:
        told = "\n".join(c["texts"])
        assert lore.mood_anchor in told and "Mara" in told and "Theo" in told
        assert all(t in told for t in lore.forbidden) and "[Image N]" in told
        assert direction["director_reference"] in told and f"{MARK}-motif" in told
    assert sum("broke these rules" in c["texts"][1] for c in directors) == 1
    sb = json.loads(ep.storyboard.read_text())
    assert all(MARK in s["prompt"] for s in sb["shots"]) and MARK in sb["scenes"][0]["name"]
    # the CAST CHECK's named NPC got a card and portrait before directing
    npc = ep.root / "cast" / "Old Tom"
    assert (npc / "cast.md").exists() and (npc / "reference.png").exists()
    assert all("- Old Tom" in c["texts"][1] for c in directors)
    assert all(MARK in p.read_text() for p in ep.scenes_dir.glob("scene-??.md"))
    viewer = ep.viewer.read_text()
    assert "logs/prompts/" in viewer and f"{MARK}-REFERENCE" in viewer
    assert FAKE_KEY not in "".join(p.read_text() for p in ep.prompts_dir.iterdir())


def test_missing_lore_is_scaffolded_with_a_mood_anchor_from_the_premise(tmp_path, capsys):
    from spark_video.cli.lore import _scaffold_lore

    ep = EpisodePaths.of("harbour", "1", root=tmp_path)
    ep.scaffold()
    cfg = resolve({"project": "harbour"}, environ={}, config_file=None)
    _scaffold_lore(cfg, ep, "A storm cuts the island off. A bottle washes up.")
    lore, body = load_lore(ep)
    assert lore.mood_anchor.startswith("cinematic, storm-lit") and lore.title == "harbour"
    assert "Proposed from the premise" in body and lore.forbidden
    assert lore.mood_anchor in capsys.readouterr().out
    (prompt,) = ep.prompts_dir.iterdir()
    assert "A bottle washes up." in prompt.read_text()


def test_cast_check_npcs_get_cards_and_portraits(ep):
    from spark_video.base.project import build_manifest
    from spark_video.roles.art import npcs_from_script, parse_cast_check

    text = ("## Scene 3 — pier (night)\n\n<!-- CAST CHECK\nLeads: Mara, Theo\n"
            "Named NPCs: Old Tom — grizzled ferryman in his sixties; Ines: harbour clerk\n"
            "- Mara — already cast\nExtras: gulls\n-->\n<!-- PROP CHECK\nnone\n-->\n")
    assert parse_cast_check(text) == [("Old Tom", "grizzled ferryman in his sixties"),
                                      ("Ines", "harbour clerk"), ("Mara", "already cast")]
    assert parse_cast_check("<!-- CAST CHECK\nNamed NPCs: none\n-->") == []
    ep.script.write_text(text)
    cfg = resolve({}, environ={}, config_file=None)
    out = npcs_from_script(cfg, ep)
    assert out["created"] == ["Old Tom", "Ines"]
    cast = build_manifest(ep, "cast")
    tom = cast.get("Old Tom")
    assert tom.tier == "episode" and tom.card["npc"] is True and tom.images
    assert "grizzled ferryman" in tom.card["visual_anchor"]
    assert npcs_from_script(cfg, ep)["created"] == []  # once only
