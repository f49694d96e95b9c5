"""The title card an animatic shot shows: scene colour, shot text, cast portraits."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageFont

from ... import media
from ...base.models import ShotSpec
from .common import _CJK


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
              size: tuple[int, int], take: int | None = None) -> Image.Image:
    """The still title card of one animatic shot (RGB, exactly `size`). Like a slate it
    names the take, so a new take really differs (and its chained successors follow)."""
    W, H = size
    g = card_geometry(W, H)
    m = g["margin"]
    base = _lift(_rgb(spec.scene_color))
    img = Image.new("RGB", (W, H), base)
    d = ImageDraw.Draw(img, "RGBA")
    # vertical gradient: a touch lighter at the top, darker at the bottom
    top, bottom = _mix(base, (255, 255, 255), 0.12), _mix(base, (0, 0, 0), 0.25)
    for y in range(H):
        d.line((0, y, W, y), fill=_mix(top, bottom, y / max(1, H - 1)))
    ink = (20, 20, 24) if _luma(base) > 150 else (250, 250, 250)
    y = _card_header(d, spec, take, g, W, H, ink)
    thumbs_h = 0
    if spec.shot.kind in ("r2v", "i2v") and media_paths:
        thumbs_h = _card_thumbnails(img, d, media_paths, g, W, H, ink)
    _card_panel(d, spec.shot, prompt, round(y + m * 0.5), g["bar_y"] - m - thumbs_h, W, H, m)
    # the progress track (the moving bar and playhead are drawn by ffmpeg)
    d.rectangle((0, g["bar_y"], W, g["bar_y"] + g["bar_h"]), fill=(0, 0, 0, 170))
    return img


def _card_header(d: ImageDraw.ImageDraw, spec: ShotSpec, take: int | None, g: dict,
                 W: int, H: int, ink: tuple) -> float:
    """Shot id, kind badge, duration, scene; returns where the text below it starts."""
    m, short, shot = g["margin"], min(W, H), spec.shot
    f_id = _font(short * 0.10)
    d.text((m, m), shot.id, font=f_id, fill=ink)
    x = m + _text_w(d, shot.id, f_id) + m
    f_badge = _font(short * 0.05)
    badge = f"{shot.kind.upper()}  ·  {shot.duration}s" + (f"  ·  take {take}" if take else "")
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
    return y


def _card_thumbnails(img: Image.Image, d: ImageDraw.ImageDraw, media_paths: list[Path],
                     g: dict, W: int, H: int, ink: tuple) -> int:
    """Thumbnails of the references (cast -> set -> props) above the track; their height."""
    m, short = g["margin"], min(W, H)
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
    return thumbs_h + lab_h + m


def _card_panel(d: ImageDraw.ImageDraw, shot, prompt: str, panel_top: int, panel_bottom: int,
                W: int, H: int, m: int) -> None:
    """The prompt (and the spoken words) in a translucent panel, when there is room."""
    short = min(W, H)
    spoken = [f"{ln.speaker}: {ln.text}" for ln in shot.dialog]
    if shot.narration_text:
        spoken.append(f"Narrator: {shot.narration_text}")
    if panel_bottom - panel_top <= short * 0.12:
        return
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
