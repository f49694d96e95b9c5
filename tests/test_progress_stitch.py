"""The progress view (workflow/build.py Progress) says what the cut's build makes again: each
reel job, the mix and the mux, from the jobs' own stage events (stitch._say)."""

from __future__ import annotations

import io
import json

from spark_video import stitch
from spark_video.workflow.build import STAGES, Progress


def test_plain_lines_name_the_reels_the_mix_and_the_mux(ep, monkeypatch, tmp_path):
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv(stitch.EVENTS_ENV, str(events))
    out = io.StringIO()
    view = Progress(ep, out, live=False, label="building")
    assert {STAGES[r] for r in ("reel", "speech", "master", "stitch")} == {"stitching"}
    view.on_event({"event": "job_info", "jobid": 1, "rule": "reel", "wildcards": {"num": "03"}})
    stitch._say("reel 3 of 12: picture (shots 17-24)")  # what the reel job says
    view.on_event({"event": "job_info", "jobid": 2, "rule": "master", "wildcards": {}})
    stitch._say("mix")
    stitch._say("mux")
    for line in events.read_text().splitlines():
        view.on_event(json.loads(line))
    assert out.getvalue().splitlines() == [
        "  stitching …", "  stitch: reel 3 of 12: picture (shots 17-24)", "  stitch: mix",
        "  stitch: mux"]
    assert view.lines()[0].startswith("building: stitch: mux")
