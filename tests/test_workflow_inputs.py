"""What the workflow's input functions answer (spark_video/workflow/__init__.py), without Snakemake:
plain calls over an episode's files, with a fake checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_core import shot, write_fragment

from spark_video import gates, storyboard
from spark_video.base.paths import EpisodePaths
from spark_video.workflow import Memo, Workflow, repair_published


class NotYet(Exception):
    """What Snakemake's checkpoint get() raises before the checkpoint has run."""


class FakeCheckpoints:
    def __init__(self, ep: EpisodePaths):
        self.ep = ep
        self.done: set[str] = set()
        self.asked: list[str] = []

    def output(self, name: str) -> str:
        self.asked.append(name)
        if name not in self.done:
            raise NotYet(name)
        return str({"outline": self.ep.outline, "compile_storyboard": self.ep.storyboard}[name])


class Ancient(str):
    """A stand-in for Snakemake's ancient() flag."""


def workflow(ep, cfg, **kw) -> tuple[Workflow, FakeCheckpoints]:
    cps = FakeCheckpoints(ep)
    return Workflow(ep, cfg, cps, ancient=Ancient, **kw), cps


def compiled(ep, cfg) -> None:
    """Two chained shots in scene 1, compiled into storyboard.json and shots/*.json."""
    write_fragment(ep, 1, [shot("S01-001", use_prev_last_frame_as_first=False),
                           shot("S01-002", use_prev_last_frame_as_first=True)])
    storyboard.compile_storyboard(ep, cfg, "drama")


def approve_script(ep) -> None:
    gates.approve(ep, "mode", data={"mode": "drama"}, note="test")
    ep.scene_md(1).write_text("# Scene 1\n\nMara lights the lamp.\n")
    storyboard.compile_script(ep)
    gates.approve(ep, "script", note="test")


def bump(path: Path, text: str) -> None:
    """A new version of `path`: new content and an mtime that differs for certain."""
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def test_memo_answers_once_per_version_of_what_it_watches(tmp_path):
    memo, calls = Memo(), []
    f = tmp_path / "watched.txt"
    f.write_text("a")

    def compute():
        calls.append(1)
        return len(calls)

    assert memo.get("q", [f], compute) == 1
    assert memo.get("q", [f], compute) == 1  # same version: asked once
    bump(f, "bb")
    assert memo.get("q", [f], compute) == 2  # a new version: asked again
    f.unlink()
    assert memo.get("q", [f], compute) == 3  # gone is a version too
    assert memo.get("other", [f], compute) == 4  # each question has its own answer
    assert memo.get("once", (), compute) == 5 and memo.get("once", (), compute) == 5

    def fails():
        raise NotYet("later")

    with pytest.raises(NotYet):
        memo.get("late", (), fails)
    assert memo.get("late", (), compute) == 6  # a raised answer is not kept


def test_clip_inputs_wait_for_the_storyboard_checkpoint_then_read_it_once(ep, cfg):
    compiled(ep, cfg)
    wf, cps = workflow(ep, cfg)
    with pytest.raises(NotYet):
        wf.clip_inputs("S01-001")
    cps.done.add("compile_storyboard")
    first = wf.clip_inputs("S01-001")
    assert first["spec"] == str(ep.shot_spec("S01-001"))
    assert "first_frame" not in first and first["request"] == []
    assert first["gate"] == [str(ep.gate_barrier("storyboard"))]  # GATE 2 not approved
    assert all(not isinstance(m, Ancient) for m in first["media"])
    second = wf.clip_inputs("S01-002")
    assert second["first_frame"] == str(ep.last_frame("S01-001"))  # chained
    wf.all_clips()
    wf.render_priority("S01-001")
    # the checkpoint is asked until it answers, then never again
    assert cps.asked == ["compile_storyboard", "compile_storyboard"]
    assert wf.all_clips() == [str(ep.clip("S01-001")), str(ep.clip("S01-002"))]
    assert wf.render_priority("S01-001") == 2 and wf.render_priority("S01-002") == 1
    # a shot the storyboard does not have: only its (missing) spec, for Snakemake to name
    assert wf.clip_inputs("S09-001") == {"spec": str(ep.shot_spec("S09-001"))}


