"""Where every artifact of a project and an episode lives.

IDs become file names, so every id that reaches a path is validated here and every
path is checked to stay inside its project folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

SHOT_ID_RE = re.compile(r"^S\d{2}-\d{3}[a-z]?$")
SCENE_ID_RE = re.compile(r"^S\d{2}$")
# a project name is any safe path component, in any script (七侠镇, "Ma·Lin", "Harbour 2"):
# at most 64 characters, starting with a letter or digit, no path separators, no control
# characters, no leading/trailing space
PROJECT_ID_RE = re.compile(r"^[^\W_][^/\\\x00-\x1f\x7f:*?\"<>|]{0,63}$")
EPISODE_RE = re.compile(r"^(?:episode-)?(\d{1,4})$")
# an episode named, not numbered: pilot, s01e03, finale-2 (kept as written)
EPISODE_NAME_RE = re.compile(r"^(?:episode-)?([A-Za-z][A-Za-z0-9_-]{0,31})$")
CLIP_VERSION_RE = re.compile(r"^(S\d{2}-\d{3}[a-z]?)-ver(\d{1,4})\.mp4$")
# cast / set / prop folder names: any letters (CJK included), digits, '-', '_', '.', ' '
NOTE_TARGET_RE = re.compile(r"^(?:scene-\d{2}|shots-\d{2}|take-S\d{2}-\d{3}[a-z]?|music|"
                            r"narration|subtitles)$")
ENTITY_NAME_RE = re.compile(r"^[^\W][\w .-]{0,79}$")
# file names built below, read back by the parsers next to them (one pattern each)
SCENE_FILE_RE = re.compile(r"^scene-(\d{2,})\.(md|json)$")

AUDIO_EXTS = (".mp3", ".wav", ".m4a", ".flac", ".ogg", ".aac")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")


class PathError(ValueError):
    """An id or a path that would not be a safe file name inside the project."""


def check_project_id(project: str) -> str:
    if not PROJECT_ID_RE.match(project or "") or project != project.strip() \
            or project in (".", ".."):
        raise PathError(
            f"project name {project!r} is not valid: use a folder name of at most 64 "
            "characters in any script (letters, digits, spaces, '·', '-', '_'), starting "
            "with a letter or digit, without / \\ : * ? \" < > | or control characters"
        )
    return project


def normalize_episode(episode: str | int) -> str:
    """'1', '001', 'episode-001' -> '001'; 'pilot', 'episode-s01e03' -> kept as named."""
    text = str(episode).strip()
    m = EPISODE_RE.match(text)
    if m:
        return f"{int(m.group(1)):03d}"
    n = EPISODE_NAME_RE.match(text)
    if n:
        return n.group(1)
    raise PathError(f"episode {episode!r} is not valid: use a number such as 001 (folder "
                    "episode-001) or a name starting with a letter, of letters, digits, "
                    "'-' or '_', such as pilot or s01e03 (folder episode-s01e03)")


def episode_folder_id(root: Path, episode: str | int) -> str:
    """The episode id whose folder exists: a number given as written ('1' -> episode-1)
    when that folder exists and the padded one (episode-001) does not; else normalized."""
    ep = normalize_episode(episode)
    raw = str(episode).strip().removeprefix("episode-")
    if raw != ep and raw.isdigit() and (root / f"episode-{raw}").is_dir() \
            and not (root / f"episode-{ep}").is_dir():
        return raw
    return ep


def parse_clip_version(name: str) -> tuple[str, int] | None:
    """`S01-002-ver3.mp4` -> ("S01-002", 3): the inverse of `EpisodePaths.clip_version`."""
    m = CLIP_VERSION_RE.match(name)
    return (m.group(1), int(m.group(2))) if m else None


def check_shot_id(shot_id: str) -> str:
    if not isinstance(shot_id, str) or not SHOT_ID_RE.match(shot_id):
        raise PathError(f"shot id {shot_id!r} must look like S01-001 (pattern S<NN>-<ZZZ>)")
    return shot_id


def check_scene_id(scene_id: str) -> str:
    if not isinstance(scene_id, str) or not SCENE_ID_RE.match(scene_id):
        raise PathError(f"scene id {scene_id!r} must look like S01")
    return scene_id


def check_entity_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not ENTITY_NAME_RE.match(name)
        or ".." in name
        or name.strip() != name
    ):
        raise PathError(
            f"name {name!r} cannot be a folder name: use letters, digits, spaces, '-', '_' or '.'"
        )
    return name


def parse_scene_file(name: str) -> tuple[int, str] | None:
    """`scene-07.md` -> (7, "md"); None for any name `EpisodePaths.scene_md/json` never builds."""
    m = SCENE_FILE_RE.match(name)
    if not m or f"scene-{int(m.group(1)):02d}.{m.group(2)}" != name:
        return None
    return int(m.group(1)), m.group(2)


def poster_of(video: Path) -> Path:
    """The still shown before a video plays: `clips/S01-001-ver2.poster.jpg` next to
    `clips/S01-001-ver2.mp4`, made by the job that makes the video."""
    video = Path(video)
    return video.with_name(f"{video.stem}.poster.jpg")


def inside(base: Path, path: Path) -> Path:
    """Return path resolved, refusing anything that escapes base."""
    b = base.resolve()
    p = path.resolve()
    if p != b and b not in p.parents:
        raise PathError(f"path {path} is outside {base}")
    return path


def projects_root() -> Path:
    return Path(os.environ.get("VIDEOGEN_PROJECTS_DIR", "projects"))


@dataclass(frozen=True)
class ProjectPaths:
    project: str
    root: Path

    @classmethod
    def of(cls, project: str, root: Path | None = None) -> ProjectPaths:
        check_project_id(project)
        return cls(project, (root or projects_root()) / project)

    @property
    def lore(self) -> Path:
        return self.root / "lore.md"

    @property
    def premise(self) -> Path:
        return self.root / "premise.md"

    @property
    def cast_dir(self) -> Path:
        return self.root / "cast"

    @property
    def set_dir(self) -> Path:
        return self.root / "movie-set"

    @property
    def props_dir(self) -> Path:
        return self.root / "props"

    @property
    def bgm_dir(self) -> Path:
        return self.root / "bgm"

    def episode(self, episode: str | int) -> EpisodePaths:
        ep = episode_folder_id(self.root, episode)
        return EpisodePaths(self, ep, self.root / f"episode-{ep}")


# Per-item artifacts: (folder, file name with its wildcard). The builders below fill the
# wildcard; `EpisodePaths.pattern()` gives the same name to the Snakemake rules.
ITEM_FILES = {
    "scene_md": ("scenes", "scene-{num}.md"),
    "scene_json": ("scenes", "scene-{num}.json"),
    "clip": ("clips", "{shot}.mp4"),
    "last_frame": ("frames", "{shot}.last.png"),
    "gate_barrier": ("gates", "{gate}.closed"),
}


@dataclass(frozen=True)
class EpisodePaths:
    project_paths: ProjectPaths
    episode: str
    root: Path

    @classmethod
    def of(cls, project: str, episode: str | int, root: Path | None = None) -> EpisodePaths:
        return ProjectPaths.of(project, root).episode(episode)

    @property
    def project(self) -> str:
        return self.project_paths.project

    @property
    def name(self) -> str:
        """The episode's base name, e.g. demo-001."""
        return f"{self.project}-{self.episode}"

    def _p(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    # writing
    @property
    def premise(self) -> Path:
        return self._p("premise.md")

    @property
    def outline(self) -> Path:
        return self._p("outline.json")

    @property
    def scenes_dir(self) -> Path:
        return self._p("scenes")

    def pattern(self, item: str) -> str:
        """The Snakemake output pattern of a per-item artifact (ITEM_FILES), e.g.
        `.../clips/{shot}.mp4`: the rules use it instead of spelling the name again."""
        folder, name = ITEM_FILES[item]
        return str(self._p(folder, name))

    def _item(self, item: str, **wildcards: str) -> Path:
        folder, name = ITEM_FILES[item]
        return self._p(folder, name.format(**wildcards))

    def scene_md(self, num: int) -> Path:
        return self._item("scene_md", num=f"{num:02d}")

    def scene_json(self, num: int) -> Path:
        return self._item("scene_json", num=f"{num:02d}")

    def scene_files(self, ext: str) -> list[Path]:
        """Every scenes/scene-NN.<ext> ("md" or "json") in scene order (see parse_scene_file)."""
        d = self.scenes_dir
        if not d.is_dir():
            return []
        found = ((parse_scene_file(p.name), p) for p in d.iterdir())
        return [p for parsed, p in sorted((x, p) for x, p in found if x and x[1] == ext)]

    @property
    def script(self) -> Path:
        return self._p("script.md")

    @property
    def direction(self) -> Path:
        return self._p("direction.json")

    @property
    def storyboard(self) -> Path:
        return self._p("storyboard.json")

    @property
    def estimate(self) -> Path:
        return self._p("estimate.json")

    @property
    def bgm_config(self) -> Path:
        return self._p("bgm-config.json")

    @property
    def bgm_dir(self) -> Path:
        return self._p("bgm")

    # manifests
    @property
    def cast_manifest(self) -> Path:
        return self._p("cast.json")

    @property
    def set_manifest(self) -> Path:
        return self._p("movie_set.json")

    @property
    def props_manifest(self) -> Path:
        return self._p("props.json")

    # render
    def shot_spec(self, shot: str) -> Path:
        return self._p("shots", f"{check_shot_id(shot)}.json")

    def clip(self, shot: str) -> Path:
        return self._item("clip", shot=check_shot_id(shot))

    def clip_version(self, shot: str, version: int) -> Path:
        return self._p("clips", f"{check_shot_id(shot)}-ver{version}.mp4")

    @property
    def clips_dir(self) -> Path:
        return self._p("clips")

    def clip_versions(self) -> dict[str, dict[int, Path]]:
        """shot id -> {version: clips/<shot>-ver<N>.mp4} for every rendered take on disk."""
        out: dict[str, dict[int, Path]] = {}
        if self.clips_dir.is_dir():
            for p in sorted(self.clips_dir.iterdir()):
                if parsed := parse_clip_version(p.name):
                    out.setdefault(parsed[0], {})[parsed[1]] = p
        return out

    def continuation_takes(self, shot_ids: list[str]) -> dict[str, Path]:
        """Each shot's continuation take: `<shot>b.mp4`, else its highest
        `<shot>b-ver<N>.mp4`; none when `<shot>b` is a shot of its own. One folder listing."""
        folder = self.clip(shot_ids[0]).parent if shot_ids else None
        if folder is None or not folder.is_dir():
            return {}
        names = {p.name for p in folder.iterdir()}
        versions: dict[str, int] = {}
        for name in names:
            parsed = parse_clip_version(name)
            if parsed and parsed[1] > versions.get(parsed[0], -1):
                versions[parsed[0]] = parsed[1]
        ids, out = set(shot_ids), {}
        for shot in shot_ids:
            take = f"{shot}b"
            if not SHOT_ID_RE.match(take) or take in ids:
                continue
            if f"{take}.mp4" in names:
                out[shot] = self.clip(take)
            elif take in versions:
                out[shot] = self.clip_version(take, versions[take])
        return out

    def narration(self, shot: str) -> Path:
        """A narration shot's voice, as the stitch lays it (a copy of its TTS cache entry)."""
        return self._p("tts", f"{check_shot_id(shot)}.wav")

    def last_frame(self, shot: str) -> Path:
        return self._item("last_frame", shot=check_shot_id(shot))

    def version_last_frame(self, shot: str, version: int) -> Path:
        return self._p("frames", f"{check_shot_id(shot)}-ver{version}_last.png")

    def review(self, shot: str, version: int) -> Path:
        return self._p("reviews", f"{check_shot_id(shot)}-ver{version}.json")

    def escalation(self, shot: str) -> Path:
        return self._p("reviews", f"escalation-{check_shot_id(shot)}.md")

    def take_request(self, shot: str) -> Path:
        return self._p("takes", f"{check_shot_id(shot)}.json")

    def shot_state(self, shot: str) -> Path:
        return self._p("state", f"{check_shot_id(shot)}.json")

    @property
    def state_dir(self) -> Path:
        return self._p("state")

    @property
    def shots_state(self) -> Path:
        return self._p("shots_state.json")

    @property
    def needs_director_rewrite(self) -> Path:
        return self._p("needs_director_rewrite.json")

    # stitch / viewer / logs / gates
    @property
    def final_mp4(self) -> Path:
        return self._p("final", f"{self.name}.mp4")

    @property
    def final_srt(self) -> Path:
        return self._p("final", f"{self.name}.srt")

    @property
    def final_otio(self) -> Path:
        """The cut as an OpenTimelineIO file, for an editor (written with the final)."""
        return self._p("final", f"{self.name}.otio")

    @property
    def narration_settings(self) -> Path:
        """The producer's narration speed, voice and level (an input of narration and stitch)."""
        return self._p("narration-settings.json")

    @property
    def stitch_request(self) -> Path:
        """How `spark-video stitch` asked for the cut (an input of the stitch)."""
        return self._p("final", "stitch-request.json")

    @property
    def viewer(self) -> Path:
        return self._p("viewer.html")

    @property
    def logs_dir(self) -> Path:
        return self._p("logs")

    @property
    def model_calls(self) -> Path:
        return self._p("logs", "model_calls.jsonl")

    @property
    def prompts_dir(self) -> Path:
        """logs/prompts/: one file per text-model call (what each role was told)."""
        return self._p("logs", "prompts")

    @property
    def vfx_review(self) -> Path:
        return self._p("reviews", "vfx-review.md")

    @property
    def vfx_review_json(self) -> Path:
        return self._p("reviews", "vfx-review.json")

    def director_notes(self, num: int) -> Path:
        """Notes for the director on one scene (VFX findings, escalations, a user's "no")."""
        return self._p("scenes", f"scene-{num:02d}.director-notes.md")

    def director_previous(self, num: int) -> Path:
        """The scene json as it was when notes were written (the build removes the output
        before the director runs again; the director rewrites from this copy)."""
        return self._p("scenes", f"scene-{num:02d}.previous.json")

    @property
    def approvals_dir(self) -> Path:
        return self._p("approvals")

    def approval(self, gate: str) -> Path:
        return self.approvals_dir / f"{gate}.json"

    def gate_barrier(self, gate: str) -> Path:
        return self._item("gate_barrier", gate=gate)

    @property
    def notes_dir(self) -> Path:
        return self._p("notes")

    def history(self, label: str) -> Path:
        """history/<label>/: the versions a revision is about to replace, kept as they were."""
        return self._p("history", label)

    def notes(self, target: str) -> Path:
        """notes/<target>.json: scene-NN, shots-NN, take-<shot> or music."""
        if not NOTE_TARGET_RE.match(target):
            raise PathError(f"note target {target!r} must be scene-NN, shots-NN, narration, "
                            "subtitles, take-S01-001 or music")
        return self._p("notes", f"{target}.json")

    @property
    def tts_dir(self) -> Path:
        return self._p("tts")

    def within(self, path: Path) -> Path:
        return inside(self.root, path)

    SUBDIRS = ("scenes", "clips", "frames", "reviews", "state", "logs", "approvals", "final")

    def scaffold(self) -> None:
        for d in self.SUBDIRS:
            self._p(d).mkdir(parents=True, exist_ok=True)


def workdir_relative(path: str | Path, workdir: Path) -> Path:
    """A path under Snakemake's working directory, written relative to it (absolute paths
    elsewhere stay absolute). The rules and every caller that names their targets use this
    one spelling, so a target named absolutely still matches a rule's relative output."""
    path = Path(path)
    if path.is_absolute():
        try:
            return path.relative_to(workdir)
        except ValueError:
            return path
    return path
