"""Offline video: the animatic renderer, a real H.264/AAC clip of the exact duration and
canvas, in the scene colour, with the shot text, the cast portraits, first-frame
continuity and the spoken dialog, made in one ffmpeg pass."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ... import media
from ...base.models import ShotSpec
from ..base import CallContext, PendingTask, ProviderError, RenderResult
from .card import card_geometry, draw_card
from .common import (
    ANIMATIC_MODEL,
    BED_AMPLITUDE,
    BED_UNDER_SPEECH,
    FADE_S,
    FPS,
    HOLD_S,
    SAMPLE_RATE,
    SPEECH_GAIN_DB,
    atomic_target,
)
from .faults import fault_for
from .speech import speech_track


def _esc(value: str) -> str:
    """Escape a value for an ffmpeg filter option inside single quotes."""
    return value.replace("\\", "/").replace("'", r"'\''").replace(":", r"\:")


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
        with ctx.call_slot(), ctx.timed("offline", ANIMATIC_MODEL, "animatic",
                                        prompt=prompt) as log:
            if first_frame is not None and not Path(first_frame).is_file():
                raise ProviderError(
                    f"{spec.shot.id}: first frame {first_frame} does not exist; render "
                    f"{spec.prev_shot or 'the previous shot'} first")
            if fault == "short":
                duration = max(1.0, round(duration / 2 * FPS) / FPS)
            with tempfile.TemporaryDirectory(prefix="spark-animatic-") as td:
                work = Path(td)
                card = work / "card.png"
                draw_card(spec, prompt, media_paths, size, take=ctx.attempt).save(
                    card, compress_level=1)
                speech = None
                if fault not in ("silent",):
                    speech = speech_track(spec, work, max_s=duration - 0.5)
                tmp = atomic_target(out, ".part")
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
