"""An original-style spark-video project, written from the original's documented templates
(scaffold layout, scene markdown in drama and narration form, scene-NN.json fragments with
the legacy `model` field, cards, the name-keyed manifests, shots_state.json, the bl call log).
Nothing here is copied from the original; `make_original(root, zh=True)` writes the Chinese
scene template instead of the English one."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg

FF = imageio_ffmpeg.get_ffmpeg_exe()
MOOD = "warm lantern light, wuxia sitcom, film grain"


def _ff(*args: str) -> None:
    subprocess.run([FF, "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _png(p: Path, color: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    _ff("-f", "lavfi", "-i", f"color=c={color}:s=96x128", "-frames:v", "1", str(p))


def _audio(p: Path, secs: float = 2) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    _ff("-f", "lavfi", "-i", f"sine=frequency=330:duration={secs}", str(p))


def _clip(p: Path, secs: int = 4) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    _ff("-f", "lavfi", "-i", f"testsrc=s=320x180:d={secs}:r=24", "-f", "lavfi", "-i",
        f"sine=d={secs}", "-shortest", "-pix_fmt", "yuv420p", "-c:v", "libx264",
        "-c:a", "aac", str(p))


def _w(p: Path, text: str) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


SCENES_EN = {
    1: """## Scene 1 — Inn hall (night)

**Characters**: 钱夫人, 佟掌柜
**Pacing**: the abacus clicks faster (external) + guilt (internal)
**Estimated duration**: 20
**Backstory**: 钱夫人 has come for the red envelope she was promised.
**Plot**: 钱夫人 pushes the door open and slaps the red envelope on the counter.
佟掌柜 freezes behind the abacus, then forces a smile.
**Dialogue**:
- 钱夫人: "Who wrapped this envelope?"
- 佟掌柜: "I did, madam, I did."
""",
    2: """## Scene 2 — Inn hall (night)

**Type**: narration
**Characters**: 钱夫人
**Estimated duration**: 8
**Backstory**: The envelope is thinner than it should be.
**Beats**:
1. Narration: "钱夫人 counts the coins twice."
   Visual: 钱夫人 counts coins on the counter. Suggested duration: 4s
2. Narration: "The envelope is crumpled now."
   Visual: the crumpled red envelope on the counter. Suggested duration: 4s
""",
    3: """## Scene 3 — Inn hall (night)

**Characters**: 钱夫人, 佟掌柜
**Pacing**: a standoff (external) + shame (internal)
**Estimated duration**: 16
**Backstory**: 佟掌柜 must pay the rest.
**Plot**: 佟掌柜 slides two more coins across the counter. 钱夫人 sweeps them up and leaves.
**Dialogue**:
- 钱夫人: "Next time, count first."

<!-- CAST CHECK
Leads: 钱夫人, 佟掌柜
-->
<!-- PROP CHECK
红包-完整: the sealed envelope (S01-001..S01-003)
红包-起皱: the crumpled envelope (S02-002..S03-002)
-->
""",
}

SCENES_ZH = {
    1: """## 场景 1 — 客栈大堂（夜）

**人物**: 钱夫人、佟掌柜
**节奏**: 算盘声越来越急（外）+ 心虚（内）
**预估时长**: 20
**背景**: 钱夫人来讨说好的红包。
**剧情**: 钱夫人推门而入，把红包拍在柜台上。佟掌柜僵在算盘后，挤出笑脸。
**对白**:
- 钱夫人: "这红包是谁包的？"
- 佟掌柜: "是我，夫人，是我。"
""",
    2: """## 场景 2 — 客栈大堂（夜）

**类型**: 旁白
**人物**: 钱夫人
**预估时长**: 8
**背景**: 红包比说好的薄。
**节拍**:
1. 旁白: "钱夫人把铜钱数了两遍。"
   画面: 钱夫人在柜台上数铜钱。建议时长: 4s
2. 旁白: "红包已经皱了。"
   画面: 柜台上皱巴巴的红包。建议时长: 4s
""",
    3: """## 场景 3 — 客栈大堂（夜）

