"""ffmpeg plumbing shared by every stage: the binary, probing, frames, canvas sizes.

The ffmpeg binary comes from imageio-ffmpeg (so `uv sync` is enough); there is no
ffprobe in that package, so `probe()` reads ffmpeg's own stream header.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import ffmpeg  # ffmpeg-python

from .io import atomic_write_bytes


class MediaError(RuntimeError):
    pass


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run(stream_or_args, *, what: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run an ffmpeg-python graph (or a raw argument list) with the bundled binary."""
    if isinstance(stream_or_args, list):
        args = [ffmpeg_exe(), *stream_or_args]
    else:
        args = stream_or_args.compile(cmd=ffmpeg_exe())
    if quiet and "-loglevel" not in args:
        args = [args[0], "-hide_banner", "-nostdin", "-loglevel", "error", *args[1:]]
    proc = subprocess.run(args, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise MediaError(f"ffmpeg failed while {what}: {tail}")
    return proc


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    vcodec: str | None = None
    pix_fmt: str | None = None
    acodec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def has_video(self) -> bool:
        return self.vcodec is not None

    @property
    def has_audio(self) -> bool:
        return self.acodec is not None


_DUR = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VID = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(?:[^,]*)?,\s*(\w+)?.*?(\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"(\d+(?:\.\d+)?) fps")
_AUD = re.compile(r"Stream #\d+:\d+.*?: Audio: (\w+).*?(\d+) Hz, ([\w.()]+)")


def probe(path: Path) -> MediaInfo:
    """Duration, size, codecs of a media file (raises MediaError if unreadable)."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{path}: file not found")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True, errors="replace")
    err = proc.stderr
    m = _DUR.search(err)
    if "Invalid data" in err or (not m and "Duration: N/A" not in err):
        raise MediaError(f"{path}: not a readable media file")
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0
    info: dict = {"path": path, "duration": duration}
    for line in err.splitlines():
        if "Video:" in line and "vcodec" not in info:
            v = _VID.search(line)
            if v:
                info.update(vcodec=v.group(1), pix_fmt=v.group(2), width=int(v.group(3)),
                            height=int(v.group(4)))
                f = _FPS.search(line)
                info["fps"] = float(f.group(1)) if f else None
        elif "Audio:" in line and "acodec" not in info:
            a = _AUD.search(line)
            if a:
                ch = a.group(3)
                channels = {"mono": 1, "stereo": 2}.get(ch, 2)
                info.update(acodec=a.group(1), sample_rate=int(a.group(2)), channels=channels)
    return MediaInfo(**info)


def exact_duration(path: Path) -> float:
    """Decode the file to measure its real length (the container header may round)."""
    proc = run(["-i", str(path), "-map", "0:v:0?", "-map", "0:a:0?", "-f", "null", "-"],
               what=f"measuring {path}", quiet=False)
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", proc.stderr)
    if not times:
        return probe(path).duration
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


RESOLUTION_HEIGHT = {"360P": 360, "480P": 480, "540P": 540, "720P": 720, "1080P": 1080}


def canvas_size(resolution: str, ratio: str) -> tuple[int, int]:
    """(width, height), both even: the short side is the resolution's line count."""
    short = RESOLUTION_HEIGHT.get(resolution.upper())
    if short is None:
        m = re.match(r"^(\d{3,4})P$", resolution.upper())
        if not m:
            raise MediaError(f"unknown resolution {resolution!r}")
        short = int(m.group(1))
    a, b = (int(x) for x in ratio.split(":"))
    if a >= b:
        w, h = short * a / b, short
    else:
        w, h = short, short * b / a
    return int(round(w / 2)) * 2, int(round(h / 2)) * 2


def extract_frame(clip: Path, out: Path, *, last: bool) -> Path:
    """Write the first or the last frame of `clip` as a PNG (atomically)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.png")
    if last:
        # seek near the end, keep overwriting one image: the last decoded frame wins
        args = ["-y", "-sseof", "-1", "-i", str(clip), "-update", "1", "-q:v", "1", str(tmp)]
    else:
        args = ["-y", "-i", str(clip), "-frames:v", "1", str(tmp)]
    run(args, what=f"extracting the {'last' if last else 'first'} frame of {clip}")
    if not tmp.exists():
        raise MediaError(f"{clip}: no frame could be extracted")
    atomic_write_bytes(out, tmp.read_bytes())
    tmp.unlink(missing_ok=True)
    return out


__all__ = ["ffmpeg", "MediaError", "MediaInfo", "canvas_size", "exact_duration",
           "extract_frame", "ffmpeg_exe", "probe", "run"]
