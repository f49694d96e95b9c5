"""The final cut handed to the tools editors use, read from final/<p>-<ep>.otio (the stitch's
own timeline, so every export has the mp4's cut points).

- NLE timelines through OpenTimelineIO's adapter packages (the `timelines` extra): FCP X XML
  (`.fcpxml`), FCP 7 XML (`.fcp7.xml`), CMX 3600 EDL (`.edl`) and a Kdenlive project
  (`.kdenlive`, the OTIO kdenlive adapter).
- An MLT XML project (`.mlt`) written here, with the crossfades as MLT luma/mix transitions:
  MLT is the engine of Kdenlive and Shotcut, and `melt` renders it (tests/test_exports.py
  checks that render against the final, frame by frame around every cut).
- A CapCut / Jianying draft folder (`.draft/`, the `jianying` extra: pyJianYingDraft), its
  media hard-linked into the folder and named by Jianying's draft-folder placeholder, so the
  folder works wherever it is copied.

`--config timelines=fcpxml,fcp7,edl,kdenlive,mlt,jianying` asks for them (rules/export.smk).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse
from xml.sax.saxutils import quoteattr

from ..base.io import InputError, atomic_write_text
from ..base.paths import EpisodePaths
from ..media import MediaError, file_loudness, probe
from ..media.sound import load_bgm_config, music_gain_db, speech_gain_db


@dataclass(frozen=True)
class Format:
    suffix: str  # after the episode's name: final/<p>-<ep><suffix>
    adapter: str | None  # the OTIO adapter that writes it (None: written here)
    module: str | None  # the module its extra installs
    extra: str | None
    what: str


FORMATS: dict[str, Format] = {
    "fcpxml": Format(".fcpxml", "fcpx_xml", "otio_fcpx_xml_adapter", "timelines",
                     "Final Cut Pro X XML"),
    "fcp7": Format(".fcp7.xml", "fcp_xml", "otio_fcp_adapter", "timelines",
                   "Final Cut Pro 7 XML (Premiere, Resolve)"),
    "edl": Format(".edl", "cmx_3600", "otio_cmx3600_adapter", "timelines", "CMX 3600 EDL"),
    "kdenlive": Format(".kdenlive", "kdenlive", "otio_kdenlive_adapter", "timelines",
                       "Kdenlive project"),
    "mlt": Format(".mlt", None, None, None, "MLT XML (Shotcut, melt)"),
    "jianying": Format(".draft", None, "pyJianYingDraft", "jianying",
                       "CapCut / Jianying draft folder"),
}
DRAFT_PLACEHOLDER = "##_draftpath_placeholder_0E685133-18CE-45ED-8CB8-2904A212EC80_##"
MEDIA_DIR = "materials"


def requested(value: object, *, installed=None) -> list[str]:
    """The formats `--config timelines=...` asks for (a comma list or a YAML list), each
    known and with its extra installed; a clear error names the value and the fix."""
    if value in (None, "", False):
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InputError("config", f"timelines: expected a comma list of formats "
                         f"({', '.join(FORMATS)}), not {value!r}")
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().lower()
        if not name:
            continue
        if name not in FORMATS:
            raise InputError("config", f"timelines: unknown format {raw!r}; known: "
                             f"{', '.join(FORMATS)} (e.g. --config timelines=fcpxml,edl)")
        fmt = FORMATS[name]
        have = installed or (lambda m: importlib.util.find_spec(m) is not None)
        if fmt.module and not have(fmt.module):
            raise InputError("config", f"timelines: {name} ({fmt.what}) needs the "
                             f"'{fmt.extra}' extra: uv sync --extra {fmt.extra}")
        if name not in out:
            out.append(name)
    return out


def requested_or_exit(value: object) -> list[str]:
    """`requested`, for the Snakefile: a bad value stops the run with one line."""
    try:
        return requested(value)
    except InputError as e:
        print(f"invalid configuration: {e.detail}", file=sys.stderr)
        raise SystemExit(1) from None


def output_path(paths: EpisodePaths, name: str) -> Path:
    return paths.final_otio.with_name(paths.name + FORMATS[name].suffix)


def format_of(path: Path, paths: EpisodePaths) -> str:
    suffix = Path(path).name[len(paths.name):]
    for name, fmt in FORMATS.items():
        if fmt.suffix == suffix:
            return name
    raise ValueError(f"{path}: not an export of {paths.name} ({', '.join(FORMATS)})")


def read_cut(otio_path: Path):
    import opentimelineio as otio

    try:
        return otio.adapters.read_from_file(str(otio_path), adapter_name="otio_json")
    except Exception as e:  # noqa: BLE001 - any parse error of the file
        raise InputError(otio_path, f"not a readable OpenTimelineIO file ({e}); delete it and "
                         "build again (the stitch writes it)") from None


def write_timeline(paths: EpisodePaths, otio_path: Path, out: Path) -> Path:
    """One export file (not the draft) from the .otio, atomically."""
    name = format_of(out, paths)
    tl = read_cut(otio_path)
    if name == "mlt":
        atomic_write_text(out, mlt_xml(tl, base=out.parent))
        return out
    import opentimelineio as otio

    fmt = FORMATS[name]
    atomic_write_text(out, otio.adapters.write_to_string(_for_adapter(tl, name), fmt.adapter))
    return out


def _for_adapter(tl, name: str):
    """What an adapter can take: the EDL writer keeps one video track (the audio tracks are
    other files in an EDL workflow) and its markers must be a colour it knows."""
    import opentimelineio as otio

    if name != "edl":
        return tl
    tl = tl.deepcopy()
    for track in list(tl.tracks):
        if track.kind != otio.schema.TrackKind.Video:
            tl.tracks.remove(track)
    return tl


# --------------------------------------------------------------------------- MLT


def _file(ref) -> Path:
    u = urlparse(ref.target_url)
    return Path(unquote(u.path)) if u.scheme in ("file", "") else Path(ref.target_url)


def _frames(rt, fps: float) -> int:
    return round(rt.to_seconds() * fps)


def mlt_xml(tl, *, base: Path, width: int | None = None, height: int | None = None) -> str:
    """The cut as MLT XML: one playlist of the shots, each crossfade a small tractor of the
    two shots' overlapping media with a luma (picture) and a mix (sound) transition -- the
    shape `melt a.mp4 b.mp4 -mix N -mixer luma -mixer mix:-1` writes -- then one playlist
    per audio track mixed in. Media paths are relative to `base` (the .mlt's folder)."""
    import opentimelineio as otio

    video = next(t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video)
    items = list(video)
    clips = [c for c in items if isinstance(c, otio.schema.Clip)]
    if not clips:
        raise InputError("timeline", "the video track has no clips")
    fps = clips[0].source_range.duration.rate
    if width is None or height is None:
        try:
            info = probe(_file(clips[0].media_reference))
            width, height = info.width or 1280, info.height or 720
        except MediaError:
            width, height = 1280, 720
    producers: dict[Path, str] = {}

    def producer(ref) -> str:
        path = _file(ref)
        if path not in producers:
            producers[path] = f"producer{len(producers)}"
        return producers[path]

    def rel(path: Path) -> str:
        return os.path.relpath(path, base)

    body: list[str] = []
    entries: list[str] = []
    for k, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        prev = items[k - 1] if k > 0 else None
        nxt = items[k + 1] if k + 1 < len(items) else None
        before = _frames(prev.out_offset, fps) if isinstance(prev, otio.schema.Transition) else 0
        after = _frames(nxt.in_offset, fps) if isinstance(nxt, otio.schema.Transition) else 0
        start = _frames(item.source_range.start_time, fps)
        dur = _frames(item.source_range.duration, fps)
        pid = producer(item.media_reference)
        a, b = start + before, start + dur - after - 1
        if b >= a:
            entries.append(f'    <entry producer="{pid}" in="{a}" out="{b}"/>')
        if after:
            nclip = items[k + 2]
            n_in = _frames(nxt.out_offset, fps)
            n_start = _frames(nclip.source_range.start_time, fps)
            tid = f"mix{len(body)}"
            length = after + n_in
            body.append("\n".join([
                f'  <tractor id="{tid}" in="0" out="{length - 1}">',
                f'    <track producer="{pid}" in="{start + dur - after}" '
                f'out="{start + dur + n_in - 1}"/>',
                f'    <track producer="{producer(nclip.media_reference)}" '
                f'in="{n_start - after}" out="{n_start + n_in - 1}"/>',
                f'    <transition out="{length - 1}"><property name="a_track">0</property>'
                '<property name="b_track">1</property><property name="mlt_service">luma'
                "</property></transition>",
                f'    <transition out="{length - 1}"><property name="a_track">0</property>'
                '<property name="b_track">1</property><property name="start">-1</property>'
                '<property name="accepts_blanks">1</property>'
                '<property name="mlt_service">mix</property></transition>',
                "  </tractor>"]))
            entries.append(f'    <entry producer="{tid}" in="0" out="{length - 1}"/>')
    playlists = ['  <playlist id="shots">\n' + "\n".join(entries) + "\n  </playlist>"]
    tracks = ['    <track producer="shots"/>']
    mixes = []
    for n, track in enumerate(t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio):
        lines = []
        for item in track:
            d = _frames(item.source_range.duration, fps)
            if isinstance(item, otio.schema.Clip) and d > 0:
                s = _frames(item.source_range.start_time, fps)
                lines.append(f'    <entry producer="{producer(item.media_reference)}" '
                             f'in="{s}" out="{s + d - 1}"/>')
            elif d > 0:
                lines.append(f'    <blank length="{d}"/>')
        playlists.append(f'  <playlist id="audio{n}">\n' + "\n".join(lines) + "\n  </playlist>")
        tracks.append(f'    <track producer="audio{n}" hide="video"/>')
        mixes.append(f'    <transition><property name="a_track">0</property>'
                     f'<property name="b_track">{n + 1}</property>'
                     '<property name="mlt_service">mix</property>'
                     '<property name="always_active">1</property>'
                     '<property name="sum">1</property></transition>')
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<mlt LC_NUMERIC="C" version="7.0.0" title={quoteattr(tl.name)}>',
        f'  <profile description="spark-video" width="{width}" height="{height}" '
        f'progressive="1" sample_aspect_num="1" sample_aspect_den="1" '
        f'display_aspect_num="{width}" display_aspect_den="{height}" '
        f'frame_rate_num="{round(fps * 1000)}" frame_rate_den="1000" colorspace="709"/>',
    ]
    prods = [f'  <producer id="{pid}"><property name="resource">{_esc(rel(path))}</property>'
             '<property name="mlt_service">avformat</property></producer>'
             for path, pid in producers.items()]
    total = sum(_frames(c.source_range.duration, fps) for c in clips)
    main = ['  <tractor id="episode" title="spark-video" in="0" '
            f'out="{total - 1}">', *tracks, *mixes, "  </tractor>"]
    return "\n".join([*head, *prods, *body, *playlists, *main, "</mlt>", ""])