**人物**: 钱夫人、佟掌柜
**节奏**: 对峙（外）+ 羞愧（内）
**预估时长**: 16
**背景**: 佟掌柜得把剩下的补上。
**剧情**: 佟掌柜把两枚铜钱推过柜台。钱夫人一把收起，转身就走。
**对白**:
- 钱夫人: "下回，先数清楚。"
""",
}


def _shot(sid: str, prompt: str, **kw) -> dict:
    return {"id": sid, "scene": sid[:3], "prompt": f"{prompt}, {MOOD}",
            "narrative_purpose": "shows who holds the money through the envelope", **kw}


FRAGMENTS = {
    1: {"scene": {"id": "S01", "name": "客栈大堂·夜", "set_id": "客栈大堂-夜",
                  "description": "An old inn hall at night, lantern light on a worn counter, "
                                 "an abacus and a ledger, shadows in the rafters.",
                  "characters_present": ["钱夫人", "佟掌柜"],
                  "props_present": ["红包-完整", "算盘"], "mood_note": "tense"},
        "shots": [
            _shot("S01-001", "Wide shot, [Image 1] pushes the door open", model="wan2.7-r2v",
                  duration=6, characters=["钱夫人"], use_prev_last_frame_as_first=False),
            _shot("S01-002", "Medium shot, [Image 1] slaps the envelope on the counter",
                  kind="r2v", characters=["钱夫人"], props=["红包-完整"], camera_notes="dolly"),
            _shot("S01-003", "Close-up, [Image 1] forces a smile behind the abacus", kind="r2v",
                  duration=5, characters=["佟掌柜"], props=["算盘"]),
        ]},
    2: {"scene": {"id": "S02", "name": "客栈大堂·夜", "description": "The counter close up, "
                  "coins and a crumpled red envelope under one lantern.",
                  "characters_present": ["钱夫人"], "props_present": ["红包-起皱"]},
        "shots": [
            _shot("S02-001", "Close-up of hands counting coins", kind="t2v", duration=4,
                  role="narration", narration_text="钱夫人把铜钱数了两遍。",
                  use_prev_last_frame_as_first=False),
            _shot("S02-002", "Insert of a crumpled red envelope", kind="t2v", duration=4,
                  role="narration", narration_text="红包已经皱了。",
                  use_prev_last_frame_as_first=False),
        ]},
    3: {"scene": {"id": "S03", "name": "客栈大堂·夜", "set_id": "客栈大堂-夜",
                  "description": "The inn hall at night, the door ajar, wind moving the "
                                 "lantern over the counter.",
                  "characters_present": ["钱夫人", "佟掌柜"], "props_present": []},
        "shots": [
            _shot("S03-001", "Medium shot, [Image 1] slides two coins across", kind="r2v",
                  duration=5, characters=["佟掌柜"], use_prev_last_frame_as_first=False),
            _shot("S03-002", "Wide shot, [Image 1] sweeps the coins up and leaves",
                  kind="r2v", duration=5, characters=["钱夫人"]),
        ]},
}


def make_original(root: Path, name: str = "tongfu", *, zh: bool = False) -> Path:
    """projects/<name>/ in the original's shape; returns the project folder."""
    p = root / name
    _w(p / "lore.md", f"---\ntitle: 同福客栈\nmood_anchor: \"{MOOD}\"\nvisual_style: sitcom\n"
       "genre: comedy\nduration_target_s: 60\nforbidden: []\n---\n\nAn inn of small debts.\n")
    _w(p / "initialPrompt.md", "钱夫人 comes to the inn for a red envelope that is too thin.\n")
    _w(p / "cast/钱夫人/cast.md", "---\nname: 钱夫人\nage: 45\ngender: female\nvisual_anchor: "
       "a rich widow in silk\nvoice_traits: sharp\ndont: [smiles]\n---\n")
    _png(p / "cast/钱夫人/portrait1.png", "red")
    _png(p / "cast/钱夫人/portrait2.png", "darkred")
    _audio(p / "cast/钱夫人/voice.mp3", 3)
    _w(p / "cast/佟掌柜/cast.md", "---\nname: 佟掌柜\nage: 40\ngender: female\nvisual_anchor: "
       "an innkeeper in an apron\n---\n")
    _png(p / "cast/佟掌柜/portrait1.png", "orange")
    _w(p / "movie-set/客栈大堂-夜/set.md", "---\nname: 客栈大堂-夜\ntime_of_day: night\n"
       "lighting: lanterns\n---\n")
    _png(p / "movie-set/客栈大堂-夜/set.png", "brown")
    for prop, state, color in (("红包-完整", "sealed", "red"), ("红包-起皱", "crumpled", "pink"),
                               ("算盘", "whole", "black")):
        _w(p / f"props/{prop}/prop.md", f"---\nname: {prop}\nstate: {state}\n---\n")
        _png(p / f"props/{prop}/prop.png", color)
    _audio(p / "bgm/theme.mp3", 4)
    ep = p / "episode-001"
    scenes = SCENES_ZH if zh else SCENES_EN
    for n, md in scenes.items():
        _w(ep / f"scenes/scene-{n:02d}.md", md)
        _w(ep / f"scenes/scene-{n:02d}.ready", "")
        _w(ep / f"scenes/scene-{n:02d}.json",
           json.dumps(FRAGMENTS[n], ensure_ascii=False, indent=2) + "\n")
    _w(ep / "script.md", f"# {name} / 001\n\n" + "\n---\n\n".join(scenes.values()))
    _w(ep / "direction.json", json.dumps({"tone_dimensions": {"comedy": 7},
                                           "director_reference": "Wong Kar-wai, if he did sitcoms",
                                           "audiovisual_decisions": {"light": "lanterns"}},
                                          ensure_ascii=False))
    _w(ep / "bgm-config.json", json.dumps({"enabled": True, "mode": "global", "track": "theme",
                                            "volume": 0.25, "forbid_model_bgm": True}))
    shots = [s for f in FRAGMENTS.values() for s in f["shots"]]
    _w(ep / "storyboard.json", json.dumps({"title": name, "mode": "narration",
                                            "scenes": [f["scene"] for f in FRAGMENTS.values()],
                                            "shots": shots}, ensure_ascii=False))
    _w(ep / "cast.json", json.dumps({"钱夫人": {"name": "钱夫人", "md_path": "cast.md",
                                                "images": ["portrait1.png", "portrait2.png"],
                                                "voices": ["voice.mp3"], "tier": "project"}},
                                     ensure_ascii=False))
    _clip(ep / "clips/S01-001-ver1.mp4", 6)
    _clip(ep / "clips/S01-001.mp4", 6)
    _png(ep / "frames/S01-001-ver1_last.png", "gray")
    review = {"score": 8.0, "breakdown": {a: 8.0 for a in ("logic", "proportion", "physics",
                                                           "style", "cast_match",
                                                           "dialog_attribution")},
              "verdict": "ACCEPT", "model_verdict": "ACCEPT", "critique": "fine",
              "vetoed_axes": None, "shot_id": "S01-001", "version": 1,
              "ts": "2026-06-01T10:00:00Z", "threshold": 7.0}
    state = {
        "S01-001": {"shot_id": "S01-001", "winner_version": 1,
                    "winner_path": str(ep / "clips/S01-001.mp4"), "needs_director_rewrite": False,
                    "attempts": [{"version": 1, "status": "SUCCEEDED",
                                  "started_at": "2026-06-01T09:58:00Z",
                                  "finished_at": "2026-06-01T09:59:40Z", "provider": "bl",
                                  "model": "happyhorse-1.0-r2v",
                                  "video_path": str(ep / "clips/S01-001-ver1.mp4"),
                                  "last_frame_path": str(ep / "frames/S01-001-ver1_last.png"),
                                  "elapsed_s": 100.0, "prompt": shots[0]["prompt"],
                                  "review": review}]},
        "S01-002": {"shot_id": "S01-002", "winner_version": None, "winner_path": None,
                    "needs_director_rewrite": False,
                    "attempts": [{"version": 1, "status": "FAILED",
                                  "started_at": "2026-06-01T10:01:00Z",
                                  "error": "DataInspectionFailed", "provider": "bl",
                                  "prompt": shots[1]["prompt"]}]},
    }
    _w(ep / "shots_state.json", json.dumps(state, ensure_ascii=False, indent=2))
    calls = [
        {"ts": "2026-06-01T09:58:00.000Z", "project": name, "episode": "001",
         "shot": "S01-001", "phase": "render", "attempt": 1,
         "cmd": ["bl", "--output", "json", "video", "ref", "--prompt", "x", "--duration", "6",
                 "--model", "happyhorse-1.0-r2v", "--resolution", "720P"],
         "stdin": None, "model": "happyhorse-1.0-r2v", "duration_ms": 100000, "exit_code": 0,
         "stdout_excerpt": '{"task_id": "task-paid-1", "status": "SUCCEEDED"}',
         "stderr_excerpt": ""},
        {"ts": "2026-06-01T10:01:00.000Z", "project": name, "episode": "001",
         "shot": "S01-002", "phase": "render", "attempt": 1,
         "cmd": ["bl", "--output", "json", "video", "ref", "--prompt", "y", "--duration", "15"],
         "stdin": None, "model": None, "duration_ms": 2000, "exit_code": 1,
         "stdout_excerpt": "", "stderr_excerpt": "DataInspectionFailed"},
    ]
    _w(ep / "logs/model_calls.jsonl", "".join(json.dumps(c, ensure_ascii=False) + "\n"
                                              for c in calls))
    return p
