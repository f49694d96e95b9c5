"""The data model: one pydantic class per file of the production.

These classes are the contract between stages; `spark-video schemas` exports them to
`schemas/*.schema.json` and a test keeps the two in sync.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .paths import SCENE_ID_RE, SHOT_ID_RE, check_entity_name

AXES = ("logic", "proportion", "physics", "style", "cast_match", "dialog_attribution")
Kind = Literal["t2v", "i2v", "r2v"]
Mode = Literal["drama", "narration"]
Verdict = Literal["ACCEPT", "REJECT", "ERROR"]
ProviderName = Literal["offline", "bl", "wan27", "openai"]

KIND_MAX_DURATION = {"t2v": 15, "i2v": 15, "r2v": 15}
MIN_DURATION = 2


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Open(BaseModel):
    """Front-matter style models: unknown keys are kept, not refused."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)


# --------------------------------------------------------------------------- project


class ImagerySystem(_Open):
    motifs: list[Any] = Field(default_factory=list)
    highlight_elements: list[str] = Field(default_factory=list)


class Lore(_Open):
    """Front-matter of projects/<p>/lore.md."""

    title: str
    mood_anchor: str = ""
    visual_style: str = ""
    genre: str = ""
    duration_target_s: int = Field(180, ge=10, le=7200)
    forbidden: list[str] = Field(default_factory=list)
    imagery_system: ImagerySystem = Field(default_factory=ImagerySystem)
    default_resolution: str | None = None
    default_ratio: str | None = None


class ManifestEntry(_Model):
    """One cast member, movie set or prop: one folder = one frozen visual state."""

    name: str
    id: str = Field(description="ASCII slug of the name, safe for file names")
    tier: str = Field("project", description="'project' or 'episode'")
    folder: str
    card: dict[str, Any] = Field(default_factory=dict, description="the card's front-matter")
    images: list[str] = Field(default_factory=list, description="image paths, sorted")
    voices: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_entity_name(v)

    @property
    def image(self) -> str | None:
        return self.images[0] if self.images else None


class Manifest(_Model):
    """cast.json, movie_set.json and props.json all have this one shape."""

    kind: Literal["cast", "set", "prop"]
    project: str
    episode: str | None = None
    entries: list[ManifestEntry] = Field(default_factory=list)

    def names(self) -> set[str]:
        return {e.name for e in self.entries}

    def get(self, name: str) -> ManifestEntry | None:
        for e in self.entries:
            if e.name == name:
                return e
        return None


# --------------------------------------------------------------------------- writing


class OutlineScene(_Model):
    num: int = Field(ge=1, le=99)
    id: str
    title: str
    location: str = ""
    time_of_day: str = ""
    summary: str = ""
    characters: list[str] = Field(default_factory=list)
    target_duration_s: int = Field(30, ge=2)


class Outline(_Model):
    """outline.json: the scene list the screenwriter writes first."""

    project: str
    episode: str
    mode: Mode = "drama"
    title: str
    premise: str
    target_duration_s: int = 60
    scenes: list[OutlineScene] = Field(min_length=1)


class Motif(_Model):
    name: str = Field(min_length=1)
    meaning: str = ""
    landings: list[str] = Field(default_factory=list, description="scene ids where it lands")


class DirectionImagery(_Model):
    motifs: list[Motif] = Field(min_length=1)
    highlight_elements: list[str] = Field(default_factory=list)


class DualPacing(_Model):
    external: str = Field(min_length=1)
    internal: str = Field(min_length=1)


class Direction(_Model):
    """direction.json: the director's episode-wide decisions, written once before scene 1;
    every scene's directing reads it."""

    project: str
    episode: str
    tone_dimensions: dict[str, str | int | float] = Field(min_length=1)
    director_reference: str = Field(min_length=1)
    audiovisual_decisions: dict[str, str] = Field(min_length=1)
    imagery_system: DirectionImagery
    dual_pacing: DualPacing


class BGMConfig(_Model):
    """GATE 0.5 answer: bgm-config.json and Storyboard.bgm."""

    enabled: bool = False
    mode: Literal["off", "global", "scene"] = "off"
    forbid_model_bgm: bool = False
    track: str | None = None
    volume: float = Field(0.25, ge=0, le=1)
    fade_in_s: float = Field(0.5, ge=0, le=10)
    fade_out_s: float = Field(1.0, ge=0, le=10)


