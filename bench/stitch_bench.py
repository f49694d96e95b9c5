"""Stitch benchmark: time against one plain re-encode, and peak memory, at 40 and 300 clips.

    uv run python bench/stitch_bench.py [--clips 40,300] [--seconds 4] [--size 1280x720]
                                        [--crossfade 0.5] [--no-music] [--repeat 1]
                                        [--impl OTHER_CHECKOUT]

Builds a synthetic episode of N lavfi clips (moving test pattern + a tone for a voice; one in
eight has no audio, one in six is portrait and one in seven is 4:3, so the stitch letterboxes;
each shot has a dialog line), a global music track, and then times, in the same run:

  plain   one ffmpeg re-encode of a file of the final cut's length (the stitched mp4 itself)
          with the stitch's own encoder settings (libx264 veryfast + AAC);
  first   `stitch_episode()` end to end on the fresh episode: plan, reels, sound, mux, SRT;
  mix     the stitch again after a music volume change (bgm-config.json): no picture;
  take    the stitch again after a new take of one shot in the middle of the cut.

and prints every time and its ratio to plain, for each clip count. The stitch runs in a child
process; its peak memory is the largest resident set of that process tree (the ffmpeg
children included), from wait4. The summary gives the peak at the largest count divided by
the peak at the smallest. The best of --repeat runs is taken for each time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

# --impl: the child imports another checkout's package (e.g. the code before a change)
sys.path.insert(0, os.environ.get("STITCH_BENCH_IMPL")
                or str(Path(__file__).resolve().parent.parent))

from spark_video.base.io import atomic_write_json  # noqa: E402
from spark_video.base.models import BGMConfig, Storyboard, WorkflowConfig  # noqa: E402
from spark_video.base.paths import EpisodePaths  # noqa: E402
from spark_video.media import exact_duration, ffmpeg_exe  # noqa: E402
from spark_video.stitch import encode_args, stitch_episode  # noqa: E402

FF = ffmpeg_exe()


def ff(*args: str) -> None:
    subprocess.run([FF, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True)


def build_episode(root: Path, n: int, seconds: float, size: str, music: bool) -> EpisodePaths:
    paths = EpisodePaths.of("bench", "001", root=root)
    paths.scaffold()
    w, h = (int(x) for x in size.split("x"))
    shots = []
    for i in range(n):
        scene = f"S{i // 10 + 1:02d}"
        sid = f"{scene}-{i % 10 + 1:03d}"
        shots.append({"id": sid, "scene": scene, "prompt": "bench shot", "duration": 4,
                      "dialog": [{"speaker": "Ann", "text": f"This is line {i + 1}."}]})
        if i % 6 == 5:
            cw, ch = h * 9 // 16 // 2 * 2, h  # portrait
        elif i % 7 == 6:
            cw, ch = h * 4 // 3 // 2 * 2, h  # 4:3
        else:
            cw, ch = w, h
        src = f"testsrc2=size={cw}x{ch}:rate=24:duration={seconds}"
        args = ["-f", "lavfi", "-i", src]
        if i % 8 != 7:
            args += ["-f", "lavfi", "-i",
                     f"sine=frequency={300 + 40 * (i % 10)}:sample_rate=48000:duration={seconds}",
                     "-filter_complex", "[1:a]volume=0.1[a]", "-map", "0:v", "-map", "[a]",
                     "-c:a", "aac", "-b:a", "128k"]
        ff(*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           str(paths.clip(sid)))
    bgm = None
    if music:
        track = paths.project_paths.bgm_dir / "theme.wav"
        track.parent.mkdir(parents=True, exist_ok=True)
        ff("-f", "lavfi", "-i", "anoisesrc=color=pink:sample_rate=48000:duration=30:seed=3",
           "-af", "lowpass=f=600,volume=0.3", "-ac", "2", str(track))
        bgm = BGMConfig(enabled=True, mode="global", track="theme")
    sb = Storyboard(title="Bench", resolution=f"{min(w, h)}P", ratio="16:9", shots=shots,
                    bgm=bgm)
    atomic_write_json(paths.storyboard, sb)
    return paths


def new_take(paths: EpisodePaths, n: int, seconds: float, size: str) -> str:
    """A new take of the middle shot: another picture and tone, same length (as a render)."""
    w, h = (int(x) for x in size.split("x"))
    i = n // 2
    sid = f"S{i // 10 + 1:02d}-{i % 10 + 1:03d}"
    ff("-f", "lavfi", "-i", f"smptebars=size={w}x{h}:rate=24:duration={seconds}",
       "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}",
       "-filter_complex", "[1:a]volume=0.1[a]", "-map", "0:v", "-map", "[a]",
       "-c:a", "aac", "-b:a", "128k", "-c:v", "libx264", "-preset", "ultrafast",
       "-pix_fmt", "yuv420p", str(paths.clip(sid)))
    return sid


def _run_measured(cmd: list[str], env: dict[str, str] | None = None
                  ) -> tuple[float, int, str, float]:
    """Run `cmd`, return (wall seconds, peak RSS in bytes of the largest process in its tree,
    stdout, CPU seconds of the tree). wait4 reports the child's own peak or that of its
    largest waited-for descendant (the ffmpeg processes of a stitch), whichever is larger."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode})")
    return wall, usage.ru_maxrss * 1024, out, usage.ru_utime + usage.ru_stime


