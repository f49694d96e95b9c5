"""The offline writer writes the premise's story: titles, places, times, names, lines and
narration from the premise's own words, in its language; the beats add up to the target
within 10 %; deterministic and free. GATE 1 totals the beats, not a declared estimate."""

from __future__ import annotations

import re

import pytest

from spark_video import roles
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import load_lore, load_manifest, write_manifest
from spark_video.base.scenefmt import beat_seconds, parse_scene_md
from spark_video.base.settings import resolve
from spark_video.gates import summaries
from spark_video.providers.base import CallContext
from spark_video.roles.art import parse_cast_check

ZH = ("民国上海，茶馆老板娘钱夫人收留了一个受伤的学生。巡捕房的林探长每天来喝茶，越问越近。"
      "钱夫人必须在天亮前把学生送出城。")
EN = ("A storm cuts the island off from the mainland. Mara finds a message in a bottle "
      "addressed to Theo. The lamp fails on the worst night of the year, and they must "
      "decide who climbs the tower.")
LIGHTHOUSE = ("keeper", "lighthouse", "train platform", "harbour", "braces against the wind")


def write(tmp_path, premise: str, target: int, mode: str, cast: tuple[str, ...] = ()):
    ep = EpisodePaths.of("t", "001", root=tmp_path)
    ep.scaffold()
    ep.project_paths.lore.write_text(
        f"---\ntitle: T\nmood_anchor: cinematic\nduration_target_s: {target}\n---\n")
    for n in cast:
        (ep.project_paths.cast_dir / n).mkdir(parents=True)
        (ep.project_paths.cast_dir / n / "cast.md").write_text(f"---\nname: {n}\nage: 30\n---\n")
    for kind in ("cast", "set", "prop"):
        write_manifest(ep, kind)
    ctx = CallContext(ep, resolve({"project": "t"}, environ={}, config_file=None),
                      phase="screenwriter")
    lore, _ = load_lore(ep)
    c = load_manifest(ep, "cast")
    outline = roles.write_outline(ctx, premise=premise, lore=lore, cast=c, mode=mode)
    mds = [roles.write_scene(ctx, outline=outline, num=s.num, lore=lore, cast=c)
           for s in outline.scenes]
    return ep, outline, mds


@pytest.mark.parametrize("mode", ["drama", "narration"])
@pytest.mark.parametrize("target", [45, 60, 180])
def test_a_chinese_premise_gives_a_chinese_story_of_the_target_length(tmp_path, mode, target):
    ep, outline, mds = write(tmp_path, ZH, target, mode)
    text = "\n".join(mds)
    for word in ("钱夫人", "林探长", "茶馆", "学生"):
        assert word in text, word
    assert not any(w in text.lower() for w in LIGHTHOUSE)
    for md in mds:  # the scene's own text is Chinese (the field labels are the format's)
        s = parse_scene_md(md, "x")
        spoken = [d.text for d in s.dialog] + [b.narration for b in s.beats if b.narration] + \
            [d.text for b in s.beats for d in b.dialog]
        assert spoken and all(re.search(r"[\u4e00-\u9fff]", t) for t in spoken), spoken
        assert re.search(r"[\u4e00-\u9fff]", s.location + s.time_of_day)
        assert s.estimated_duration == sum(beat_seconds(s))
    assert all(re.search(r"[\u4e00-\u9fff]", sc.title) for sc in outline.scenes)
    total = sum(sum(beat_seconds(parse_scene_md(md, "x"))) for md in mds)
    assert abs(total - target) <= 0.1 * target, (total, target)
    # the names the premise gives are its NPCs (a project with no cast cards)
    npcs = dict(parse_cast_check(mds[-1]))
    assert npcs.get("钱夫人") == "茶馆老板娘" and "林探长" in npcs
    assert write(tmp_path / "again", ZH, target, mode)[2] == mds  # deterministic


@pytest.mark.parametrize("target", [45, 90])
def test_an_english_premise_keeps_its_places_and_cast(tmp_path, target):
    ep, outline, mds = write(tmp_path, EN, target, "drama", cast=("Mara", "Theo"))
    assert [sc.location for sc in outline.scenes][:1] == ["island"]
    assert "tower" in {sc.location for sc in outline.scenes}
    assert outline.scenes[0].title == "The Storm"
    text = "\n".join(mds).lower()
    assert not any(w in text for w in LIGHTHOUSE)
    total = sum(sum(beat_seconds(parse_scene_md(md, "x"))) for md in mds)
    assert abs(total - target) <= 0.1 * target, (total, target)


def test_gate1_total_is_the_sum_of_the_beats(tmp_path):
    ep, outline, mds = write(tmp_path, EN, 45, "drama", cast=("Mara", "Theo"))
    ep.outline.write_text(outline.model_dump_json())
    for sc, md in zip(outline.scenes, mds, strict=True):
        # a declared estimate that lies: the total does not believe it
        ep.scene_md(sc.num).write_text(re.sub(r"(\*\*Estimated duration:\*\*) \d+", r"\1 99",
                                              md))
    cfg = resolve({"project": "t"}, environ={}, config_file=None)
    lines = summaries.script_summary(ep, cfg)
    beats = sum(sum(beat_seconds(parse_scene_md(md, "x"))) for md in mds)
    assert f"total ≈ {beats} s of beats (target 45 s)" in lines[-1]
    assert "mood anchor (ends every prompt): cinematic" in lines[1]