class Scene(_Model):
    id: str
    name: str
    description: str = Field(min_length=1)
    characters_present: list[str] = Field(default_factory=list)
    props_present: list[str] = Field(default_factory=list)
    set_id: str | None = None
    bgm_track: str | None = None
    seed: int | None = Field(None, ge=0, le=2147483647)
    extra: dict[str, Any] = Field(default_factory=dict, description="keys of an imported "
                                  "original spark-video file that ours does not use, kept")

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not SCENE_ID_RE.match(v):
            raise ValueError(f"scene id {v!r} must look like S01")
        return v


class Shot(_Model):
    id: str
    scene: str
    kind: Kind = "r2v"
    duration: int = Field(5, ge=MIN_DURATION, le=15)
    prompt: str = Field(min_length=1, max_length=5000)
    negative_prompt: str | None = None
    narrative_purpose: str | None = None
    shot_group_id: str | None = None
    shot_group_role: str | None = None
    characters: list[str] = Field(default_factory=list)
    props: list[str] = Field(default_factory=list)
    set_id: str | None = None
    use_prev_last_frame_as_first: bool = True
    seed: int | None = Field(None, ge=0, le=2147483647)
    candidates: int = Field(1, ge=1, le=4)
    role: Mode = "drama"
    narration_text: str | None = None
    narrator_voice: str | None = None
    dialog: list[DialogLine] = Field(
        default_factory=list, description="spoken lines in this shot, for audio and subtitles"
    )
    extra: dict[str, Any] = Field(default_factory=dict, description="keys of an imported "
                                  "original spark-video file that ours does not use, kept")

    @model_validator(mode="before")
    @classmethod
    def _legacy_model(cls, data: Any) -> Any:
        if isinstance(data, dict) and "model" in data and "kind" not in data:
            raise ValueError(f"field model: {data['model']!r} is the original spark-video's "
                             "field; it is now `kind` (t2v, i2v or r2v). Rename it, or run "
                             "`spark-video import` on the original project")
        return data

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not SHOT_ID_RE.match(v):
            raise ValueError(f"shot id {v!r} must look like S01-001 (S<NN>-<ZZZ>, letters, no /)")
        return v

    @model_validator(mode="after")
    def _narration(self) -> Shot:
        if self.role == "narration" and not (self.narration_text or "").strip():
            raise ValueError("narration shots need a non-empty narration_text")
        if self.role == "drama" and self.narration_text:
            raise ValueError("narration_text is only allowed on role=narration shots")
        if not self.id.startswith(self.scene + "-"):
            raise ValueError(f"shot {self.id} does not belong to scene {self.scene}")
        return self


class DialogLine(_Model):
    speaker: str
    text: str = Field(min_length=1)


Shot.model_rebuild()


class SceneFragment(_Model):
    """scenes/scene-NN.json: the director's output for one scene."""

    scene: Scene
    shots: list[Shot] = Field(min_length=1)

    def shot(self, shot_id: str) -> Shot | None:
        return next((s for s in self.shots if s.id == shot_id), None)

    @model_validator(mode="after")
    def _shots_in_scene(self) -> SceneFragment:
        for s in self.shots:
            if s.scene != self.scene.id:
                raise ValueError(f"shot {s.id} has scene {s.scene!r}, expected {self.scene.id}")
        return self


