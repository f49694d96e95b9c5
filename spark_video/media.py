"""ffmpeg plumbing shared by every stage: the binary, probing, frames, canvas sizes.

The ffmpeg binary comes from imageio-ffmpeg (so `uv sync` is enough); there is no
ffprobe in that package, so `probe()` reads ffmpeg's own stream header.

Analysis helpers: `scan()` (one decoding pass: black and frozen intervals, EBU R128
loudness, decoded duration), `loudness()`, `has_audio()`, `frame_image()` (a frame as a
PIL image), `mean_frame_diff()` (how alike two pictures are). Fonts that never depend on
the machine: `default_font_file()` (for drawtext/libass), `cjk_font_file()` when installed.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import subprocess
import tempfile
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
    if "-nostdin" not in args:  # ffmpeg must never read (or set up) the terminal
        args = [args[0], "-nostdin", *args[1:]]
    if quiet and "-loglevel" not in args:
        args = [args[0], "-hide_banner", "-loglevel", "error", *args[1:]]
    proc = subprocess.run(args, capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL)
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
                          capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL)
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




# --------------------------------------------------------------------------- analysis


def has_audio(path: Path) -> bool:
    """True when the file has at least one audio stream (header only, no decoding)."""
    return probe(path).has_audio


def has_video(path: Path) -> bool:
    """True when the file has at least one video stream (header only, no decoding)."""
    return probe(path).has_video


_EBUR_I = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-?inf|nan) LUFS")
_EBUR_TP = re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-?inf|nan) dBFS")
_EBUR_LRA = re.compile(r"Loudness range:\s*\n\s*LRA:\s*(-?[\d.]+|-?inf|nan) LU")

SILENCE_LUFS = -70.0  # ebur128's floor: what it reports for digital silence


def _num(text: str | None, default: float) -> float:
    try:
        v = float(text) if text is not None else default
    except ValueError:
        return default
    return default if math.isnan(v) or math.isinf(v) else v


def parse_ebur128(stderr: str) -> dict[str, float] | None:
    """The summary of an `ebur128=peak=true` run (None when the filter printed none).

    Keys: integrated_lufs, true_peak_dbtp, lra_lu. Silence reads -70 LUFS / -inf peak
    (reported as -70.0 and -120.0 so the numbers stay JSON-safe).
    """
    i = _EBUR_I.findall(stderr)
    if not i:
        return None
    tp = _EBUR_TP.findall(stderr)
    lra = _EBUR_LRA.findall(stderr)
    return {
        "integrated_lufs": round(_num(i[-1], SILENCE_LUFS), 2),
        "true_peak_dbtp": round(_num(tp[-1] if tp else None, -120.0), 2),
        "lra_lu": round(_num(lra[-1] if lra else None, 0.0), 2),
    }


def loudness(path: Path) -> dict[str, float]:
    """EBU R128 loudness of the first audio stream: {integrated_lufs, true_peak_dbtp, lra_lu}.

    Raises MediaError when the file has no audio stream.
    """
    path = Path(path)
    if not has_audio(path):
        raise MediaError(f"{path}: no audio stream to measure")
    proc = run(["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=quiet",
                "-f", "null", "-"], what=f"measuring the loudness of {path}", quiet=False)
    res = parse_ebur128(proc.stderr)
    if res is None:
        raise MediaError(f"{path}: the loudness scan printed no summary")
    return res


def _time_to_s(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


@dataclass
class ScanResult:
    """What one decoding pass of `scan()` measured (times in seconds)."""

    duration: float
    video_frames: int | None
    black: list[tuple[float, float]]
    frozen: list[tuple[float, float]]
    loudness: dict[str, float] | None  # None when there is no audio stream

    @property
    def black_s(self) -> float:
        return round(sum(e - s for s, e in self.black), 3)

    @property
    def frozen_s(self) -> float:
        return round(sum(e - s for s, e in self.frozen), 3)


def scan(path: Path, *, black_min_s: float = 0.5, freeze_min_s: float = 2.0,
         black_pix_th: float = 0.10, freeze_noise_db: float = -60.0) -> ScanResult:
    """Decode the file once: black intervals (blackdetect), frozen intervals
    (freezedetect), EBU R128 loudness (ebur128, true peak) and the decoded duration.

    The video is analysed at most 640 px wide (enough for both detectors, much faster).
    """
    path = Path(path)
    info = probe(path)
    args = ["-i", str(path)]
    if info.has_video:
        vf = (f"scale='min(640,iw)':-2,blackdetect=d={black_min_s:g}:pix_th={black_pix_th:g},"
              f"freezedetect=n={freeze_noise_db:g}dB:d={freeze_min_s:g}")
        args += ["-map", "0:v:0", "-vf", vf]
    if info.has_audio:
        args += ["-map", "0:a:0", "-af", "ebur128=peak=true:framelog=quiet"]
    args += ["-f", "null", "-"]
    proc = run(args, what=f"analysing {path}", quiet=False)
    err = proc.stderr
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", err)
    duration = _time_to_s(*times[-1]) if times else info.duration
    frames = None
    fr = re.findall(r"frame=\s*(\d+)", err)
    if fr and info.has_video:
        frames = int(fr[-1])
        if info.fps:
            # the container's real length is the longer stream; video alone is frames/fps
            duration = max(duration, frames / info.fps) if info.has_audio else frames / info.fps
    black = [(float(a), float(b)) for a, b in
             re.findall(r"black_start:\s*(-?[\d.]+)\s+black_end:\s*(-?[\d.]+)", err)]
    frozen: list[tuple[float, float]] = []
    start: float | None = None
    for key, val in re.findall(r"lavfi\.freezedetect\.freeze_(start|end):\s*(-?[\d.]+)", err):
        if key == "start":
            start = float(val)
        elif start is not None:
            frozen.append((start, float(val)))
            start = None
    if start is not None:  # frozen until the end: freezedetect never closes the interval
        frozen.append((start, duration))
    return ScanResult(duration=round(duration, 3), video_frames=frames, black=black,
                      frozen=frozen, loudness=parse_ebur128(err) if info.has_audio else None)


def frame_image(clip: Path, *, last: bool = False, width: int | None = None):
    """The first (or last) frame of `clip` as a PIL image, read through a pipe (no file).

    `width` downscales while decoding (keeps the aspect ratio).
    """
    from PIL import Image

    vf = f"scale={width}:-2" if width else "null"
    if last:  # decode the last second, every frame goes out as a PNG; the final one wins
        args = ["-sseof", "-1", "-i", str(clip), "-vf", vf]
    else:
        args = ["-i", str(clip), "-frames:v", "1", "-vf", vf]
    args += ["-an", "-c:v", "png", "-f", "image2pipe", "-"]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise MediaError(f"{clip}: no frame could be decoded: {' '.join(tail)}")
    data = proc.stdout
    if last:  # several PNGs back to back: keep the final one
        idx = data.rfind(b"\x89PNG\r\n\x1a\n")
        data = data[idx:]
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def mean_frame_diff(img_a, img_b, *, size: tuple[int, int] = (64, 36)) -> float:
    """Mean absolute difference (0–255) of two images, both shrunk to `size` in greyscale.

    Accepts paths or PIL images; different sizes are fine (both are resized). 0 means
    identical; re-encoded copies of one picture read below ~4, unrelated pictures 20+.
    """
    from PIL import Image, ImageChops, ImageStat

    def prep(x):
        im = x if isinstance(x, Image.Image) else Image.open(x)
        return im.convert("L").resize(size, Image.Resampling.BILINEAR)

    diff = ImageChops.difference(prep(img_a), prep(img_b))
    return float(ImageStat.Stat(diff).mean[0])


# --------------------------------------------------------------------------- fonts


@functools.cache
def has_filter(name: str) -> bool:
    """True when the bundled ffmpeg has the filter `name` (e.g. drawtext, subtitles)."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-filters"],
                          capture_output=True, text=True, errors="replace",
                          stdin=subprocess.DEVNULL)
    return re.search(rf"^\s*\S+\s+{re.escape(name)}\s", proc.stdout, re.M) is not None


@functools.cache
def default_font_file() -> Path:
    """A TrueType font file that always exists: Pillow's embedded font, cached on disk.

    Use it for ffmpeg's drawtext (`fontfile=`) or libass, so text rendering does not
    depend on the machine's installed fonts. Latin only; see `cjk_font_file()`.
    """
    from PIL import ImageFont

    data = ImageFont.load_default(size=12).font_bytes  # Pillow >= 10.1
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"spark-video-font-{digest}.ttf"
    if not path.exists() or path.stat().st_size != len(data):
        atomic_write_bytes(path, data)
    return path


CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)


@functools.cache
def cjk_font_file() -> Path | None:
    """A font with Chinese/Japanese glyphs if this machine has one installed, else None."""
    for cand in CJK_FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    return None


__all__ = ["ffmpeg", "MediaError", "MediaInfo", "ScanResult", "SILENCE_LUFS", "canvas_size",
           "cjk_font_file", "default_font_file", "exact_duration", "extract_frame", "ffmpeg_exe",
           "frame_image", "has_audio", "has_filter", "has_video", "loudness", "mean_frame_diff",
           "parse_ebur128", "probe", "run", "scan"]
