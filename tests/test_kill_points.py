"""A kill at many moments of one shot's render against the local DashScope server, then a
resume: the same final state, zero duplicated paid submissions, no corrupt state.

A kill is simulated in-process by a BaseException no handler catches (nothing after it runs,
as with SIGKILL; files already written stay). The whole-build SIGKILL with a real process
group is in test_dashscope_e2e.py."""

from __future__ import annotations

import hashlib
import random

import pytest
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_render_failures import cfg_of, compile_shots

from spark_video import render
from spark_video.base.io import load_model
from spark_video.base.models import ShotState
from spark_video.base.paths import EpisodePaths
from spark_video.base.project import write_manifest
from spark_video.providers import base, dashscope, dashscope_http


class Killed(BaseException):
    pass


def after(obj, name, nth=1, *, before=False):
    """Patch obj.name to die on its nth call (after doing its work, or before)."""
    real = getattr(obj, name)
    count = {"n": 0}

    def wrapper(*a, **kw):
        count["n"] += 1
        if count["n"] == nth and before:
            raise Killed(name)
        out = real(*a, **kw)
        if count["n"] == nth:
            raise Killed(name)
        return out

    return real, wrapper


# (where, object, attribute, nth call, before?) — the moments a shot's render can die
POINTS = [
    ("intent written", base.CallContext, "record", 1, False),
    ("submit POST sent, answer not read", dashscope_http.DashScopeTransport, "submit", 1,
     False),
    ("submit answered, task id not saved", base.CallContext, "record", 2, False),
    ("task id saved", render, "save_state", 2, False),
    ("first poll", dashscope_http.DashScopeTransport, "get_task", 1, False),
    ("mid poll", dashscope_http.DashScopeTransport, "get_task", 3, False),
    ("download done, not verified", dashscope_http.DashScopeTransport, "download", 1, False),
    ("settled, take not saved", base.CallContext, "record", 3, False),
    ("take saved", render, "save_state", 3, False),
    ("last frame", render, "extract_frame", 1, False),
    ("review written", render, "atomic_write_json", 1, False),
    ("promote", render, "promote", 1, True),
]
random.Random(9).shuffle(POINTS)  # the order they run in does not matter


@pytest.fixture
def ep(projects, fake_dashscope, monkeypatch):
    monkeypatch.setenv("SPARK_VIDEO_TEXT_PROVIDER", "offline")
    # a task runs long enough (1 s) that the third poll (the "mid poll" kill point) comes
    # before it ends even on a slow, loaded machine
    fake_dashscope.pending_s, fake_dashscope.running_s = 0.02, 1.0
    paths = EpisodePaths.of("demo", "9", root=projects)
    paths.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(paths, kind)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("where,obj,name,nth,before", POINTS, ids=[p[0] for p in POINTS])
def test_kill_then_resume_pays_once(ep, fake_dashscope, monkeypatch, where, obj, name, nth,
                                    before):
    cfg = cfg_of()
    compile_shots(ep, cfg)
    real, wrapper = after(obj, name, nth, before=before)
    monkeypatch.setattr(obj, name, wrapper)
    with pytest.raises(Killed):
        render.render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    monkeypatch.setattr(obj, name, real)
    load_model(ShotState, ep.shot_state("S01-001"))  # the state on disk is whole
    st = render.render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    if where == "intent written":
        # died before the POST: the account has no such task, so the outcome cannot be told
        # from a task the list has not shown yet; reported, and paying takes --resubmit
        assert st.failed and st.failed.code == "SubmitOutcomeUnknown"
        assert "--resubmit" in st.failed.retry and fake_dashscope.total_submissions == 0
        req = render.request_take(ep, "S01-001", "pay again", resubmit=True)
        st = render.render_shot(ep, cfg, "S01-001", request=req,
                                log=lambda m: None, sleep=lambda s: None)
    assert st.failed is None and st.winner_version is not None, where
    assert fake_dashscope.total_submissions == 1, where  # zero duplicated submissions
    assert len(fake_dashscope.bill) == 1
    clip = ep.clip("S01-001").read_bytes()
    assert hashlib.sha256(clip).hexdigest() in fake_dashscope.served_sha256
    # and a further run changes nothing and pays nothing
    again = render.render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert again.winner_version == st.winner_version
    assert fake_dashscope.total_submissions == 1 and ep.clip("S01-001").read_bytes() == clip


def test_points_cover_ten_or_more_moments():
    assert len(POINTS) >= 10
    assert dashscope.fingerprint({"a": 1}) == dashscope.fingerprint({"a": 1})


def test_truncated_winner_take_is_not_restored(ep, fake_dashscope):
    cfg = cfg_of()
    compile_shots(ep, cfg)
    st = render.render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    take = ep.clip_version("S01-001", st.winner_version)
    take.write_bytes(take.read_bytes()[:2000])  # a crash cut the file short
    assert not render.playable(take)
    st = render.render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert render.playable(ep.clip("S01-001")) and st.winner_version == 2
