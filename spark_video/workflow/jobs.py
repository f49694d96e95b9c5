"""What each Snakemake job does: `job_<rule>` for each rule. Every rule's `script:` is
scripts/job.py, one call into `run()`, which picks the job by `snakemake.rule`.

A job logs to its rule's `log:` file and, on failure, prints one clear message (no
traceback for expected errors) to the console, then exits non-zero.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import gates, roles, storyboard
from ..base.io import (
    InputError,
    atomic_write_json,
    atomic_write_text,
    load_model,
    read_text_checked,
)
from ..base.models import Direction, Outline, SceneFragment, Storyboard
from ..base.paths import EpisodePaths, PathError
from ..base.project import (
    load_lore,
    load_manifest,
    load_premise,
    split_front_matter,
    write_manifest,
)
from ..base.redaction import redact
from ..base.settings import WorkflowConfig, resolve
from ..gates.notes import notes_text
from ..media import MediaError, make_poster
from ..media.sound import SoundError, with_narration_settings
from ..providers import get_provider
from ..providers.base import CallContext, ProviderError
from ..render import (
    derive_shots_state,
    load_take_request,
    publish_last_frame,
    render_shot,
    single_writer,
)
from ..roles import art
from ..stitch import (
    Cut,
    cut_request,
    exports,
    make_master,
    make_reel_picture,
    make_reel_speech,
    narrate,
    prepare_cut,
    stitch_episode,
)
from ..stitch.timeline import write_otio
from ..storyboard import vfx
from ..viewer import build_viewer
from ..workflow import written
from .inputcheck import check, source_of

EXPECTED = (InputError, PathError, ProviderError, gates.GateError)


class Job:
    def __init__(self, smk: Any):
        self.smk = smk
        self.cfg: WorkflowConfig = resolve(dict(smk.config))
        self.paths = EpisodePaths.of(self.cfg.project, self.cfg.episode,
                                     root=Path(self.cfg.projects_dir))
        self.mode = gates.episode_mode(self.paths, self.cfg.mode)
        self.log_path = Path(smk.log[0]) if smk.log else None
        self._log = open(self.log_path, "a", encoding="utf-8") if self.log_path else None

    def log(self, msg: str) -> None:
        if self._log:
            self._log.write((redact(msg) or "") + "\n")  # no key or signed URL in a log
            self._log.flush()

    def output(self, i: int = 0) -> Path:
        """The job's output file as the rule names it (never rebuilt from the config)."""
        return Path(self.smk.output[i])

    def inputs(self, name: str) -> list[Path]:
        """The files of the rule's named input `name` (none when it is optional and absent)."""
        files = self.smk.input.get(name) or []
        return [Path(f) for f in ([files] if isinstance(files, str) else files)]

    def ctx(self, phase: str, shot: str | None = None) -> CallContext:
        return CallContext(self.paths, self.cfg, phase=phase, shot=shot)


def job_outline(j: Job) -> None:
    lore, _ = load_lore(j.paths)
    outline = roles.write_outline(j.ctx("screenwriter"), premise=load_premise(j.paths),
                                  lore=lore, cast=load_manifest(j.paths, "cast"), mode=j.mode)
    atomic_write_json(j.output(), outline)
    j.log(f"outline: {len(outline.scenes)} scenes, mode {outline.mode}")


def job_manifests(j: Job) -> None:
    for kind in ("cast", "set", "prop"):
        m = write_manifest(j.paths, kind)
        j.log(f"{kind}: {len(m.entries)} entries")


def job_cast_check(j: Job) -> None:
    gates_require(j, "script")
    out = art.npcs_from_script(j.cfg, j.paths)
    atomic_write_json(j.output(), out)
    j.log(f"CAST CHECK: {len(out['npcs'])} named NPC(s), new cards: {out['created']}")


