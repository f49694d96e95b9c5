"""Generate a finished episode of N shots without rendering, for the orchestration benches.

    uv run python bench/big_episode.py --shots 300 --out /tmp/big [--episode 001]

What is real and what is made cheaply (so a no-op `snakemake final` on the result measures
exactly the orchestration a real finished episode of that size costs):

  real   the demo project's manifests and portraits (a real Snakemake run of `manifests` after GATE
         1, with its CAST CHECK; offline provider); script.md (`compile_script`); storyboard.json
         and every shots/<id>.json (`compile_storyboard`); estimate.json; shots_state.json
         (`derive_shots_state`); viewer.html (`build_viewer`); the approval stamps of the mode,
         script, storyboard and render gates (`gates.approve`, so the gate checks and the hashes are
         the real ones); the final mtimes (a real `snakemake final --touch`).
  cheap  outline.json, scene-NN.md and scene-NN.json are written directly (20 shots a scene,
         more past 1980 shots: at most 99 scenes;
         chains of up to 4 shots, both cast members in every shot); every clip, take and
         last frame is a copy of one tiny mp4 / png made by ffmpeg; each shot's state
         records one accepted take scored 8.0; the final mp4 is a copy of the tiny clip,
         its .otio an empty timeline.

It ends by checking that `snakemake final --dry-run` has nothing to do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spark_video import gates  # noqa: E402
from spark_video.base.io import atomic_write_json, atomic_write_text  # noqa: E402
from spark_video.base.models import Attempt, Outline, Review, SceneFragment, ShotState  # noqa: E402
from spark_video.base.paths import EpisodePaths  # noqa: E402
from spark_video.base.scenefmt import SceneScript, render_scene_md  # noqa: E402
from spark_video.base.settings import resolve  # noqa: E402
from spark_video.media import ffmpeg_exe  # noqa: E402

SHOTS_PER_SCENE = 20
CHAIN = 4


def bench_env(projects: Path) -> dict[str, str]:
    """An offline run on `projects`, with Python's default of keeping bytecode: a machine
    that sets PYTHONDONTWRITEBYTECODE (this one does) compiles the project's own modules in
    every process, which a user's machine does only once."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPARK_VIDEO_", "DASHSCOPE_", "OPENAI_"))
           and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"VIDEOGEN_PROJECTS_DIR": str(projects), "SPARK_VIDEO_RESOLUTION": "360P"})
    return env


def snakemake_cmd(projects: Path, episode: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *args, "--directory", str(REPO),
            "--config", "project=demo", f"episode={episode}", f"projects_dir={projects}"]


def smk(projects: Path, episode: str, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(snakemake_cmd(projects, episode, *args), cwd=REPO,
                          env=bench_env(projects), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return proc


def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                    *args], check=True)


