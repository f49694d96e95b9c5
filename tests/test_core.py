"""Data model, scene format, storyboard compile/graph/estimate, gates and settings."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from spark_video import gates, roles, storyboard
from spark_video.base.io import InputError, load_model
from spark_video.base.models import BGMConfig, SceneFragment, Shot, Storyboard
from spark_video.base.paths import (
    EpisodePaths,
    PathError,
    check_shot_id,
    normalize_episode,
    parse_clip_version,
    parse_scene_file,
)
from spark_video.base.scenefmt import parse_scene_md, render_scene_md
from spark_video.base.schemas import render_all
from spark_video.base.settings import REPO_ROOT, env_overrides, resolve
from spark_video.providers.base import CallContext
from spark_video.roles import review_policy


def write_fragment(paths: EpisodePaths, num: int, shots: list[dict], **scene) -> Path:
    frag = {"scene": {"id": f"S{num:02d}", "name": "x", "description": "a harbour at night",
                      **scene},
            "shots": shots}
    p = paths.scene_json(num)
    p.write_text(json.dumps(frag))
    return p


def shot(sid: str, **kw) -> dict:
    base = {"id": sid, "scene": sid[:3], "kind": "t2v", "duration": 4,
            "prompt": f"prompt of {sid}", "narrative_purpose": "establish the harbour"}
    base.update(kw)
    return base


def test_ids_are_validated_and_never_escape(projects):
    assert check_shot_id("S01-002") == "S01-002"
    assert check_shot_id("S01-002b") == "S01-002b"
    for bad in ("../S01-001", "S01-001/..", "S1-1", "S01_001", "/etc/passwd", ""):
        with pytest.raises(PathError):
            check_shot_id(bad)
    assert normalize_episode("episode-7") == "007"
    with pytest.raises(PathError):
        normalize_episode("../7")
    with pytest.raises(PathError):
        EpisodePaths.of("../evil", "1", root=projects)


def test_artifact_names_are_parsed_where_they_are_built(tmp_path):
    ep = EpisodePaths.of("p", "1", tmp_path)
    for num in (1, 12, 100):
        assert parse_scene_file(ep.scene_md(num).name) == (num, "md")
        assert parse_scene_file(ep.scene_json(num).name) == (num, "json")
    for name in ("scene-1.md", "scene-007.md", "scene-01.txt", "xscene-01.md"):
        assert parse_scene_file(name) is None
    assert parse_clip_version(ep.clip_version("S01-002b", 12).name) == ("S01-002b", 12)
    assert parse_clip_version(ep.clip("S01-002").name) is None
    for item, build in (("scene_md", lambda: ep.scene_md(3)), ("clip", lambda: ep.clip("S01-002")),
                        ("last_frame", lambda: ep.last_frame("S01-002")),
                        ("gate_barrier", lambda: ep.gate_barrier("render"))):
        wildcard = {"scene_md": "03", "clip": "S01-002", "last_frame": "S01-002",
                    "gate_barrier": "render"}[item]
        key = ep.pattern(item).split("{")[1].split("}")[0]
        assert ep.pattern(item).format(**{key: wildcard}) == str(build())
    assert ep.scene_files("md") == [] and ep.clip_versions() == {}
    for p in (ep.scene_md(2), ep.scene_md(10), ep.scene_json(2), ep.scenes_dir / "notes.md",
              ep.clip_version("S01-001", 2), ep.clip_version("S01-001", 10),
              ep.clip_version("S01-001b", 1), ep.clip("S01-002"), ep.clips_dir / "x.mp4"):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert ep.scene_files("md") == [ep.scene_md(2), ep.scene_md(10)]
    assert ep.scene_files("json") == [ep.scene_json(2)]
    assert ep.clip_versions() == {"S01-001": {2: ep.clip_version("S01-001", 2),
                                              10: ep.clip_version("S01-001", 10)},
                                  "S01-001b": {1: ep.clip_version("S01-001b", 1)}}


def test_shot_validation_names_the_field(tmp_path):
    p = tmp_path / "scene-01.json"
    p.write_text(json.dumps({"scene": {"id": "S01", "name": "n", "description": "d"},
                             "shots": [shot("S01-001"), shot("S01-002", duration=99)]}))
    with pytest.raises(InputError) as e:
        load_model(SceneFragment, p)
    assert "scene-01.json" in str(e.value) and "shots[1] (id S01-002).duration" in str(e.value)
    p.write_text('{"scene": ')
    with pytest.raises(InputError, match="malformed JSON at line 1"):
        load_model(SceneFragment, p)
    with pytest.raises(ValueError, match="narration_text"):
        Shot(**shot("S01-001", role="narration"))


def test_scene_markdown_roundtrip_both_formats(tmp_path):
    drama = ("## Scene 2 — Harbour wall (night)\n\n**Characters:** Mara, Theo\n"
             "**Pacing:** storm (external) + doubt (internal)\n**Estimated duration:** 20\n"
             "**Backstory:** The boat is late.\n**Action:** Mara climbs. Theo waits.\n"
             '**Dialog:**\n- Mara: "We sail at dawn."\n- Theo: "Not without the lamp."\n')
    s = parse_scene_md(drama, "scene-02.md")
    assert (s.num, s.location, s.time_of_day, s.mode) == (2, "Harbour wall", "night", "drama")
    assert [d.speaker for d in s.dialog] == ["Mara", "Theo"]
    assert parse_scene_md(render_scene_md(s), "x") == s
    narr = ("## Scene 1 — Cliff (dawn)\n\n**Type:** narration\n**Characters:** Mara\n"
            "**Estimated duration:** 8\n**Backstory:** b\n**Beats:**\n"
            '1. Narration: "The island woke to silence."\n'
            "   Visual: Fog over the cliff. Suggested duration: 4s\n"
            '2. Dialog:\n   - Mara: "Where is he?"\n   Visual: Mara turns.\n')
    n = parse_scene_md(narr, "scene-01.md")
    assert n.mode == "narration" and n.beats[0].duration == 4
    assert n.beats[1].dialog[0].text == "Where is he?"
    assert parse_scene_md(render_scene_md(n), "x") == n
    with pytest.raises(InputError, match="scene-09.md: missing heading"):
        parse_scene_md("no heading here", "scene-09.md")
    with pytest.raises(InputError, match="field Dialog"):
        parse_scene_md(drama.replace('- Theo: "Not', "Theo says Not"), "s.md")


def test_compile_graph_estimate_and_per_shot_specs(ep, cfg):
    write_fragment(ep, 1, [shot("S01-001", use_prev_last_frame_as_first=False),
                           shot("S01-002", kind="r2v", characters=["Mara"], duration=6),
                           shot("S01-003", kind="r2v", characters=["Theo"])])
    write_fragment(ep, 2, [shot("S02-001", use_prev_last_frame_as_first=False, duration=5)])
    sb = storyboard.compile_storyboard(ep, cfg, "drama")
    assert [s.id for s in sb.shots] == ["S01-001", "S01-002", "S01-003", "S02-001"]
    assert storyboard.chain_groups(sb) == [["S01-001", "S01-002", "S01-003"], ["S02-001"]]
    spec2 = json.loads(ep.shot_spec("S01-002").read_text())
    assert spec2["prev_shot"] == "S01-001"
    mtimes = {p.name: p.stat().st_mtime_ns for p in (ep.root / "shots").iterdir()}
    # editing one shot rewrites only that shot's spec
    frag = json.loads(ep.scene_json(1).read_text())
    frag["shots"][2]["prompt"] = "a new prompt"
    ep.scene_json(1).write_text(json.dumps(frag))
    storyboard.compile_storyboard(ep, cfg, "drama")
    after = {p.name: p.stat().st_mtime_ns for p in (ep.root / "shots").iterdir()}
    assert {n for n in after if after[n] != mtimes[n]} == {"S01-003.json"}
    # the music answer is read from bgm-config.json, not copied into storyboard.json
    ep.bgm_config.write_text(BGMConfig(forbid_model_bgm=True).model_dump_json())
    assert storyboard.compile_storyboard(ep, cfg, "drama").bgm is None
    assert json.loads(ep.storyboard.read_text())["bgm"] is None
    assert "background music" in json.loads(ep.shot_spec("S01-001").read_text())[
        "shot"]["negative_prompt"]

    bl = cfg.model_copy(update={"provider": "bl"})
    sb_bl = sb.model_copy(update={"provider": "bl"})
    est = storyboard.estimate(sb_bl, bl)
    assert est.duration_by_kind == {"t2v": {"shots": 2, "seconds": 9},
                                    "r2v": {"shots": 2, "seconds": 10}}
    rev = est.cost["review"]  # the reviews of one round are paid calls too
    assert rev["model"] == "qwen3.5-omni-plus" and rev["cost"] > 0
    assert est.cost["total"] == pytest.approx(19 * 0.9 + rev["cost"])  # happyhorse 0.9 CNY/s
    assert est.parallel_groups == 2 and not est.over_long_confirm
    long = storyboard.estimate(sb_bl, bl.model_copy(update={"long_confirm_s": 10}))
    assert long.over_long_confirm


def test_unknown_price_is_reported_not_guessed(ep, cfg):
    write_fragment(ep, 1, [shot("S01-001")])
    sb = storyboard.build_storyboard(ep, cfg, "drama").model_copy(
        update={"resolution": "480P", "provider": "bl"})
    est = storyboard.estimate(sb, cfg)
    assert est.cost["total"] is None
    assert "no price data for happyhorse-1.0-t2v" in est.cost["note"]


def test_compile_refuses_bad_input_and_writes_nothing(ep, cfg):
    write_fragment(ep, 1, [shot("S01-001")])
    storyboard.compile_storyboard(ep, cfg, "drama")
    before = ep.storyboard.read_bytes()
    write_fragment(ep, 2, [shot("S02-001", kind="r2v", characters=["Ghost"])])
    with pytest.raises(InputError, match=r"scene-02.json.*unknown character 'Ghost'"):
        storyboard.compile_storyboard(ep, cfg, "drama")
    write_fragment(ep, 2, [shot("S01-001")])
    with pytest.raises(InputError, match="scene-02.json"):
        storyboard.compile_storyboard(ep, cfg, "drama")
    assert ep.storyboard.read_bytes() == before
    assert not ep.shot_spec("S02-001").exists()


def test_storyboard_rules():
    with pytest.raises(ValueError, match="duplicate shot id"):
        Storyboard(title="t", shots=[Shot(**shot("S01-001")), Shot(**shot("S01-001"))])
    with pytest.raises(ValueError, match="bgm.mode=global needs bgm.track"):
        Storyboard(title="t", shots=[Shot(**shot("S01-001"))],
                   bgm=BGMConfig(enabled=True, mode="global"))


def test_gate_stamps_close_when_an_artifact_changes(ep, cfg):
    assert gates.why_closed(ep, "script") == ["not approved yet"]
    with pytest.raises(gates.GateError, match="script.md exists"):
        gates.approve(ep, "script")
    ep.scene_md(1).write_text("## Scene 1 — A (day)\n**Action:** x.\n")
    storyboard.compile_script(ep)
    gates.approve(ep, "script", note="ok")
    assert gates.is_open(ep, "script")
    stamp = json.loads(ep.approval("script").read_text())
    assert set(stamp["artifacts"]) == {"scenes/scene-01.md", "script.md"}
    ep.scene_md(1).write_text("## Scene 1 — B (day)\n**Action:** y.\n")
    assert gates.why_closed(ep, "script") == ["scenes/scene-01.md changed since approval"]
    ep.scene_md(2).write_text("## Scene 2 — C (day)\n**Action:** z.\n")
    assert "scenes/scene-02.md is new since approval" in gates.why_closed(ep, "script")
    msg = gates.closed_message(ep, "script")
    assert "spark-video approve script --project demo --episode 005" in msg


def test_gates_hash_an_artifact_only_when_its_size_or_mtime_changed(ep, cfg, monkeypatch):
    # a settle window far longer than any approve takes on a loaded machine
    monkeypatch.setattr(gates, "STAT_SETTLE_NS", 60 * 10**9)
    ep.scene_md(1).write_text("## Scene 1 — A (day)\n**Action:** x.\n")
    storyboard.compile_script(ep)
    fresh = gates.approve(ep, "script")
    assert fresh.stats == {}  # written just now: too recent to trust its mtime
    old = time.time_ns() - 120 * 10**9
    for p in (ep.scene_md(1), ep.script):
        os.utime(p, ns=(old, old))
    stamp = gates.approve(ep, "script")
    assert set(stamp.stats) == {"scenes/scene-01.md", "script.md"}
    hashed: list[Path] = []
    real = gates.sha256_file
    monkeypatch.setattr(gates, "sha256_file", lambda p: hashed.append(Path(p)) or real(p))
    gates._memo.clear()  # a new Snakemake run
    assert gates.is_open(ep, "script") and hashed == []
    os.utime(ep.script, ns=(old + 1, old + 1))  # touched: hashed again, still approved
    assert gates.is_open(ep, "script") and hashed == [ep.script]
    assert gates.is_open(ep, "script") and hashed == [ep.script]  # once per version
    ep.script.write_text(ep.script.read_text() + "more\n")  # edited in the same run: seen
    assert gates.why_closed(ep, "script") == ["script.md changed since approval"]


def test_one_gate_table_serves_rules_jobs_and_cli(ep, cfg):
    assert gates.GATES == ("mode", "bgm", "script", "storyboard", "render", "final")
    for name in ("nope", "../x"):
        for call in (gates.artifacts, gates.why_closed, gates.holds_build, gates.check):
            with pytest.raises(gates.GateError, match="unknown gate"):
                call(ep, name)
    # mode: open with no answer (default drama); bgm: not in use without tracks
    assert gates.is_open(ep, "mode") and gates.is_open(ep, "bgm")
    assert [g["gate"] for g in gates.status(ep)] == ["mode", "script", "storyboard", "render",
                                                      "final"]
    assert gates.GATE["storyboard"].targets(ep) == [str(ep.storyboard), str(ep.estimate)]
    assert gates.GATE["script"].shown_after(ep) == [ep.script]
    assert gates.GATE["render"].shown_after(ep) == [ep.shots_state]  # no storyboard yet
    assert gates.holds_build(ep, "script") and "Revise:  edit scenes/scene-NN.md" in (
        gates.closed_message(ep, "script"))


def test_every_gate_watches_the_folders_its_answer_comes_from(ep, cfg):
    """The build answers a gate once per version of what it watches (rules/common.smk
    `holds`), so each gate must watch its stamp's folder and, for every file its stamp
    covers, the file or its folder."""
    write_fragment(ep, 1, [shot("S01-001", use_prev_last_frame_as_first=False),
                           shot("S01-002")])
    storyboard.compile_storyboard(ep, cfg, "drama")
    ep.scene_md(1).write_text("# Scene 1\n\nMara lights the lamp.\n")
    storyboard.compile_script(ep)
    (ep.root / "bgm").mkdir()
    (ep.root / "bgm" / "theme.mp3").write_bytes(b"x")
    ep.bgm_config.write_text("{}")
    for name, gate in gates.GATE.items():
        watched = set(gate.watched(ep))
        assert ep.approval(name).parent in watched, name
        covered = gates.artifacts(ep, name)
        assert covered or name == "mode", name
        for p in covered:
            assert p in watched or p.parent in watched, (name, p)
    # GATE 3 is also closed by a FAILED shot state and held by a newer spec or take request
    assert {ep.state_dir, ep.root / "shots", ep.root / "takes"} <= set(
        gates.GATE["render"].watched(ep))


def test_render_gate_checks_winners_and_escalations(ep, cfg):
    write_fragment(ep, 1, [shot("S01-001")])
    storyboard.compile_storyboard(ep, cfg, "drama")
    rep = gates.check(ep, "render")
    assert not rep.passed
    assert any("S01-001 has a winner" in c.name and not c.ok for c in rep.checks)


def test_env_knobs_map_onto_config():
    over = env_overrides({"SPARK_VIDEO_MAX_CONCURRENCY": "2", "SPARK_VIDEO_PROVIDER": "bl",
                          "SPARK_VIDEO_REVIEW_THRESHOLD": "8.5",
                          "SPARK_VIDEO_CHAIN_CASCADE": "false"})
    assert over == {"api_slots": 2, "provider": "bl", "review_threshold": 8.5,
                    "chain_cascade": False}
    with pytest.raises(InputError, match="SPARK_VIDEO_MAX_RETRY"):
        env_overrides({"SPARK_VIDEO_MAX_RETRY": "many"})
    cfg = resolve({"episode": 7}, environ={"SPARK_VIDEO_VIDEO_PROVIDER": "wan27"},
                  config_file=None)
    from spark_video.base.settings import provider_for

    assert provider_for(cfg, "video") == "wan27" and provider_for(cfg, "text") == "offline"


def test_command_line_flags_beat_the_environment_in_the_cli_and_in_its_build(tmp_path):
    """`episode --provider offline` with SPARK_VIDEO_PROVIDER=bl set: the CLI and every job
    of its build resolve offline (the flags ride to Snakemake as the config key `flags`),
    and nothing in os.environ is changed to get there."""
    from spark_video.base.settings import FLAGS_KEY
    from spark_video.workflow.build import snakemake_command

    env = {"SPARK_VIDEO_PROVIDER": "bl", "SPARK_VIDEO_CROSSFADE": "1.0"}
    cfg = resolve({"flags": {"provider": "offline", "crossfade": None}}, environ=env,
                  config_file=None)
    assert cfg.provider == "offline" and cfg.crossfade == 1.0  # an unset flag leaves the env
    assert resolve({}, environ=env, config_file=None).provider == "bl"
    cmd = snakemake_command(cfg, ["final"], flags={"provider": "offline", "crossfade": None})
    i = cmd.index("--config")
    flag = next(a for a in cmd[i:] if a.startswith(f"{FLAGS_KEY}="))
    # what Snakemake's --config parser makes of it (YAML, every value a string)
    import yaml

    given = yaml.load(flag.split("=", 1)[1], Loader=yaml.BaseLoader)
    assert given == {"provider": "offline"}
    assert resolve({"flags": given}, environ=env, config_file=None).provider == "offline"
    assert not any(a.startswith(f"{FLAGS_KEY}=") for a in snakemake_command(cfg, ["final"]))
    with pytest.raises(InputError, match="flags"):
        resolve({"flags": "offline"}, environ={}, config_file=None)


def test_schemas_are_in_sync_with_the_models():
    for name, text in render_all().items():
        path = REPO_ROOT / "schemas" / name
        assert path.exists() and path.read_text() == text, \
            f"{path} is stale: run `uv run spark-video schemas`"


def test_review_accept_rule_single_axis_veto():
    from spark_video.base.models import Review

    ok = Review(verdict="REJECT", model_verdict="REJECT",
                breakdown=dict.fromkeys(review_policy.AXES, 8))
    assert review_policy.decide(ok, 7.0, 5.0).verdict == "ACCEPT"  # our rule, not the model's
    veto = Review(verdict="ACCEPT",
                  breakdown={**dict.fromkeys(review_policy.AXES, 10), "physics": 5})
    d = review_policy.decide(veto, 7.0, 5.0)
    assert d.verdict == "REJECT" and d.vetoed_axes == ["physics"] and d.score == 9.17
    low = Review(verdict="ACCEPT", breakdown=dict.fromkeys(review_policy.AXES, 6.9))
    assert review_policy.decide(low, 7.0, 5.0).verdict == "REJECT"
    err = Review(verdict="ERROR", error="unparseable")
    assert review_policy.decide(err, 7.0, 5.0).verdict == "ERROR"


def test_offline_writer_and_director_are_deterministic_and_valid(ep, cfg):
    from spark_video.base.project import load_lore, load_manifest

    ctx = CallContext(ep, cfg, phase="screenwriter")
    lore, _ = load_lore(ep)
    cast = load_manifest(ep, "cast")
    for mode in ("drama", "narration"):
        o1 = roles.write_outline(ctx, premise="A storm. A bottle. A choice.", lore=lore,
                                 cast=cast, mode=mode)
        o2 = roles.write_outline(ctx, premise="A storm. A bottle. A choice.", lore=lore,
                                 cast=cast, mode=mode)
        assert o1 == o2 and len(o1.scenes) == 3
        md = roles.write_scene(ctx, outline=o1, num=1, lore=lore, cast=cast)
        frag = roles.direct_scene(ctx, scene_md=md, num=1, lore=lore, cast=cast,
                                  sets=load_manifest(ep, "set"),
                                  props=load_manifest(ep, "prop"), mode=mode)
        assert frag.shots[0].use_prev_last_frame_as_first is False
        assert all(s.prompt.endswith(lore.mood_anchor) for s in frag.shots)
        if mode == "narration":
            assert any(s.role == "narration" and s.narration_text for s in frag.shots)
    calls = ep.model_calls.read_text().splitlines()
    assert calls and all(json.loads(c)["provider"] == "offline" for c in calls)


def test_one_redaction_rule_for_logs_and_pages(monkeypatch):
    from spark_video.base.redaction import make_redactor, redact

    monkeypatch.setenv("DASHSCOPE_API_KEY", "abcd")  # a provider key: masked however short
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-0123456789")
    monkeypatch.setenv("SHORT_SECRET", "word")  # short and not a provider key: left alone
    text = ("key abcd, token tok-0123456789, pasted sk-ABCDEFGHIJKLMNOPqrst, "
            "header Bearer eyJhbGciOiJIUzI1, a word")
    out = redact(text)
    assert out == make_redactor()(text)
    for secret in ("abcd", "tok-0123456789", "sk-ABCD", "eyJhbGci"):
        assert secret not in out
    assert out.endswith("a word") and out.count("***") == 4
    assert redact(None) is None and redact("") == ""


def test_one_call_log_reader_reports_torn_lines(tmp_path):
    from spark_video.base.io import append_jsonl, read_jsonl
    from spark_video.providers.budget import read_calls

    log = tmp_path / "logs" / "model_calls.jsonl"
    assert read_jsonl(log) == [] and read_calls(log) == []
    append_jsonl(log, {"cost": 1.5})
    with log.open("a", encoding="utf-8") as f:
        f.write("\n[1, 2]\n{\"cost\": 2")  # blank, not an object, torn by a crash
    records = read_jsonl(log)
    assert records[0] == (1, {"cost": 1.5})
    assert records[1] == (3, "not a JSON object") and records[2][0] == 4
    assert records[2][1].startswith("malformed JSON")
    assert read_calls(log) == [{"cost": 1.5}]