def test_storyboard_is_read_again_after_it_changes(ep, cfg):
    compiled(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    assert len(wf.storyboard_shots()) == 2
    data = json.loads(ep.storyboard.read_text())
    data["shots"] = data["shots"][:1]
    bump(ep.storyboard, json.dumps(data))
    assert [s["id"] for s in wf.storyboard_shots()] == ["S01-001"]
    assert wf.all_clips() == [str(ep.clip("S01-001"))]


def test_a_bad_storyboard_or_spec_is_a_check_job_not_a_render(ep, cfg):
    compiled(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    spec = ep.shot_spec("S01-002")
    bump(spec, "{not json")
    assert wf.clip_inputs("S01-002") == {"spec": str(spec), "check": [wf.check_token(spec)]}
    assert wf.check_token(spec).endswith("/logs/jobs/checks/episode-005/shots/S01-002.json.bad")
    bump(ep.storyboard, "{not json")
    token = wf.check_token(ep.storyboard)
    assert wf.clip_inputs("S01-001") == {"check": [token]}
    assert wf.all_clips() == [token] and wf.storyboard_check() == [token]
    assert token in wf.input_checks()


def test_frozen_sources_are_ancient_once_their_gate_was_approved(ep, cfg):
    lore = str(ep.project_paths.lore)
    recorded = {"out.json": [lore, "gone.md"]}
    wf, _ = workflow(ep, cfg, recorded_inputs=recorded.get)
    assert wf.frozen("script", [lore]) == [lore] and not wf.is_frozen("script")
    approve_script(ep)
    assert wf.is_frozen("script")  # the approvals folder changed: asked again
    (out,) = wf.frozen("script", [lore])
    assert isinstance(out, Ancient) and out == lore
    # with a record: the sources the output was made from (that still exist), not today's
    assert wf.frozen("script", [lore, "new-card.md"], "out.json", lambda p: True) == [lore]
    assert wf.frozen("script", [lore, "new.md"], "unrecorded.json", wf.is_lore) == [lore,
                                                                                    "new.md"]
    assert wf.is_lore(lore) and not wf.is_premise(lore)
    assert wf.is_cast_card(str(ep.project_paths.cast_dir / "Mara" / "cast.md"))


def test_closed_gate_adds_its_barrier_and_an_approval_removes_it(ep, cfg):
    wf, _ = workflow(ep, cfg)
    assert wf.barrier("script") == [str(ep.gate_barrier("script"))]
    assert wf.stop_gate() in {"mode", "script"}
    approve_script(ep)
    assert wf.barrier("script") == []


def test_scenes_come_from_the_outline_checkpoint_and_bad_files_are_check_jobs(ep, cfg):
    wf, cps = workflow(ep, cfg)
    with pytest.raises(NotYet):
        wf.scene_mds()
    cps.done.add("outline")
    ep.outline.write_text(json.dumps({"project": "demo", "episode": "005", "title": "T",
                                      "premise": "p", "scenes": [
                                          {"num": 1, "id": "S01", "title": "one",
                                           "summary": "s", "characters": []}]}))
    assert wf.scene_nums() == [1]
    assert wf.scene_mds() == [str(ep.scene_md(1))]
    bump(ep.outline, "{broken")
    assert wf.scene_nums() is None
    assert wf.scene_mds() == [wf.check_token(ep.outline)]
    assert wf.scene_jsons() == [wf.check_token(ep.outline)]


def test_repair_puts_back_what_it_can_and_leaves_unknown_shots(ep, cfg):
    assert repair_published(ep) == []  # nothing rendered yet
    compiled(ep, cfg)
    ep.state_dir.mkdir(parents=True, exist_ok=True)
    (ep.root / "clips").mkdir(exist_ok=True)
    for sid in ("S01-001", "S07-001"):  # S07-001 is in no storyboard
        ep.shot_state(sid).write_text("{}")
        ep.clip(sid).write_bytes(b"")  # 0-byte, and no take to restore it from
    lines = repair_published(ep)
    assert len(lines) == 1 and lines[0].startswith(str(ep.clip("S01-001")))
    assert "removed so the render job rebuilds it" in lines[0]
    assert not ep.clip("S01-001").exists() and ep.clip("S07-001").exists()


def test_entities_portraits_and_cards(ep, cfg):
    wf, _ = workflow(ep, cfg)
    folders = wf.entity_folders()
    assert folders and all(f.is_dir() for f in folders)
    assert wf.entity_checks() == []  # the demo's cards are fine
    cards = wf.project_cast_cards()
    assert cards and all(wf.is_cast_card(c) for c in cards)
    # the demo ships no images: each folder gets a placeholder portrait
    assert sorted(wf.portrait_targets()) == sorted(str(f / "portrait.png") for f in folders)
    assert all(Path(p).name != "portrait.png" for p in wf.entity_files())


def test_per_shot_folders_get_the_check_the_full_chain_gives(ep, monkeypatch):
    """checker() answers a file of shots/, state/, takes/ or notes/ from the folder's name
    first (the build asks for every shot's files); the answer is the one the full chain of
    path comparisons gives, also for a file named like one the chain decides by name."""
    from spark_video.workflow import inputcheck

    names = ["S01-001.json", "S01-001.txt", "premise.md", "cast.md", "bgm-config.json", "x.md"]
    files = [ep.root / d / n for d in ("shots", "state", "takes", "notes", "clips") for n in names]
    files += [ep.root / "deeper" / "state" / "S01-001.json", ep.storyboard, ep.outline]
    fast = [inputcheck.checker(ep, f) for f in files]
    monkeypatch.setattr(inputcheck, "ITEM_FOLDERS", {})
    chain = [inputcheck.checker(ep, f) for f in files]
    # the chain makes a new closure per call for the _model() checks: compare what they check
    def same(a, b) -> bool:
        return a is b or (a is not None and b is not None and a.__code__ is b.__code__ and [
            c.cell_contents for c in a.__closure__ or ()] == [c.cell_contents
                                                             for c in b.__closure__ or ()])
    wrong = [str(f) for f, a, b in zip(files, fast, chain, strict=True) if not same(a, b)]
    assert not wrong
    assert fast[0] is inputcheck._shot_spec and fast[len(names)] is inputcheck._shot_state


def test_narration_shots_follow_the_storyboard(ep, cfg):
    """narration_inputs asks once per narration job whether its shot narrates: answered from
    one scan per version of storyboard.json, which a change of the storyboard renews."""
    compiled(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    assert wf.narration_shots() == []
    with pytest.raises(ValueError, match="S01-002 is not a narration shot"):
        wf.narration_inputs("S01-002")
    data = json.loads(ep.storyboard.read_text())
    data["mode"] = "narration"
    data["shots"][1].update(role="narration", narration_text="The lamp burns all night.")
    bump(ep.storyboard, json.dumps(data))
    assert not wf.storyboard().bad, wf.storyboard().bad
    assert wf.narration_shots() == ["S01-002"]
    assert wf.narration_inputs("S01-002")["storyboard"] == str(ep.storyboard)
    with pytest.raises(ValueError):
        wf.narration_inputs("S01-001")


def reel_episode(ep, cfg, n: int = 20, *, short: tuple[int, ...] = ()) -> None:
    """`n` shots of 4 s in two scenes (shot k+1 at index k; those in `short` last 2 s), the
    first of scene 2 a narration shot, compiled."""
    half = n // 2
    for num, ks in ((1, range(half)), (2, range(half, n))):
        write_fragment(ep, num, [shot(f"S{num:02d}-{k + 1:03d}", duration=2 if k in short else 4,
                                      **({"role": "narration", "narration_text": "Dawn."}
                                         if k == half else {}))
                                 for k in ks])
    storyboard.compile_storyboard(ep, cfg, "narration")


def test_reels_are_planned_once_per_storyboard_version_from_its_durations(ep, cfg, monkeypatch):
    import spark_video.workflow as wfmod

    reel_episode(ep, cfg)
    wf, cps = workflow(ep, cfg)
    with pytest.raises(NotYet):
        wf.reels()
    cps.done.add("compile_storyboard")
    calls = []
    plan = wfmod.episode_reel_targets
    monkeypatch.setattr(wfmod, "episode_reel_targets",
                        lambda *a: calls.append(1) or plan(*a))
    reels = wf.reels()
    # reels of 8 shots; each reads the next reel's first shot too (it renders that crossfade)
    assert [r.num for r in reels] == ["01", "02", "03"]
    ids = [s["id"] for s in wf.storyboard_shots()]
    assert [list(r.shots) for r in reels] == [ids[0:9], ids[8:17], ids[16:20]]
    for num in ("01", "02", "03"):
        wf.reel_inputs(num), wf.speech_inputs(num)
    wf.master_inputs(), wf.stitch_inputs()
    assert len(calls) == 1  # one plan for every input function of the run
    assert wf.reel_files() == [str(ep.final_mp4.parent / "reels" / f"reel-{n}.mp4")
                               for n in ("01", "02", "03")]
    with pytest.raises(ValueError, match="no reel 04"):
        wf.reel_inputs("04")
    # a new storyboard version is planned again
    data = json.loads(ep.storyboard.read_text())
    data["shots"] = data["shots"][:12]
    bump(ep.storyboard, json.dumps(data))
    assert [r.num for r in wf.reels()] == ["01", "02"] and len(calls) == 2


def test_a_reel_reads_its_shots_and_the_music_reads_no_clip(ep, cfg):
    reel_episode(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    ids = [s["id"] for s in wf.storyboard_shots()]
    ep.clip(ids[3]).parent.mkdir(parents=True, exist_ok=True)
    take = ep.clip(ids[3]).with_name(f"{ids[3]}b.mp4")  # a continuation take of shot 4
    take.write_bytes(b"x")
    wf.memo = Memo()
    one, two = wf.reel_inputs("01"), wf.speech_inputs("02")
    assert one["clips"] == [str(ep.clip(s)) for s in ids[0:9]]
    assert one["takes"] == [str(take)] and one["narration"] == []
    assert one["gate"] == wf.barrier("render") + wf.barrier("bgm")
    assert str(ep.gate_barrier("render")) in one["gate"]  # GATE 3 not approved: it waits
    assert two["narration"] == [str(ep.narration(ids[10]))] and two["takes"] == []
    assert "settings" in two and "settings" not in one  # the voice's volume: speech only
    assert isinstance(one["storyboard"], Ancient)  # after its checkpoint, not on its mtime
    assert one["check"] == []
    ep.stitch_request.parent.mkdir(parents=True, exist_ok=True)
    bump(ep.stitch_request, "[not an object")  # the reel job would fail and lose its reel
    assert wf.reel_inputs("01")["check"] == [wf.check_token(ep.stitch_request)]
    assert wf.check_token(ep.stitch_request) in wf.master_inputs()["check"]
    ep.stitch_request.unlink()
    master = wf.master_inputs()
    assert master["speech"] == [str(ep.final_mp4.parent / "sound" / f"speech-{n}.f32")
                                for n in ("01", "02", "03")]
    assert not any(str(ep.clip(s)) in json.dumps(master) for s in ids)
    final = wf.stitch_inputs()
    assert final["reels"] == wf.reel_files()
    assert final["master"] == str(ep.final_mp4.parent / "sound" / "master.m4a")
    # the mux reads its parts: no clip, take or voice again (they reach it through the reels)
    assert not any(str(ep.clip(s)) in json.dumps(final) for s in ids)
    assert str(take) not in json.dumps(final)
    assert not any(str(ep.narration(s)) in json.dumps(final) for s in ids)


def test_reel_keys_follow_only_what_each_part_uses(ep, cfg):
    """A music volume change moves no reel key; a crossfade asked by `spark-video stitch`
    moves every reel; a storyboard edit of one shot moves the reels that read it only."""
    from spark_video.base.io import atomic_write_json
    from spark_video.base.models import BGMConfig, StitchRequest

    reel_episode(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")

    def keys():
        wf.memo = Memo()
        return [(r.picture, r.speech) for r in wf.reels()]

    before = keys()
    atomic_write_json(ep.bgm_config, BGMConfig(enabled=True, mode="global", track="x",
                                               volume=0.3))
    assert keys() == before
    data = json.loads(ep.storyboard.read_text())
    data["shots"][4]["narration_text"] = "Now narrated."  # shot 5: reel 1 only
    data["shots"][4]["role"] = "narration"
    bump(ep.storyboard, json.dumps(data))
    after = keys()
    assert after[0] != before[0] and after[1:] == before[1:]
    atomic_write_json(ep.stitch_request, StitchRequest(crossfade=0.25))
    assert all(a != b for a, b in zip(keys(), after, strict=True))


def test_a_reel_border_skips_a_shot_too_short_for_two_crossfades(ep, cfg):
    from spark_video.base.io import atomic_write_json
    from spark_video.base.models import StitchRequest

    reel_episode(ep, cfg, short=(8,))  # shot 9 would open reel 2 but lasts 2 s
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    ids = [s["id"] for s in wf.storyboard_shots()]
    assert [r.shots[0] for r in wf.reels()] == [ids[0], ids[8], ids[16]]  # 0.5 s crossfades
    atomic_write_json(ep.stitch_request, StitchRequest(crossfade=1.0))  # two fill shot 9
    assert [r.shots[0] for r in wf.reels()] == [ids[0], ids[9], ids[16]]


def test_narration_reads_its_line_not_the_storyboard_file(ep, cfg):
    """A narration voice's job depends on its line and voice (params), not on storyboard.json,
    which a music change compiles again: a mix change re-voices nothing."""
    reel_episode(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    shot_id = wf.narration_shots()[0]
    inputs = wf.narration_inputs(shot_id)
    assert isinstance(inputs["storyboard"], Ancient)
    assert wf.narration_line(shot_id)[0] == "Dawn."
    data = json.loads(ep.storyboard.read_text())
    data["narrator_voice"] = "another"
    bump(ep.storyboard, json.dumps(data))
    assert wf.narration_line(shot_id) == ["Dawn.", None, "another"]
    with pytest.raises(ValueError, match="not a narration shot"):
        wf.narration_inputs("S01-001")


def test_reels_stand_while_the_storyboard_is_compiled_again(ep, cfg):
    reel_episode(ep, cfg)
    wf, cps = workflow(ep, cfg)
    cps.done.add("compile_storyboard")
    reels = wf.reels()
    ep.storyboard.unlink()  # Snakemake removes a job's output before it runs
    assert wf.reels() == reels
    fresh, cps2 = workflow(ep, cfg)
    cps2.done.add("compile_storyboard")
    with pytest.raises(FileNotFoundError):
        fresh.reels()  # nothing planned before: the error stands