def make_storyboard(projects: Path, shots: int, episode: str = "001",
                    env: dict[str, str] | None = None) -> EpisodePaths:
    """An episode with GATE 2 (storyboard) approved and nothing rendered. `env` holds the
    SPARK_VIDEO_* knobs the storyboard is compiled with (provider, resolution)."""
    if not (projects / "demo").exists():
        shutil.copytree(REPO / "projects" / "demo", projects / "demo",
                        ignore=shutil.ignore_patterns("episode-*", "portrait.png"))
    os.environ.update(env or bench_env(projects))
    cfg = resolve({"project": "demo", "episode": episode, "projects_dir": str(projects)})
    paths = EpisodePaths.of("demo", episode, root=projects)
    paths.scaffold()
    atomic_write_text(paths.premise, "A lighthouse keeper and a courier cross a stormy sea.\n")
    gates.approve(paths, "mode", data={"mode": "drama"}, note="bench")  # GATE 0, as the CLI
    # scene numbers have two digits: past 1980 shots a scene holds more than 20
    per_scene = max(SHOTS_PER_SCENE, -(-shots // 99))
    n_scenes = -(-shots // per_scene)
    if per_scene > 999:
        raise SystemExit("at most 99 scenes of 999 shots")
    cast = ["Mara", "Theo"]
    outline = Outline(project="demo", episode=paths.episode, title="Bench", premise="bench",
                      scenes=[{"num": n, "id": f"S{n:02d}", "title": f"Scene {n}",
                               "summary": "the crossing goes on", "characters": cast}
                              for n in range(1, n_scenes + 1)])
    atomic_write_json(paths.outline, outline)
    left = shots
    for n in range(1, n_scenes + 1):
        k = min(per_scene, left)
        left -= k
        atomic_write_text(paths.scene_md(n), render_scene_md(SceneScript(
            num=n, location="The sea", characters=cast, estimated_duration=5 * k,
            action="The boat climbs a wave. The light turns over the water.",
            dialog=[{"speaker": "Mara", "text": "We keep going."},
                    {"speaker": "Theo", "text": "Until the light."}])))
        frag = SceneFragment(
            scene={"id": f"S{n:02d}", "name": f"Scene {n}", "description": "A stormy sea.",
                   "characters_present": cast},
            shots=[{"id": f"S{n:02d}-{i + 1:03d}", "scene": f"S{n:02d}", "kind": "r2v",
                    "duration": 5, "prompt": f"Mara and Theo at sea, beat {i + 1}.",
                    "narrative_purpose": "the crossing goes on", "characters": cast,
                    "use_prev_last_frame_as_first": i % CHAIN != 0,
                    "dialog": [{"speaker": cast[i % 2], "text": f"Line {i + 1}."}]}
                   for i in range(k)])
        atomic_write_json(paths.scene_json(n), frag)
    from spark_video.storyboard import compile_script, compile_storyboard, estimate

    compile_script(paths)
    gates.approve(paths, "script", note="bench")
    # real: the CAST CHECK of the approved script, placeholder portraits and the manifests
    smk(projects, episode, "--cores", "2", *[str(p) for p in (
        paths.cast_manifest, paths.set_manifest, paths.props_manifest)])
    sb = compile_storyboard(paths, cfg, "drama")
    atomic_write_json(paths.estimate, estimate(sb, cfg))
    gates.approve(paths, "storyboard", note="bench")
    return paths


def make_episode(projects: Path, shots: int, episode: str = "001") -> EpisodePaths:
    """A finished episode: every clip accepted, GATE 3 approved, final and viewer built."""
    paths = make_storyboard(projects, shots, episode)
    from spark_video.storyboard import load_storyboard

    sb = load_storyboard(paths)
    tiny = paths.root / "tiny.mp4"
    frame = paths.root / "tiny.png"
    ff("-f", "lavfi", "-i", "testsrc2=size=64x36:rate=24:duration=1", "-c:v", "libx264",
       "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(tiny))
    ff("-i", str(tiny), "-frames:v", "1", str(frame))
    for d in ("clips", "frames"):
        (paths.root / d).mkdir(parents=True, exist_ok=True)
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    for s in sb.shots:
        ver = paths.clip_version(s.id, 1)
        shutil.copyfile(tiny, ver)
        shutil.copyfile(tiny, paths.clip(s.id))
        shutil.copyfile(frame, paths.version_last_frame(s.id, 1))
        shutil.copyfile(frame, paths.last_frame(s.id))
        review = Review(verdict="ACCEPT", score=8.0, version=1, shot_id=s.id,
                        breakdown={"story": 8.0})
        atomic_write_json(paths.review(s.id, 1), review)
        att = Attempt(version=1, status="SUCCEEDED", provider="offline", prompt=s.prompt,
                      video_path=str(ver.relative_to(paths.root)), review=review,
                      input_key="bench")
        atomic_write_json(paths.shot_state(s.id), ShotState(
            shot_id=s.id, winner_version=1, winner_path=str(paths.clip(s.id).relative_to(
                paths.root)), input_key="bench", attempts=[att]))
    from spark_video.render import derive_shots_state

    derive_shots_state(paths, [s.id for s in sb.shots])
    gates.approve(paths, "render", note="bench")
    paths.final_mp4.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny, paths.final_mp4)
    atomic_write_text(paths.final_srt, "1\n00:00:00,000 --> 00:00:01,000\nLine 1.\n")
    import opentimelineio as otio

    atomic_write_text(paths.final_otio, otio.adapters.write_to_string(
        otio.schema.Timeline(name=paths.name), "otio_json"))
    from spark_video.workflow.jobs import build_viewer

    build_viewer(paths)
    smk(projects, episode, "final", "--touch", "--cores", "1")
    for gate in ("script", "storyboard", "render"):
        if not gates.is_open(paths, gate):
            raise SystemExit(f"{gate} gate closed after generation: "
                             f"{gates.why_closed(paths, gate)}")
    dry = smk(projects, episode, "final", "--dry-run")
    if "Nothing to be done" not in dry.stdout + dry.stderr:
        raise SystemExit(f"the generated episode is not finished:\n{dry.stdout[-3000:]}")
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shots", type=int, default=100)
    ap.add_argument("--out", type=Path, required=True, help="projects folder to create")
    ap.add_argument("--episode", default="001")
    a = ap.parse_args()
    paths = make_episode(a.out.resolve(), a.shots, a.episode)
    print(paths.root)


if __name__ == "__main__":
    main()


@contextmanager
def scratch(keep: Path | None, prefix: str) -> Iterator[Path]:
    """The benches' work folder: `keep` (left in place), or a new temporary folder that is
    removed afterwards."""
    work = (keep or Path(tempfile.mkdtemp(prefix=prefix))).resolve()
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
