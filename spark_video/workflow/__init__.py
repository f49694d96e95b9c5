"""What the workflow's input functions answer: the logic behind rules/common.smk.

rules/common.smk holds the config, the wildcard constraints and one thin input function per
name the rules use; each calls a method of the `Workflow` made there. Nothing here imports
Snakemake: what the workflow needs from it comes in as plain callables (the checkpoint
answers as a `Checkpoints`, Snakemake's record of a job's inputs, `ancient`), so the tests
run these functions over an `EpisodePaths` with a fake checkpoint.

The flat checkpoint shape of docs/snakemake-checkpoints.md: per-scene steps are plain rules,
each consumer asks exactly one checkpoint.

Every answer that costs more than a stat is asked once per version of what it reads
(`Memo`): the input functions of a 1000-shot episode ask the same questions once per job
they plan, thousands of times per run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from .. import gates
from ..base.paths import IMAGE_EXTS, EpisodePaths
from ..base.project import KIND_CARDS, cast_entities, media_path
from ..base.settings import WorkflowConfig
from ..gates import frozen as sv_frozen
from ..media import looks_whole
from ..render import restore_published
from ..stitch import ReelTarget, episode_reel_targets, master_file, reel_file, speech_file
from ..storyboard import chain_groups, load_storyboard
from ..workflow import inputcheck, written

T = TypeVar("T")
SHOT_ID = re.compile(r"S\d{2}-\d{3}[a-z]?")
# the gates in the order the build meets them (the music gate holds the director, not the
# screenwriter)
BUILD_ORDER = ("mode", "script", "bgm", "storyboard", "render", "final")


class Checkpoints(Protocol):
    """The checkpoints' answers. Snakemake's: `checkpoints.<name>.get().output[0]`, which
    raises until the checkpoint has run (Snakemake then defers the asking job)."""

    def output(self, name: str) -> str:
        """The first output of checkpoint `name` (outline, compile_storyboard)."""
        ...


def _stat_key(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


class Memo:
    """The workflow's one memo: an answer per question, kept while the files and folders it
    watches keep their version (mtime and size); a question that watches nothing is
    answered once per run. Only the latest version's answer is kept.

    A job's outputs, a stamp and every write of ours rename into their folders, which
    changes the folders' mtime, so a pass after a job has run sees the new answer; a job
    re-checks what it depends on when it starts. An answer that raises (a checkpoint not
    yet run) is not kept: it is asked again."""

    def __init__(self) -> None:
        self._answers: dict[Hashable, tuple[tuple, Any]] = {}

    def get(self, name: Hashable, watched: Sequence[str | Path], compute: Callable[[], T]) -> T:
        version = tuple(map(_stat_key, watched))
        hit = self._answers.get(name)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        self._answers[name] = (version, value)
        return value

    def last(self, name: Hashable) -> Any:
        """The answer kept for `name` (whatever version it was for), None when there is none."""
        hit = self._answers.get(name)
        return None if hit is None else hit[1]


class StoryboardRead(NamedTuple):
    """storyboard.json as the input functions see it: its shots (none when it is
    unreadable), their ids, and its check job (empty when it is fine)."""

    path: str
    shots: list[dict]
    ids: frozenset[str]
    bad: list[str]


def optional(*paths: str | Path) -> list[str]:
    return [str(p) for p in paths if Path(p).exists()]


def card_files(folder: str | Path) -> list[Path]:
    return [Path(folder, n) for n in ("cast.md", "soul.md", "set.md", "prop.md")]


def repair_published(ep: EpisodePaths) -> list[str]:
    """Before Snakemake looks at any file: a rendered shot's clip or last frame that is
    missing, 0-byte or cut short is put back from its take (spark_video.render
    restore_published; a copy, never a paid call). Done before the DAG, not by a job: behind
    the storyboard checkpoint a missing last frame is not seen by `final`
    (docs/snakemake-checkpoints.md). Costs a listing and a few small reads per shot.
    Returns one line per file repaired or removed."""
    states = ep.root / "state"
    if not states.is_dir():
        return []
    listed = {d: set(os.listdir(d)) if d.is_dir() else set()
              for d in (ep.root / "clips", ep.root / "frames")}
    bad = []
    for name in os.listdir(states):
        shot = name[:-5]
        if not name.endswith(".json") or not SHOT_ID.fullmatch(shot):
            continue
        for p in (ep.clip(shot), ep.last_frame(shot)):
            if p.name not in listed[p.parent] or not looks_whole(p):
                bad.append(shot)
                break
    if not bad:
        return []
    try:
        with open(ep.storyboard, encoding="utf-8") as fh:
            ids = {s["id"] for s in json.load(fh)["shots"]}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [line for shot in bad if shot in ids for line in restore_published(ep, shot)]


def _narrator_voice(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh).get("narrator_voice")
    except (OSError, ValueError, AttributeError):
        return None


class Workflow:
    """The input functions' answers for one episode and one run of Snakemake.

    `recorded_inputs(output)`: the inputs Snakemake recorded for the job that made `output`
    (None: no record). `ancient(path)`: Snakemake's ancient() flag (a frozen source never
    makes its job out of date)."""

    def __init__(self, ep: EpisodePaths, cfg: WorkflowConfig, checkpoints: Checkpoints, *,
                 recorded_inputs: Callable[[str], Iterable[str] | None] = lambda _: None,
                 ancient: Callable[[str], Any] = lambda p: p,
                 viewer_as_is: bool = False):
        self.ep = ep
        self.cfg = cfg
        self.checkpoints = checkpoints
        self.recorded_inputs = recorded_inputs
        self.ancient = ancient
        self.viewer_as_is = viewer_as_is
        self.memo = Memo()
        self.logs = f"{ep.root}/logs/jobs"
        self.watched = {g: [str(p) for p in gates.GATE[g].watched(ep)] for g in gates.GATES}
        self.approvals = str(ep.approvals_dir)

    # -- a person's files ---------------------------------------------------------------

    def kept(self, output: str | Path, paths: str | Iterable[Any]) -> list[Any]:
        """The inputs of the job that makes `output`: ancient() while `output` is a file the
        build never wrote, which is then an input, used as it is (workflow/written.py)."""
        paths = [paths] if isinstance(paths, str) else list(paths)
        if written.is_persons(self.ep, Path(output)):
            return [self.ancient(p) for p in paths]
        return paths

    # -- gates -------------------------------------------------------------------------

    def holds(self, gate: str) -> bool:
        """gates.holds_build, once per version of what the gate watches (its table entry):
        the answer needs a stat of every clip, shot state and spec."""
        return self.memo.get(("holds", gate), self.watched[gate],
                             lambda: gates.holds_build(self.ep, gate))

    def barrier(self, gate: str) -> list[str]:
        """A closed gate adds a target whose job fails with the approve command; an open gate
        adds nothing, so approving never changes what the jobs behind it depend on. GATE 3
        also counts as closed when this build will re-render approved clips, so the stitch
        never starts (and never deletes the previous final) on renders nobody has seen."""
        # a missing clip also closes GATE 3: its barrier job (which waits for the clip to be
        # restored or rebuilt) is what makes `final` see a deleted clip through the
        # storyboard checkpoint (tests/test_workflow.py)
        return [str(self.ep.gate_barrier(gate))] if self.holds(gate) else []

    def stop_gate(self) -> str | None:
        """The first gate that holds this build (None: none does, the episode is finished)."""
        return next((g for g in BUILD_ORDER
                     if gates.GATE[g].in_use(self.ep) and self.holds(g)), None)

    def shown_at(self, gate: str) -> list[str]:
        """What must exist before a gate can be shown to the user."""
        if gate == "render":
            self.storyboard()  # the clips are known once the storyboard checkpoint has run
        return [str(p) for p in gates.gate_of(gate).shown(self.ep, self.cfg)]

    def gate_inputs(self, gate: str) -> list[str]:
        """A closed gate is shown after its files and after viewer.html shows them."""
        return self.shown_at(gate) + [str(self.ep.viewer)]

    # -- frozen sources ----------------------------------------------------------------

    def is_frozen(self, gate: str) -> bool:
        return self.memo.get(("frozen", gate), [self.approvals],
                             lambda: sv_frozen.is_frozen(self.ep, gate))

    def frozen(self, gate: str, paths: Iterable[str | Path], output: str | None = None,
               like: Callable[[str], bool] | None = None) -> list:
        """Upstream sources (lore, premise, cast cards, manifests, media) as inputs of a job
        behind `gate`. Once the gate was approved they are ancient(): a change to them alone
        never regenerates approved work (spark_video/gates/frozen.py names the change and the
        revise command that applies it). With `output` and `like`, the sources are the ones
        the approved output was made from (Snakemake's record), so adding or replacing a
        source file -- a new cast card, an episode premise -- does not change the job's
        input set (which would rerun it) either."""
        paths = [str(p) for p in paths]
        if not self.is_frozen(gate):
            return paths
        if output is not None and like is not None:
            try:
                recorded = self.recorded_inputs(output)
            except Exception:  # noqa: BLE001 - no record: the current sources
                recorded = None
            if recorded is not None:
                paths = [p for p in recorded if like(p) and Path(p).exists()]
        return [self.ancient(p) for p in paths]

    def is_premise(self, p: str) -> bool:
        return p in (str(self.ep.premise), str(self.ep.project_paths.premise))

    def is_lore(self, p: str) -> bool:
        return p == str(self.ep.project_paths.lore)

    def is_cast_card(self, p: str) -> bool:
        return Path(p).parent.parent == self.ep.project_paths.cast_dir

    # -- input checks ------------------------------------------------------------------

    def check_token(self, path: str | Path) -> str:
        return f"{self.logs}/checks/{inputcheck.token_name(self.ep, Path(path))}.bad"

    def checked(self, *paths: str | Path | None) -> list[str]:
        """A check_input job for each bad file among `paths` (nothing when all are fine or
        absent): the job that reads them then never starts, so it cannot cost its last good
        output (Snakemake deletes a job's outputs before it runs). The check job fails with
        the message naming the file and the field (spark_video/workflow/inputcheck.py)."""
        return [self.check_token(p) for p in paths
                if p and inputcheck.problem(self.ep, Path(p))]

    def input_checks(self) -> list[str]:
        """For the targets (final, script, storyboard, clips, viewer): a check job for every
        bad user-editable file, so a bad file is named even when no job needs it this run (a
        check token asked for by an up-to-date job alone is not built: it is a temp() file).
        Shot specs are checked per clip instead (clip_inputs), only when they would
        re-render one."""
        ep = self.ep
        files = [ep.premise, ep.project_paths.premise, ep.project_paths.lore, ep.bgm_config,
                 ep.outline, ep.storyboard, ep.direction, *ep.scene_files("md")]
        for d in ("notes", "takes"):
            files += sorted((ep.root / d).glob("*.json"))
        bad = self.checked(*files) + self.entity_checks()
        scene = inputcheck.scenes_problem(ep, ep.scene_files("json"))
        return bad + ([self.check_token(scene[0])] if scene else [])

    def spec_check(self, spec: Path, clip: Path) -> list[str]:
        """The shot spec's check job when it is bad and newer than the clip (the render job
        would run and delete the clip before finding out); a spec older than its clip was
        rendered."""
        try:
            newer = spec.stat().st_mtime_ns > clip.stat().st_mtime_ns
        except FileNotFoundError:
            newer = True
        return self.checked(spec) if newer else []

    # -- the script --------------------------------------------------------------------

    def scene_nums(self) -> list[int] | None:
        """The outlined scene numbers; None when outline.json is unreadable (its consumers
        then wait on its check job instead)."""
        path = self.checkpoints.output("outline")
        approved = self.memo.get("approved scenes", [self.approvals, str(self.ep.scenes_dir)],
                                 lambda: sv_frozen.approved_scenes(self.ep))
        if approved:  # after GATE 1: the approved scenes, whatever outline.json says now
            return approved
        if inputcheck.problem(self.ep, Path(path)):
            return None
        with open(path, encoding="utf-8") as fh:
            return [s["num"] for s in json.load(fh)["scenes"]]

    def scene_mds(self) -> list[str]:
        nums = self.scene_nums()
        if nums is None:
            return self.checked(self.ep.outline)
        files = [str(self.ep.scene_md(n)) for n in nums]
        return files + self.checked(*files)

    def scene_jsons(self) -> list[str]:
        nums = self.scene_nums()
        if nums is None:
            return self.checked(self.ep.outline)
        files = [self.ep.scene_json(n) for n in nums]
        bad = inputcheck.scenes_problem(self.ep, files)
        return ([str(f) for f in files] + self.barrier("bgm")
                + ([self.check_token(bad[0])] if bad else []))

    # -- the storyboard and the clips --------------------------------------------------

    def storyboard(self) -> StoryboardRead:
        """storyboard.json, read once per version of the file (not once per clip). An
        unreadable storyboard has no shots; its consumers add its check job (`bad`). The
        checkpoint is asked until it answers (until then Snakemake defers the asking job);
        its set of finished outputs only grows within a run, so one answer stands."""
        path = self.memo.get("storyboard path", (),
                             lambda: self.checkpoints.output("compile_storyboard"))
        return self.memo.get("storyboard", (path,), lambda: self._read_storyboard(path))

    def _read_storyboard(self, path: str) -> StoryboardRead:
        shots, bad = [], self.checked(path)
        if not bad:
            with open(path, encoding="utf-8") as fh:
                shots = json.load(fh)["shots"]
        return StoryboardRead(str(path), shots, frozenset(s["id"] for s in shots), bad)

    def storyboard_shots(self) -> list[dict]:
        return self.storyboard().shots

    def storyboard_check(self) -> list[str]:
        return self.storyboard().bad

    def take_requests(self) -> set[str]:
        """The names in takes/ (spark-video render --shot writes takes/<shot>.json), listed
        once per version of the folder instead of three look-ups per clip."""
        d = self.ep.root / "takes"
        return self.memo.get("takes", [d], lambda: set(os.listdir(d)) if d.is_dir() else set())

    def shot_media(self, rel: str) -> str:
        """project.media_path once per manifest image and run: most shots of a long episode
        name the same few portraits, and resolving the path (a stat per folder) costs more
        than the rest of clip_inputs."""
        return self.memo.get(("media", rel), (), lambda: str(media_path(self.ep, rel)))

    def clip_inputs(self, shot: str) -> dict[str, Any]:
        sb = self.storyboard()
        if sb.bad:
            return {"check": sb.bad}
        ep = self.ep
        spec_file = ep.shot_spec(shot)
        spec_path = str(spec_file)
        if shot not in sb.ids:
            # a shot the storyboard does not have: its spec is missing, and Snakemake says so
            # (MissingInputException names the file) without an input-function traceback
            return {"spec": spec_path}
        request = ep.take_request(shot)
        requested = request.name in self.take_requests()
        bad = self.spec_check(spec_file, ep.clip(shot)) + (self.checked(request) if requested
                                                           else [])
        bad += self.checked(ep.shot_state(shot))  # a spoiled state never costs the clip
        if not bad:
            try:
                with open(spec_file, encoding="utf-8") as fh:
                    spec = json.load(fh)
                media = [self.shot_media(m) for m in spec["media"]]
            except (OSError, ValueError, KeyError, TypeError):  # spoiled, mtime kept
                bad = [self.check_token(spec_file)]
        if bad:  # the render job never starts, so its clip and last frame stay
            return {"spec": spec_path, "check": bad}
        inputs = {"spec": spec_path,
                  "media": self.frozen("render", media),
                  # takes/<shot>.json (spark-video render --shot): a newer request re-renders
                  "request": optional(request) if requested else [],
                  "gate": self.barrier("storyboard")}
        prev = spec.get("prev_shot")
        if prev:  # with chain_cascade false the job restores its take instead of re-rendering
            inputs["first_frame"] = str(ep.last_frame(prev))
        return inputs

    def render_priority(self, shot: str) -> int:
        """How many shots the render's chain still has from this shot on (itself included).
        Snakemake starts ready jobs in priority order, so the chains' first links render
        first and a build does not end on one chain whose last links wait on each other
        while the other provider slots stand idle (bench/makespan_bench.py). Asked only for
        jobs that will run."""
        path = self.storyboard().path
        return self.memo.get("chains", [path], self.chain_left).get(shot, 1)

    def chain_left(self) -> dict[str, int]:
        if self.storyboard_check():
            return {}
        return {shot: len(chain) - i for chain in chain_groups(load_storyboard(self.ep))
                for i, shot in enumerate(chain)}

    def all_clips(self) -> list[str]:
        sb = self.storyboard()
        return [str(self.ep.clip(s["id"])) for s in sb.shots] + sb.bad

    # -- narration and the stitch ------------------------------------------------------

    def narration_shots(self) -> list[str]:
        return list(self.narration_ids())

    def narration_ids(self) -> dict[str, None]:
        """The narration shots in storyboard order, once per version of the storyboard:
        narration_inputs asks for each of them (a scan per job would be quadratic)."""
        sb = self.storyboard()
        return self.memo.get("narration", [sb.path], lambda: dict.fromkeys(
            s["id"] for s in sb.shots if s.get("role") == "narration" and s.get("narration_text")))

    def narration_inputs(self, shot: str) -> dict[str, Any]:
        """A narration voice is paid for at the stitch's point of the build: behind GATE 3."""
        if shot not in self.narration_ids():
            raise ValueError(f"{shot} is not a narration shot of {self.ep.storyboard}")
        # storyboard.json ancient (it is compiled again on a music change): the job waits
        # for it, but what reruns it is its line and voice, the job's params (narration_line)
        return {"storyboard": self.ancient(self.storyboard().path),
                "gate": self.barrier("render") + self.barrier("bgm"),
                "settings": optional(self.ep.narration_settings),
                "check": self.storyboard_check()}

    def continuation_takes(self) -> dict[str, str]:
        """Every shot's continuation take (paths.continuation_takes over the storyboard's
        shots), once per version of the storyboard and of clips/ -- not a folder listing per
        reel."""
        sb = self.storyboard()
        clips = self.ep.root / "clips"
        return self.memo.get("continuation takes", [sb.path, clips], lambda: {
            s: str(t) for s, t in self.ep.continuation_takes(
                [s["id"] for s in sb.shots]).items()})

    def reels(self) -> list[ReelTarget]:
        """The cut's reels (stitch.episode_reel_targets: which shots each reads and its
        settings keys), once per version of the storyboard, the stitch request and the music
        config: the reel borders come from the storyboard's planned durations, so a new take
        moves none of them."""
        try:
            sb = self.storyboard()
        except FileNotFoundError:
            # storyboard.json is being compiled again (Snakemake removed it before the
            # checkpoint's job) while Snakemake asks a reel's params: the reels planned
            # before stand until the checkpoint has run and the DAG is planned again
            last = self.memo.last("reels")
            if last is None:
                raise
            return last
        if sb.bad:
            return []
        ep = self.ep
        return self.memo.get("reels", [sb.path, ep.stitch_request, ep.bgm_config],
                             lambda: episode_reel_targets(ep, self.cfg, sb.shots))

    def reel(self, num: str) -> ReelTarget:
        for r in self.reels():
            if r.num == num:
                return r
        raise ValueError(f"the cut of {self.ep.storyboard} has no reel {num} (it has "
                         f"{len(self.reels())}); build `final`")

    def narration_line(self, shot: str) -> list[Any]:
        """What a narration voice is made of besides the settings file: the shot's line and
        voice, the storyboard's narrator voice (the narration rule's params: a change
        re-voices that shot only)."""
        sb = self.storyboard()

        def lines() -> dict[str, list[Any]]:
            voice = _narrator_voice(sb.path)
            return {s["id"]: [s.get("narration_text"), s.get("narrator_voice"), voice]
                    for s in sb.shots}

        return self.memo.get("narration lines", [sb.path], lines).get(shot, [])

    def reel_inputs(self, num: str) -> dict[str, Any]:
        """A reel's picture reads its shots' clips, continuation takes and narration (a
        voice sets its shot's length), the next reel's first shot too (the reel renders that
        crossfade in); behind GATE 3 and the music gate, like the stitch."""
        sb = self.storyboard()
        if sb.bad:
            return {"check": sb.bad}
        ep, r = self.ep, self.reel(num)
        takes, narrated = self.continuation_takes(), self.narration_ids()
        return {"clips": [str(ep.clip(s)) for s in r.shots],
                # ancient: the job waits for a storyboard being compiled again, and runs
                # only when its params (its shots' rows) changed, not on every rewrite
                "storyboard": self.ancient(sb.path),
                "takes": [takes[s] for s in r.shots if s in takes],
                "narration": [str(ep.narration(s)) for s in r.shots if s in narrated],
                # the job plans the whole cut, so every voice must exist first; the others'
                # are ancient (a change to one reruns only the reels that show it; the mux
                # job remakes a part whose key a voice elsewhere changed)
                "voices": [self.ancient(str(ep.narration(s))) for s in narrated
                           if s not in r.shots],
                "gate": self.barrier("render") + self.barrier("bgm"),
                # the job plans the whole cut from these: a bad one is named by its check
                # job before the reel's job starts (and deletes the reel)
                "check": self.checked(ep.bgm_config, ep.stitch_request, ep.narration_settings)}

    def speech_inputs(self, num: str) -> dict[str, Any]:
        """A reel's speech bus: what its picture reads, and the narration settings (the
        voice's volume)."""
        return {**self.reel_inputs(num), "settings": optional(self.ep.narration_settings)}

    def reel_files(self) -> list[str]:
        return [str(reel_file(self.ep, r.num)) for r in self.reels()]

    def speech_files(self) -> list[str]:
        return [str(speech_file(self.ep, r.num)) for r in self.reels()]

    def master_inputs(self) -> dict[str, Any]:
        """The master sound: every reel's speech bus, the music tracks and their config,
        the storyboard (per-scene music). No clip: a mix change re-encodes no picture."""
        ep = self.ep
        return {"speech": self.speech_files(), "storyboard": str(ep.storyboard),
                "music": [str(p) for p in gates.bgm_tracks(ep)], "bgm": optional(ep.bgm_config),
                "gate": self.barrier("render") + self.barrier("bgm"),
                "check": self.storyboard_check() + self.checked(ep.bgm_config,
                                                                ep.stitch_request)}

    def stitch_inputs(self) -> dict[str, Any]:
        """The final is a mux of the reels and the master: those are its parts, and each
        declares the clips, takes and voices it reads (a new take reaches the final through
        its reel, a voice through its reel, its speech bus and the master). Declaring every
        clip, take and voice here again cost the no-op DAG one edge per shot for nothing
        (bench/noop_bench.py). The storyboard stays: the subtitles come from its lines."""
        ep = self.ep
        return {"state": str(ep.shots_state), "storyboard": str(ep.storyboard),
                "narration_settings": optional(ep.narration_settings),
                "gate": self.barrier("render") + self.barrier("bgm"),
                "bgm": optional(ep.bgm_config),
                "check": self.storyboard_check() + self.checked(ep.bgm_config),
                # the parts the final is a mux of (each its own job, rules/stitch.smk)
                "reels": self.reel_files(), "master": str(master_file(ep))}

    # -- the viewer --------------------------------------------------------------------

    def viewer_inputs(self) -> dict[str, list[str]]:
        """viewer.html shows the episode where the build stops: it is written after the files
        the stopping gate is shown with (the final cut and its timeline when no gate stops
        it), and again whenever a record it shows changes (a stamp, a producer's note, a
        model call, the music choice, the premise). `--config viewer_as_is=true` (with
        --forcerun) shows what exists now and builds nothing for it."""
        ep = self.ep
        records = [*sorted(ep.root.glob("approvals/*.json")), *sorted(ep.notes_dir.glob("*.json")),
                   ep.model_calls, ep.bgm_config, ep.premise, ep.project_paths.premise,
                   ep.project_paths.lore]
        if self.viewer_as_is:
            return {"records": optional(*records)}
        gate = self.stop_gate()
        shown = ([str(ep.final_mp4), str(ep.final_otio)] if gate in (None, "final")
                 else self.shown_at(gate))
        return {"shown": shown, "records": optional(*records)}

    # -- cast, sets and props ----------------------------------------------------------

    def project_cast_cards(self) -> list[str]:
        """The screenwriter's cast: the project tier's cards (episode-tier NPCs made from the
        script's CAST CHECK come after the script and must not rewrite it)."""
        d = self.ep.project_paths.cast_dir
        if not d.is_dir():
            return []
        return [str(p) for f in sorted(d.iterdir()) if f.is_dir() and not f.name.startswith(".")
                for p in (f / c for c in KIND_CARDS["cast"]) if p.exists()]

    def entity_folders(self) -> list[Path]:
        return [f for kind in ("cast", "set", "prop") for f in cast_entities(self.ep, kind)]

    def entity_files(self) -> list[str]:
        """Every card and image of every cast/set/prop folder: the manifests depend on them,
        so `spark-video cast add` (or a dropped-in photo) rebuilds them."""
        out = []
        for folder in self.entity_folders():
            card = folder / "cast.md"
            # (a card that is not UTF-8 is named by its check job, entity_checks)
            if card.is_file() and "\nnpc: true\n" in card.read_text(encoding="utf-8",
                                                                    errors="replace"):
                continue  # made by cast_check in this build: already an input through it
            out += [str(p) for p in sorted(folder.iterdir())
                    if p.is_file() and not p.name.startswith(".") and p.name != "portrait.png"]
        return out

    def portrait_targets(self) -> list[str]:
        """A placeholder portrait for every cast/set/prop folder that has no image yet."""
        out = []
        for folder in self.entity_folders():
            if not self.checked(folder):
                if not any(p.suffix.lower() in IMAGE_EXTS and p.name != "portrait.png"
                           for p in folder.iterdir()):
                    out.append(str(folder / "portrait.png"))
        return out

    def entity_checks(self) -> list[str]:
        """The cast/set/prop folders and cards the manifests job reads, checked first (a bad
        card would otherwise cost cast.json, movie_set.json and props.json)."""
        return self.checked(*(p for f in self.entity_folders() for p in (f, *card_files(f))))