class Storyboard(_Model):
    project_id: str | None = None
    title: str
    synopsis: str | None = None
    target_duration_s: int = Field(180, ge=2)
    resolution: str = "720P"
    ratio: str = "16:9"
    provider: ProviderName | None = None
    mode: Mode = "drama"
    narrator_voice: str | None = None
    scenes: list[Scene] = Field(default_factory=list)
    shots: list[Shot] = Field(min_length=1)
    bgm: BGMConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> Storyboard:
        seen: set[str] = set()
        for s in self.shots:
            if s.id in seen:
                raise ValueError(f"duplicate shot id {s.id}")
            seen.add(s.id)
        if self.mode == "drama":
            bad = [s.id for s in self.shots if s.role == "narration"]
            if bad:
                raise ValueError(f"drama storyboards cannot have narration shots: {bad}")
        if self.bgm and self.bgm.enabled:
            if self.bgm.mode == "global" and not self.bgm.track:
                raise ValueError("bgm.mode=global needs bgm.track")
            if self.bgm.mode == "scene" and not any(sc.bgm_track for sc in self.scenes):
                raise ValueError("bgm.mode=scene needs a bgm_track on at least one scene")
        if not re.match(r"^\d{3,4}P$", self.resolution):
            raise ValueError(f"resolution {self.resolution!r} must look like 720P")
        if not re.match(r"^\d{1,2}:\d{1,2}$", self.ratio):
            raise ValueError(f"ratio {self.ratio!r} must look like 16:9")
        return self

    def scene(self, scene_id: str) -> Scene | None:
        return next((s for s in self.scenes if s.id == scene_id), None)

    def shot(self, shot_id: str) -> Shot | None:
        return next((s for s in self.shots if s.id == shot_id), None)


class ShotSpec(_Model):
    """shots/<id>.json: everything one clip's render depends on, and nothing else.

    Written by the storyboard step only when its content changes, so a clip re-renders
    exactly when its own spec (or its media) changed.
    """

    shot: Shot
    scene: Scene | None = None
    prev_shot: str | None = Field(None, description="the shot whose last frame starts this one")
    chain_index: int = 0
    resolution: str
    ratio: str
    provider: ProviderName
    mode: Mode
    mood_anchor: str = ""
    media: list[str] = Field(default_factory=list, description="cast → set → props images")
    forbid_model_bgm: bool = False
    scene_color: str = "#336699"


# --------------------------------------------------------------------------- render


class Review(_Model):
    breakdown: dict[str, float] | None = None
    score: float | None = None
    verdict: Verdict
    vetoed_axes: list[str] | None = None
    critique: str = ""
    model_verdict: str | None = None
    threshold: float = 7.0
    veto_floor: float = 5.0
    version: int = 1
    shot_id: str | None = None
    reviewer: str = "offline"
    ts: str = Field(default_factory=now_iso)
    error: str | None = None
    checks: dict[str, Any] = Field(default_factory=dict, description="technical measurements")


class Attempt(_Model):
    version: int = Field(ge=1)
    status: Literal["RUNNING", "SUCCEEDED", "FAILED"]
    started_at: str = Field(default_factory=now_iso)
    finished_at: str | None = None
    provider: str
    model: str | None = None
    prompt: str
    video_path: str | None = None
    last_frame_path: str | None = None
    first_frame: str | None = None
    elapsed_s: float | None = None
    task_id: str | None = None
    base_url: str | None = None
    duration_s: float | None = None
    cost: float | None = None
    error: str | None = None
    error_code: str | None = Field(None, description="the provider's code of a failed take")
    review: Review | None = None
    input_key: str | None = Field(None, description="hash of spec, first frame and media")
    intent: str | None = Field(None, description="fingerprint of the paid request about to "
                               "be sent; with no task_id the submit's outcome is unknown")
    intent_at: str | None = Field(None, description="when the intent was recorded (UTC)")


class ShotFailure(_Model):
    """Why a shot has no take: the provider's code and message and the command to retry."""

    code: str
    message: str
    retry: str
    at: str = Field(default_factory=now_iso)


class ShotState(_Model):
    """state/<shot>.json: one shot's render history (single writer: that shot's job)."""

    shot_id: str
    winner_version: int | None = None
    winner_path: str | None = None
    needs_director_rewrite: bool = False
    accepted_below_threshold: bool = False
    input_key: str | None = Field(None, description="input_key of the current winner")
    failed: ShotFailure | None = Field(None, description="set when the shot still failed "
                                       "after its retries; GATE 3 stays closed")
    take_request_served: int = Field(
        0, ge=0, description="take number of the last takes/<shot>.json request this shot "
        "served (or that a chosen take closed); a request with a higher take is open")
    attempts: list[Attempt] = Field(default_factory=list)

    def attempt(self, version: int) -> Attempt | None:
        return next((a for a in self.attempts if a.version == version), None)


