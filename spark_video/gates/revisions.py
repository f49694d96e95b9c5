"""A producer's "no": a note routed to the role that owns it, then rebuilt through the graph.

Scope comes from the user's words ("scene 2", "S03-002", "music"), else the gate asks.
Where a note goes:
- a scene, at GATE 1 (or any gate when it talks about the script): the screenwriter.
  notes/scene-NN.json is an input of that scene's `scene_md` job, and the job puts every
  note in the screenwriter's prompt, so only that scene is rewritten;
- a shot, or a scene's shot list (GATE 2 on): the director. notes/shots-NN.json is an input
  of the scene's `scene_json` job; a note about one shot carries its id;
- one clip (GATE 3 on, a shot id): a new take of that clip (notes/take-<shot>.json keeps
  the note for the record);
- the music or the mix: bgm-config.json is adjusted (louder, quieter, off) and the final
  is stitched again (notes/music.json); an episode with no music says so;
- the narrator (speed, voice, level): narration-settings.json is adjusted, then narration
  and stitch run again (notes/narration.json); an episode with no narration shots says so;
- the subtitles (burn them in, take them out): final/stitch-request.json, stitched again
  (notes/subtitles.json).
Nothing is deleted: a revision only adds a note (and maybe a take request), so an episode
always stays buildable, and the rebuild changes only what depends on the note.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .. import gates
from ..base.io import InputError, atomic_write_json, load_model
from ..base.models import (
    BGMConfig,
    NarrationSettings,
    Note,
    Notes,
    Outline,
    StitchRequest,
    Storyboard,
)
from ..base.paths import EpisodePaths
from ..base.settings import WorkflowConfig
from ..providers.capabilities import CapabilityError, tts_caps
from ..render import load_state, request_take, save_state
from .notes import load_notes

SHOT_RE = re.compile(r"\bS(\d{2})-(\d{3}[a-z]?)\b", re.I)
SCENE_RE = re.compile(r"\bscene\s*#?\s*(\d{1,2})\b", re.I)
MUSIC_RE = re.compile(r"\b(music|bgm|soundtrack|score|mix|volume|loud(?:er)?|quiet(?:er)?|"
                      r"soft(?:er)?)\b", re.I)
SCRIPT_WORDS = re.compile(r"\b(script|dialog(?:ue)?|lines?|writ\w*|story|character|scene "
                          r"text|tenser|funnier|sadder)\b", re.I)
NARRATION_RE = re.compile(r"\b(narrat\w*|voice[- ]?over|voice|speech|speaking|spoken|tts|"
                          r"reads?|reading)\b", re.I)
SUBTITLE_RE = re.compile(r"\b(subtitles?|subs|captions?|srt)\b", re.I)
ROLE_OF = {"scene": "screenwriter", "shots": "director", "take": "render", "music": "stitch",
           "narration": "narrator", "subtitles": "stitch"}


class RevisionError(ValueError):
    """The note cannot be routed (unknown scene or shot, no music to change)."""


@dataclass
class Revision:
    kind: str  # scene | shots | take | music | narration | subtitles
    text: str
    gate: str | None = None
    scene: int | None = None
    shot: str | None = None
    force: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        if self.kind == "scene":
            return f"scene-{self.scene:02d}"
        if self.kind == "shots":
            return f"shots-{self.scene:02d}"
        if self.kind == "take":
            return f"take-{self.shot}"
        return self.kind  # music | narration | subtitles

    def describe(self) -> list[str]:
        what = {"scene": f"the screenwriter rewrites scene {self.scene}",
                "shots": (f"the director redoes shot {self.shot}" if self.shot else
                          f"the director redoes the shot list of scene {self.scene}"),
                "take": f"a new take of {self.shot}",
                "music": "the music/mix is adjusted and the final stitched again",
                "narration": "the narration settings are adjusted, the narration spoken and "
                             "the final stitched again",
                "subtitles": "the subtitles are changed and the final stitched again",
                }[self.kind]
        return [f"→ {what}, with the note “{self.text}”"]

    def replaces(self, paths: EpisodePaths) -> list[Path]:
        """The artifacts this revision will regenerate on purpose (a new take keeps the old
        one as clips/<shot>-verN.mp4 anyway)."""
        if self.kind == "scene":
            return [paths.scene_md(self.scene), paths.script]
        if self.kind == "shots":
            return [paths.scene_json(self.scene), paths.storyboard]
        if self.kind == "music":
            return [paths.bgm_config, paths.final_mp4, paths.final_srt]
        if self.kind == "narration":
            return [paths.narration_settings, *narration_files(paths), paths.final_mp4,
                    paths.final_srt]
        if self.kind == "subtitles":
            return [paths.stitch_request, paths.final_mp4, paths.final_srt]
        return []

    def apply(self, paths: EpisodePaths, cfg: WorkflowConfig) -> None:
        # refused before anything is written: a note that changes nothing is not kept
        if self.kind == "music":
            check_music(paths)
        elif self.kind == "narration":
            narration_change(paths, cfg, self.text)
        elif self.kind == "subtitles":
            subtitles_change(paths, cfg, self.text)
        keep_history(paths, self.target, self.replaces(paths))
        add_note(paths, self)
        if self.kind == "take":
            st = load_state(paths, self.shot)
            if st.needs_director_rewrite:  # the producer asked for another try
                save_state(paths, st.model_copy(update={"needs_director_rewrite": False}))
            # a take request file (an input of the clip): the build renders exactly this take
            request_take(paths, self.shot, self.text)
        elif self.kind == "music":
            adjust_music(paths, self.text)
        elif self.kind == "narration":
            atomic_write_json(paths.narration_settings, narration_change(paths, cfg, self.text))
        elif self.kind == "subtitles":
            atomic_write_json(paths.stitch_request, subtitles_change(paths, cfg, self.text))


def keep_history(paths: EpisodePaths, label: str, files: list[Path],
                 rel: Callable[[Path], Path] | None = None) -> Path | None:
    """Copy the versions about to be regenerated into history/<UTC time>-<label>/ (same
    relative paths, same bytes and mtimes), so a revision never loses what it replaces.
    `rel`: where a file goes in that folder (default: its path in the episode)."""
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    dest = paths.history(f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{label}")
    for f in files:
        out = dest / (rel(f) if rel else f.relative_to(paths.root))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, out)
    return dest


def add_note(paths: EpisodePaths, rev: Revision) -> Notes:
    notes = load_notes(paths, rev.target) or Notes(target=rev.target, role=ROLE_OF[rev.kind])
    notes = notes.model_copy(update={"notes": [
        *notes.notes, Note(text=rev.text, gate=rev.gate, shot=rev.shot)]})
    atomic_write_json(paths.notes(rev.target), notes)
    return notes


def check_music(paths: EpisodePaths) -> None:
    if not gates.bgm_tracks(paths) and not paths.bgm_config.exists():
        raise RevisionError(
            "this episode has no music to change (no tracks in "
            f"{paths.project_paths.root / 'bgm'}/): add a track there to have music, or "
            "name a scene or shot (e.g. “S01-002 …”)")


def adjust_music(paths: EpisodePaths, text: str) -> BGMConfig:
    check_music(paths)
    cfg = load_model(BGMConfig, paths.bgm_config) if paths.bgm_config.exists() else BGMConfig()
    t = text.lower()
    if re.search(r"\b(no music|without music|music off|turn off|remove)\b", t):
        cfg = cfg.model_copy(update={"enabled": False, "mode": "off"})
    elif re.search(r"\b(too loud|quieter|softer|lower|down)\b", t):
        cfg = cfg.model_copy(update={"volume": round(cfg.volume * 0.5, 3)})
    elif re.search(r"\b(too quiet|louder|up|more music)\b", t):
        cfg = cfg.model_copy(update={"volume": round(min(1.0, cfg.volume * 1.6), 3)})
    atomic_write_json(paths.bgm_config, cfg)
    if gates.load_stamp(paths, "bgm") is not None:  # the producer's answer is the approval
        gates.approve(paths, "bgm", note=f"revised: {text}")
    return cfg


SLOWER = re.compile(r"\b(too fast|too quick|slower|slow (?:it |her |him |them |that )?down|"
                    r"less fast|calmer|rushed)\b", re.I)
FASTER = re.compile(r"\b(too slow|faster|quicker|speed (?:it |her |him |them )?up|hurry|"
                    r"dragging|drags)\b", re.I)
LOUDER = re.compile(r"\b(louder|too quiet|too soft|too low|(?:can'?t|cannot|hard to) hear|"
                    r"volume up|more volume|boost)\b", re.I)
QUIETER = re.compile(r"\b(quieter|too loud|softer|volume down|less volume|lower)\b", re.I)
OTHER_VOICE = re.compile(r"\b(another|other|different|new|change the|male|female|deeper|"
                         r"warmer|older|younger)\b.{0,20}\bvoice\b|\bvoice\b.{0,20}"
                         r"\b(wrong|bad|change|replace|awful|annoying)\b", re.I)
RATE_STEP, DB_STEP = 0.8, 3.0
NO_NARRATION = ("this episode has no narration shots (mode drama: every voice is a clip's own "
                "sound): name a shot for a new take, e.g. “S01-002 speak slower”")


def narration_shots(paths: EpisodePaths) -> list[str]:
    try:
        sb = load_model(Storyboard, paths.storyboard)
    except InputError:
        return []
    return [s.id for s in sb.shots if s.role == "narration" and s.narration_text]


def narration_files(paths: EpisodePaths) -> list[Path]:
    return [paths.narration(s) for s in narration_shots(paths)]


def narration_change(paths: EpisodePaths, cfg: WorkflowConfig, text: str) -> NarrationSettings:
    """The narration settings a note asks for: slower/faster (speech rate x0.8 / x1.25),
    louder/quieter (±3 dB), another voice (named, or the next one of the TTS model's)."""
    if not narration_shots(paths):
        raise RevisionError(NO_NARRATION)
    cur = load_model(NarrationSettings, paths.narration_settings) \
        if paths.narration_settings.exists() else NarrationSettings()
    rate = cur.speech_rate if cur.speech_rate is not None else cfg.narrator_speech_rate
    upd: dict = {}
    if FASTER.search(text) and not re.search(r"\btoo fast\b", text, re.I):
        upd["speech_rate"] = round(min(2.0, rate / RATE_STEP), 2)
    elif SLOWER.search(text):
        upd["speech_rate"] = round(max(0.5, rate * RATE_STEP), 2)
    if LOUDER.search(text):
        upd["volume_db"] = min(12.0, cur.volume_db + DB_STEP)
    elif QUIETER.search(text):
        upd["volume_db"] = max(-12.0, cur.volume_db - DB_STEP)
    voice = _voice_asked(cfg, cur, text)
    if voice:
        upd["voice"] = voice
    if not upd:
        raise RevisionError(
            "what should change in the narration? Say e.g. “narration slower”, “narration "
            "faster”, “narration louder”, “quieter”, or “another voice” (or name one)")
    if all(getattr(cur, k) == v for k, v in upd.items()):
        raise RevisionError(f"the narration is already at its limit ({', '.join(upd)}: "
                            f"{', '.join(str(v) for v in upd.values())}); nothing to change")
    return cur.model_copy(update={**upd, "updated_at": NarrationSettings().updated_at})


def _voice_asked(cfg: WorkflowConfig, cur: NarrationSettings, text: str) -> str | None:
    try:
        voices = list(tts_caps(cfg.narrator_tts_model).voices)
    except CapabilityError:
        voices = []
    named = [v for v in voices if re.search(rf"\b{re.escape(v)}\b", text, re.I)]
    if named:
        return named[0]
    if not OTHER_VOICE.search(text):
        return None
    now = cur.voice or cfg.narrator_voice
    if not voices:
        raise RevisionError(f"no voice list for TTS model {cfg.narrator_tts_model}: name the "
                            "voice in the note, or set narrator_voice in the config")
    return voices[(voices.index(now) + 1) % len(voices)] if now in voices else voices[0]


def subtitles_change(paths: EpisodePaths, cfg: WorkflowConfig, text: str) -> StitchRequest:
    """Burn the subtitles into the picture, or take them out (the .srt is always written)."""
    cur = load_model(StitchRequest, paths.stitch_request) \
        if paths.stitch_request.exists() else StitchRequest()
    burned = cfg.burn_subtitles if cur.burn_subtitles is None else cur.burn_subtitles
    if re.search(r"\b(no|remove|without|off|drop|hide|take out|get rid|don'?t burn|not burn"
                 r"|unburn)\b", text, re.I):
        want = False
    elif re.search(r"\b(burn|add|on|show|need|want|with|missing|hard-?code|open)\b", text,
                   re.I):
        want = True
    else:
        raise RevisionError(
            "what should change in the subtitles? Say “burn the subtitles in” or “no "
            "subtitles in the picture” (the style is fixed: size and font are not yet "
            "adjustable at a gate)")
    if want == burned:
        raise RevisionError(f"the subtitles are already {'burned in' if burned else 'off'} "
                            f"the picture ({paths.final_srt} is written either way)")
    return cur.model_copy(update={"burn_subtitles": want,
                                  "requested_at": StitchRequest().requested_at})


# --------------------------------------------------------------------------- scope


def scene_count(paths: EpisodePaths) -> int:
    try:
        return len(load_model(Outline, paths.outline).scenes)
    except InputError:
        return 0


def shot_ids(paths: EpisodePaths) -> list[str]:
    try:
        return [s.id for s in load_model(Storyboard, paths.storyboard).shots]
    except InputError:
        return []


def route(paths: EpisodePaths, gate: str | None, text: str, *, scope: str = "") -> Revision:
    """Decide where a note goes from its words (and `scope`, the answer to "which?")."""
    words = f"{scope} {text}"
    shot = SHOT_RE.search(words)
    scene = SCENE_RE.search(words)
    if not shot and not scene and re.fullmatch(r"\s*\d{1,2}\s*", scope or ""):
        scene = re.match(r"\s*(\d{1,2})", scope)
    unscoped = not shot and not scene
    if unscoped and gate in ("render", "final") and SUBTITLE_RE.search(words):
        return Revision("subtitles", text, gate)
    # said before the producer is asked to confirm: there is nothing of that kind to change
    if unscoped and gate in ("render", "final") and NARRATION_RE.search(words):
        if not narration_shots(paths):
            raise RevisionError(NO_NARRATION)
        return Revision("narration", text, gate)
    wants_music = MUSIC_RE.search(words) and unscoped
    if wants_music:
        check_music(paths)
        return Revision("music", text, gate)
    if shot:
        sid = f"S{shot.group(1)}-{shot.group(2).lower()}"
        if gate == "script":
            return _scene(paths, "scene", int(shot.group(1)), text, gate)
        if sid not in shot_ids(paths):
            raise RevisionError(f"{sid} is not a shot of {paths.storyboard}")
        if gate in ("render", "final"):
            return Revision("take", text, gate, scene=int(shot.group(1)), shot=sid)
        return Revision("shots", text, gate, scene=int(shot.group(1)), shot=sid)
    if scene:
        num = int(scene.group(1))
        kind = "scene" if gate == "script" or SCRIPT_WORDS.search(text) else "shots"
        return _scene(paths, kind, num, text, gate)
    raise RevisionError("which scene or shot is this about? Name it, e.g. “scene 2: …”, "
                        "“S01-003 …” or “music …”")


def _scene(paths: EpisodePaths, kind: str, num: int, text: str, gate: str | None) -> Revision:
    n = scene_count(paths)
    if not 1 <= num <= n:
        raise RevisionError(f"there is no scene {num}: this episode has scenes 1–{n}")
    return Revision(kind, text, gate, scene=num)


def plan_revision(paths: EpisodePaths, gate: str, text: str, *,
                  ask: Callable[[str], str] | None = None) -> Revision:
    """Route `text`; when it names no scope, ask which scene or shot (then confirm)."""
    try:
        rev = route(paths, gate, text)
    except RevisionError as e:
        if ask is None or "which scene" not in str(e):
            raise
        hint = ("scene number" if gate == "script" else
                "scene number, shot id, “music”, “narration” or “subtitles”"
                if gate in ("render", "final") else "scene number, shot id or “music”")
        scope = ask(f"Which scene or shot is it about? ({hint}, Enter to cancel) ").strip()
        if not scope:
            raise RevisionError("no change made") from None
        rev = route(paths, gate, text, scope=scope)
    if ask is not None:
        for line in rev.describe():
            ok = ask(f"{line}. Go ahead? [Y/n] ").strip().lower()
            if ok not in ("", "y", "yes", "ok", "approve"):
                raise RevisionError("no change made")
    return rev
