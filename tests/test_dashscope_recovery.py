"""A lost submit (sent, answer never read) is found in the account's task list whichever
timezone the list's start_time/end_time mean (UTC or Beijing, UTC+8)."""

from __future__ import annotations

import pytest
from fake_dashscope import fake_dashscope_fixture  # noqa: F401 - fixture
from test_dashscope_video import ctx_of, ep_fixture, spec_of  # noqa: F401 - fixture

from spark_video.providers import capabilities, get_provider
from spark_video.providers.dashscope import DashScopeVideo
from spark_video.providers.http import SubmitOutcomeUnknown


@pytest.mark.parametrize("tz_hours", [0, 8, -8])
def test_lost_submit_recovered_whatever_the_list_timezone(fake_dashscope, ep, monkeypatch,
                                                          tz_hours):
    monkeypatch.setenv("SPARK_VIDEO_HTTP_TIMEOUT_S", "0.5")
    fake_dashscope.list_tz_hours = tz_hours
    fake_dashscope.hang_submits, fake_dashscope.hang_submit_s = 1, 2.0
    res = get_provider("video", ctx_of(ep).cfg).render(ctx_of(ep), spec_of(), "ok",
                                                       ep.clip_version("S01-001", 1),
                                                       first_frame=None, media=[])
    assert fake_dashscope.total_submissions == 1 and res.task_id in fake_dashscope.tasks
    assert len(fake_dashscope.bill) == 1  # adopted, paid once


def test_window_spans_the_utc_and_beijing_dates_around_midnight(ep, monkeypatch):
    """An intent at 23:30 UTC on Dec 7 is 07:30 on Dec 8 in Beijing: the window asked for
    holds both readings of the same instant (and the dates on both sides of midnight)."""
    seen = {}

    class T:
        base_url = "http://x/api/v1"

        def list_tasks(self, *, start, end, model=None):
            seen.update(start=start, end=end)
            return []

    vid = DashScopeVideo.__new__(DashScopeVideo)
    vid.name = "bl"
    checked = capabilities.CheckedRequest("happyhorse-1.0-t2v", "t2v", 5, "720P", "16:9")
    intent = {"ts": "2026-12-07T23:30:00Z", "intent": "x"}
    with pytest.raises(SubmitOutcomeUnknown):
        vid._adopt(ctx_of(ep), T(), intent, checked, "ok")
    t0 = 1796686200.0  # 2026-12-07 23:30:00 UTC
    assert seen["start"] <= t0 - 8 * 3600 and seen["end"] >= t0 + 8 * 3600
