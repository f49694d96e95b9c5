"""The cut as Snakemake targets (rules/stitch.smk), on the real graph: a change runs exactly
the jobs of the parts it touches (reel, speech, master, the stitch's mux), and the final
they make is the one a build from nothing (final/ deleted) makes: the same decoded frames,
the same length to the frame, the sound within 0.1 LU integrated and 0.1 dB true peak, the
same SRT."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FINISHED_EP, offline_env, run_cli, run_snakemake

from spark_video import media
from spark_video.base.io import atomic_write_json
from spark_video.base.models import BGMConfig
from spark_video.media import exact_duration, ffmpeg_exe

pytestmark = pytest.mark.slow

FF = ffmpeg_exe()
EP = FINISHED_EP


def ff(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True)


def frame_hashes(path: Path) -> list[str]:
    """(pts, md5) of every decoded picture frame (ffmpeg's framemd5 muxer)."""
    out = subprocess.run([FF, "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5",
                          "-"], capture_output=True, text=True, check=True).stdout
    return [",".join(p.strip() for i, p in enumerate(line.split(",")) if i in (2, 5))
            for line in out.splitlines() if line.strip() and not line.startswith("#")]


def jobs_run(proc: subprocess.CompletedProcess) -> dict[str, list[str]]:
    """rule -> the reel numbers (or "") of the jobs Snakemake ran, from its output."""
    out: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
        m = re.match(r"(?:local)?rule (\w+):", block)
        if m:
            num = re.search(r"wildcards: num=(\d+)", block)
            out.setdefault(m.group(1), []).append(num.group(1) if num else "")
    return {k: sorted(v) for k, v in out.items()}


class Build:
    def __init__(self, projects: Path):
        self.projects = projects
        self.env = {**offline_env(projects), "SPARK_VIDEO_REEL_SHOTS": "3"}
        self.d = projects / "demo" / f"episode-{EP}"

    def final(self) -> dict[str, list[str]]:
        r = run_snakemake(self.env, self.projects, "final", "-j2", "--resources",
                          "api_slots=2", episode=EP)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        return jobs_run(r)

    def revise(self, *args: str) -> dict[str, list[str]]:
        """`spark-video revise ...` (it builds): the jobs its Snakemake run ran."""
        logs = self.d / "logs" / "snakemake"
        seen = set(logs.glob("*.log"))
        r = run_cli(self.env, "revise", *args, "--project", "demo", "--episode", EP)
        assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
        new = sorted(set(logs.glob("*.log")) - seen)
        assert len(new) == 1, new
        return jobs_run(subprocess.CompletedProcess([], 0, new[0].read_text(), ""))

    @property
    def mp4(self) -> Path:
        return self.d / "final" / f"demo-{EP}.mp4"

    def clip(self, shot: str) -> Path:
        return self.d / "clips" / f"{shot}.mp4"

    def new_take(self, shot: str, pad_s: float = 0.0) -> None:
        """Another picture of the shot (negated), `pad_s` longer, as if rendered again; the
        producer approves GATE 3 again."""
        clip = self.clip(shot)
        tmp = clip.with_name(".take.mp4")
        ff("-i", str(clip), "-vf", f"negate,tpad=stop_mode=clone:stop_duration={pad_s}",
           "-af", f"apad=pad_dur={pad_s}", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-c:a", "aac", str(tmp))
        tmp.replace(clip)
        run_cli(self.env, "approve", "render", "--project", "demo", "--episode", EP, check=True)

    def assert_equal_to_scratch(self) -> None:
        inc = self.d / "incremental.mp4"
        shutil.copy(self.mp4, inc)
        srt = self.mp4.with_suffix(".srt").read_text(encoding="utf-8")
        shutil.rmtree(self.d / "final")
        ran = self.final()
        reels = [f"{n:02d}" for n in range(1, len(ran["reel"]) + 1)]
        assert ran["reel"] == ran["speech"] == reels and ran["master"] == [""]
        assert frame_hashes(inc) == frame_hashes(self.mp4)
        assert abs(exact_duration(inc) - exact_duration(self.mp4)) < 1 / 24
        a, b = media.file_loudness(inc), media.file_loudness(self.mp4)
        assert abs(a.integrated - b.integrated) <= 0.1, (a, b)
        assert abs(a.true_peak - b.true_peak) <= 0.1, (a, b)
        assert srt == self.mp4.with_suffix(".srt").read_text(encoding="utf-8")
        inc.unlink()


def test_each_change_runs_only_its_parts_and_equals_a_build_from_nothing(finished_copy):
    """Nine shots in reels of three (reel 1: shots 1-3, reel 2: 4-6, reel 3: 7-9), a global
    music track: a music change runs the master and the mux, no reel and no speech bus; a
    new take in the middle of reel 2 runs reel 2 and its speech; a longer take at reel 3's
    first shot runs reels 2 (it renders that crossfade in) and 3. Each time the final
    equals a build from nothing."""
    b = Build(finished_copy)
    track = finished_copy / "demo" / "bgm" / "theme.wav"
    track.parent.mkdir(parents=True, exist_ok=True)
    ff("-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:duration=20:seed=3",
       "-af", "lowpass=f=600,volume=0.3", "-ac", "2", str(track))
    bgm = b.d / "bgm-config.json"
    atomic_write_json(bgm, BGMConfig(enabled=True, mode="global", track="theme"))
    run_cli(b.env, "approve", "bgm", "--project", "demo", "--episode", EP, check=True)
    # reels of 3 instead of 8, on a copy (Snakemake has no record of the reels' params
    # here): reel 3 is new, and the mux job makes reels 1 and 2 again, their keys having
    # moved -- the final is still the one a build from nothing makes
    ran = b.final()
    assert "03" in ran["reel"], ran
    assert "01" in ran["reel"] or "made again by the mux job (their keys had moved): " \
        "reels [1, 2]" in (b.d / "logs" / "jobs" / "stitch.log").read_text()
    b.assert_equal_to_scratch()
    assert sorted(p.name for p in (b.d / "final" / "reels").glob("reel-*.mp4")) == [
        "reel-01.mp4", "reel-02.mp4", "reel-03.mp4"]
    assert b.final() == {}  # nothing to do

    # the mix, as at GATE 4: `spark-video revise music`
    ran = b.revise("music", "--note", "music quieter")
    assert json.loads(bgm.read_text())["volume"] == BGMConfig().volume * 0.5
    assert "reel" not in ran and "speech" not in ran, ran
    assert ran["master"] == [""] and ran["stitch"] == [""]
    b.assert_equal_to_scratch()

    shots = [s["id"] for s in json.loads((b.d / "storyboard.json").read_text())["shots"]]
    assert len(shots) == 9
    # a new take in the middle of reel 2
    b.new_take(shots[4])
    ran = b.final()
    assert ran["reel"] == ran["speech"] == ["02"], ran
    assert ran["master"] == [""] and ran["stitch"] == [""]
    b.assert_equal_to_scratch()

    # a longer take of reel 3's first shot: reel 2 renders its crossfade in
    b.new_take(shots[6], pad_s=0.5)
    before = exact_duration(b.mp4)
    ran = b.final()
    assert ran["reel"] == ran["speech"] == ["02", "03"], ran
    assert exact_duration(b.mp4) == pytest.approx(before + 0.5, abs=1 / 24)
    b.assert_equal_to_scratch()


def test_a_narration_change_runs_its_voices_their_reels_and_the_mix(run_env, projects, cfg):
    """A narration episode in reels of three. "The narration is too fast" at GATE 4 (the
    narration settings: a slower voice) makes every voice again, then exactly the reels
    that show a narration shot (and the reel before one that opens a reel: it renders that
    crossfade in), their speech buses and the mix, no render; the final equals a build
    from nothing."""
    from spark_video.base.paths import EpisodePaths
    from spark_video.gates.revisions import Revision

    env = {**run_env, "SPARK_VIDEO_REEL_SHOTS": "3"}
    r = run_cli(env, "episode", "demo", EP, "--mode", "narration", "--yes", timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    b = Build(projects)
    b.env = env
    sb = json.loads((b.d / "storyboard.json").read_text())
    narrated = [i for i, s in enumerate(sb["shots"])
                if s.get("role") == "narration" and s.get("narration_text")]
    assert narrated
    assert b.final() == {}
    paths = EpisodePaths.of("demo", EP, root=projects)
    Revision("narration", "the narration is too fast, slow it down", "final").apply(paths, cfg)
    ran = b.final()
    touched = {f"{k // 3 + 1:02d}" for k in narrated} | {
        f"{k // 3:02d}" for k in narrated if k % 3 == 0 and k}
    assert sorted(ran["narration"]) == [""] * len(narrated), ran
    assert set(ran["reel"]) == touched and set(ran["speech"]) == touched, ran
    assert ran["master"] == [""] and "render_clip" not in ran
    b.assert_equal_to_scratch()
