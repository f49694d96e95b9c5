"""`spark-video doctor`: the tools and the providers this machine has."""

from __future__ import annotations

import shutil

from ..media import ffmpeg_exe
from ..providers.doctor import doctor as provider_doctor
from .command import EPISODE_OPTIONS, command
from .common import EXIT_FAIL, EXIT_OK, _cfg


@command("doctor", help="check tools and providers", args=EPISODE_OPTIONS)
def cmd_doctor(args) -> int:
    cfg = _cfg(args)
    ok = True
    rows = [("ffmpeg", True, ffmpeg_exe())]
    rows.append(("espeak-ng (offline speech)", shutil.which("espeak-ng") is not None,
                 shutil.which("espeak-ng") or "not installed: offline audio is a timed bed"))
    try:
        import snakemake

        rows.append(("snakemake", True, getattr(snakemake, "__version__", "?")))
    except ImportError:
        rows.append(("snakemake", False, "not installed: run uv sync"))
    for r in provider_doctor(cfg):
        rows.append((r.get("name", "provider"), bool(r.get("ok")), r.get("detail", "")))
    for name, good, detail in rows:
        ok &= good or name.startswith("espeak")
        print(f"[{' ok ' if good else 'FAIL'}] {name}: {detail}")
    return EXIT_OK if ok else EXIT_FAIL

