"""The offline text provider: a deterministic writer and a rule-based director.

It answers the same role prompts an LLM gets, in the same formats (JSON or scene markdown),
so the parsing and validation path is exercised offline exactly as with a real model.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..base.models import MIN_DURATION
from ..base.scenefmt import Beat, SceneScript, beat_seconds, render_scene_md, shot_seconds
from .base import CallContext

TIMES = ["dawn", "morning", "noon", "afternoon", "dusk", "evening", "midnight", "night"]
# place nouns an English premise names its scenes' locations with
PLACES = ("island", "tower", "lighthouse", "harbour", "harbor", "mainland", "station",
          "platform", "market", "kitchen", "street", "house", "room", "shop", "bar", "cafe",
          "teahouse", "office", "school", "church", "hospital", "beach", "shore", "cliff",
          "forest", "village", "city", "town", "ship", "boat", "deck", "train", "bridge",
          "garden", "farm", "road", "river", "lake", "sea", "mountain", "cave", "library",
          "hotel", "restaurant", "apartment", "rooftop", "attic", "cellar", "basement", "hall",
          "court", "prison", "palace", "temple", "castle", "camp", "desert", "port", "dock",
          "pier", "alley", "square", "park", "stage", "studio", "lab", "factory", "warehouse",
          "mine", "bank", "museum", "airport", "tunnel", "yard", "porch", "gallery", "inn")
ZH_PLACES = ("巡捕房", "警察局", "火车站", "地下室", "茶馆", "酒馆", "饭馆", "旅馆", "公馆", "会馆",
             "报馆", "码头", "车站", "学校", "医院", "客栈", "戏院", "书房", "后院", "厨房", "弄堂",
             "街头", "巷口", "城门", "渡口", "灯塔", "小岛", "船上", "阁楼", "仓库", "工厂", "银行",
             "教堂", "寺庙", "商会", "舞厅", "书店", "当铺", "药铺", "城外", "村口", "河边", "海边",
             "江边", "屋顶", "天台", "楼上", "后门", "前厅", "大堂", "包厢", "公园", "上海", "北平",
             "南京", "天津", "香港", "广州", "重庆", "杭州", "苏州")
ZH_CITIES = ("上海", "北平", "南京", "天津", "香港", "广州", "重庆", "杭州", "苏州")
ZH_TIMES = {"清晨": "清晨", "黎明": "黎明", "天亮": "黎明", "早上": "早上", "上午": "上午",
            "中午": "中午", "午后": "午后", "下午": "下午", "黄昏": "黄昏", "傍晚": "傍晚",
            "深夜": "深夜", "半夜": "深夜", "夜里": "夜晚", "夜晚": "夜晚", "晚上": "夜晚"}
ZH_DEFAULT_TIMES = ["白天", "黄昏", "夜晚"]
ZH_SURNAMES = set("赵钱孙李周吴郑王冯陈卫蒋沈韩杨朱秦许何吕施张孔曹严华金魏陶姜谢邹喻苏潘葛范彭"
                  "鲁韦马苗方俞任袁柳唐罗薛雷贺倪汤殷罗毕郝安常于傅顾孟黄穆萧尹姚邵汪祁毛狄米"
                  "戴宋庞熊纪舒屈项祝董梁杜阮蓝席季贾江郭林钟徐邱高夏蔡田胡凌霍万卢莫丁邓洪崔"
                  "龚程陆白石廖曾叶")
ZH_NAME = re.compile("[" + "".join(sorted(ZH_SURNAMES)) + "](?:夫人|太太|先生|小姐|老板娘|老板|"
                     "掌柜|探长|队长|师傅|大爷|大娘|阿姨|老师|医生|少爷|司令|经理)"
                     "|[小老阿][" + "".join(sorted(ZH_SURNAMES)) + "]")
ZH_PALETTES = ["青灰与琥珀", "墨蓝与烛金", "旧铜与胭脂红", "烟灰与暖黄"]
ZH_TEXTURES = ["柔和胶片颗粒", "35毫米胶片质感", "自然光，深阴影"]
ZH_LINES = [
    "{other}，{keyword}的事，不能再拖了。",
    "我来{place}，就是为了{keyword}。",
    "{time}之前，你得给我一句实话。",
    "{other}，{clause}，你心里清楚。",
    "别碰{keyword}，{other}。",
    "你说起{keyword}，好像它已经没了。",
    "{other}，看着我，别看{place}。",
    "每到{time}，我都告诉自己这是最后一次。",
    "{keyword}的事，我们从来没说清楚。",
    "那就直说吧，{other}。",
    "{keyword}值多少，你老实说。",
    "等到{time}，再做决定。",
    "我不怕{keyword}，我怕的是之后的安静。",
    "在{place}，谁也别想先走。",
]
ZH_ACTIONS = ["{a}穿过{place}，停在光的边缘。", "{a}放下{keyword}，等{b}开口。",
              "{a}转身背对{b}，望向门外。", "{a}把{keyword}递过去，{b}没有接。",
              "{a}在{place}里来回踱步，{time}的光落在脸上。", "{a}走到窗前，又回头看{b}。"]
ZH_NARRATION = ["{time}，{place}屏住了呼吸。", "{a}已经很久没提起{keyword}了。",
                "没人知道，{keyword}会改变什么。", "到了{time}，选择已经不能再等。"]
EXTERNAL = ["the storm closes in", "the clock runs down", "the crowd turns", "the tide rises"]
INTERNAL = ["doubt gives way to resolve", "fear hardens into anger", "guilt becomes courage",
            "hope flickers"]
# Line, action and narration patterns; the writer fills them from the premise, the lore and
# the cast cards, and walks through them by scene so no two scenes repeat a line.
LINES = [
    "{other}, the {motif} will not wait for us.",
    "I came down to the {place} because of the {keyword}.",
    "Tell me what you saw at {time}.",
    "Leave the {keyword} where it is, {other}.",
    "If we go now, who tends the {motif}?",
    "You talk about the {keyword} like it is already gone.",
    "{other}, look at me. Not at the {place}.",
    "Every {time} I tell myself this is the last one.",
    "We never agreed about the {keyword}.",
    "Then say it plainly, {other}.",
    "I kept the {motif} going for both of us.",
    "The {place} was quieter before the {keyword}.",
    "What does the {keyword} cost us, honestly?",
    "Stay until {time}. Then decide.",
    "I am not afraid of the {keyword}. I am afraid of the quiet after.",
    "Help me with the {motif}, and I will listen.",
    "Nobody leaves the {place} until we know.",
    "You read it, {other}. I saw your hands.",
]
ACTIONS = [
    "{a} crosses the {place} and stops at the edge of the light.",
    "{a} sets the {keyword} down and waits for {b} to speak.",
    "{a} turns from {b} toward the {motif}.",
    "{a} waits at the {place}, eyes on the {keyword}.",
    "{a} counts the steps of the {place} under the {time} sky.",
    "{a} holds out the {keyword}; {b} does not take it.",
    "{a} climbs one step, then looks back at {b}.",
    "{a} steadies a hand on the {keyword} and listens.",
]
NARRATION = [
    "At {time}, the {place} held its breath.",
    "{a} had not spoken of the {keyword} in years.",
    "The {motif} still burned, for now.",
    "No one on the {place} slept that night.",
    "The {keyword} changed what {a} owed {b}.",
    "By {time}, the choice could not wait.",
    "The {place} remembered everyone who stayed.",
    "Some promises outlast the {keyword}.",
]
DIRECTOR_FIXES = ["wider framing, one clear action on one object",
                  "locked-off camera, hands on solid surfaces",
                  "over-the-shoulder framing on the speaker, then a cut"]
STOP = {"about", "after", "again", "their", "there", "these", "those", "which", "where", "while",
        "would", "could", "should", "before", "other", "under", "every", "until", "because",
        "decide", "finds", "worst", "cuts"}


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _gist(text: str, n: int = 48) -> str:
    """The start of a line, cut at a word: each shot's purpose names its own line, so no two
    shots of the episode share one (VFX check M)."""
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n].rsplit(" ", 1)[0] + "…"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?。！？])\s*", text) if s.strip()]


def _keywords(*texts: str, cast: list[str] = ()) -> list[str]:
    """Content words of the premise/summary, in order, without names or filler."""
    names = {c.lower() for c in cast}
    out: list[str] = []
    for t in texts:  # nouns first: the word after an article
        for w in re.findall(r"\b(?:a|an|the)\s+([a-z][a-z'-]{3,})", t, re.I):
            lw = w.lower().strip("'")
            if lw not in STOP and lw not in names and lw not in out:
                out.append(lw)
    return out or ["silence"]


def _bare(name: str) -> str:
    return re.sub(r"^(?:the|a|an)\s+", "", name.strip(), flags=re.I)


def _fill(pattern: str, **kw: str) -> str:
    text = pattern.format(**kw)
    return text[:1].upper() + text[1:]


shot_duration = shot_seconds  # the offline director shoots what GATE 1 adds up


def is_chinese(text: str) -> bool:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return cjk > len(re.findall(r"[A-Za-z]+", text))


def zh_clauses(text: str) -> list[str]:
    return [c.strip() for c in re.split(r"[，,、；;：:。！？!?…\s]+", text) if c.strip()] or [text]


def zh_places(text: str) -> list[str]:
    # rooms and streets before the city they are in
    found = sorted({(w in ZH_CITIES, text.find(w), w) for w in ZH_PLACES if w in text})
    out: list[str] = []
    for _, _, w in found:
        if not any(w in o for o in out):
            out.append(w)
    return out


def zh_names(text: str) -> list[str]:
    return list(dict.fromkeys(ZH_NAME.findall(text)))


def zh_keywords(text: str) -> list[str]:
    """Objects the premise names: what follows 一个 / 一封 / 把 ..., cut to the noun."""
    found = re.findall(r"(?:一[个封把张件位只条本间座艘]|把)((?:[\u4e00-\u9fff]{1,4}的)?"
                       r"[\u4e00-\u9fff]{2})", text)
    out = [m[-2:] for m in found]
    return list(dict.fromkeys(out))


NOT_NAMES = {"The", "A", "An", "I", "He", "She", "They", "It", "We", "You", "One", "His",
             "Her", "Their", "On", "In", "At", "When", "After", "Before", "But", "And", "Then",
             "Every", "Nobody", "Someone", "There", "This", "That", "If", "As", "Now", "No"}


def en_names(text: str) -> list[str]:
    """Capitalised words that are names: seen mid-sentence, or more than once."""
    mid = re.findall(r"(?<=[a-z,;] )([A-Z][a-z]+)", text)
    every = re.findall(r"\b([A-Z][a-z]+)\b", text)
    return [w for w in dict.fromkeys(every)
            if w not in NOT_NAMES and (w in mid or every.count(w) > 1)]


def en_places(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return list(dict.fromkeys(w for w in words if w in PLACES))


def _time_in(text: str, zh: bool) -> str | None:
    if zh:
        return next((v for k, v in ZH_TIMES.items() if k in text), None)
    low = text.lower()
    return next((t for t in TIMES if re.search(rf"\b{t}\b", low)), None)


def beat_seconds_of(beats: list[Beat]) -> list[int]:
    return beat_seconds(SceneScript(num=1, location="x", mode="narration", beats=beats))


def sc_names(d: dict) -> list[str]:
    """The names the premise gives (a project without cast cards: the outline's speakers)."""
    p = d["premise"]
    return zh_names(p) if is_chinese(p) else en_names(p)


def zh_role(premise: str, name: str) -> str:
    """What the premise calls `name` (the words just before it: 茶馆老板娘钱夫人 -> 茶馆老板娘)."""
    i = premise.find(name)
    before = re.split(r"[，,。；;、\s]", premise[:i].rstrip("的"))[-1] if i > 0 else ""
    return before[-6:] or "剧中人物"


def scene_units(premise: str, n: int) -> list[str]:
    """The premise cut into n scene summaries, in order: its sentences, split at clauses
    when there are fewer sentences than scenes, grouped when there are more."""
    units = _sentences(premise) or [premise]
    if len(units) < n:
        split = []
        for u in units:
            parts = [p.strip(" ,;，；") for p in re.split(r"(?<=[,;，；])\s*(?:and |but )?", u)]
            split += [p for p in parts if len(p) > 3] or [u]
        units = split if len(split) >= len(units) else units
    if len(units) > n:
        size = len(units) / n
        return [" ".join(units[round(i * size):round((i + 1) * size)]) for i in range(n)]
    return [units[i * len(units) // n] for i in range(n)]


PRODUCER_NOTE = re.compile(r"^Producer's note(?: on (S\d{2}-\d{3}[a-z]?))?:\s*(.+)$", re.M)


def producer_notes(notes: str | None) -> list[tuple[str | None, str]]:
    """(shot or None, sentence) for each "Producer's note[ on S01-002]: …" line of `notes`,
    without the scope words that routed it ("scene 2:")."""
    out = []
    for m in PRODUCER_NOTE.finditer(notes or ""):
        t = re.sub(r"^\s*(?:scene\s*\d+|S\d{2}-\d{3}[a-z]?)\s*[:,—-]?\s*", "", m.group(2),
                   flags=re.I).strip() or m.group(2).strip()
        out.append((m.group(1), t[:1].upper() + t[1:].rstrip(".") + "."))
    return out


class OfflineText:
    name = "offline"

    def complete(self, ctx: CallContext, *, role: str, system: str, user: str,
                 json_mode: bool = False, data: dict[str, Any] | None = None) -> str:
        data = data or {}
        with ctx.timed("offline", "offline-text", role, prompt=user[:2000]):
            fn = getattr(self, f"_{role}", None)
            if fn is None:
                raise ValueError(f"the offline text provider has no role {role!r}")
            return fn(data)

    # -- screenwriter -----------------------------------------------------------------
    def _outline(self, d: dict) -> str:
        """The premise's own sentences, places, times and names, scene by scene; the scene
        targets add up to the episode's."""
        n, premise, cast = d["scene_count"], d["premise"], d["cast"]
        zh = is_chinese(premise)
        names = list(cast) or (zh_names(premise) if zh else en_names(premise))
        everywhere = zh_places(premise) if zh else en_places(premise)
        base, extra = divmod(d["target_s"], n)
        scenes, titles = [], set()
        place = everywhere[0] if everywhere else (
            zh_clauses(premise)[0][:8] if zh else _keywords(premise)[0])
        when = None
        for i, unit in enumerate(scene_units(premise, n), 1):
            k = _h(premise, i)
            here = zh_places(unit) if zh else en_places(unit)
            place = here[0] if here else place
            times = ZH_DEFAULT_TIMES if zh else TIMES
            when = _time_in(unit, zh) or when or times[(k // 7) % len(times)]
            rot = [names[(i - 1 + j) % len(names)] for j in range(min(2, len(names)))]
            named = [c for c in names if c in unit]
            chars = list(dict.fromkeys(rot + named))[:max(2, len(named))]
            if zh:
                options = sorted((c for c in zh_clauses(unit) if len(c) >= 3), key=len)
                options = [o[:10] for o in options] or [unit[:10]]
            else:
                options = [f"The {w.title()}" for w in _keywords(unit)] or [_gist(unit, 24)]
            title = next((t for t in options if t not in titles), f"{options[0]} ({i})")
            titles.add(title)
            scenes.append({
                "num": i, "id": f"S{i:02d}", "title": title, "location": place,
                "time_of_day": when, "summary": unit, "characters": chars,
                "target_duration_s": max(10, base + (1 if i <= extra else 0)),
            })
        return json.dumps({"title": d["title"], "scenes": scenes}, ensure_ascii=False)

    def _screenwriter(self, d: dict) -> str:
        sc = d["scene"]
        num = sc["num"]
        k = _h(d["premise"])
        chars = sc["characters"]
        zh = is_chinese(d["premise"])
        summary = sc["summary"].rstrip(".。")
        if zh:
            keys = zh_keywords(summary) or zh_keywords(d["premise"]) or [sc["location"]]
            lines_p, acts_p, narr_p = ZH_LINES, ZH_ACTIONS, ZH_NARRATION
        else:
            keys = _keywords(sc["summary"], d["premise"], cast=d["cast"])
            lines_p, acts_p, narr_p = LINES, ACTIONS, NARRATION
        motifs = [_bare(m) for m in d.get("motifs", []) if m] or keys[1:2] or keys[:1]
        clauses = zh_clauses(summary) if zh else [summary]
        kw = {"place": sc["location"], "time": sc["time_of_day"] or ("夜晚" if zh else "night"),
              "keyword": keys[(num - 1) % len(keys)], "motif": motifs[(num - 1) % len(motifs)],
              "a": chars[0] if chars else ("有人" if zh else "Someone"),
              "b": chars[1] if len(chars) > 1 else ("众人" if zh else "the others"),
              "clause": clauses[-1]}
        first = set(d.get("first_seen") or [])

        def who(name: str) -> str:
            age = next((c.get("age") for c in d.get("cast_cards", []) if c["name"] == name), None)
            return f"{name}, {age}," if name in first and age else name

        stop = "。" if zh else ". "
        earlier = (f"此前：{summary}。" if zh else f"Before this: {summary}.") if summary else (
            "此前：平常的一天。" if zh else "Before this: an ordinary day.")
        act = _fill(acts_p[(k + num) % len(acts_p)], **{**kw, "a": who(kw["a"])})
        act2 = _fill(acts_p[(k + num + 3) % len(acts_p)], **kw)
        empty = (f"{sc['location']}空无一人。" if zh else
                 f"Wind moves across the empty {sc['location']}.")
        action = (f"{summary}{stop}" if summary else "") + (
            f"{act}{'' if zh else ' '}{act2}" if chars else empty)
        asked = " ".join(t for _, t in producer_notes(d.get("notes")))
        if asked:  # the producer's notes, visibly worked into the scene
            action += f" Rewritten to the producer's note: {asked}"
        target = int(sc.get("target_duration_s") or 15)

        def speak(j: int, used: list[str], budget: float | None,
                  must_speak: bool = False) -> str | None:
            """Line j of the scene: the next pattern in the walk (that fits `budget`)."""
            other = chars[(j + 1) % len(chars)] if len(chars) > 1 else (
                "朋友" if zh else "friend")
            start = k + 2 * (num - 1) + j
            texts = [_fill(lines_p[(start + t) % len(lines_p)], **{**kw, "other": other})
                     for t in range(len(lines_p))]
            texts = [t for t in texts if t not in used]
            fits = [t for t in texts if budget is None or shot_seconds(t) <= budget]
            if fits or not must_speak:
                return fits[0] if fits else None
            return min(texts, key=shot_seconds) if texts else None

        if d["mode"] == "narration":
            own = [c for c in (clauses if zh else _sentences(sc["summary"])) if c]
            visual = (f"{sc['location']}全景，{sc['time_of_day']}" if zh else
                      f"Wide view of the {sc['location']} at {sc['time_of_day']}")
            if asked:
                visual += f", rewritten to the producer's note: {asked.rstrip('.')}"
            beats: list[Beat] = []
            said: list[str] = []
            n_i = d_i = 0
            while sum(beat_seconds_of(beats)) < target - 2 and len(beats) < 12:
                if beats and beats[-1].kind == "narration" and chars and d_i < 4:
                    text = speak(d_i, said, None)
                    d_i += 1
                    if text:
                        said.append(text)
                        beats.append(Beat(kind="dialog", dialog=[{"speaker": chars[
                            (d_i - 1) % len(chars)], "text": text}],
                            visual=f"{who(chars[(d_i - 1) % len(chars)])} "
                                   + ("说话，面部特写" if zh else "speaks, close on the face")))
                        continue
                pick = own[n_i] if n_i < len(own) else _fill(
                    narr_p[(k + 2 * (num - 1) + n_i) % len(narr_p)], **kw)
                n_i += 1
                pick = pick[:60]
                beats.append(Beat(kind="narration", narration=pick,
                                  visual=visual if n_i == 1 else _fill(
                                      acts_p[(k + num + 5 + n_i) % len(acts_p)], **kw)
                                  .rstrip(".。"),
                                  duration=shot_seconds(pick, lo=3, hi=6, pad=0.8)))
            script = SceneScript(num=num, location=sc["location"],
                                 time_of_day=sc["time_of_day"], mode="narration",
                                 characters=chars, backstory=earlier, beats=beats)
        else:
            lines: list[dict] = []
            if chars:
                est = beat_seconds(SceneScript(num=num, location="x", action=action))[0]
                for j in range(24):
                    total = est + sum(shot_seconds(x["text"]) for x in lines)
                    owed = max(0, min(2, len(chars)) - j)  # each lead speaks once
                    if not owed and total >= target - 1:
                        break
                    text = speak(j, [x["text"] for x in lines],
                                 (target + 1 - total) / max(1, owed), must_speak=bool(owed))
                    if text is None:
                        break
                    lines.append({"speaker": chars[j % len(chars)], "text": text})
            script = SceneScript(
                num=num, location=sc["location"], time_of_day=sc["time_of_day"],
                characters=chars,
                pacing=f"{EXTERNAL[(k + num) % len(EXTERNAL)]} (external) + "
                       f"{INTERNAL[(k // 5 + num) % len(INTERNAL)]} (internal)",
                backstory=earlier, action=action, dialog=lines)
        # the declared estimate is the sum of the beats written
        script.estimated_duration = sum(beat_seconds(script))
        if d.get("last"):
            leads = ", ".join(d["cast"]) or "none"
            npcs = "; ".join(f"{n} — {zh_role(d['premise'], n) if zh else 'named in the premise'}"
                             for n in sc_names(d) if n not in d["cast"]) or "none"
            script.trailer = (f"<!-- CAST CHECK\nLeads: {leads}\nNamed NPCs: {npcs}\n"
                              "Extras: passers-by\n-->\n<!-- PROP CHECK\nnone\n-->")
        return render_scene_md(script)

    # -- direction --------------------------------------------------------------------
    def _direction(self, d: dict) -> str:
        scenes = [s["id"] for s in d["scenes"]]
        k = _h(d["premise"])
        motifs = []
        for m in json.loads(d["lore_motifs"]) if d.get("lore_motifs") else []:
            lands = [x for x in (m.get("landings") or []) if x in scenes] or scenes[:2]
            motifs.append({"name": str(m.get("name") or "motif"),
                           "meaning": str(m.get("meaning") or ""), "landings": lands})
        if not motifs:
            word = _keywords(d["premise"], cast=d["cast"])[0]
            motifs = [{"name": word, "meaning": "what the episode turns on",
                       "landings": [scenes[0], scenes[-1]]}]
        return json.dumps({
            "tone_dimensions": {"realism": "grounded", "warmth": ["cool", "warm"][k % 2],
                                "tempo": "patient, then urgent", "distance": "close",
                                "hope": "earned at the end"},
            "director_reference": ["Andrea Arnold: handheld closeness to bodies in weather",
                                   "Kelly Reichardt: patience with small gestures"][k % 2],
            "audiovisual_decisions": {
                "camera": "handheld at shoulder height, still when a choice is made",
                "lens": "normal lenses, close-ups for decisions, wides for isolation",
                "light": "practical and natural sources only",
                "colour": d.get("mood_anchor") or d.get("visual_style") or "natural",
                "sound": "wind and room tone under every line",
                "editing": "long takes inside a scene, hard cuts between places",
                "performance": "underplayed; faces do the work"},
            "imagery_system": {"motifs": motifs,
                               "highlight_elements": list(d.get("lore_highlights") or [])},
            "dual_pacing": {"external": "the pressure outside rises scene by scene",
                            "internal": "resistance gives way to a shared decision"},
        }, ensure_ascii=False)

    # -- director ---------------------------------------------------------------------
    def _director(self, d: dict) -> str:
        s = SceneScript.model_validate(d["script"])
        sid, anchor = d["scene_id"], d["mood_anchor"]
        caps = d.get("caps") or {}
        kinds = caps.get("kinds") or {}
        ref1 = "图1" if caps.get("ref_syntax") == "图N" else "[Image 1]"
        ages = {c["name"]: c.get("age") for c in d.get("cast_cards", [])}
        place = f"{s.location} at {s.time_of_day}" if s.time_of_day else s.location
        tail = f" {anchor}" if anchor else ""
        shots: list[dict] = []
        in_group: set[str] = set()

        def who(name: str, chained: bool) -> str:
            if not chained:
                in_group.clear()
            first = name not in in_group
            in_group.add(name)
            return f"{name}, {ages[name]}," if first and ages.get(name) else name

        def add(**kw: Any) -> None:
            kw.setdefault("use_prev_last_frame_as_first", bool(shots))
            kw["id"] = f"{sid}-{len(shots) + 1:03d}"
            kw["scene"] = sid
            r = kinds.get(kw["kind"], {"min_s": MIN_DURATION, "max_s": 15})
            kw["duration"] = max(r["min_s"], min(r["max_s"], kw["duration"]))
            shots.append(kw)

        if s.mode == "narration":
            for b in s.beats:
                if b.kind == "narration":
                    add(kind="t2v", role="narration", narration_text=b.narration,
                        duration=b.duration or shot_duration(b.narration or "", lo=3, hi=6,
                                                             pad=0.8),
                        prompt=f"Wide shot, {b.visual.rstrip('.')}, {place}.{tail}",
                        narrative_purpose="Narration beat: " + (b.narration or "")[:60],
                        characters=[], use_prev_last_frame_as_first=False)
                    in_group.clear()
                else:
                    line = b.dialog[0]
                    chained = bool(shots) and shots[-1]["role"] == "drama"
                    add(kind="r2v", role="drama", duration=shot_duration(line.text),
                        prompt=f"Close-up, {ref1} {who(line.speaker, chained)} speaks: "
                               f"\"{line.text}\", {place}.{tail}",
                        narrative_purpose=f"{line.speaker} says it aloud, on camera: "
                                          f"\"{_gist(line.text)}\"",
                        characters=[line.speaker], use_prev_last_frame_as_first=chained,
                        dialog=[x.model_dump() for x in b.dialog])
        else:
            first = _sentences(s.action)[:1] or [s.action]
            motifs = [m["name"] for m in ((d.get("direction") or {}).get("imagery_system") or {})
                      .get("motifs", []) if sid in (m.get("landings") or [])]
            seen = "".join(f", {m} in view" for m in motifs)
            add(kind="t2v", role="drama", duration=shot_duration(first[0], lo=5, hi=8, pad=2),
                prompt=f"Establishing wide shot, {first[0].rstrip('.')}{seen}, {place}.{tail}",
                narrative_purpose=f"Establish the {s.location} and the stakes: "
                                  f"{_gist(first[0])}",
                characters=[], use_prev_last_frame_as_first=False)
            for line in s.dialog:
                add(kind="r2v", role="drama", duration=shot_duration(line.text),
                    prompt=f"Medium close-up, {ref1} {who(line.speaker, True)} says "
                           f"\"{line.text}\", {place}, steady camera.{tail}",
                    narrative_purpose=f"{line.speaker} pushes the conflict forward: "
                                      f"\"{_gist(line.text)}\"",
                    characters=[line.speaker], dialog=[line.model_dump()])
        # the producer's notes: on the shot they name, or on every shot of the scene
        for shot_id, text in producer_notes(d.get("notes")):
            for sh in shots:
                if shot_id in (None, sh["id"]):
                    body = sh["prompt"][: -len(tail)] if tail and sh["prompt"].endswith(tail) \
                        else sh["prompt"]
                    sh["prompt"] = (f"{body.rstrip('. ')}; producer's note: "
                                    f"{text.rstrip('.')}.{tail}")
        # notes naming shots (a VFX finding, an escalation): the minimal fix on those shots,
        # a different one each time the same shot comes back
        previous = d.get("previous") or ""
        for sh in shots:
            if sh["id"] in (d.get("notes") or ""):
                body = sh["prompt"][: -len(tail)] if tail and sh["prompt"].endswith(tail) \
                    else sh["prompt"]
                tried = sum(previous.count(f) for f in DIRECTOR_FIXES)
                fix = DIRECTOR_FIXES[tried % len(DIRECTOR_FIXES)]
                sh["prompt"] = f"{body.rstrip('. ')}; {fix}.{tail}"
        scene = {
            "id": sid, "name": f"{s.location} · {s.time_of_day}".strip(" ·"),
            "description": (f"The {s.location} at {s.time_of_day or 'day'}: "
                            f"{s.backstory or s.action}")[:150],
            "characters_present": s.characters, "props_present": [], "set_id": None,
        }
        return json.dumps({"scene": scene, "shots": shots}, ensure_ascii=False)

    # -- producer: a lore for a project without one ----------------------------------
    def _lore(self, d: dict) -> str:
        k = _h(d["premise"])
        keys = _keywords(d["premise"])
        palettes = ["teal and amber", "slate and rust", "ink blue and candle gold",
                    "sea green and bone white", "charcoal and ember red"]
        textures = ["soft film grain", "35mm grain, gentle halation", "natural light, deep shadows",
                    "overcast softness, fine grain"]
        if is_chinese(d["premise"]):  # the premise's own setting words, in its language
            setting = "、".join(zh_places(d["premise"])[:2]) or zh_clauses(d["premise"])[0][:8]
            anchor = (f"电影感，{setting}，{ZH_PALETTES[k % len(ZH_PALETTES)]}色调，"
                      f"{ZH_TEXTURES[(k // 7) % len(ZH_TEXTURES)]}")
        else:
            anchor = (f"cinematic, {keys[0]}-lit, {palettes[k % len(palettes)]} palette, "
                      f"{textures[(k // 7) % len(textures)]}")
        return json.dumps({"title": d["title"], "mood_anchor": anchor,
                           "visual_style": "grounded drama, natural light, handheld close-ups",
                           "genre": "drama", "forbidden": ["gore", "brand logos"],
                           "duration_target_s": 60})

    # -- VFX review (judgment items, decided by simple rules offline) ----------------
    def _vfx(self, d: dict) -> str:
        findings = []
        shots = d["shots"]
        limit = 2 if d["target_s"] <= 300 else 5
        for m in d.get("motifs") or []:
            if not m:
                continue
            n = sum(1 for s in shots if _bare(m).lower() in s["prompt"].lower())
            if n < limit:
                findings.append({"check": "O", "severity": "CRIT" if limit == 2 else "WARN",
                                 "shots": [], "scenes": [],
                                 "issue": f"the motif {m!r} appears in {n} prompt(s), "
                                          f"under {limit}",
                                 "fix": "land it where the direction says"})
        by_scene: dict[str, set] = {}
        for s in shots:
            by_scene.setdefault(s["scene"], set()).add(s["seed"])
        for sc, seeds in by_scene.items():
            if len(seeds) > 1:
                findings.append({"check": "I", "severity": "WARN", "shots": [], "scenes": [sc],
                                 "issue": "the scene's shots use different seeds",
                                 "fix": "share one seed per scene"})
        return json.dumps({"findings": findings}, ensure_ascii=False)

    # -- rewrite ----------------------------------------------------------------------
    def _rewrite(self, d: dict) -> str:
        fixes = {
            "physics": "hands press firmly on solid surfaces",
            "proportion": "wider framing, full figures in view",
            "style": "restated palette and light of the anchor",
            "logic": "one clear action on one object",
            "cast_match": "faces clearly lit and turned to camera",
            "dialog_attribution": "over-the-shoulder framing on the speaker",
        }
        prompt = d["prompt"]
        anchor = d["mood_anchor"]
        if anchor and prompt.endswith(anchor):
            prompt = prompt[: -len(anchor)].rstrip()
        extra = [fixes[a] for a in d["vetoed"] if a in fixes] or ["steadier camera"]
        new = f"{prompt.rstrip('. ')}; {', '.join(extra)}."
        return f"{new} {anchor}".strip()