def _esc(text: str) -> str:
    return quoteattr(text)[1:-1]


# --------------------------------------------------------------------------- Jianying


US = 1_000_000  # Jianying's times are microseconds


def _us(rt) -> int:
    return round(rt.to_seconds() * US)


def _link(src: Path, media: Path) -> str:
    """`src` inside the draft (a hard link: no second copy on the same disk), named by the
    placeholder Jianying reads as 'this draft's folder'."""
    media.mkdir(parents=True, exist_ok=True)
    dest = media / src.name
    if not dest.exists():
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)
    return dest


def write_jianying_draft(paths: EpisodePaths, otio_path: Path, out: Path) -> Path:
    """final/<p>-<ep>.draft/: draft_content.json and draft_meta_info.json written by
    pyJianYingDraft, the media under materials/. Tracks: the shots (the winning takes with
    their in and out points, a 叠化 dissolve where the stitch crossfades), the narration and
    the music (the stitch's gains as volumes), the subtitles as a text track."""
    import opentimelineio as otio
    import pyJianYingDraft as jy

    tl = read_cut(otio_path)
    video = next(t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video)
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    if not clips:
        raise InputError(otio_path, "the video track has no clips")
    fps = clips[0].source_range.duration.rate
    info = probe(paths.final_mp4) if paths.final_mp4.exists() else probe(
        _file(clips[0].media_reference))
    tmp_root = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp_root, ignore_errors=True)
    tmp_root.mkdir(parents=True)
    folder = jy.DraftFolder(str(tmp_root))
    script = folder.create_draft(out.name, info.width or 1280, info.height or 720,
                                 fps=round(fps))
    draft_dir = tmp_root / out.name
    media = draft_dir / MEDIA_DIR
    materials: dict[Path, object] = {}

    def material(path: Path, kind):
        if path not in materials:
            materials[path] = kind(str(_link(path, media)))
        return materials[path]

    script.append_track(jy.TrackSpec(jy.TrackType.video, name="shots"))
    items = list(video)
    for k, item in enumerate(items):
        if not isinstance(item, otio.schema.Clip):
            continue
        rng = video.range_of_child_at_index(k)
        mat = material(_file(item.media_reference), jy.VideoMaterial)
        start, dur = _within(mat, item.source_range)  # a held last frame: played slower
        seg = jy.VideoSegment(mat, jy.Timerange(_us(rng.start_time), _us(rng.duration)),
                              source_timerange=jy.Timerange(start, dur))
        nxt = items[k + 1] if k + 1 < len(items) else None
        if isinstance(nxt, otio.schema.Transition):
            seg.add_transition(jy.TransitionType.叠化,
                               duration=_us(nxt.in_offset) + _us(nxt.out_offset))
        script.add_segment(seg, "shots")
    gains = _gains(paths, tl)
    for track in (t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio):
        script.append_track(jy.TrackSpec(jy.TrackType.audio, name=track.name))
        for k, item in enumerate(track):
            if not isinstance(item, otio.schema.Clip):
                continue
            src = _file(item.media_reference)
            rng = track.range_of_child_at_index(k)
            mat = material(src, jy.AudioMaterial)
            start, dur = _within(mat, item.source_range)
            script.add_segment(jy.AudioSegment(
                mat, jy.Timerange(_us(rng.start_time), dur),
                source_timerange=jy.Timerange(start, dur),
                volume=gains.get(src, 1.0)), track.name)
    cues = sorted(video.markers, key=lambda m: m.marked_range.start_time.to_seconds())
    if cues:
        script.append_track(jy.TrackSpec(jy.TrackType.text, name="subtitles"))
        last_end = 0
        for m in cues:
            start = max(_us(m.marked_range.start_time), last_end)  # no overlap on one track
            end = _us(m.marked_range.end_time_exclusive())
            if end <= start:
                continue
            script.add_segment(jy.TextSegment(
                m.name, jy.Timerange(start, end - start),
                style=jy.TextStyle(size=6.0, align=1, auto_wrapping=True),
                clip_settings=jy.ClipSettings(transform_y=-0.8)), "subtitles")
            last_end = end
    script.save()
    _portable(draft_dir)
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    draft_dir.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(tmp_root, ignore_errors=True)
    return out