def job_portrait(j: Job) -> None:
    out = Path(j.smk.output[0])
    folder = out.parent
    cards = list(j.smk.input.card)
    card = cards[0] if cards else None
    lore, _ = load_lore(j.paths)
    desc = folder.name
    if card and Path(card).exists():
        fm, _ = split_front_matter(Path(card), Path(card).read_text(encoding="utf-8"))
        desc = fm.get("visual_anchor") or fm.get("description") or desc
    prompt = f"Portrait of {folder.name}: {desc}. {lore.mood_anchor}".strip()
    get_provider("image", j.cfg).generate(j.ctx("portrait"), prompt, out, size="3:4",
                                          label=folder.name)
    j.log(f"portrait: {out}")


def job_scene_md(j: Job) -> None:
    num = int(j.smk.wildcards.num)
    outline = load_model(Outline, Path(j.smk.input.outline))
    lore, _ = load_lore(j.paths)
    text = roles.write_scene(j.ctx("screenwriter"), outline=outline, num=num, lore=lore,
                             cast=load_manifest(j.paths, "cast"),
                             props=load_manifest(j.paths, "prop"),
                             notes=notes_text(j.paths, f"scene-{num:02d}"))
    atomic_write_text(j.output(), text)
    j.log(f"scene {num:02d} written")


def job_script_md(j: Job) -> None:
    storyboard.compile_script(j.paths)


def job_direction(j: Job) -> None:
    gates_require(j, "script")
    lore, _ = load_lore(j.paths)
    d = roles.write_direction(j.ctx("director"), outline=load_model(Outline, j.paths.outline),
                              script=j.paths.script.read_text(encoding="utf-8"), lore=lore,
                              cast=load_manifest(j.paths, "cast"))
    atomic_write_json(j.paths.direction, d)
    j.log(f"direction: {len(d.imagery_system.motifs)} motif(s)")


def job_scene_json(j: Job) -> None:
    gates_require(j, "script")
    num = int(j.smk.wildcards.num)
    lore, _ = load_lore(j.paths)
    md = Path(j.smk.input.md).read_text(encoding="utf-8")
    notes_path = j.paths.director_notes(num)
    notes = notes_path.read_text(encoding="utf-8").strip() if notes_path.exists() else ""
    notes = "\n".join(filter(None, [notes, notes_text(j.paths, f"shots-{num:02d}")]))
    out = j.output()
    previous = None
    prev_path = j.paths.director_previous(num)
    if notes and prev_path.exists():
        try:
            previous = load_model(SceneFragment, prev_path)
        except InputError as e:
            j.log(f"previous version unreadable, directing from scratch: {e}")
    frag = roles.direct_scene(j.ctx("director"), scene_md=md, num=num, lore=lore,
                              cast=load_manifest(j.paths, "cast"),
                              sets=load_manifest(j.paths, "set"),
                              props=load_manifest(j.paths, "prop"), mode=j.mode,
                              direction=load_model(Direction, j.paths.direction),
                              notes=notes, previous=previous)
    atomic_write_json(out, frag)
    j.log(f"scene {num:02d}: {len(frag.shots)} shots")


def job_vfx_review(j: Job) -> None:
    # recorded before it starts: a review stopped or crashed midway also keeps GATE 2 closed
    vfx.record_failure(j.paths, "the review started and did not finish (stopped or crashed)")
    try:
        r = vfx.review_storyboard(j.ctx("vfx-review"))
    except Exception as e:  # recorded for GATE 2, which stays closed, then failed as before
        why = e.detail if isinstance(e, InputError) else f"{type(e).__name__}: {e}"
        why = " ".join(why.replace("\n- ", "; ").split())  # one line, for the log's tail
        vfx.record_failure(j.paths, why)
        if isinstance(e, EXPECTED):
            raise InputError(None, f"the VFX review produced no report: {why}\nGATE 2 stays "
                             f"closed; {vfx.failure_hint(j.paths, sep=chr(10))}") from None
        raise
    j.log(f"VFX review: {r.verdict}, {len(r.findings)} finding(s)")


