"""The cut as an open timeline: final/<p>-<ep>.otio (OpenTimelineIO), for a real editor.

Written next to the final mp4 from the stitch's own placements, so its cut points are the
mp4's: a video track with one clip per shot (the take that won, in and out points in that
clip's media, dissolves where the stitch crossfades), an audio track with the narration
takes, one with the music, and the subtitles as markers (name = the line, its range =
when it is on screen).

Times: a shot's range on the track is its own span, from the middle of its crossfade in to
the middle of its crossfade out; a dissolve of length c centred on each cut has c/2 on
either side, which the clips' media covers (a shot's source range starts c/2 into its clip).
"""

from __future__ import annotations

from pathlib import Path

from ..base.io import atomic_write_text
from ..base.paths import EpisodePaths
from ..media import MediaError, probe
from ..media.sound import list_bgm_tracks


def _rt(seconds: float, fps: float):
    import opentimelineio as otio

    return otio.opentime.RationalTime(round(seconds * fps), fps)


def _range(start: float, duration: float, fps: float):
    import opentimelineio as otio

    return otio.opentime.TimeRange(_rt(start, fps), _rt(duration, fps))


def _ref(path: Path, duration: float | None, fps: float):
    import opentimelineio as otio

    ref = otio.schema.ExternalReference(target_url=path.resolve().as_uri())
    if duration:
        ref.available_range = _range(0.0, duration, fps)
    return ref


def build_timeline(paths: EpisodePaths, result, *, title: str | None = None):
    """An otio Timeline from a stitch result (spark_video.stitch.StitchResult)."""
    import opentimelineio as otio

    fps = float(result.fps) or 24.0
    tl = otio.schema.Timeline(name=title or paths.name)
    tl.global_start_time = _rt(0.0, fps)
    tl.metadata["spark_video"] = {"project": paths.project, "episode": paths.episode,
                                  "final": str(Path(result.final_path).resolve()),
                                  "crossfade": result.crossfade}
    video = otio.schema.Track(name="V1 shots", kind=otio.schema.TrackKind.Video)
    freezes = {f.shot: f.seconds for f in result.freezes}
    speedups = {s.shot: s.factor for s in result.speedups}
    for k, p in enumerate(result.timeline):
        if k > 0 and result.crossfade > 0:
            half = _rt(result.crossfade / 2, fps)
            video.append(otio.schema.Transition(
                name=f"dissolve {result.timeline[k - 1].shot} → {p.shot}",
                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=half, out_offset=half))
        clip_path = Path(p.clips[0])
        try:
            media_s = probe(clip_path).duration
        except MediaError:
            media_s = None
        lead = (p.span_start - p.start)  # half the crossfade in: media before the cut
        clip = otio.schema.Clip(name=p.shot, media_reference=_ref(clip_path, media_s, fps),
                                source_range=_range(lead, p.span_end - p.span_start, fps))
        clip.metadata["spark_video"] = {"shot": p.shot, "scene": p.scene,
                                        "clips": p.clips, "narration": p.narration}
        if p.shot in speedups:
            clip.effects.append(otio.schema.LinearTimeWarp(time_scalar=speedups[p.shot]))
        if p.shot in freezes:
            clip.markers.append(otio.schema.Marker(
                name=f"holds its last frame {freezes[p.shot]:.2f} s",
                marked_range=_range(max(0.0, p.span_end - p.span_start - freezes[p.shot]),
                                    freezes[p.shot], fps)))
        video.append(clip)
    for cue in result.cues:
        video.markers.append(otio.schema.Marker(
            name=cue.text, marked_range=_range(cue.start, cue.end - cue.start, fps),
            color=otio.schema.MarkerColor.YELLOW if cue.kind == "narration"
            else otio.schema.MarkerColor.WHITE,
            metadata={"subtitle": {"kind": cue.kind, "shot": cue.shot}}))
    tl.tracks.append(video)
    narration = _narration_track(paths, result, fps)
    if narration is not None:
        tl.tracks.append(narration)
    music = _music_track(paths, result, fps)
    if music is not None:
        tl.tracks.append(music)
    return tl


def _lay(track, items: list[tuple[float, float, object]], fps: float) -> None:
    """Put (start, duration, item) on `track` in order, with gaps between them."""
    import opentimelineio as otio

    t = 0.0
    for start, dur, item in sorted(items, key=lambda x: x[0]):
        if start > t + 1e-3:
            track.append(otio.schema.Gap(source_range=_range(0.0, start - t, fps)))
        track.append(item)
        t = start + dur


def _narration_track(paths: EpisodePaths, result, fps: float):
    import opentimelineio as otio

    items = []
    for p in result.timeline:
        if not p.narration:
            continue
        takes = sorted(paths.tts_dir.glob(f"{p.shot}*"), key=lambda f: f.stat().st_mtime) \
            if paths.tts_dir.is_dir() else []
        if not takes:
            continue
        try:
            dur = min(probe(takes[-1]).duration, p.span_end - p.span_start)
        except MediaError:
            continue
        clip = otio.schema.Clip(name=f"narration {p.shot}",
                                media_reference=_ref(takes[-1], dur, fps),
                                source_range=_range(0.0, dur, fps))
        items.append((p.span_start, dur, clip))
    if not items:
        return None
    track = otio.schema.Track(name="A1 narration", kind=otio.schema.TrackKind.Audio)
    _lay(track, items, fps)
    return track


def _music_track(paths: EpisodePaths, result, fps: float):
    import opentimelineio as otio

    if result.bgm_mode == "off" or not result.bgm_tracks:
        return None
    files = list_bgm_tracks(paths)
    track = otio.schema.Track(name="A2 music", kind=otio.schema.TrackKind.Audio)
    items = []
    if result.bgm_mode == "global":
        name = result.bgm_tracks[0]
        src = files.get(name) or files.get(Path(name).stem)
        if src is None:
            return None
        items.append((0.0, result.duration_s, otio.schema.Clip(
            name=f"music {name}", media_reference=_ref(src, None, fps),
            source_range=_range(0.0, result.duration_s, fps))))
    else:  # per scene: the scene's span on the cut
        spans: dict[str, list[float]] = {}
        for p in result.timeline:
            a, b = spans.setdefault(p.scene, [p.span_start, p.span_end])
            spans[p.scene] = [min(a, p.span_start), max(b, p.span_end)]
        for i, (scene, (a, b)) in enumerate(spans.items()):
            name = result.bgm_tracks[min(i, len(result.bgm_tracks) - 1)]
            src = files.get(name) or files.get(Path(name).stem)
            if src is None:
                continue
            items.append((a, b - a, otio.schema.Clip(
                name=f"music {scene} {name}", media_reference=_ref(src, None, fps),
                source_range=_range(0.0, b - a, fps))))
    if not items:
        return None
    _lay(track, items, fps)
    return track


def write_otio(paths: EpisodePaths, result, out: Path | None = None) -> Path:
    import opentimelineio as otio

    out = Path(out) if out else paths.final_otio
    tl = build_timeline(paths, result)
    atomic_write_text(out, otio.adapters.write_to_string(tl, "otio_json"))
    return out


def cut_points(path: Path) -> list[float]:
    """The start of every shot on the video track of an .otio file, in seconds."""
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(path))
    track = next(t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video)
    return [track.range_of_child(c).start_time.to_seconds()
            for c in track if isinstance(c, otio.schema.Clip)]