class TakeRequest(_Model):
    """takes/<shot>.json: a request for a new paid take of one shot. It is an input of the
    shot's clip, so a plain `snakemake` re-renders that clip (and the shots chained after
    it); it stays on disk as the record of the last request."""

    shot_id: str
    take: int = Field(..., ge=1, description="the version number the new take will get")
    reason: str = Field("", description="why a new take was asked for")
    resubmit: bool = Field(False, description="submit again although the previous submission's "
                           "outcome is unknown (it may have been paid)")
    requested_at: str = Field(default_factory=now_iso)


VFX_CHECKS = "ABCDEFGHIJKLMNOPQR"
VFX_CODE_CHECKS = "ACGHJKMQR"  # decided by code; the text model judges the rest
VfxSeverity = Literal["CRIT", "WARN", "SUGG"]
VfxVerdict = Literal["PASS", "PASS WITH WARNINGS", "BLOCK"]


class VfxFinding(_Model):
    check: str = Field(pattern=r"^[A-R]$", description="checklist letter A-R")
    severity: VfxSeverity
    shots: list[str] = Field(default_factory=list)
    scenes: list[str] = Field(default_factory=list)
    issue: str = Field(min_length=1)
    fix: str = ""
    source: Literal["code", "model"] = "code"


class VfxReport(_Model):
    """reviews/vfx-review.json (the numbers behind reviews/vfx-review.md)."""

    verdict: VfxVerdict
    findings: list[VfxFinding] = Field(default_factory=list)
    storyboard_sha256: str
    shots: int
    scenes: int
    reviewer: str = "offline"
    ts: str = Field(default_factory=now_iso)

    def failing_scenes(self) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            if f.severity == "CRIT":
                for sc in f.scenes + [s.split("-")[0] for s in f.shots]:
                    if sc not in out:
                        out.append(sc)
        return sorted(out)
class StitchRequest(_Model):
    """final/stitch-request.json: how `spark-video stitch` asked for the cut. It is an input
    of the stitch, so writing it stitches again; it stays on disk, so later builds cut the
    same way. A value left out (null) is the config's."""

    crossfade: float | None = Field(None, ge=0, le=3,
                                    description="crossfade seconds between shots (0: hard cuts)")
    burn_subtitles: bool | None = Field(None, description="burn the subtitles into the picture")
    requested_at: str = Field(default_factory=now_iso)


class NarrationSettings(_Model):
    """narration-settings.json: how the producer wants the narrator to sound (notes given at
    GATE 4: "slower", "another voice", "louder"). An input of each narration job (speed and
    voice: a new TTS take) and of the stitch (the voice's level). A value left out (null) is
    the config's / storyboard's. Every change is kept in history/ with its note."""

    speech_rate: float | None = Field(None, ge=0.5, le=2.0, description="TTS speech rate "
                                      "(1.0 normal; the config's narrator_speech_rate if null)")
    voice: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                              description="TTS voice for every narration shot (beats the "
                              "storyboard's and the config's)")
    volume_db: float = Field(0.0, ge=-12, le=12, description="narration level against the "
                             "clips' sound and the music, in dB (0: as measured)")
    updated_at: str = Field(default_factory=now_iso)


class ModelCall(_Model):
    """One line of logs/model_calls.jsonl. Never holds a secret."""

    ts: str = Field(default_factory=now_iso)
    project: str | None = None
    episode: str | None = None
    shot: str | None = None
    phase: str
    attempt: int | None = None
    provider: str
    model: str | None = None
    endpoint: str | None = None
    task_id: str | None = None
    duration_ms: int = 0
    status: Literal["ok", "error", "intent"] = Field(
        "ok", description="intent: a paid request about to be sent (written before it is)")
    intent: str | None = Field(None, description="id of the paid request (fingerprint + "
                               "unique tail) this line belongs to")
    billed_units: float | None = None
    unit: str | None = None
    cost: float | None = None
    currency: str | None = None
    error: str | None = None
    prompt: str | None = None
    prompt_file: str | None = Field(
        None, description="logs/prompts/<file>: the exact system and user text of a text call")


