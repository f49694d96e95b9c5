"""Bringing the original spark-video's users along: their names, scene forms and projects."""

from __future__ import annotations

import pytest

from spark_video.paths import EpisodePaths, PathError, check_project_id, normalize_episode
from spark_video.scenefmt import parse_scene_md


def test_project_names_in_any_script_but_safe(tmp_path):
    for name in ("七侠镇", "Ma·Lin", "Harbour 2", "demo"):
        assert check_project_id(name) == name
    for bad in ("../x", "a/b", " x", "x ", ".x", "_x", "a\\b", "a:b", "", "x" * 65):
        with pytest.raises(PathError):
            check_project_id(bad)


def test_episode_ids_beyond_three_digits(tmp_path):
    assert normalize_episode("1") == "001"
    assert normalize_episode("pilot") == "pilot"
    assert normalize_episode("episode-s01e03") == "s01e03"
    for bad in ("../7", "1a", "s01/e03", "-x", ""):
        with pytest.raises(PathError):
            normalize_episode(bad)
    (tmp_path / "p" / "episode-1").mkdir(parents=True)
    assert EpisodePaths.of("p", "1", tmp_path).root.name == "episode-1"
    assert EpisodePaths.of("p", "2", tmp_path).root.name == "episode-002"
    (tmp_path / "p" / "episode-001").mkdir()
    assert EpisodePaths.of("p", "1", tmp_path).root.name == "episode-001"


ZH = """## 场景 1 — 七侠镇客栈大堂（夜）

**人物**: 钱夫人、佟掌柜
**预估时长**: 20秒
**背景**: 钱夫人来讨红包。
**剧情**: 钱夫人推门而入，把红包拍在柜台上。佟掌柜赔笑。
**对白**:
- 钱夫人: "这红包，是谁包的？"
"""

EN_ORIGINAL = """## Scene 2 — Inn yard (dawn)

**Type**: narration
**Characters**: 钱夫人
**Estimated duration**: 8
**Backstory**: after the quarrel.
**Beats**:
1. Narration: "钱夫人走了。"
   Visual: the yard empties. Suggested duration: 4s
"""


def test_original_scene_forms_are_read():
    zh = parse_scene_md(ZH, "scene-01.md")
    assert (zh.num, zh.location, zh.time_of_day, zh.estimated_duration) == (1, "七侠镇客栈大堂",
                                                                              "夜", 20)
    assert zh.characters == ["钱夫人", "佟掌柜"] and zh.dialog[0].speaker == "钱夫人"
    en = parse_scene_md(EN_ORIGINAL, "scene-02.md")
    assert en.mode == "narration" and en.beats[0].narration == "钱夫人走了。"
    assert en.beats[0].duration == 4
