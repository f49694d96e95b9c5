"""Stitch benchmark (SPEC §14: stitching costs no more than ~1.3x one plain re-encode).

    uv run python bench/stitch_bench.py [--clips 40] [--seconds 4] [--size 1280x720]
                                        [--crossfade 0.5] [--no-music] [--repeat 1]

Builds a synthetic episode of N lavfi clips (moving test pattern + a tone for a voice; one in
eight has no audio, one in six is portrait and one in seven is 4:3, so the stitch letterboxes;
each shot has a dialog line), a global music track, and then times, in the same run:

  plain   one ffmpeg re-encode of a file of the final cut's length (the stitched mp4 itself)
          with the stitch's own encoder settings (libx264 veryfast + AAC);
  stitch  `stitch_episode()` end to end: plan, loudness passes, the one a/v pass, SRT.

and prints both times and stitch / plain. The best of --repeat runs is taken for each.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spark_video.io import atomic_write_json  # noqa: E402
from spark_video.media import exact_duration, ffmpeg_exe, probe  # noqa: E402
from spark_video.models import BGMConfig, Storyboard, WorkflowConfig  # noqa: E402
from spark_video.paths import EpisodePaths  # noqa: E402
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


def plain_reencode(src: Path, out: Path, fps: Fraction) -> float:
    t0 = time.monotonic()
    ff("-i", str(src), "-map", "0:v:0", "-map", "0:a:0", *encode_args(fps), str(out))
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--crossfade", type=float, default=0.5)
    ap.add_argument("--no-music", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the temporary episode")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="stitch-bench-"))
    try:
        t0 = time.monotonic()
        paths = build_episode(tmp / "projects", a.clips, a.seconds, a.size, not a.no_music)
        print(f"built {a.clips} clips of {a.seconds:g} s at {a.size} in "
              f"{time.monotonic() - t0:.1f} s ({tmp})", flush=True)
        cfg = WorkflowConfig(project="bench", episode="001", crossfade=a.crossfade)

        stitch_times, plain_times = [], []
        res = None
        for _ in range(max(1, a.repeat)):
            t0 = time.monotonic()
            res = stitch_episode(paths, cfg, progress=lambda f: None)
            stitch_times.append(time.monotonic() - t0)
            fps = Fraction(res.fps).limit_denominator(1001)
            plain_times.append(plain_reencode(paths.final_mp4, tmp / "plain.mp4", fps))
        assert res is not None
        final_len = exact_duration(paths.final_mp4)
        info = probe(tmp / "plain.mp4")
        stitch_s, plain_s = min(stitch_times), min(plain_times)
        print(f"final cut: {final_len:.2f} s ({res.width}x{res.height} @ {res.fps:g} fps, "
              f"{res.shots_count} shots, crossfade {res.crossfade:g} s, music "
              f"{res.bgm_mode}, {res.passes} ffmpeg passes: audio-only loudness passes + 1 a/v)")
        print(f"plain re-encode ({info.duration:.2f} s, same encoder settings): {plain_s:.2f} s")
        print(f"stitch (plan + loudness + one a/v pass + srt):  {stitch_s:.2f} s")
        print(f"ratio stitch / plain: {stitch_s / plain_s:.2f}")
        return 0
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
