"""ffmpeg plumbing shared by every stage: the binary, probing, frames, canvas sizes.

The ffmpeg binary comes from imageio-ffmpeg (so `uv sync` is enough); there is no
ffprobe in that package, so `probe()` reads ffmpeg's own stream header. `run()` is the one
way to start ffmpeg (`-nostdin`, optional progress, error tail).

Analysis helpers: `scan()` (one decoding pass: black and frozen intervals, EBU R128
loudness, decoded duration), `file_loudness()` / `measure_graph()` (EBU R128 as one
`Loudness` type), `has_audio()`, `frame_image()` (a frame as a
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..base.io import atomic_write_bytes
from ..base.paths import poster_of


class MediaError(RuntimeError):
    pass


def looks_whole(path: Path) -> bool:
    """A cheap structural check, no decoding, that a clip or frame was written to its end
    (not 0-byte, not cut short by a crash or a full disk): no MP4/MOV top-level box runs
    past the end of the file and one of them is `moov`; a PNG ends with its IEND chunk; any
    other file is not empty. A few small reads per file, so the build can ask for every
    shot. (Bytes appended after the last box are an edit, not a truncation.)"""
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        with open(path, "rb") as fh:
            if path.suffix.lower() == ".png":
                head = fh.read(8)
                fh.seek(max(0, size - 12))
                return head == b"\x89PNG\r\n\x1a\n" and fh.read(12)[4:8] == b"IEND"
            if path.suffix.lower() not in (".mp4", ".mov", ".m4a"):
                return True
            pos, boxes = 0, set()
            while pos < size:
                fh.seek(pos)
                head = fh.read(16)
                if len(head) < 8:
                    break
                n, kind = int.from_bytes(head[:4], "big"), head[4:8]
                if n == 1:
                    n = int.from_bytes(head[8:16], "big") if len(head) == 16 else 0
                elif n == 0:
                    n = size - pos
                if n < 8 or pos + n > size:
                    return False
                boxes.add(kind)
                pos += n
            return b"moov" in boxes
    except OSError:
        return False


@functools.cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run(args: list[str], *, what: str, quiet: bool = True, text: bool = True,
        progress: Callable[[float], None] | None = None, expected_s: float = 0.0,
        cwd: Path | None = None, tail_lines: int = 12) -> subprocess.CompletedProcess:
    """The one way to run the bundled ffmpeg with an argument list (filter graphs are built
    by typed-ffmpeg in the stitch and passed here as arguments).

    Always `-hide_banner -nostdin` (a build never waits on the terminal). `quiet` adds
    `-loglevel error` (leave it off when the caller parses ffmpeg's stderr). `progress`
    receives the fraction done (out_time / `expected_s`, 0..1) read from `-progress pipe:1`.
    A failure raises MediaError naming `what`, with the last `tail_lines` lines of stderr.
    `text=False` keeps stdout as bytes (images piped out).
    """
    args = [ffmpeg_exe(), *args]
    head = [flag for flag in ("-hide_banner", "-nostdin") if flag not in args]
    if quiet and "-loglevel" not in args:
        head += ["-loglevel", "error"]
    if (quiet or progress is not None) and "-nostats" not in args:
        head += ["-nostats"]
    if progress is not None:
        head += ["-progress", "pipe:1"]
    args = [args[0], *head, *args[1:]]
    if progress is None:
        proc = subprocess.run(args, capture_output=True, text=text, cwd=cwd,
                              stdin=subprocess.DEVNULL, **({"errors": "replace"} if text else {}))
        stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
    else:
        proc, stderr = _run_with_progress(args, progress, expected_s, cwd)
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-tail_lines:])
        raise MediaError(f"ffmpeg failed while {what}: {tail}")
    return proc


def _run_with_progress(args: list[str], progress: Callable[[float], None], expected_s: float,
                       cwd: Path | None) -> tuple[subprocess.CompletedProcess, str]:
    """Popen ffmpeg, feeding `progress` from its `-progress pipe:1` key=value lines; stderr
    goes to a temporary file (a full pipe would stall ffmpeg)."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as err:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, text=True, errors="replace", cwd=cwd)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                key, _, val = line.strip().partition("=")
                if key in ("out_time_us", "out_time_ms") and val.lstrip("-").isdigit():
                    if expected_s > 0:
                        progress(max(0.0, min(1.0, int(val) / 1e6 / expected_s)))
                elif key == "progress" and val == "end":
                    progress(1.0)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        err.seek(0)
        stderr = err.read()
    return subprocess.CompletedProcess(args, rc, "", stderr), stderr


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


def extract_frame(clip: Path, out: Path, *, last: bool = False, at: float | None = None,
                  width: int | None = None) -> Path:
    """Write one frame of `clip` as an image, atomically: the first, the last (`last`) or the
    one `at` seconds in; a PNG, or a JPEG for a .jpg name; `width` scales a wider one down."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    if last:
        # seek near the end, keep overwriting one image: the last decoded frame wins
        args = ["-y", "-sseof", "-1", "-i", str(clip), "-update", "1", "-q:v", "1"]
    elif at:
        args = ["-y", "-ss", f"{at:.3f}", "-i", str(clip), "-frames:v", "1", "-q:v", "3"]
    else:
        args = ["-y", "-i", str(clip), "-frames:v", "1"]
    if width:
        args += ["-vf", f"scale='min({width},iw)':-2"]
    which = "last" if last else f"{at:.1f} s" if at else "first"
    run([*args, str(tmp)], what=f"extracting the {which} frame of {clip}")
    if not tmp.exists():
        raise MediaError(f"{clip}: no frame could be extracted")
    atomic_write_bytes(out, tmp.read_bytes())
    tmp.unlink(missing_ok=True)
    return out


def make_poster(video: Path, duration_s: float | None = None, *, width: int = 640) -> Path:
    """The still a page shows before `video` plays (`paths.poster_of`: a JPEG next to it):
    its middle frame, else its first. Made by the job that makes the video."""
    out = poster_of(video)
    if duration_s:
        try:
            return extract_frame(video, out, at=duration_s / 2, width=width)
        except MediaError:
            pass  # shorter than it should be: its first frame still shows what it is
    return extract_frame(video, out, width=width)




# --------------------------------------------------------------------------- analysis


def has_audio(path: Path) -> bool:
    """True when the file has at least one audio stream (header only, no decoding)."""
    return probe(path).has_audio


def has_video(path: Path) -> bool:
    """True when the file has at least one video stream (header only, no decoding)."""
    return probe(path).has_video


SILENCE_LUFS = -70.0  # ebur128's floor: at or below it a signal counts as silence


@dataclass(frozen=True)
class Loudness:
    """EBU R128 summary of one measurement. Digital silence reads -inf (integrated and
    peak); use `json_safe()` for numbers that go into JSON files."""

    integrated: float  # LUFS
    true_peak: float  # dBTP
    lra: float = 0.0  # LU

    def json_safe(self) -> dict[str, float]:
        """{integrated_lufs, true_peak_dbtp, lra_lu} with -inf floored at -70 / -120."""
        def floor(v: float, lowest: float) -> float:
            return round(v, 2) if math.isfinite(v) else lowest
        return {"integrated_lufs": floor(self.integrated, SILENCE_LUFS),
                "true_peak_dbtp": floor(self.true_peak, -120.0),
                "lra_lu": floor(self.lra, 0.0)}


_EBUR_I = re.compile(r"I:\s+(-?[\d.]+|-?inf|nan)\s+LUFS")
_EBUR_LRA = re.compile(r"LRA:\s+(-?[\d.]+|-?inf|nan)\s+LU\b")
_EBUR_PEAK = re.compile(r"Peak:\s+(-?[\d.]+|-?inf|nan)\s+dBFS")


def _level(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        return float("-inf")
    return v if math.isfinite(v) else float("-inf")


def parse_ebur128(stderr: str) -> Loudness | None:
    """The last summary an `ebur128=peak=true` filter logged (None when it printed none)."""
    idx = stderr.rfind("Summary:")
    if idx < 0:
        return None
    tail = stderr[idx:]
    mi, ml, mp = _EBUR_I.search(tail), _EBUR_LRA.search(tail), _EBUR_PEAK.search(tail)
    if not mi:
        return None
    lra = _level(ml.group(1)) if ml else 0.0
    return Loudness(_level(mi.group(1)), _level(mp.group(1)) if mp else float("-inf"),
                    lra if math.isfinite(lra) else 0.0)


def measure_graph(input_args: list[str], graph: str, label: str, *, what: str) -> Loudness:
    """Loudness of the audio label `label` of a filter graph (`graph` may be empty: then
    `label` is an input stream such as `0:a:0`). Raises MediaError when nothing was measured."""
    g = f"{graph};[{label}]ebur128=peak=true:framelog=quiet[_meas]" if graph else (
        f"[{label}]ebur128=peak=true:framelog=quiet[_meas]")
    proc = run(["-nostats", *input_args, "-filter_complex", g, "-map", "[_meas]",
                "-f", "null", "-"], what=what, quiet=False)
    res = parse_ebur128(proc.stderr)
    if res is None:
        raise MediaError(f"ffmpeg printed no loudness summary while {what}")
    return res


@functools.lru_cache(maxsize=256)
def _file_loudness(path: str, _mtime: float, _size: int, start: float | None,
                   duration: float | None) -> Loudness:
    args = []
    if start is not None:
        args += ["-ss", f"{start:.3f}"]
    if duration is not None:
        args += ["-t", f"{duration:.3f}"]
    args += ["-i", path]
    return measure_graph(args, "", "0:a:0", what=f"measuring the loudness of {path}")


def file_loudness(path: Path, start: float | None = None,
                  duration: float | None = None) -> Loudness:
    """EBU R128 loudness of a file's first audio stream (cached per file version).

    Raises MediaError when the file has no audio stream.
    """
    path = Path(path)
    st = path.stat()
    try:
        return _file_loudness(str(path.resolve()), st.st_mtime, st.st_size, start, duration)
    except MediaError:
        if not has_audio(path):
            raise MediaError(f"{path}: no audio stream to measure") from None
        raise


def _time_to_s(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


@dataclass
class ScanResult:
    """What one decoding pass of `scan()` measured (times in seconds)."""

    duration: float
    video_frames: int | None
    black: list[tuple[float, float]]
    frozen: list[tuple[float, float]]
    loudness: Loudness | None  # None when there is no audio stream

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
    proc = run(args, what=f"decoding a frame of {clip}", text=False)
    if not proc.stdout:
        raise MediaError(f"{clip}: no frame could be decoded")
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


__all__ = ["Loudness", "MediaError", "MediaInfo", "ScanResult", "SILENCE_LUFS",
           "canvas_size", "file_loudness", "measure_graph",
           "cjk_font_file", "default_font_file", "exact_duration", "extract_frame", "ffmpeg_exe",
           "frame_image", "has_audio", "has_filter", "has_video", "mean_frame_diff",
           "parse_ebur128", "probe", "run", "scan"]
