"""Exports of the cut (spark_video/stitch/exports.py, rules/export.smk): the formats asked for, the
NLE timelines read back through OTIO's own adapters, the MLT project played by `melt` and
compared with the final frame by frame, the Jianying draft read back with pyJianYingDraft,
and `snakemake --report`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, offline_env

from spark_video.base.io import InputError
from spark_video.base.paths import EpisodePaths
from spark_video.stitch import exports

FPS = 24.0


# --------------------------------------------------------------------------- fast


def test_requested_formats_are_checked():
    assert exports.requested(None) == []
    assert exports.requested("") == []
    assert exports.requested("fcpxml, EDL,fcpxml", installed=lambda m: True) == ["fcpxml", "edl"]
    assert exports.requested(["mlt"], installed=lambda m: False) == ["mlt"]  # needs no extra
    with pytest.raises(InputError, match="unknown format 'avid'.*known: fcpxml"):
        exports.requested("fcpxml,avid", installed=lambda m: True)
    with pytest.raises(InputError, match="needs the 'jianying' extra: uv sync --extra jianying"):
        exports.requested("jianying", installed=lambda m: False)
    with pytest.raises(InputError, match="comma list"):
        exports.requested(3)


def _cut(tmp_path: Path) -> tuple[EpisodePaths, list[float]]:
    """A stitched-like .otio: three shots (6, 5, 4 s of media), 0.5 s dissolves centred on
    the cuts, a narration track, subtitles as markers. Returns the paths and cut points."""
    import opentimelineio as otio

    from spark_video.stitch import timeline as tlm

    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    paths.final_otio.parent.mkdir(parents=True)
    tl = otio.schema.Timeline(name=paths.name)
    video = otio.schema.Track(name="V1 shots", kind=otio.schema.TrackKind.Video)
    media, c = [6.0, 5.0, 4.0], 0.5
    cuts, t = [], 0.0
    for k, m in enumerate(media):
        lead = c / 2 if k else 0.0
        span = m - (c / 2 if k else 0.0) - (c / 2 if k < len(media) - 1 else 0.0)
        if k:
            video.append(otio.schema.Transition(
                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=tlm._rt(c / 2, FPS), out_offset=tlm._rt(c / 2, FPS)))
        video.append(otio.schema.Clip(
            name=f"S01-00{k + 1}",
            media_reference=tlm._ref(tmp_path / f"S01-00{k + 1}.mp4", m, FPS),
            source_range=tlm._range(lead, span, FPS)))
        cuts.append(t)
        t += span
    video.markers.append(otio.schema.Marker(name="The storm comes.",
                                            marked_range=tlm._range(1.0, 2.0, FPS)))
    tl.tracks.append(video)
    audio = otio.schema.Track(name="A1 narration", kind=otio.schema.TrackKind.Audio)
    tlm._lay(audio, [(6.0, 3.0, otio.schema.Clip(
        name="narration S01-002", media_reference=tlm._ref(tmp_path / "S01-002.wav", 3.0, FPS),
        source_range=tlm._range(0.0, 3.0, FPS)))], FPS)
    tl.tracks.append(audio)
    otio.adapters.write_to_file(tl, str(paths.final_otio), adapter_name="otio_json")
    return paths, cuts


@pytest.mark.parametrize("fmt,module", [("fcpxml", "otio_fcpx_xml_adapter"),
                                        ("fcp7", "otio_fcp_adapter"),
                                        ("edl", "otio_cmx3600_adapter"),
                                        ("kdenlive", "otio_kdenlive_adapter")])
def test_nle_timeline_reads_back_through_its_adapter_with_our_cut_points(tmp_path, fmt, module):
    pytest.importorskip(module)
    import opentimelineio as otio

    paths, cuts = _cut(tmp_path)
    out = exports.write_timeline(paths, paths.final_otio, exports.output_path(paths, fmt))
    assert out.name == "demo-001" + exports.FORMATS[fmt].suffix
    back = otio.adapters.read_from_file(str(out), adapter_name=exports.FORMATS[fmt].adapter)
    video = next(t for t in back.video_tracks())
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    assert len(clips) == 3, [type(c).__name__ for c in video]
    # a cut is the middle of its dissolve: an EDL's dissolve event starts at the dissolve,
    # so its clip starts half a dissolve early with the whole dissolve after the cut
    got = []
    items = list(video)
    for k, c in enumerate(items):
        if isinstance(c, otio.schema.Clip):
            t = video.range_of_child(c).start_time.to_seconds()
            prev = items[k - 1] if k else None
            if isinstance(prev, otio.schema.Transition):
                t += (prev.out_offset.to_seconds() - prev.in_offset.to_seconds()) / 2
                assert abs(prev.in_offset.to_seconds() + prev.out_offset.to_seconds() - 0.5) \
                    <= 1 / FPS + 1e-6, (fmt, prev)
            got.append(t)
    assert sum(isinstance(t, otio.schema.Transition) for t in items) in (
        (0,) if fmt in ("fcpxml", "kdenlive") else (2,))  # these two adapters drop dissolves
    for want, have in zip(cuts, got, strict=True):
        assert abs(have - want) <= 1 / FPS + 1e-6, (fmt, cuts, got)
    total = video.duration().to_seconds()
    assert abs(total - (6 + 5 + 4 - 2 * 0.5)) <= 1 / FPS + 1e-6, (fmt, total)


def test_mlt_project_holds_every_frame_of_the_cut(tmp_path):
    paths, cuts = _cut(tmp_path)
    out = exports.output_path(paths, "mlt")
    xml = exports.mlt_xml(exports.read_cut(paths.final_otio), base=out.parent, width=640,
                          height=360)
    root = ET.fromstring(xml)
    shots = root.find("playlist[@id='shots']")
    frames = sum(int(e.get("out")) - int(e.get("in")) + 1 for e in shots.findall("entry"))
    assert frames == round((6 + 5 + 4 - 2 * 0.5) * FPS)
    mixes = [t for t in root.findall("tractor") if t.get("id", "").startswith("mix")]
    assert len(mixes) == 2  # one per dissolve, luma + mix, 12 frames centred on the cut
    for tractor in mixes:
        services = [p.text for p in tractor.iter("property") if p.get("name") == "mlt_service"]
        assert services == ["luma", "mix"]
        assert int(tractor.get("out")) + 1 == 12
    # the mix starts half a dissolve before the cut on the playlist
    starts, t = [], 0
    for e in shots.findall("entry"):
        if e.get("producer").startswith("mix"):
            starts.append(t)
        t += int(e.get("out")) - int(e.get("in")) + 1
    assert starts == [round(c * FPS) - 6 for c in cuts[1:]]
    # media paths are relative to the project's folder (the episode can move)
    resources = [p.text for p in root.iter("property") if p.get("name") == "resource"]
    assert all(not r.startswith("/") for r in resources), resources
    # the narration track: a gap to 6 s, then its 3 s, mixed over the shots
    audio = root.find("playlist[@id='audio0']")
    assert audio.find("blank").get("length") == str(round(6 * FPS))
    entry = audio.find("entry")
    assert int(entry.get("out")) - int(entry.get("in")) + 1 == round(3 * FPS)


def test_unreadable_timeline_is_a_clear_error(tmp_path):
    paths = EpisodePaths.of("demo", "001", root=tmp_path / "projects")
    paths.final_otio.parent.mkdir(parents=True)
    paths.final_otio.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable OpenTimelineIO file.*build again"):
        exports.write_timeline(paths, paths.final_otio, exports.output_path(paths, "mlt"))


# --------------------------------------------------------------------------- slow


W, H = 64, 36


def _frames(path: Path) -> list[list[float]]:
    """Every frame, 64x36 grey, each minus its mean (encoders differ in levels)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    raw = subprocess.run([get_ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-vf",
                          f"scale={W}:{H},format=gray", "-f", "rawvideo", "-"],
                         capture_output=True, check=True).stdout
    n, out = W * H, []
    for i in range(0, len(raw) - n + 1, n):
        f = raw[i:i + n]
        m = sum(f) / n
        out.append([x - m for x in f])
    return out


