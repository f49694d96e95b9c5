"""The `offline` provider's media capabilities: animatic video, technical review, TTS, images.

No network, no keys, deterministic. SPEC §7: the animatic renderer makes a real H.264/AAC
clip of the exact duration and canvas, in the scene colour, with the shot text, the cast
portraits, first-frame continuity and the spoken dialog; the technical reviewer measures
the clip (duration, canvas, black and frozen frames, audio loudness, first-frame match,
portraits) and maps the findings onto the six review axes.

Fault injection (tests of the retry loop): `SPARK_VIDEO_OFFLINE_FAULTS` is a
comma-separated list of `SHOT:VERSIONS=FAULT`, VERSIONS being `1|2` or `*`, FAULT one of
black (all-black video), silent (no audio stream), short (half the duration),
frozen (a still image). Example: `S01-002:1=black,S02-001:1|2=silent,S01-003:*=short`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFont

from .. import media
from ..models import AXES, Review, ShotSpec
from .base import CallContext, PendingTask, ProviderError, RenderResult

FPS = 24
SAMPLE_RATE = 48000
FAULTS_ENV = "SPARK_VIDEO_OFFLINE_FAULTS"
FAULT_KINDS = ("black", "silent", "short", "frozen")
ANIMATIC_MODEL = "offline-animatic"
REVIEW_MODEL = "offline-technical"
TTS_MODEL = "espeak-ng"
IMAGE_MODEL = "offline-placeholder"

HOLD_S = 0.25  # a chained clip holds the previous shot's last frame this long...
FADE_S = 0.75  # ...then cross-fades into the card over this long
DURATION_TOLERANCE_S = 0.25
FIRST_FRAME_MAX_DIFF = 10.0  # mean abs diff (0-255) of 64x36 greyscale thumbnails
SILENT_LUFS = -50.0  # integrated loudness below this counts as no audible audio
BED_AMPLITUDE = 0.25  # pink noise alone (low-passed, stereo): about -30 LUFS
BED_UNDER_SPEECH = 0.06  # pink noise under speech: about -42 LUFS
SPEECH_GAIN_DB = 3.0

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


# --------------------------------------------------------------------------- faults


def parse_faults(text: str | None) -> dict[str, list[tuple[set[int] | None, str]]]:
    """`S01-002:1|2=black,S01-003:*=short` -> {shot: [(versions or None for *, fault)]}."""
    out: dict[str, list[tuple[set[int] | None, str]]] = {}
    for raw in (text or "").split(","):
        item = raw.strip()
        if not item:
            continue
        m = re.fullmatch(r"(S\d{2}-\d{3}[a-z]?):([\d|*\s]+)=(\w+)", item)
        if not m or m.group(3) not in FAULT_KINDS:
            raise ProviderError(
                f"{FAULTS_ENV}: cannot read {item!r}; expected SHOT:VERSIONS=FAULT such as "
                f"S01-002:1|2=black (faults: {', '.join(FAULT_KINDS)})")
        vs = m.group(2).replace(" ", "")
        versions = None if vs == "*" else {int(v) for v in vs.split("|") if v}
        out.setdefault(m.group(1), []).append((versions, m.group(3)))
    return out


def fault_for(shot_id: str, version: int | None, environ=None) -> str | None:
    """The fault injected for this shot and version, if any (first matching entry wins)."""
    env = os.environ if environ is None else environ
    version = version or 1
    for versions, fault in parse_faults(env.get(FAULTS_ENV)).get(shot_id, []):
        if versions is None or version in versions:
            return fault
    return None


# --------------------------------------------------------------------------- drawing


def _rgb(color: str | None, default: str = "#336699") -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(color or default)[:3]
    except ValueError:
        return ImageColor.getrgb(default)[:3]


def _luma(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b


def _lift(rgb: tuple[int, int, int], floor: float = 56.0) -> tuple[int, int, int]:
    """Keep the card clear of blackdetect: mix very dark colours toward grey."""
    y = _luma(rgb)
    if y >= floor:
        return rgb
    k = (floor - y) / (150.0 - y)
    return tuple(int(round(c + (150 - c) * k)) for c in rgb)  # type: ignore[return-value]


def _mix(a: tuple[int, ...], b: tuple[int, ...], k: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * k)) for x, y in zip(a, b, strict=False))[:3]  # type: ignore[return-value]


def _font(size: int, text: str = "") -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    size = max(8, int(size))
    if _CJK.search(text or ""):
        path = media.cjk_font_file()
        if path:
            try:
                return ImageFont.truetype(str(path), size)
            except OSError:
                pass
    return ImageFont.load_default(size=size)


def _text_w(draw: ImageDraw.ImageDraw, text: str, font) -> float:
    return draw.textlength(text, font=font)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, max_w: float, max_lines: int) -> list[str]:
    """Greedy word wrap (CJK wraps per character); the last line gets an ellipsis if cut."""
    tokens = re.findall(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]|\S+|\s+",
                        " ".join((text or "").split()))
    lines: list[str] = []
    cur = ""
    for tok in tokens:
        if len(lines) > max_lines:
            break
        cand = cur + tok
        if _text_w(draw, cand.strip(), font) <= max_w or not cur.strip():
            cur = cand
            # a single over-long word: hard-cut it (binary search for the cut)
            while _text_w(draw, cur.strip(), font) > max_w and len(cur.strip()) > 1:
                lo, hi = 1, len(cur)
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if _text_w(draw, cur[:mid].strip(), font) <= max_w:
                        lo = mid
                    else:
                        hi = mid - 1
                lines.append(cur[:lo].strip())
                cur = cur[lo:]
                if len(lines) > max_lines:
                    break
            continue
        lines.append(cur.strip())
        cur = "" if tok.isspace() else tok
    if cur.strip():
        lines.append(cur.strip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _text_w(draw, last + "…", font) > max_w:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def _thumb(path: Path, box_h: int) -> tuple[Image.Image, str]:
    label = path.parent.name if path.parent.name not in ("", ".") else path.stem
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w = max(1, int(round(im.width * box_h / max(1, im.height))))
            w = min(w, int(box_h * 1.6))
            return im.resize((w, box_h), Image.Resampling.BILINEAR), label
    except (OSError, ValueError):
        # unreadable reference: show a grey placeholder so the gap is visible
        ph = Image.new("RGB", (int(box_h * 0.75), box_h), (90, 90, 90))
        d = ImageDraw.Draw(ph)
        d.line((0, 0, ph.width, ph.height), fill=(200, 60, 60), width=3)
        d.line((0, ph.height, ph.width, 0), fill=(200, 60, 60), width=3)
        return ph, f"{label} (unreadable)"


def card_geometry(width: int, height: int) -> dict[str, int]:
    """Where the animated elements go (shared by the card drawing and the ffmpeg graph)."""
    short = min(width, height)
    m = max(8, round(short * 0.04))
    bar_h = max(8, round(short * 0.035))
    bar_y = height - m - bar_h
    return {"margin": m, "bar_h": bar_h, "bar_y": bar_y, "playhead": bar_h * 2,
            "timecode_size": max(12, round(short * 0.045))}


def draw_card(spec: ShotSpec, prompt: str, media_paths: list[Path],
              size: tuple[int, int]) -> Image.Image:
    """The still title card of one animatic shot (RGB, exactly `size`)."""
    W, H = size
    g = card_geometry(W, H)
    m = g["margin"]
    short = min(W, H)
    shot = spec.shot
    base = _lift(_rgb(spec.scene_color))
    img = Image.new("RGB", (W, H), base)
    d = ImageDraw.Draw(img, "RGBA")
    # vertical gradient: a touch lighter at the top, darker at the bottom
    top, bottom = _mix(base, (255, 255, 255), 0.12), _mix(base, (0, 0, 0), 0.25)
    for y in range(H):
        d.line((0, y, W, y), fill=_mix(top, bottom, y / max(1, H - 1)))
    light_bg = _luma(base) > 150
    ink = (20, 20, 24) if light_bg else (250, 250, 250)

    # header: shot id, kind badge, duration, scene
    f_id = _font(short * 0.10)
    d.text((m, m), shot.id, font=f_id, fill=ink)
    x = m + _text_w(d, shot.id, f_id) + m
    f_badge = _font(short * 0.05)
    badge = f"{shot.kind.upper()}  ·  {shot.duration}s"
    bw = _text_w(d, badge, f_badge) + m + 8
    by = m + short * 0.025
    y = m + short * 0.13
    timecode_w = g["timecode_size"] * 7 + 2 * m  # drawn top-right by ffmpeg
    if x + bw > W - timecode_w:  # narrow canvas: the badge goes under the id
        x, by = m, y
        y += short * 0.09
    d.rounded_rectangle((x, by, x + bw, by + short * 0.07),
                        radius=int(short * 0.02), fill=(0, 0, 0, 110))
    d.text((x + m // 2 + 4, by + short * 0.01), badge, font=f_badge, fill=(255, 255, 255))
    sub = []
    if spec.scene is not None:
        sub.append(f"{spec.scene.id} · {spec.scene.name}")
    if shot.characters:
        sub.append("cast: " + ", ".join(shot.characters))
    if spec.prev_shot:
        sub.append(f"continues {spec.prev_shot}")
    if sub:
        f_sub = _font(short * 0.04, " ".join(sub))
        for line in _wrap(d, "  |  ".join(sub), f_sub, W - 2 * m, 1):
            d.text((m, y), line, font=f_sub, fill=ink)
        y += short * 0.06

    # thumbnails of the references (cast -> set -> props) for r2v / i2v shots
    thumbs_h = 0
    if shot.kind in ("r2v", "i2v") and media_paths:
        thumbs_h = round(H * (0.22 if W >= H else 0.14))
        f_lab = _font(short * 0.03)
        lab_h = round(short * 0.045)
        ty = g["bar_y"] - m - thumbs_h - lab_h
        tx = m
        for p in media_paths[:9]:
            im, label = _thumb(Path(p), thumbs_h)
            if tx + im.width > W - m:
                break
            d.rectangle((tx - 3, ty - 3, tx + im.width + 2, ty + im.height + 2), fill=ink)
            img.paste(im, (tx, ty))
            lab = _wrap(d, label, _font(short * 0.03, label), im.width + m, 1)
            d.text((tx, ty + im.height + 4), lab[0] if lab else "", font=f_lab, fill=ink)
            tx += im.width + m
        thumbs_h += lab_h + m

    # the prompt (and the spoken words) in a translucent panel
    panel_top = round(y + m * 0.5)
    panel_bottom = g["bar_y"] - m - thumbs_h
    spoken = [f"{ln.speaker}: {ln.text}" for ln in shot.dialog]
    if shot.narration_text:
        spoken.append(f"Narrator: {shot.narration_text}")
    if panel_bottom - panel_top > short * 0.12:
        d.rounded_rectangle((m, panel_top, W - m, panel_bottom), radius=int(short * 0.02),
                            fill=(0, 0, 0, 120))
        pad = m // 2 + 4
        avail = panel_bottom - panel_top - 2 * pad
        f_p = _font(short * 0.045, prompt)
        line_h = f_p.size * 1.25 if hasattr(f_p, "size") else short * 0.055
        f_s = _font(short * 0.042, " ".join(spoken))
        s_line_h = (f_s.size if hasattr(f_s, "size") else short * 0.05) * 1.25
        s_lines: list[str] = []
        if spoken:
            for s in spoken:
                s_lines += _wrap(d, "“" + s + "”", f_s, W - 2 * m - 2 * pad, 2)
            s_lines = s_lines[: max(1, int(avail * 0.4 // s_line_h))]
        p_room = avail - len(s_lines) * s_line_h - (pad if s_lines else 0)
        p_lines = _wrap(d, prompt, f_p, W - 2 * m - 2 * pad, max(1, int(p_room // line_h)))
        ty = panel_top + pad
        for line in p_lines:
            d.text((m + pad, ty), line, font=f_p, fill=(255, 255, 255))
            ty += line_h
        ty += pad
        for line in s_lines:
            d.text((m + pad, ty), line, font=f_s, fill=(255, 226, 140))
            ty += s_line_h

    # the progress track (the moving bar and playhead are drawn by ffmpeg)
    d.rectangle((0, g["bar_y"], W, g["bar_y"] + g["bar_h"]), fill=(0, 0, 0, 170))
    return img


# --------------------------------------------------------------------------- speech


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


def _espeak_voice(voice: str | None, text: str) -> str:
    lang = "cmn" if _CJK.search(text) else "en-us"
    if voice and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)*(\+[\w-]+)?", voice):
        return voice
    if voice and re.fullmatch(r"\+?[mf]\d", voice):
        return f"{lang}+{voice.lstrip('+')}"
    return lang


def _espeak(text: str, out: Path, *, voice: str, wpm: int) -> bool:
    """Speak `text` into the wav `out`; False when espeak-ng is missing or fails."""
    exe = espeak_path()
    if not exe or not text.strip():
        return False
    wpm = max(80, min(450, int(wpm)))
    for v in dict.fromkeys([voice, "cmn" if _CJK.search(text) else "en-us"]):
        proc = subprocess.run([exe, "-w", str(out), "-s", str(wpm), "-v", v, "--stdin"],
                              input=text.encode("utf-8"), capture_output=True)
        if proc.returncode == 0 and out.exists() and out.stat().st_size > 44:
            return True
    return False


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def _write_silence(path: Path, seconds: float, rate: int = 24000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(round(seconds * rate)))


def estimate_speech_seconds(text: str, rate: float = 1.0) -> float:
    """Speaking time: CJK characters at 3 per second, other words at 2.5 per second."""
    cjk = len(_CJK.findall(text or ""))
    words = len(_CJK.sub(" ", text or "").split())
    return max(0.5, (cjk / 3.0 + words / 2.5) / max(0.1, rate))


_VARIANTS = ("m1", "f2", "m3", "f4", "m7", "f1", "m2", "f3")


def _speaker_voice(speaker: str, text: str) -> str:
    lang = "cmn" if _CJK.search(text) else "en-us"
    if speaker.lower() in ("narrator", "旁白"):
        return f"{lang}+m3"
    k = int(hashlib.sha256(speaker.encode("utf-8")).hexdigest(), 16) % len(_VARIANTS)
    return f"{lang}+{_VARIANTS[k]}"


def _spoken_lines(spec: ShotSpec) -> list[tuple[str, str]]:
    shot = spec.shot
    lines = [(ln.speaker, ln.text) for ln in shot.dialog if ln.text.strip()]
    if shot.narration_text and shot.narration_text.strip():
        lines.append(("Narrator", shot.narration_text.strip()))
    return lines


def speech_track(spec: ShotSpec, workdir: Path, max_s: float) -> Path | None:
    """The shot's dialog/narration as one mono wav no longer than `max_s` (None: no
    words, or espeak-ng not installed). Each speaker keeps one espeak voice variant."""
    lines = _spoken_lines(spec)
    if not lines or not espeak_path() or max_s <= 0.3:
        return None
    wpm = 175
    for _ in range(3):
        parts: list[Path] = []
        for i, (speaker, text) in enumerate(lines):
            p = workdir / f"line{i}.wav"
            if _espeak(text, p, voice=_speaker_voice(speaker, text), wpm=wpm):
                parts.append(p)
        if not parts:
            return None
        out = workdir / "speech.wav"
        gap = 0.25
        with wave.open(str(parts[0]), "rb") as w0:
            params = w0.getparams()
        with wave.open(str(out), "wb") as wo:
            wo.setparams(params)
            for i, p in enumerate(parts):
                with wave.open(str(p), "rb") as wi:
                    wo.writeframes(wi.readframes(wi.getnframes()))
                if i < len(parts) - 1:
                    wo.writeframes(b"\x00" * params.sampwidth * int(gap * params.framerate))
        total = _wav_seconds(out)
        if total <= max_s or wpm >= 400:
            return out
        wpm = int(min(400, wpm * total / max_s * 1.05 + 1))
    return out


# --------------------------------------------------------------------------- ffmpeg graph


def _esc(value: str) -> str:
    """Escape a value for an ffmpeg filter option inside single quotes."""
    return value.replace("\\", "/").replace("'", r"'\''").replace(":", r"\:")


def _atomic_target(out: Path, suffix: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    return Path(tmp)


def animatic_command(*, card: Path, size: tuple[int, int], duration: float,
                     out: Path, first_frame: Path | None = None, speech: Path | None = None,
                     seed: int = 0, fault: str | None = None) -> list[str]:
    """The ffmpeg arguments (without the binary) of one animatic render: one pass."""
    W, H = size
    D = duration
    g = card_geometry(W, H)
    moving = fault not in ("black", "frozen")
    chained = first_frame is not None and moving
    args: list[str] = ["-y", "-hide_banner", "-nostdin", "-loglevel", "error"]
    fc: list[str] = []
    n_in = 0
    if fault == "black":
        fc.append(f"color=c=black:s={W}x{H}:r={FPS}:d={D:.3f},format=yuv420p[base]")
    else:
        args += ["-framerate", str(FPS), "-i", str(card)]
        card_in = n_in
        n_in += 1
        card_len = D - HOLD_S if chained else D
        fc.append(f"[{card_in}:v]scale={W}:{H},setsar=1,format=yuv420p,"
                  f"tpad=stop_mode=clone:stop_duration={card_len:.3f},"
                  f"trim=duration={card_len:.3f},setpts=N/{FPS}/TB[card]")
        if chained:
            args += ["-framerate", str(FPS), "-i", str(first_frame)]
            ff_in = n_in
            n_in += 1
            ff_len = HOLD_S + FADE_S
            fc.append(f"[{ff_in}:v]scale={W}:{H}:flags=bicubic,setsar=1,format=yuv420p,"
                      f"tpad=stop_mode=clone:stop_duration={ff_len:.3f},"
                      f"trim=duration={ff_len:.3f},setpts=N/{FPS}/TB[ff]")
            fc.append(f"[ff][card]xfade=transition=fade:duration={FADE_S}:offset={HOLD_S}[base]")
        else:
            fc.append("[card]null[base]")
    v = "base"
    if moving:
        en = f":enable='gte(t,{HOLD_S})'" if chained else ""
        fc.append(f"color=c=0xf2f2f2:s={W}x{g['bar_h']}:r={FPS}:d={D:.3f}[bar]")
        fc.append(f"[{v}][bar]overlay=x='-overlay_w+main_w*t/{D:.3f}':y={g['bar_y']}"
                  f":eval=frame{en}[v1]")
        ph = g["playhead"]
        py = g["bar_y"] + g["bar_h"] // 2 - ph // 2
        fc.append(f"color=c=0xffc83d:s={ph}x{ph}:r={FPS}:d={D:.3f}[ph]")
        fc.append(f"[v1][ph]overlay=x='(main_w-overlay_w)*t/{D:.3f}':y={py}"
                  f":eval=frame{en}[v2]")
        v = "v2"
        if media.has_filter("drawtext"):
            font = _esc(str(media.default_font_file()))
            m = g["margin"]
            fc.append(f"[{v}]drawtext=fontfile='{font}':text='%{{pts\\:hms}}'"
                      f":fontsize={g['timecode_size']}:fontcolor=white:box=1"
                      f":boxcolor=black@0.55:boxborderw={max(4, m // 3)}"
                      f":x=w-tw-{m}:y={m}{en}[v3]")
            v = "v3"
    fc.append(f"[{v}]trim=duration={D:.3f},setpts=PTS-STARTPTS[vout]")
    if fault != "silent":
        amp = BED_UNDER_SPEECH if speech else BED_AMPLITUDE
        fade_out = max(0.0, D - 0.4)
        fc.append(f"anoisesrc=d={D:.3f}:c=pink:r={SAMPLE_RATE}:a={amp}:s={seed % 2**31},"
                  "lowpass=f=3000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
                  f"afade=t=in:d=0.3,afade=t=out:st={fade_out:.3f}:d=0.4[bed]")
        if speech:
            args += ["-i", str(speech)]
            sp_in = n_in
            n_in += 1
            fc.append(f"[{sp_in}:a]aresample={SAMPLE_RATE},"
                      "aformat=sample_fmts=fltp:channel_layouts=stereo,"
                      f"volume={SPEECH_GAIN_DB}dB,adelay=300:all=1,apad[sp]")
            fc.append("[bed][sp]amix=inputs=2:duration=first:normalize=0[mix]")
            a = "mix"
        else:
            a = "bed"
        fc.append(f"[{a}]atrim=duration={D:.3f},asetpts=N/SR/TB[aout]")
    args += ["-filter_complex", ";".join(fc), "-map", "[vout]"]
    if fault != "silent":
        args += ["-map", "[aout]", "-c:a", "aac", "-b:a", "128k", "-ar", str(SAMPLE_RATE),
                 "-ac", "2"]
    else:
        args += ["-an"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-r", str(FPS), "-g", str(FPS * 2), "-t", f"{D:.3f}", "-movflags", "+faststart",
             "-f", "mp4", str(out)]
    return args


# --------------------------------------------------------------------------- providers


def _seed(*parts: object) -> int:
    h = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return int(h[:8], 16)


class OfflineVideo:
    """Animatic renderer: a title card per shot, animated and voiced, in one ffmpeg pass."""

    name = "offline"

    def render(self, ctx: CallContext, spec: ShotSpec, prompt: str, out: Path, *,
               first_frame: Path | None, media: list[Path],
               pending: PendingTask | None = None,
               on_submitted: Callable[[PendingTask], None] | None = None) -> RenderResult:
        out = Path(out)
        media_paths = [Path(p) for p in media]
        size = _media().canvas_size(spec.resolution, spec.ratio)
        duration = float(spec.shot.duration)
        fault = fault_for(spec.shot.id, ctx.attempt)
        with ctx.timed("offline", ANIMATIC_MODEL, "animatic", prompt=prompt) as log:
            if first_frame is not None and not Path(first_frame).is_file():
                raise ProviderError(
                    f"{spec.shot.id}: first frame {first_frame} does not exist; render "
                    f"{spec.prev_shot or 'the previous shot'} first")
            if fault == "short":
                duration = max(1.0, round(duration / 2 * FPS) / FPS)
            with tempfile.TemporaryDirectory(prefix="spark-animatic-") as td:
                work = Path(td)
                card = work / "card.png"
                draw_card(spec, prompt, media_paths, size).save(card, compress_level=1)
                speech = None
                if fault not in ("silent",):
                    speech = speech_track(spec, work, max_s=duration - 0.5)
                tmp = _atomic_target(out, ".part")
                try:
                    args = animatic_command(card=card, size=size, duration=duration, out=tmp,
                                            first_frame=Path(first_frame) if first_frame
                                            else None, speech=speech,
                                            seed=_seed(spec.shot.id, ctx.attempt), fault=fault)
                    _media().run(args, what=f"rendering the animatic of {spec.shot.id}")
                    os.replace(tmp, out)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
            log.update(billed_units=0, unit="second", cost=0.0)
        return RenderResult(model=ANIMATIC_MODEL, duration_s=duration, billed_seconds=0,
                            cost=0.0, sent_prompt=prompt)


def _media():
    # `render()` has a parameter named `media`; reach the module through this helper
    return media


# --------------------------------------------------------------------------- review


def _overlap(iv: tuple[float, float], others: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(iv[1], b) - max(iv[0], a)) for a, b in others)


def _fmt_tc(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 60):02d}:{t % 60:05.2f}"


class OfflineReview:
    """Technical review (SPEC §7): measurements, not taste, mapped onto the six axes."""

    name = "offline"

    def review(self, ctx: CallContext, spec: ShotSpec, clip: Path, *, version: int,
               first_frame: Path | None, portraits: list[Path]) -> Review:
        clip = Path(clip)
        shot = spec.shot
        with ctx.timed("offline", REVIEW_MODEL, "technical-review") as log:
            checks: dict[str, object] = {}
            problems: list[str] = []
            scores = dict.fromkeys(AXES, 10)
            try:
                info = media.probe(clip)
            except media.MediaError as e:
                raise ProviderError(f"{shot.id} v{version}: cannot review {clip}: {e}") from e
            expected = float(shot.duration)
            fmin = min(2.0, max(0.5, 0.4 * expected))
            res = media.scan(clip, black_min_s=0.5, freeze_min_s=fmin)

            # logic: duration and (for chained shots) first-frame continuity
            dur_err = round(res.duration - expected, 3)
            checks.update(duration_s=res.duration, expected_duration_s=expected,
                          duration_error_s=dur_err)
            if abs(dur_err) > DURATION_TOLERANCE_S:
                scores["logic"] = 2
                problems.append(f"duration is {res.duration:.2f} s, expected {expected:g} s "
                                f"(off by {dur_err:+.2f} s; tolerance ±{DURATION_TOLERANCE_S} s)")
            elif abs(dur_err) > 0.05:
                scores["logic"] = 9
            if first_frame is not None:
                try:
                    diff = media.mean_frame_diff(media.frame_image(clip, width=160),
                                                 Path(first_frame))
                except (media.MediaError, OSError) as e:
                    diff = 255.0
                    checks["first_frame_error"] = str(e)
                checks.update(first_frame_diff=round(diff, 2),
                              first_frame_max_diff=FIRST_FRAME_MAX_DIFF)
                if diff > FIRST_FRAME_MAX_DIFF:
                    scores["logic"] = min(scores["logic"], 3)
                    problems.append(f"first frame at 00:00.00 does not match the previous "
                                    f"shot's last frame (difference {diff:.1f} > "
                                    f"{FIRST_FRAME_MAX_DIFF:g})")
                elif diff > FIRST_FRAME_MAX_DIFF / 2:
                    scores["logic"] = min(scores["logic"], 9)

            # proportion: the canvas
            want_w, want_h = media.canvas_size(spec.resolution, spec.ratio)
            checks.update(width=info.width, height=info.height,
                          expected_size=f"{want_w}x{want_h}", vcodec=info.vcodec,
                          pix_fmt=info.pix_fmt, fps=info.fps)
            if not info.has_video:
                scores["proportion"] = 0
                problems.append("the file has no video stream")
            elif (info.width, info.height) != (want_w, want_h):
                scores["proportion"] = 2
                problems.append(f"canvas is {info.width}x{info.height}, expected "
                                f"{want_w}x{want_h} ({spec.resolution} {spec.ratio})")
            elif info.vcodec != "h264" or info.pix_fmt != "yuv420p":
                scores["proportion"] = 7
                problems.append(f"video is {info.vcodec}/{info.pix_fmt}, not h264/yuv420p "
                                "(may not play in browsers)")

            # physics: frozen picture (a black stretch is reported once, as black)
            frozen = [(a, b) for a, b in res.frozen
                      if _overlap((a, b), res.black) < 0.9 * (b - a)]
            frozen_s = round(sum(b - a for a, b in frozen), 3)
            checks.update(frozen_s=frozen_s, frozen_intervals=[
                [round(a, 2), round(b, 2)] for a, b in frozen], freeze_min_s=fmin)
            if frozen:
                a, b = frozen[0]
                whole = frozen_s >= 0.9 * max(res.duration, 0.01)
                scores["physics"] = 1 if whole else 3
                problems.append(f"frozen picture from {_fmt_tc(a)} to {_fmt_tc(b)} "
                                f"({frozen_s:.1f} s without motion)")

            # style: black frames
            checks.update(black_s=res.black_s, black_intervals=[
                [round(a, 2), round(b, 2)] for a, b in res.black])
            if res.black:
                a, b = res.black[0]
                whole = res.black_s >= 0.9 * max(res.duration, 0.01)
                scores["style"] = 1 if whole else 3
                problems.append(f"black frames from {_fmt_tc(a)} to {_fmt_tc(b)} "
                                f"({res.black_s:.1f} s)")

            # cast_match: the references of r2v / i2v shots
            found = [p for p in portraits if Path(p).is_file()]
            checks.update(portraits_given=len(portraits), portraits_found=len(found),
                          characters=list(shot.characters))
            if shot.characters:
                if shot.kind in ("r2v", "i2v") and not found:
                    scores["cast_match"] = 2
                    problems.append(f"{shot.kind} shot with {', '.join(shot.characters)} "
                                    "has no portrait to match against")
                elif shot.kind in ("r2v", "i2v") and len(found) < len(portraits):
                    scores["cast_match"] = 6
                    problems.append(f"{len(portraits) - len(found)} reference image(s) missing")
                else:
                    scores["cast_match"] = 9

            # dialog_attribution: audio present and audible
            checks["has_audio"] = info.has_audio
            if res.loudness is None:
                scores["dialog_attribution"] = 0
                problems.append("no audio stream (dialog, narration and ambience are missing)")
            else:
                levels = res.loudness.json_safe()
                lufs, peak = levels["integrated_lufs"], levels["true_peak_dbtp"]
                checks.update(levels)
                if lufs < SILENT_LUFS:
                    scores["dialog_attribution"] = 2
                    problems.append(f"audio is silent ({lufs:.1f} LUFS integrated)")
                elif peak > 0.0:
                    scores["dialog_attribution"] = 6
                    problems.append(f"audio clips (true peak {peak:+.1f} dBTP)")
                elif lufs < -40.0 and _spoken_lines(spec):
                    scores["dialog_attribution"] = 6
                    problems.append(f"the shot has words but the audio is very quiet "
                                    f"({lufs:.1f} LUFS)")
                elif not _spoken_lines(spec) or lufs >= -35.0:
                    scores["dialog_attribution"] = 10 if lufs >= -35.0 else 9
                else:
                    scores["dialog_attribution"] = 9

            breakdown = {k: float(v) for k, v in scores.items()}
            # advisory, like a model's own verdict: review_policy.decide() judges the scores
            own_verdict = "REJECT" if problems else "ACCEPT"
            if problems:
                critique = "Technical check found: " + "; ".join(problems) + "."
            else:
                critique = (f"Technical check clean: {res.duration:.2f} s at "
                            f"{info.width}x{info.height}, no black or frozen frames, audio at "
                            f"{checks.get('integrated_lufs')} LUFS"
                            + (", first frame continues the previous shot" if first_frame
                               else "") + ".")
            log["unit"] = "clip"
            log["billed_units"] = 0
            log["cost"] = 0.0
        # raw scores: the verdict is decided by review_policy.decide() (REJECT until then)
        return Review(breakdown=breakdown, verdict="REJECT", critique=critique,
                      model_verdict=own_verdict, version=version, shot_id=shot.id,
                      reviewer=REVIEW_MODEL, checks=checks)


# --------------------------------------------------------------------------- tts


class OfflineTTS:
    """espeak-ng when installed (speed 175 wpm × rate), else a timed silence."""

    name = "offline"

    def synthesize(self, ctx: CallContext, text: str, out: Path, *, voice: str,
                   rate: float) -> Path:
        out = Path(out)
        rate = rate if rate and rate > 0 else 1.0
        engine = TTS_MODEL if espeak_path() else "offline-silence"
        with ctx.timed("offline", engine, "tts", prompt=text) as log:
            tmp = _atomic_target(out, ".part")
            try:
                ok = _espeak(text, tmp, voice=_espeak_voice(voice, text),
                             wpm=round(175 * rate))
                if not ok:
                    _write_silence(tmp, estimate_speech_seconds(text, rate))
                if out.suffix.lower() not in ("", ".wav"):
                    conv = _atomic_target(out, out.suffix)
                    try:
                        media.run(["-y", "-i", str(tmp), str(conv)],
                                  what=f"converting speech to {out.suffix}")
                    except BaseException:
                        conv.unlink(missing_ok=True)
                        raise
                    tmp.unlink(missing_ok=True)
                    tmp = conv
                secs = round(media.probe(tmp).duration, 3)
                os.replace(tmp, out)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            log.update(billed_units=secs, unit="second", cost=0.0)
        return out


# --------------------------------------------------------------------------- images


def _parse_size(size: str) -> tuple[int, int]:
    r = re.fullmatch(r"\s*(\d{1,2})\s*:\s*(\d{1,2})\s*", size or "")
    if r and int(r.group(1)) and int(r.group(2)):  # an aspect ratio: 768 px on the short side
        a, b = int(r.group(1)), int(r.group(2))
        return (768, round(768 * b / a / 2) * 2) if a <= b else (round(768 * a / b / 2) * 2, 768)
    m = re.fullmatch(r"\s*(\d{2,5})\s*[*xX×]\s*(\d{2,5})\s*", size or "")
    if not m:
        raise ProviderError(f"image size {size!r} must look like 768*1024 or 3:4")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ProviderError(f"image size {size!r} is out of range (16..8192 per side)")
    return w, h


def _kind_of(prompt: str, label: str) -> str:
    text = f"{label} {prompt}".lower()
    if re.search(r"\b(set|location|place|room|street|landscape|background|environment|"
                 r"interior|exterior)\b|场景|布景", text):
        return "set"
    if re.search(r"\b(prop|object|item|tool|weapon|device)\b|道具", text):
        return "prop"
    return "person"


def placeholder_image(prompt: str, size: tuple[int, int], label: str = "") -> Image.Image:
    """A deterministic placeholder: hashed colour, a silhouette, the label in big text."""
    import colorsys

    W, H = size
    key = (label or prompt or "?").strip()
    h = hashlib.sha256(key.encode("utf-8")).digest()
    hue = h[0] / 255.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.45 + h[1] / 255 * 0.3, 0.55 + h[2] / 255 * 0.3)
    bg = (int(r * 255), int(g * 255), int(b * 255))
    r2, g2, b2 = colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.5, 0.3)
    fg = (int(r2 * 255), int(g2 * 255), int(b2 * 255))
    img = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(img, "RGBA")
    for y in range(H):  # soft vertical gradient
        d.line((0, y, W, y), fill=_mix(_mix(bg, (255, 255, 255), 0.15), bg, y / max(1, H - 1)))
    short = min(W, H)
    for i in range(6):  # hashed background discs: different labels look different
        cx, cy = h[3 + i] / 255 * W, h[9 + i] / 255 * H
        rad = short * (0.08 + h[15 + i] / 255 * 0.2)
        d.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=(255, 255, 255, 28))
    kind = _kind_of(prompt, label)
    cx = W / 2
    if kind == "person":
        head = short * 0.16
        cy = H * 0.40
        d.ellipse((cx - head, cy - head, cx + head, cy + head), fill=fg)
        d.rounded_rectangle((cx - short * 0.32, cy + head * 1.15, cx + short * 0.32, H * 0.95),
                            radius=int(short * 0.15), fill=fg)
    elif kind == "set":
        horizon = H * 0.62
        d.rectangle((0, horizon, W, H), fill=_mix(fg, bg, 0.3))
        for i in range(4):
            bw = W * (0.10 + h[20 + i] / 255 * 0.12)
            bh = H * (0.15 + h[24 + i] / 255 * 0.30)
            x0 = W * (0.05 + i * 0.24)
            d.rectangle((x0, horizon - bh, x0 + bw, horizon), fill=fg)
    else:
        s = short * 0.28
        cy = H * 0.5
        d.rounded_rectangle((cx - s, cy - s * 0.7, cx + s, cy + s * 0.7),
                            radius=int(s * 0.25), fill=fg)
        d.ellipse((cx - s * 0.35, cy - s * 0.35, cx + s * 0.35, cy + s * 0.35),
                  fill=_mix(bg, (255, 255, 255), 0.3))
    title = label or (prompt[:40] if prompt else "?")
    f_big = _font(short * 0.11, title)
    lines = _wrap(d, title, f_big, W * 0.9, 2)
    y = H * 0.05
    for line in lines:
        tw = d.textlength(line, font=f_big)
        d.text(((W - tw) / 2 + 2, y + 2), line, font=f_big, fill=(0, 0, 0, 140))
        d.text(((W - tw) / 2, y), line, font=f_big, fill=(255, 255, 255))
        y += short * 0.13
    if prompt and label:
        f_small = _font(short * 0.035, prompt)
        small = _wrap(d, prompt, f_small, W * 0.9, 3)
        y = H - short * 0.05 - len(small) * short * 0.045
        d.rectangle((0, y - short * 0.02, W, H), fill=(0, 0, 0, 110))
        for line in small:
            d.text((W * 0.05, y), line, font=f_small, fill=(255, 255, 255))
            y += short * 0.045
    d.text((W * 0.04, H * 0.05 + len(lines) * short * 0.13), "placeholder",
           font=_font(short * 0.03), fill=(255, 255, 255, 160))
    return img


class OfflineImage:
    """Placeholder portraits / sets / props drawn with Pillow (deterministic)."""

    name = "offline"

    def generate(self, ctx: CallContext, prompt: str, out: Path, *, size: str,
                 label: str = "") -> Path:
        out = Path(out)
        with ctx.timed("offline", IMAGE_MODEL, "image", prompt=prompt) as log:
            img = placeholder_image(prompt, _parse_size(size), label)
            tmp = _atomic_target(out, ".part")
            try:
                img.save(tmp, format="PNG", optimize=False)
                os.replace(tmp, out)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            log.update(billed_units=1, unit="image", cost=0.0)
        return out


__all__ = ["FAULTS_ENV", "OfflineImage", "OfflineReview", "OfflineTTS", "OfflineVideo",
           "animatic_command", "draw_card", "estimate_speech_seconds", "fault_for",
           "parse_faults", "placeholder_image", "speech_track"]
