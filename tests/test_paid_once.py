"""Never pay twice: an intent line is on disk before every paid POST; a run killed between
the POST and its answer adopts the task from the account's task list on resume (exactly one
match), or stops the shot asking for --resubmit. The spend cap holds across processes through
O_EXCL reservation files (no flock)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture, spec_of  # noqa: F401 - fixture

from spark_video.providers import budget, get_provider
from spark_video.providers.base import BudgetExceeded
from spark_video.providers.dashscope_http import DashScopeTransport


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler sees it."""


def kill_after_post(monkeypatch):
    real = DashScopeTransport.submit

    def submit(self, path, body, *, oss):
        real(self, path, body, oss=oss)  # the server accepted and created the task...
        raise Killed  # ...and the process died before reading the answer

    monkeypatch.setattr(DashScopeTransport, "submit", submit)
    return lambda: monkeypatch.setattr(DashScopeTransport, "submit", real)


def test_killed_between_post_and_answer_adopts_the_task(fake_dashscope, ep, monkeypatch):
    restore = kill_after_post(monkeypatch)
    out = ep.clip_version("S01-001", 1)
    for sid, prompt in (("S01-001", "a lighthouse"), ("S01-002", "a harbour")):
        with pytest.raises(Killed):
            get_provider("video", ctx_of(ep).cfg).render(
                ctx_of(ep, shot=sid), spec_of(shot_id=sid), prompt, out, first_frame=None,
                media=[])
    restore()
    lines = [json.loads(x) for x in ep.model_calls.read_text().splitlines()]
    # the intent was written before each POST; nothing answered it
    assert [x["status"] for x in lines] == ["intent", "error", "intent", "error"]
    assert lines[0]["intent"] and not lines[1].get("intent")
    assert fake_dashscope.total_submissions == 2
    # resume: two unknown tasks of the same model in the window; each shot adopts its own
    got = {}
    for sid, prompt in (("S01-002", "a harbour"), ("S01-001", "a lighthouse")):
        res = get_provider("video", ctx_of(ep).cfg).render(
            ctx_of(ep, shot=sid), spec_of(shot_id=sid), prompt,
            ep.clip_version(sid, 1), first_frame=None, media=[])
        got[sid] = res.task_id
        assert fake_dashscope.tasks[res.task_id].prompt == prompt
    assert fake_dashscope.total_submissions == 2 and len(set(got.values())) == 2
    assert fake_dashscope.list_calls >= 2


def test_render_shot_reports_unknown_submit_with_resubmit_command(fake_dashscope, projects,
                                                                 monkeypatch):
    from test_render_failures import cfg_of, compile_shots

    from spark_video.base.paths import EpisodePaths
    from spark_video.base.project import write_manifest
    from spark_video.render import render_shot

    monkeypatch.setenv("SPARK_VIDEO_TEXT_PROVIDER", "offline")
    ep = EpisodePaths.of("demo", "9", root=projects)
    ep.scaffold()
    for kind in ("cast", "set", "prop"):
        write_manifest(ep, kind)
    cfg = cfg_of()
    compile_shots(ep, cfg)
    restore = kill_after_post(monkeypatch)
    with pytest.raises(Killed):
        render_shot(ep, cfg, "S01-001", log=lambda m: None)
    restore()
    fake_dashscope.list_hides = True
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.failed and st.failed.code == "SubmitOutcomeUnknown"
    assert st.failed.retry.startswith("uv run spark-video render --shot S01-001 --resubmit")
    assert fake_dashscope.total_submissions == 1
    fake_dashscope.list_hides = False
    st = render_shot(ep, cfg, "S01-001", log=lambda m: None, sleep=lambda s: None)
    assert st.failed is None and st.winner_version == 1  # adopted once the list shows it
    assert fake_dashscope.total_submissions == 1 and len(fake_dashscope.bill) == 1


def test_image_killed_mid_call_is_not_paid_again(fake_dashscope, ep, monkeypatch, tmp_path):
    from spark_video.providers.http import HttpTransport, SubmitOutcomeUnknown

    real = HttpTransport.json

    def dying(self, method, path, **kw):
        real(self, method, path, **kw)
        raise Killed

    monkeypatch.setattr(HttpTransport, "json", dying)
    img = get_provider("image", ctx_of(ep).cfg)
    with pytest.raises(Killed):
        img.generate(ctx_of(ep), "portrait of Ann", tmp_path / "ann.png", size="3:4")
    monkeypatch.setattr(HttpTransport, "json", real)
    with pytest.raises(SubmitOutcomeUnknown, match="SPARK_VIDEO_RESUBMIT=all"):
        img.generate(ctx_of(ep), "portrait of Ann", tmp_path / "ann.png", size="3:4")
    assert len(fake_dashscope.image_calls) == 1
    monkeypatch.setenv("SPARK_VIDEO_RESUBMIT", "all")
    img.generate(ctx_of(ep), "portrait of Ann", tmp_path / "ann.png", size="3:4")
    assert len(fake_dashscope.image_calls) == 2


RESERVER = """
import sys
from pathlib import Path
from spark_video.providers import budget
from spark_video.base.paths import EpisodePaths
from spark_video.providers.base import BudgetExceeded, CallContext
from spark_video.base.settings import resolve

ep = EpisodePaths.of("demo", "3", root=Path(sys.argv[1]))
ctx = CallContext(ep, resolve({"budget": 10.0}, environ={}, config_file=None), "render")
ok = 0
for i in range(5):
    try:
        with budget.reserve(ctx, 1.0, what="x", model="happyhorse-1.0-t2v",
                            intent=budget.new_intent(f"{i:016d}")):
            # the paid call's line: its cost now counts in the log, not the reservation
            ctx.record(provider="test", model="happyhorse-1.0-t2v", cost=1.0,
                       intent="logged", status="ok")
            ok += 1
    except BudgetExceeded:
        pass
print(ok)
"""


def test_spend_cap_holds_across_processes_without_flock(ep):
    procs = [subprocess.Popen([sys.executable, "-c", RESERVER, str(ep.root.parent.parent)],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    total = sum(int(p.communicate(timeout=60)[0]) for p in procs)
    assert total == 10  # 20 attempts of 1.0 against a cap of 10.0: exactly 10 paid
    assert budget.spend_so_far(ep) == pytest.approx(10.0)
    assert not list((ep.logs_dir / "reservations").glob("*.json"))


def test_dead_reservation_counts_until_its_call_is_logged(ep):
    from spark_video.base.settings import resolve
    from spark_video.providers.base import CallContext

    ctx = CallContext(ep, resolve({"budget": 3.0}, environ={}, config_file=None), "render")
    d = ep.logs_dir / "reservations"
    d.mkdir(parents=True)
    (d / "aaaa-1.json").write_text(json.dumps({"intent": "aaaa-1", "cost": 2.5}))
    with pytest.raises(BudgetExceeded, match="other jobs are making now"):
        budget.ensure_budget(ctx, 1.0, what="next", model="happyhorse-1.0-t2v")
    ctx.record(provider="t", model="m", intent="aaaa-1", cost=0.0, status="ok")
    budget.ensure_budget(ctx, 1.0, what="next", model="happyhorse-1.0-t2v")
    assert not (d / "aaaa-1.json").exists()
    # a stale mutex left by a killed holder is taken over
    (ep.logs_dir / ".budget.mutex").write_text("dead 1 x")
    old = time.time() - budget.LOCK_STALE_S - 5
    import os

    os.utime(ep.logs_dir / ".budget.mutex", (old, old))
    with budget.reserve(ctx, 0.5, what="y", model="m", intent="bbbb-1"):
        pass