def _diff(a, b) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def cut_offsets(final: list, other: list, cut_frame: int, half: int) -> list[int]:
    """For each frame of the final's dissolve around a cut, how many frames later the most
    similar frame of `other` is (searching ±6)."""
    offs = []
    for i in range(cut_frame - half, cut_frame + half):
        best = min((_diff(final[i], other[j]), j - i)
                   for j in range(max(0, i - 6), min(len(other), i + 7)))
        offs.append(best[1])
    return offs


def _snakemake(env, projects: Path, *args: str, extra: tuple[str, ...] = ()):
    cmd = [sys.executable, "-m", "snakemake", *args, "--directory", str(REPO), "--config",
           "project=demo", "episode=001", f"projects_dir={projects}", *extra]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture
def exported(finished_copy):
    """A finished episode with every export built by its rules."""
    for m in ("otio_fcpx_xml_adapter", "otio_fcp_adapter", "otio_cmx3600_adapter",
              "otio_kdenlive_adapter", "pyJianYingDraft"):
        pytest.importorskip(m)
    env = offline_env(finished_copy)
    r = _snakemake(env, finished_copy, "-c1", "exports",
                   extra=("timelines=fcpxml,fcp7,edl,kdenlive,mlt,jianying",))
    assert r.returncode == 0, r.stderr[-3000:]
    return finished_copy, EpisodePaths.of("demo", "001", root=finished_copy)


