"""Hostile inputs in the files a user (or a crash) can spoil: each gives one clear message
naming the file and the field, and leaves every existing artifact byte-identical."""

from __future__ import annotations

import json
import os

import pytest
from test_render_loop import cfg, compile_one, ep  # noqa: F401 - fixtures

from spark_video import gates
from spark_video.base.io import InputError
from spark_video.render import render_shot

pytestmark = pytest.mark.slow  # each case renders a shot first


def snapshot(root):
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def rendered(ep, cfg):  # noqa: F811
    compile_one(ep, cfg)
    render_shot(ep, cfg, "S01-001", log=lambda m: None)
    return ep


@pytest.mark.parametrize("media", ["/etc/passwd", "../../../etc/passwd",
                                   "demo/../other/cast/x.png", "LINK"])
def test_media_path_leaving_the_project_is_refused(rendered, cfg, tmp_path, media):  # noqa: F811
    ep = rendered  # noqa: F811
    if media == "LINK":  # a symlink inside the project that points outside it
        outside = tmp_path / "outside.png"
        outside.write_bytes(b"x")
        link = ep.project_paths.root / "cast" / "link.png"
        os.symlink(outside, link)
        media = f"{ep.project}/cast/link.png"
    spec_p = ep.shot_spec("S01-001")
    spec = json.loads(spec_p.read_text())
    spec["media"] = [media]
    spec_p.write_text(json.dumps(spec))
    before = snapshot(ep.root / "clips") | snapshot(ep.root / "state")
    with pytest.raises(InputError) as e:
        render_shot(ep, cfg, "S01-001", log=lambda m: None)
    msg = str(e.value)
    assert str(spec_p) in msg and "field media" in msg and "outside the project" in msg
    assert "Traceback" not in msg
    assert snapshot(ep.root / "clips") | snapshot(ep.root / "state") == before


@pytest.mark.parametrize("content", [b"", b'{"gate": "render", "approved_by"', b"\xff\xfe{",
                                     b"[]"])
def test_truncated_approval_stamp_is_named(rendered, content):
    ep = rendered  # noqa: F811
    p = ep.approval("storyboard")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    reasons = gates.why_closed(ep, "storyboard")
    assert len(reasons) == 1 and str(p) in reasons[0] and "unreadable" in reasons[0]
    assert "uv run spark-video approve storyboard" in reasons[0]
    assert p.read_bytes() == content


@pytest.mark.parametrize("content", [b"", b'{"shot_id": "S01-001", "attempts": [{"vers',
                                     b'{"shot_id": "S01-001", "attempts": 3}'])
def test_crash_truncated_state_file_is_named(rendered, cfg, content):  # noqa: F811
    ep = rendered  # noqa: F811
    p = ep.shot_state("S01-001")
    p.write_bytes(content)
    before = snapshot(ep.root / "clips")
    with pytest.raises(InputError) as e:
        render_shot(ep, cfg, "S01-001", log=lambda m: None)
    assert str(p) in str(e.value)
    assert snapshot(ep.root / "clips") == before


SPOILED = {
    "empty": b"",
    "truncated": b'{"shot": {"id": "S01-001", "scene": "S01", "ki',
    "not utf-8": b'{"shot": "\xff\xfe\xfd"}',
    "a list": b"[1, 2]",
    "wrong type": None,  # filled below: duration "long"
    "unknown field": None,  # filled below: an extra key
}


@pytest.fixture
def compiled(ep, cfg):  # noqa: F811
    compile_one(ep, cfg)
    return ep


@pytest.mark.parametrize("case", list(SPOILED))
def test_spoiled_shot_spec_is_named_before_paying(compiled, cfg, case):  # noqa: F811
    ep = compiled  # noqa: F811
    p = ep.shot_spec("S01-001")
    data = SPOILED[case]
    if case == "wrong type":
        d = json.loads(p.read_text())
        d["shot"]["duration"] = "long"
        data = json.dumps(d).encode()
    elif case == "unknown field":
        d = json.loads(p.read_text())
        d["shot"]["colour"] = "red"
        data = json.dumps(d).encode()
    p.write_bytes(data)
    before = snapshot(ep.root)
    with pytest.raises(InputError) as e:
        render_shot(ep, cfg, "S01-001", log=lambda m: None)
    assert str(p) in str(e.value) and "Traceback" not in str(e.value)
    assert snapshot(ep.root) == before  # nothing written, nothing paid
    if case in ("wrong type", "unknown field"):
        assert "field shot." in str(e.value)


@pytest.mark.parametrize("case", ["empty", "truncated", "not utf-8", "a list", "bad duration",
                                  "bad shot id", "path in shot id"])
def test_spoiled_scene_json_keeps_the_storyboard(compiled, cfg, case):  # noqa: F811
    from spark_video import storyboard

    ep = compiled  # noqa: F811
    p = ep.scene_json(1)
    d = json.loads(p.read_text())
    data = {"empty": b"", "truncated": p.read_bytes()[:40], "not utf-8": b"\xff\xfe{}",
            "a list": b"[]"}.get(case)
    if data is None:
        if case == "bad duration":
            d["shots"][0]["duration"] = -3
        elif case == "bad shot id":
            d["shots"][0]["id"] = "shot one"
        else:
            d["shots"][0]["id"] = "../../etc/passwd"
        data = json.dumps(d).encode()
    p.write_bytes(data)
    before = snapshot(ep.root)
    with pytest.raises(InputError) as e:
        storyboard.compile_storyboard(ep, cfg, "drama")
    assert str(p) in str(e.value) and "Traceback" not in str(e.value)
    assert snapshot(ep.root) == before
