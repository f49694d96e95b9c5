"""Offline images: deterministic placeholder portraits and sets."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from PIL import Image, ImageDraw

from ..base import CallContext, ProviderError
from .card import _font, _mix, _wrap
from .common import IMAGE_MODEL, atomic_target


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


def _save_png(img: Image.Image, out: Path) -> None:
    """Write `img` as `out` atomically (a crash leaves the old file or none)."""
    tmp = atomic_target(out, ".part")
    try:
        img.save(tmp, format="PNG", optimize=False)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class OfflineImage:
    """Placeholder portraits / sets / props drawn with Pillow (deterministic)."""

    name = "offline"

    def generate(self, ctx: CallContext, prompt: str, out: Path, *, size: str,
                 label: str = "") -> Path:
        out = Path(out)
        with ctx.timed("offline", IMAGE_MODEL, "image", prompt=prompt) as log:
            img = placeholder_image(prompt, _parse_size(size), label)
            _save_png(img, out)
            log.update(billed_units=1, unit="image", cost=0.0)
        return out

    def edit(self, ctx: CallContext, prompt: str, images: list[Path], out: Path, *,
             size: str, label: str = "") -> Path:
        """A visibly changed copy of the first image: re-tinted, with the change written on
        it (an offline stand-in for an image edit such as a costume change)."""
        out = Path(out)
        W, H = _parse_size(size)
        with ctx.timed("offline", IMAGE_MODEL, "image-edit", prompt=prompt) as log:
            with Image.open(images[0]) as im:
                base = im.convert("RGB").resize((W, H), Image.Resampling.BILINEAR)
            h = hashlib.sha256(prompt.encode("utf-8")).digest()
            img = Image.blend(base, Image.new("RGB", (W, H), (h[0], h[1], h[2])), 0.45)
            d = ImageDraw.Draw(img, "RGBA")
            short = min(W, H)
            band = short * 0.16
            d.rectangle((0, H - band, W, H), fill=(0, 0, 0, 170))
            f = _font(short * 0.045, prompt)
            y = H - band + short * 0.02
            for line in _wrap(d, prompt, f, W * 0.92, 3):
                d.text((W * 0.04, y), line, font=f, fill=(255, 255, 255))
                y += short * 0.05
            _save_png(img, out)
            log.update(billed_units=1, unit="image", cost=0.0)
        return out