@pytest.mark.slow
def test_melt_plays_the_mlt_project_as_we_cut_it(exported, tmp_path):
    from spark_video.media import probe
    from spark_video.stitch.timeline import cut_points

    melt = shutil.which("melt")
    if melt is None:
        pytest.skip("melt is not installed (apt-get install melt)")
    _, paths = exported
    rendered = tmp_path / "melt.mp4"
    subprocess.run([melt, "-quiet", str(exports.output_path(paths, "mlt")), "-consumer",
                    f"avformat:{rendered}", "vcodec=libx264", "acodec=aac", "real_time=-1"],
                   check=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    fps = probe(paths.final_mp4).fps
    final, ours = _frames(paths.final_mp4), _frames(rendered)
    assert abs(len(ours) - len(final)) <= 1, (len(ours), len(final))
    tl = exports.read_cut(paths.final_otio)
    half = round(tl.metadata["spark_video"]["crossfade"] * fps / 2)
    cuts = cut_points(paths.final_otio)[1:]
    assert len(cuts) >= 2
    report = []
    for t in cuts:
        offs = cut_offsets(final, ours, round(t * fps), max(half, 2))
        report.append((t, offs))
        assert all(abs(o) <= 1 for o in offs), (t, offs)
    print(f"melt: {len(ours)} frames, final {len(final)}; cut offsets {report}")


@pytest.mark.slow
def test_jianying_draft_reads_back_with_the_cut(exported, tmp_path):
    import opentimelineio as otio
    import pyJianYingDraft as jy

    from spark_video.stitch.subtitles import parse_srt

    projects, paths = exported
    draft = exports.output_path(paths, "jianying")
    # the draft works after a copy: its media are inside it, named by the placeholder
    copy = tmp_path / "Drafts" / draft.name
    shutil.copytree(draft, copy)
    script = jy.DraftFolder(str(copy.parent)).load_template(draft.name)
    content = json.loads((copy / "draft_content.json").read_text(encoding="utf-8"))
    for m in content["materials"]["videos"] + content["materials"]["audios"]:
        assert m["path"].startswith(exports.DRAFT_PLACEHOLDER + "/materials/"), m["path"]
        assert (copy / "materials" / Path(m["path"]).name).is_file()
    tl = exports.read_cut(paths.final_otio)
    video = next(iter(tl.video_tracks()))
    audio = list(tl.audio_tracks())
    tracks = script.imported_tracks
    kinds = [t.track_type.name for t in tracks]
    assert kinds.count("video") == 1 and kinds.count("text") == 1
    assert kinds.count("audio") == len(audio)
    shots = next(t for t in tracks if t.track_type.name == "video").segments
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    assert len(shots) == len(clips)
    frame = round(1e6 / clips[0].source_range.duration.rate)
    for seg, clip in zip(shots, clips, strict=True):
        rng = video.range_of_child(clip)
        assert abs(seg.target_timerange.start - rng.start_time.to_seconds() * 1e6) <= frame
        assert abs(seg.target_timerange.duration - rng.duration.to_seconds() * 1e6) <= frame
        src = clip.source_range
        assert abs(seg.source_timerange.start - src.start_time.to_seconds() * 1e6) <= frame
        assert abs(seg.source_timerange.duration - src.duration.to_seconds() * 1e6) <= frame
    transitions = content["materials"]["transitions"]
    assert len(transitions) == sum(isinstance(t, otio.schema.Transition) for t in video)
    texts = next(t for t in tracks if t.track_type.name == "text").segments
    cues = parse_srt(paths.final_srt.read_text(encoding="utf-8"))
    assert len(texts) == len(cues) > 0
    for seg, cue in zip(texts, cues, strict=True):
        assert abs(seg.target_timerange.start / 1e6 - cue.start) <= 1 / 24 + 1e-3
        assert abs(seg.target_timerange.end / 1e6 - cue.end) <= 1 / 24 + 1e-3


@pytest.mark.slow
def test_snakemake_report_holds_the_final_and_the_storyboard(finished_copy, tmp_path):
    env = offline_env(finished_copy)
    out = tmp_path / "report.zip"
    r = _snakemake(env, finished_copy, "--report", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    names = zipfile.ZipFile(out).namelist()
    for want in ("demo-001.mp4", "demo-001.srt", "storyboard.json", "script.md",
                 "viewer.html", "estimate.json", "shots_state.json"):
        assert any(n.endswith("/" + want) for n in names), (want, names)
    page = zipfile.ZipFile(out).read(next(n for n in names if n.endswith("report.html")))
    for category in (b"Script", b"Storyboard", b"Clips", b"Final"):
        assert category in page
    # a report runs no job: nothing was built or rebuilt
    assert "Nothing to be done" in _snakemake(env, finished_copy, "-n").stdout + \
        _snakemake(env, finished_copy, "-n").stderr


def test_draft_ranges_stay_inside_their_media():
    """The .otio's ranges are whole frames: a 2.0 s range of a 1.983 s voice take is cut to
    the take (pyJianYingDraft refuses a range past its material's end)."""
    import opentimelineio as otio

    from spark_video.stitch import timeline as tlm

    class Material:
        duration = 1_983_000

    rng = tlm._range(0.0, 2.0, FPS)
    assert exports._within(Material, rng) == (0, 1_983_000)
    assert exports._within(Material, tlm._range(0.5, 1.0, FPS)) == (500_000, 1_000_000)
    assert isinstance(rng, otio.opentime.TimeRange)


@pytest.mark.slow
def test_narration_episode_exports_keep_the_voice_track(projects, tmp_path):
    """A narration episode: the draft has the narration track (each voice where the cut has
    it, at the stitch's speech gain) and melt still plays the .mlt as the final."""
    pytest.importorskip("pyJianYingDraft")
    import opentimelineio as otio
    import pyJianYingDraft as jy
    from conftest import run_cli

    from spark_video.media import file_loudness
    from spark_video.media.sound import speech_gain_db
    from spark_video.stitch.timeline import cut_points

    env = offline_env(projects)
    run_cli(env, "episode", "demo", "002", "--mode", "narration", "--yes", "--premise",
            "The keepers count the ships that never came. One finally does.", check=True)
    cmd = [sys.executable, "-m", "snakemake", "-c1", "exports", "--directory", str(REPO),
           "--config", "project=demo", "episode=002", f"projects_dir={projects}",
           "timelines=mlt,jianying"]
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    paths = EpisodePaths.of("demo", "002", root=projects)
    tl = exports.read_cut(paths.final_otio)
    narration = next(t for t in tl.audio_tracks() if "narration" in t.name)
    voices = [c for c in narration if isinstance(c, otio.schema.Clip)]
    assert voices
    script = jy.DraftFolder(str(paths.final_mp4.parent)).load_template(
        exports.output_path(paths, "jianying").name)
    track = next(t for t in script.imported_tracks if t.name == narration.name)
    assert len(track.segments) == len(voices)
    segs = {s.material_id: s for s in track.segments}
    content = json.loads((exports.output_path(paths, "jianying") / "draft_content.json")
                         .read_text(encoding="utf-8"))
    by_name = {m["id"]: m["path"].rsplit("/", 1)[-1] for m in content["materials"]["audios"]}
    volumes = {seg["material_id"]: seg["volume"] for t in content["tracks"]
               if t["name"] == narration.name for seg in t["segments"]}
    for voice in voices:
        src = exports._file(voice.media_reference)
        mid = next(k for k, v in by_name.items() if v == src.name)
        start = narration.range_of_child(voice).start_time.to_seconds()
        assert abs(segs[mid].target_timerange.start / 1e6 - start) <= 1 / FPS
        want = min(10 ** (speech_gain_db(file_loudness(src).integrated) / 20), 6.0)
        assert abs(volumes[mid] - want) < 1e-3, (src, volumes[mid], want)
    melt = shutil.which("melt")
    if melt is None:
        pytest.skip("melt is not installed (apt-get install melt)")
    rendered = tmp_path / "melt.mp4"
    subprocess.run([melt, "-quiet", str(exports.output_path(paths, "mlt")), "-consumer",
                    f"avformat:{rendered}", "vcodec=libx264", "acodec=aac", "real_time=-1"],
                   check=True, capture_output=True, timeout=600, stdin=subprocess.DEVNULL)
    final, ours = _frames(paths.final_mp4), _frames(rendered)
    assert abs(len(ours) - len(final)) <= 1, (len(ours), len(final))
    for t in cut_points(paths.final_otio)[1:]:
        offs = cut_offsets(final, ours, round(t * FPS), 6)
        assert all(abs(o) <= 1 for o in offs), (t, offs)
    print(f"narration episode: melt {len(ours)} frames, final {len(final)}")