def job_compile_storyboard(j: Job) -> None:
    def keep(specs: list[Path]) -> None:  # a person's version of a spec: history/ first
        for line in written.keep_replaced(j.paths, specs):
            j.log(line)
            print(line, file=sys.stderr)

    sb = storyboard.compile_storyboard(j.paths, j.cfg, j.mode, keep=keep)
    written.record(j.paths, [j.paths.shot_spec(s.id) for s in sb.shots])  # the build's now
    j.log(f"storyboard: {len(sb.shots)} shots in {len(storyboard.chain_groups(sb))} chains")


def job_estimate(j: Job) -> None:
    sb = load_model(Storyboard, Path(j.smk.input[0]))
    atomic_write_json(j.output(), storyboard.estimate(sb, j.cfg))


def job_render_clip(j: Job) -> None:
    gates_require(j, "storyboard")
    shot = j.smk.wildcards.shot
    with single_writer(j.paths, shot, j.log):
        state = render_shot(j.paths, j.cfg, shot, request=load_take_request(j.paths, shot),
                            log=j.log)
        publish_last_frame(j.paths, shot)
    if state.failed:  # the build goes on; GATE 3 stays closed and lists the shot
        print(f"\n{shot} FAILED ({state.failed.code}): {state.failed.message}\n"
              f"  retry: {state.failed.retry}\n", file=sys.stderr)


def job_shots_state(j: Job) -> None:
    sb = storyboard.load_storyboard(j.paths)
    derive_shots_state(j.paths, [s.id for s in sb.shots])


def job_stitch(j: Job) -> None:
    """The final: a mux of the reels and the master (their own jobs ran first; a part
    whose key does not hold, e.g. the canvas moved with a take in another reel, is made
    here), then the SRT, the OTIO and the poster."""
    gates_require(j, "render")
    crossfade, burn = cut_request(j.paths, j.cfg)
    res = stitch_episode(j.paths, j.cfg, crossfade=crossfade, burn_subtitles=burn)
    if res.reels_made or res.speech_made:  # their own jobs did not run: keys moved anyway
        j.log(f"parts made again by the mux job (their keys had moved): reels "
              f"{res.reels_made}, speech {res.speech_made}")
    j.log(f"final: {res}")
    j.log(f"timeline: {write_otio(j.paths, res, Path(j.smk.output.otio))}")
    try:
        j.log(f"poster: {make_poster(Path(j.smk.output.mp4), res.duration_s)}")
    except MediaError as e:  # the viewer shows the final without its still
        j.log(f"no poster: {e}")


def _cut(j: Job) -> Cut:
    gates_require(j, "render")
    crossfade, burn = cut_request(j.paths, j.cfg)
    return prepare_cut(j.paths, j.cfg, crossfade=crossfade, burn_subtitles=burn)


def job_reel(j: Job) -> None:
    """final/reels/reel-NN.mp4: one reel's picture."""
    cut = _cut(j)
    reel = cut.reel(j.smk.wildcards.num)
    make_reel_picture(cut, reel)
    j.log(f"reel {reel.index + 1} of {len(cut.reels)}: shots {reel.first + 1}-{reel.stop}, "
          f"{reel.frames} frames")


def job_speech(j: Job) -> None:
    """final/sound/speech-NN.f32: one reel's speech bus."""
    cut = _cut(j)
    reel = cut.reel(j.smk.wildcards.num)
    make_reel_speech(cut, reel)
    j.log(f"speech {reel.index + 1} of {len(cut.reels)}: {reel.samples} samples")


def job_master(j: Job) -> None:
    """final/sound/master.m4a: the mix of the speech bus and the music, loudness set."""
    speech, m4a, passes = make_master(_cut(j))
    j.log(f"master: {m4a} (speech {speech.integrated:.2f} LUFS, {passes} encode(s))")