def plain_reencode(src: Path, out: Path, fps: Fraction) -> tuple[float, int, float]:
    wall, peak, _, cpu = _run_measured([FF, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                                   "-i", str(src), "-map", "0:v:0", "-map", "0:a:0",
                                   *encode_args(fps), str(out)])
    return wall, peak, cpu


def child_stitch(root: Path, crossfade: float) -> int:
    """In a child process (so its peak memory is measured alone): stitch, print the result."""
    paths = EpisodePaths.of("bench", "001", root=root)
    cfg = WorkflowConfig(project="bench", episode="001", crossfade=crossfade)
    t0 = time.monotonic()
    res = stitch_episode(paths, cfg, progress=lambda f: None)
    print(json.dumps({"elapsed": time.monotonic() - t0, "result": res.model_dump(
        include={"width", "height", "fps", "shots_count", "crossfade", "bgm_mode", "passes"})}))
    return 0


def measure(n: int, a: argparse.Namespace, tmp: Path) -> dict[str, float]:
    root = tmp / f"projects-{n}"
    t0 = time.monotonic()
    paths = build_episode(root, n, a.seconds, a.size, not a.no_music)
    print(f"[{n} clips] built {n} clips of {a.seconds:g} s at {a.size} in "
          f"{time.monotonic() - t0:.1f} s", flush=True)
    env = dict(os.environ)
    if a.impl:  # measure another checkout's stitch (e.g. the code before a change)
        env["STITCH_BENCH_IMPL"] = str(Path(a.impl).resolve())
    child = [sys.executable, str(Path(__file__).resolve()), "--child", str(root),
             "--crossfade", str(a.crossfade)]
    times: dict[str, list[float]] = {"first": [], "mix": [], "take": []}
    peaks: list[int] = []
    plain_times, plain_peaks, cpu = [], [], []
    info: dict = {}
    for rep in range(max(1, a.repeat)):
        if rep:  # every repeat starts from nothing built
            shutil.rmtree(paths.final_mp4.parent, ignore_errors=True)
        _, peak, out, c = _run_measured(child, env=env)
        info = json.loads(out.strip().splitlines()[-1])
        times["first"].append(info["elapsed"])
        peaks.append(peak)
        cpu.append(c)
        fps = Fraction(info["result"]["fps"]).limit_denominator(1001)
        wall, ppeak, _ = plain_reencode(paths.final_mp4, tmp / "plain.mp4", fps)
        plain_times.append(wall)
        plain_peaks.append(ppeak)
        if not a.no_music:  # a mix-only change: the music 20 % quieter
            bgm = BGMConfig(enabled=True, mode="global", track="theme",
                            volume=0.2 if rep % 2 == 0 else 0.25)
            atomic_write_json(paths.bgm_config, bgm)
            _, peak, out, _ = _run_measured(child, env=env)
            times["mix"].append(json.loads(out.strip().splitlines()[-1])["elapsed"])
            peaks.append(peak)
        new_take(paths, n, a.seconds, a.size)
        _, peak, out, _ = _run_measured(child, env=env)
        times["take"].append(json.loads(out.strip().splitlines()[-1])["elapsed"])
        peaks.append(peak)
    r = info["result"]
    final_len = exact_duration(paths.final_mp4)
    plain_s = min(plain_times)
    print(f"[{n} clips] final cut {final_len:.2f} s ({r['width']}x{r['height']} @ "
          f"{r['fps']:g} fps, {r['shots_count']} shots, crossfade {r['crossfade']:g} s, music "
          f"{r['bgm_mode']}, {r['passes']} ffmpeg passes)")
    ratios = {k: min(v) / plain_s for k, v in times.items() if v}
    print(f"[{n} clips] plain re-encode {plain_s:.2f} s (peak {max(plain_peaks) / 2**20:.0f} MB)"
          + "".join(f" | {k} {min(times[k]):.2f} s = {ratios[k]:.2f}x" for k in ratios)
          + f" | stitch peak {max(peaks) / 2**20:.0f} MB", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    return {"ratios": ratios, "peak": max(peaks)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default="40,300",
                    help="comma-separated clip counts, measured one after the other")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--crossfade", type=float, default=0.5)
    ap.add_argument("--no-music", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--impl", help="import spark_video from this checkout for the stitch")
    ap.add_argument("--keep", action="store_true", help="keep the temporary episodes")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_stitch(Path(a.child), a.crossfade)

    counts = [int(x) for x in a.clips.split(",") if x.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="stitch-bench-"))
    try:
        got = {n: measure(n, a, tmp) for n in counts}
        print("summary:")
        for n, m in got.items():
            print(f"  {n:4d} clips: " + ", ".join(f"{k} / plain {v:.2f}"
                                                for k, v in m["ratios"].items())
                  + f", peak memory {m['peak'] / 2**20:.0f} MB")
        if len(counts) > 1:
            lo, hi = counts[0], counts[-1]
            print(f"  peak memory {hi} clips / {lo} clips: "
                  f"{got[hi]['peak'] / got[lo]['peak']:.2f}")
        return 0
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