class Approval(_Model):
    """approvals/<gate>.json: the approval stamp."""

    gate: str
    approved_by: str
    approved_at: str = Field(default_factory=now_iso)
    note: str | None = None
    artifacts: dict[str, str] = Field(description="relative path -> sha256 at approval time")
    stats: dict[str, list[int]] = Field(
        default_factory=dict,
        description="relative path -> [size, mtime_ns] at approval time: an artifact with the "
                    "same size and mtime is not hashed again")
    data: dict[str, Any] = Field(default_factory=dict, description="the gate's answer, e.g. mode")


# --------------------------------------------------------------------------- config


class WorkflowConfig(BaseModel):
    """config/config.yaml (and --config overrides); validated when the Snakefile is parsed."""

    model_config = ConfigDict(extra="allow")

    project: str = "demo"
    episode: str | int = "001"
    projects_dir: str = "projects"
    mode: Mode = "drama"
    provider: ProviderName = "offline"
    text_provider: ProviderName | None = None
    video_provider: ProviderName | None = None
    review_provider: ProviderName | None = None
    tts_provider: ProviderName | None = None
    image_provider: ProviderName | None = None
    resolution: str | None = None
    ratio: str | None = None
    api_slots: int = Field(4, ge=1, le=64)
    chain_cascade: bool = True
    review_threshold: float = Field(7.0, ge=0, le=10)
    review_veto_floor: float = Field(5.0, ge=0, le=10)
    max_retry: int = Field(3, ge=1, le=10)
    failed_retries: int = Field(3, ge=0, le=20, description="new paid tasks after a FAILED "
                                "task, per review round (separate from max_retry)")
    failed_backoff_s: float = Field(10.0, ge=0, description="wait before the first retry of "
                                    "a FAILED task; doubles each time, capped at 10 minutes")
    long_confirm_s: int = Field(600, ge=1)
    crossfade: float = Field(0.5, ge=0, le=3)
    burn_subtitles: bool = False
    reel_shots: int = Field(8, ge=1, le=1000, description="shots per reel of the cut (one "
                            "picture job each; the reel borders are shot indices)")
    narrator_voice: str = "longanyang"
    narrator_tts_model: str = "cosyvoice-v3-flash"
    narrator_speech_rate: float = Field(1.2, ge=0.5, le=2.0)
    budget: float | None = Field(None, ge=0)
    role_asks: int = Field(3, ge=1, le=10, description="tries a role gets to give a valid answer")
    vfx: bool = Field(False, description="run the VFX review before GATE 2")
    vfx_rounds: int = Field(2, ge=0, le=10, description="director fixes after a VFX BLOCK")
    escalation_rounds: int = Field(
        1, ge=0, le=10, description="director rewrites of an escalated shot in the autopilot")

    @field_validator("episode", mode="after")
    @classmethod
    def _ep(cls, v: Any) -> str:
        return str(v)


class Note(_Model):
    """One producer note: what the user asked for at a gate, kept with its history."""

    text: str = Field(min_length=1, max_length=2000)
    at: str = Field(default_factory=now_iso)
    gate: str | None = Field(None, description="the gate it was given at, if any")
    shot: str | None = Field(None, description="the one shot it is about, for director notes")


class Notes(_Model):
    """notes/<target>.json: every note for one target, oldest first. The role that owns the
    target gets all of them in its prompt (the latest last)."""

    target: str = Field(description="scene-NN (screenwriter), shots-NN (director), "
                                     "take-<shot> (a new take), music (the mix), "
                                     "narration (the narrator's voice), subtitles")
    role: Literal["screenwriter", "director", "render", "stitch", "narrator"]
    notes: list[Note] = Field(default_factory=list)


SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "lore": Lore,
    "manifest": Manifest,
    "outline": Outline,
    "direction": Direction,
    "scene-fragment": SceneFragment,
    "storyboard": Storyboard,
    "shot-spec": ShotSpec,
    "bgm-config": BGMConfig,
    "review": Review,
    "vfx-review": VfxReport,
    "shot-state": ShotState,
    "take-request": TakeRequest,
    "stitch-request": StitchRequest,
    "narration-settings": NarrationSettings,
    "model-call": ModelCall,
    "approval": Approval,
    "notes": Notes,
    "config": WorkflowConfig,
}