def job_narration(j: Job) -> None:
    gates_require(j, "render")
    cfg, sb = with_narration_settings(j.paths, j.cfg, storyboard.load_storyboard(j.paths))
    for out in narrate(j.paths, cfg, shots=[j.smk.wildcards.shot], storyboard=sb):
        os.utime(out)  # unchanged audio is not rewritten, but the job did run: newer than its input
        j.log(f"narration: {out}")


def job_build_viewer(j: Job) -> None:
    out = build_viewer(j.paths, gate_status=gates.status(j.paths), out=j.output())
    j.log(f"viewer: {out}")


def job_gate_closed(j: Job) -> None:
    gate = j.smk.wildcards.gate
    if not gates.holds_build(j.paths, gate):
        # what was approved is what exists now: let the build go on (the token is temp())
        atomic_write_text(Path(j.smk.output[0]), "open\n")
        j.log(f"{gates.LABELS[gate]} is open")
        return
    raise gates.GateError(gates.closed_message(j.paths, gate))


def job_check_input(j: Job) -> None:
    """A file the input functions found bad: fail with its message, or (fixed since the
    build was planned) pass, so the job waiting on it runs."""
    source = source_of(j.paths, j.smk.wildcards.source)
    check(j.paths, source)
    atomic_write_text(j.output(), "ok\n")
    j.log(f"{source} is fine now")


def job_export_timeline(j: Job) -> None:
    j.log(f"export: {exports.write_timeline(j.paths, Path(j.smk.input.otio), j.output())}")


def job_jianying_draft(j: Job) -> None:
    j.log(f"draft: {exports.write_jianying_draft(j.paths, Path(j.smk.input.otio), j.output())}")


def gates_require(j: Job, gate: str) -> None:
    """Belt and braces: the DAG already holds jobs behind closed gates; this catches a gate
    that closed during the run (e.g. clips re-rendered before the stitch)."""
    if not gates.is_open(j.paths, gate):
        raise gates.GateError(gates.closed_message(j.paths, gate))


JOBS: dict[str, Callable[[Job], None]] = {
    name[4:]: fn for name, fn in globals().items() if name.startswith("job_") and callable(fn)
}


def _fail(j: Job, msg: str) -> None:
    """One clear message in the job's log and on the console, no traceback; exit 1."""
    j.log(msg)
    print(f"\n{msg}\n", file=sys.stderr)
    sys.exit(1)


def _undecodable(j: Job) -> str | None:
    """Name the job's input file that is not UTF-8 text, if one is."""
    for f in j.smk.input:
        p = Path(f)
        if p.suffix.lower() in (".md", ".json", ".txt", ".yaml", ".srt") and p.is_file():
            try:
                read_text_checked(p)
            except InputError as e:
                return f"{e}; fix or restore the file, then run the build again"
    return None


def run(smk: Any, name: str | None = None) -> None:
    """Entry point for `script:` rules (scripts/job.py): the job named after the rule."""
    name = name or smk.rule
    if name not in JOBS:
        print(f"\nrule {name}: no job_{name} in spark_video/workflow/jobs.py (a rule whose script "
              "is "
              "scripts/job.py needs one)\n", file=sys.stderr)
        sys.exit(1)
    j = Job(smk)
    outputs = [Path(f) for f in smk.output]
    for line in written.replaced_lines(j.paths, outputs):  # kept in history/ by the pass
        j.log(line)
        print(line, file=sys.stderr)
    try:
        JOBS[name](j)
        written.record(j.paths, outputs)  # the build's own content from now on
    except EXPECTED as e:
        _fail(j, str(e))
    except UnicodeDecodeError as e:
        _fail(j, _undecodable(j) or f"{name}: an input is not UTF-8 text ({e.reason} at byte "
              f"{e.start}); fix or restore it, then run the build again")
    except (MediaError, SoundError) as e:
        _fail(j, f"{name}: {e}")
    except Exception:
        tb = redact(traceback.format_exc()) or ""
        j.log(tb)
        print(tb, file=sys.stderr)
        sys.exit(1)