def _within(material, source_range) -> tuple[int, int]:
    """(start, duration) in µs of a source range, inside the material: the .otio's ranges
    are whole frames, which can end a few ms past the end of a take or a voice."""
    start = min(_us(source_range.start_time), max(0, material.duration - 1))
    return start, max(1, min(_us(source_range.duration), material.duration - start))


def _portable(draft_dir: Path) -> None:
    """The library writes absolute media paths; media inside the draft are named by the
    draft-folder placeholder instead, so the folder can be copied anywhere."""
    content = draft_dir / "draft_content.json"
    data = json.loads(content.read_text(encoding="utf-8"))
    inside = str((draft_dir / MEDIA_DIR).resolve())
    for kind in ("videos", "audios"):
        for m in data.get("materials", {}).get(kind, []):
            p = str(Path(m.get("path", "")).resolve()) if m.get("path") else ""
            if p.startswith(inside + os.sep):
                m["path"] = f"{DRAFT_PLACEHOLDER}/{MEDIA_DIR}/{Path(p).name}"
    content.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")


def _gains(paths: EpisodePaths, tl) -> dict[Path, float]:
    """Each narration take's and music track's volume (linear) as the stitch sets it:
    speech to -16 LUFS, music to the bgm-config volume under speech (spark_video.media.sound)."""
    import opentimelineio as otio

    out: dict[Path, float] = {}
    audio = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio]
    speech = any("narration" in t.name for t in audio)
    bgm = load_bgm_config(paths)
    for track in audio:
        for item in track:
            if not isinstance(item, otio.schema.Clip):
                continue
            src = _file(item.media_reference)
            try:
                lufs = file_loudness(src).integrated
            except MediaError:
                continue
            db = speech_gain_db(lufs) if "narration" in track.name else music_gain_db(
                lufs, bgm.volume, speech)
            out[src] = max(0.0, min(10 ** (db / 20), 6.0))  # Jianying's volume tops at +15 dB
    return out
