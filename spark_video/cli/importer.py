"""`spark-video import PATH`: an original spark-video project (or one episode) made ours.

The source is only read (with `--in-place` it is first copied to a backup folder). What the
original wrote is carried over as it is where our format is the same (lore.md, the cast /
movie-set / props folders with their cards, portraits and voice samples, bgm/, the scene
markdown in its English or Chinese form, clips, frames, reviews); what differs is converted:

- scenes/scene-NN.json: a shot's `model` becomes `kind`, a missing duration becomes the
  original's default 15 written out, keys ours does not know go to the shot's (or scene's)
  `extra` map and are listed in the report;
- shots_state.json becomes state/<shot>.json (takes, reviews, winner, the paid task ids
  found in the old call log); a winner is adopted by the build without paying again;
- logs/model_calls.jsonl lines are kept (as imported lines with their cost where the price
  table knows the model), so the budget counts the past spend;
- outline.json, direction.json and premise.md are derived from what exists, marked imported;
- the gates the user had passed are stamped with the note "imported"; GATE 0 takes the
  storyboard's mode.

Everything is listed in import-report.md in the episode (shown in the viewer).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import gates
from ..base.io import InputError, atomic_write_json, atomic_write_text
from ..base.models import Attempt, Direction, Review, Scene, SceneFragment, Shot, ShotState, now_iso
from ..base.paths import (
    SCENE_FILE_RE,
    EpisodePaths,
    ProjectPaths,
    check_project_id,
    normalize_episode,
)
from ..base.pricing import video_cost
from ..base.project import write_manifest
from ..base.scenefmt import parse_scene_md
from ..base.settings import WorkflowConfig
from ..providers import capabilities
from ..render import IMPORTED
from ..roles import art
from ..storyboard import compile_script, compile_storyboard, estimate
from ..workflow.written import derive_outline, record

REPORT_NAME = "import-report.md"
LEGACY_MODELS = {
    "wan2.7-r2v": "r2v", "wan2.7-i2v-2026-04-25": "i2v", "wan2.7-t2v-2026-04-25": "t2v",
    "happyhorse-1.0-r2v": "r2v", "happyhorse-1.0-i2v": "i2v", "happyhorse-1.0-t2v": "t2v",
}
ORIGINAL_DURATION = 15  # the original's Shot.duration default (ours is 5)
PROJECT_ITEMS = ("lore.md", "premise.md", "cast", "movie-set", "props", "bgm")
EPISODE_DIRS = ("cast", "movie-set", "props", "bgm", "clips", "frames", "reviews")
# the original's merged manifests: ours are rebuilt from the folders by the build
MANIFESTS = ("cast.json", "movie_set.json", "props.json")


class ImportError_(InputError):
    pass


@dataclass
class Report:
    converted: list[tuple[str, str, str]] = field(default_factory=list)  # file, field, what
    extra: list[tuple[str, str, str]] = field(default_factory=list)
    lost: list[tuple[str, str, str]] = field(default_factory=list)

    def text(self, source: Path, dest: Path) -> str:
        out = ["# Import report", "",
               f"Imported from the original spark-video project `{source}` into `{dest}` "
               f"on {now_iso()}. Nothing in the source was changed.", ""]
        for title, rows in (("Converted", self.converted), ("Kept as extra", self.extra),
                            ("Could not be carried", self.lost)):
            out += [f"## {title} ({len(rows)})", ""]
            if rows:
                out += ["| file | field | what |", "|---|---|---|"]
                out += [f"| {f} | {k} | {w} |".replace("\n", " ") for f, k, w in rows]
            else:
                out.append("(none)")
            out.append("")
        return "\n".join(out)


def _episode_dirs(src: Path) -> tuple[Path, list[Path]]:
    """(project folder, episode folders) for a project or an episode path."""
    src = src.resolve()
    if not src.is_dir():
        raise InputError(src, "no such folder: give an original spark-video project folder "
                         "(projects/<p>) or one of its episode folders (projects/<p>/episode-NNN)")
    if src.name.startswith("episode-") and (src / "scenes").is_dir():
        return src.parent, [src]
    eps = sorted(p for p in src.iterdir() if p.is_dir() and p.name.startswith("episode-"))
    if not eps and not (src / "lore.md").exists():
        raise InputError(src, "not an original spark-video project: no lore.md and no "
                         "episode-* folder")
    return src, eps


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, dirs_exist_ok=True, copy_function=shutil.copy2)
    elif src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def _rel(root: Path, p: Path) -> str:
    try:
        return str(p.relative_to(root))
    except ValueError:
        return str(p)


def _convert_fragment(path: Path, data: dict, rep: Report, rel: str) -> dict:
    scene = dict(data.get("scene") or {})
    known = set(Scene.model_fields)
    extra = {k: scene.pop(k) for k in list(scene) if k not in known}
    for k in extra:
        rep.extra.append((rel, f"scene.{k}", "not used by this producer; kept in scene.extra"))
    if extra:
        scene["extra"] = {**scene.get("extra", {}), **extra}
    shots = []
    known = set(Shot.model_fields)
    for i, raw in enumerate(data.get("shots") or []):
        shot = dict(raw)
        sid = shot.get("id", f"#{i}")
        if "model" in shot:
            model = shot.pop("model")
            kind = LEGACY_MODELS.get(str(model))
            if "kind" not in shot:
                if kind is None:
                    shot["kind"] = "r2v"
                    rep.lost.append((rel, f"shots[{i}] ({sid}).model",
                                     f"unknown legacy model {model!r}: kind set to r2v "
                                     "(the original's default); check it"))
                else:
                    shot["kind"] = kind
                    rep.converted.append((rel, f"shots[{i}] ({sid}).model",
                                          f"{model!r} → kind {kind!r}"))
            shot.setdefault("extra", {})["model"] = model
        if "duration" not in shot:
            shot["duration"] = ORIGINAL_DURATION
            rep.converted.append((rel, f"shots[{i}] ({sid}).duration",
                                  f"absent: the original's default {ORIGINAL_DURATION} s "
                                  "written out (ours defaults to 5)"))
        for k in [k for k in shot if k not in known]:
            shot.setdefault("extra", {})[k] = shot.pop(k)
            rep.extra.append((rel, f"shots[{i}] ({sid}).{k}",
                              "not used by this producer; kept in the shot's extra"))
        shots.append(shot)
    for k in data:
        if k not in ("scene", "shots"):
            rep.lost.append((rel, k, "top-level key of a scene file; not carried"))
    frag = {"scene": scene, "shots": shots}
    try:
        SceneFragment.model_validate(frag)
    except Exception as e:  # noqa: BLE001 - named in the report, the build names it again
        rep.lost.append((rel, "(whole file)", f"does not validate after conversion: "
                         f"{str(e).splitlines()[0]}"))
    return frag


def _task_ids(log: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not log.is_file():
        return out
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        shot = rec.get("shot") or rec.get("shot_id")
        tid = rec.get("task_id")
        if not tid:
            m = re.search(r'"task_id"\s*:\s*"([^"]+)"', str(rec.get("stdout_excerpt") or ""))
            tid = m.group(1) if m else None
        if shot and tid and tid not in out.setdefault(shot, []):
            out[shot].append(tid)
    return out


def _cmd_arg(cmd: list, flag: str) -> str | None:
    try:
        return str(cmd[cmd.index(flag) + 1])
    except (ValueError, IndexError):
        return None


def _import_calls(src_log: Path, dst: EpisodePaths, resolution: str, rep: Report) -> float:
    """The old call log as our lines (imported: true), priced where the table knows the model
    and the seconds, so `budget` counts the spend. Returns the spend found."""
    if not src_log.is_file():
        return 0.0
    lines, spend = [], 0.0
    rel = "logs/model_calls.jsonl"
    for n, line in enumerate(src_log.read_text(encoding="utf-8", errors="replace")
                             .splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            rep.lost.append((rel, f"line {n}", "not JSON; not carried"))
            continue
        cmd = rec.get("cmd") if isinstance(rec.get("cmd"), list) else []
        model = rec.get("model") or _cmd_arg(cmd, "--model")
        cost = None
        ok = rec.get("exit_code", 0) == 0 and not rec.get("error")
        if ok and ("video" in cmd or rec.get("phase") == "render"):
            secs = _cmd_arg(cmd, "--duration")
            if model and secs and secs.replace(".", "").isdigit():
                cost = video_cost(model, _cmd_arg(cmd, "--resolution") or resolution,
                                  float(secs))
        out = {"ts": rec.get("ts") or now_iso(), "project": dst.project, "episode": dst.episode,
               "shot": rec.get("shot") or rec.get("shot_id"), "phase": rec.get("phase")
               or rec.get("kind") or "imported", "attempt": rec.get("attempt")
               if isinstance(rec.get("attempt"), int) else rec.get("version"),
               "provider": "imported", "model": model,
               "duration_ms": int(rec.get("duration_ms") or 0),
               "status": "ok" if ok else "error",
               "cost": cost, "currency": "CNY" if cost is not None else None,
               "error": None if ok else str(rec.get("error") or rec.get("stderr_excerpt")
                                            or f"exit {rec.get('exit_code')}")[:500]}
        spend += cost or 0.0
        lines.append(json.dumps(out, ensure_ascii=False))
    dst.model_calls.parent.mkdir(parents=True, exist_ok=True)
    with dst.model_calls.open("a", encoding="utf-8") as f:
        f.write("".join(x + "\n" for x in lines))
    rep.converted.append((rel, "(every line)", f"{len(lines)} call(s) kept in our log "
                          f"(provider 'imported'); past spend counted by the budget: "
                          f"{spend:.2f} CNY"))
    return spend


def _review(raw: Any, shot: str, version: int) -> Review | None:
    if not isinstance(raw, dict) or raw.get("verdict") not in ("ACCEPT", "REJECT", "ERROR"):
        return None
    known = set(Review.model_fields)
    data = {k: v for k, v in raw.items() if k in known}
    data.update(shot_id=shot, version=version, reviewer="imported")
    try:
        return Review.model_validate(data)
    except Exception:  # noqa: BLE001
        return None


def _import_states(src: Path, dst: EpisodePaths, rep: Report) -> dict[str, ShotState]:
    path = src / "shots_state.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        rep.lost.append(("shots_state.json", "(whole file)", f"not JSON ({e}); not carried"))
        return {}
    tasks = _task_ids(src / "logs" / "model_calls.jsonl")
    out = {}
    for sid, raw in (data or {}).items():
        if not isinstance(raw, dict):
            continue
        atts = []
        ids = list(tasks.get(sid, []))
        for a in raw.get("attempts") or []:
            v = int(a.get("version") or len(atts) + 1)
            status = a.get("status") if a.get("status") in ("SUCCEEDED", "FAILED") else "FAILED"
            clip = dst.clip_version(sid, v)
            frame = dst.version_last_frame(sid, v)
            att = Attempt(version=v, status=status, started_at=a.get("started_at") or now_iso(),
                          finished_at=a.get("finished_at"), provider=str(a.get("provider")
                                                                         or "imported"),
                          model=a.get("model"), prompt=a.get("prompt") or "(imported)",
                          video_path=_rel(dst.root, clip) if clip.exists() else None,
                          last_frame_path=_rel(dst.root, frame) if frame.exists() else None,
                          elapsed_s=a.get("elapsed_s"), error=a.get("error"),
                          task_id=a.get("task_id") or (ids.pop(0) if ids else None),
                          review=_review(a.get("review"), sid, v), input_key=IMPORTED)
            atts.append(att)
            if att.review:
                atomic_write_json(dst.review(sid, v), att.review)
        winner = raw.get("winner_version")
        if winner is not None and not dst.clip_version(sid, int(winner)).exists():
            rep.lost.append(("shots_state.json", f"{sid}.winner_version",
                             f"take ver{winner} has no clips/{sid}-ver{winner}.mp4; the shot "
                             "will be rendered again"))
            winner = None
        st = ShotState(shot_id=sid, winner_version=winner,
                       winner_path=_rel(dst.root, dst.clip(sid)) if winner else None,
                       needs_director_rewrite=bool(raw.get("needs_director_rewrite")),
                       input_key=IMPORTED if winner else None, attempts=atts)
        atomic_write_json(dst.shot_state(sid), st)
        out[sid] = st
        what = (f"{len(atts)} take(s), winner ver{winner} kept (not rendered again)" if winner
                else f"{len(atts)} take(s), no accepted take: rendered by the next build")
        rep.converted.append(("shots_state.json", sid, f"→ state/{sid}.json: {what}"))
    return out


def _outline(paths: EpisodePaths, mode: str, premise: str, rep: Report) -> None:
    o = derive_outline(paths, mode, premise)
    if o is not None:
        rep.converted.append(("scenes/scene-NN.md", "(headings, fields)",
                              f"outline.json derived from {len(o.scenes)} scene(s), marked "
                              "imported"))


def _direction(src: Path, paths: EpisodePaths, rep: Report) -> None:
    raw: dict = {}
    p = src / "direction.json"
    if p.is_file():
        try:
            raw = json.loads(p.read_text(encoding="utf-8")) or {}
        except ValueError:
            raw = {}
    motifs = [m if isinstance(m, dict) else {"name": str(m)}
              for m in (raw.get("imagery_system") or {}).get("motifs") or []]
    motifs = [{"name": str(m.get("name") or "imported"), "meaning": str(m.get("meaning") or ""),
               **({"landings": m["landings"]} if isinstance(m.get("landings"), list) else {})}
              for m in motifs] or [{"name": "imported", "meaning": "no motif in the original"}]
    pacing = raw.get("dual_pacing") if isinstance(raw.get("dual_pacing"), dict) else {}
    data = {
        "project": paths.project, "episode": paths.episode,
        "tone_dimensions": {str(k): v for k, v in (raw.get("tone_dimensions") or {}).items()
                            if isinstance(v, str | int | float)} or {"source": "imported"},
        "director_reference": str(raw.get("director_reference") or "imported"),
        "audiovisual_decisions": {str(k): str(v) for k, v in
                                  (raw.get("audiovisual_decisions") or {}).items()}
        or {"source": "imported from the original spark-video"},
        "imagery_system": {"motifs": motifs},
        "dual_pacing": {"external": str(pacing.get("external") or "imported"),
                        "internal": str(pacing.get("internal") or "imported")},
    }
    try:
        d = Direction.model_validate(data)
    except Exception:  # noqa: BLE001 - keep the person's file, write the imported default
        data["imagery_system"] = {"motifs": [{"name": "imported"}]}
        d = Direction.model_validate(data)
    atomic_write_json(paths.direction, d)
    if raw:
        atomic_write_json(paths.root / "direction.original.json", raw)
        rep.converted.append(("direction.json", "(free-form)", "converted to our direction; "
                              "the original is kept as direction.original.json"))
    else:
        rep.converted.append(("direction.json", "(absent)", "derived, marked imported"))


def _premise(src_project: Path, src_ep: Path, dst: EpisodePaths, rep: Report) -> str:
    for p in (src_ep / "premise.md", src_ep / "initialPrompt.md"):
        if p.is_file() and p.read_text(encoding="utf-8").strip():
            if p.name != "premise.md":
                _copy(p, dst.root / p.name)
                atomic_write_text(dst.premise, p.read_text(encoding="utf-8"))
                rep.converted.append((_rel(src_project, p), "(text)", "→ the episode's "
                                      "premise.md (the original kept too)"))
            return p.read_text(encoding="utf-8").strip()
    for p in (src_project / "premise.md", src_project / "initialPrompt.md"):
        if p.is_file() and p.read_text(encoding="utf-8").strip():
            if p.name != "premise.md":
                atomic_write_text(dst.project_paths.premise, p.read_text(encoding="utf-8"))
                rep.converted.append((p.name, "(text)", "→ the project's premise.md"))
            return p.read_text(encoding="utf-8").strip()
    return ""


def _mode(src_ep: Path, frags: list[dict]) -> str:
    p = src_ep / "storyboard.json"
    if p.is_file():
        try:
            m = (json.loads(p.read_text(encoding="utf-8")) or {}).get("mode")
            if m in ("drama", "narration"):
                return m
        except ValueError:
            pass
    roles = {s.get("role") for f in frags for s in f.get("shots", [])}
    return "narration" if "narration" in roles else "drama"


def _touch_in_order(paths: EpisodePaths) -> None:
    """mtimes in build order (outline < scenes < script < direction < shot lists), so that
    a build sees every imported file as up to date and regenerates none (bytes unchanged)."""
    t = time.time() - 20  # in the past: a file dated in the future trips Snakemake's skew check
    groups = [[paths.outline], paths.scene_files("md"), [paths.script],
              [paths.root / "cast-check.json"],
              [paths.cast_manifest, paths.set_manifest, paths.props_manifest], [paths.direction],
              paths.scene_files("json")]
    for i, group in enumerate(groups):
        for p in group:
            if p.exists():
                os.utime(p, (t + i, t + i))


def _stamp(paths: EpisodePaths, cfg: Any, mode: str, src_ep: Path, rep: Report) -> list[str]:

    stamped = []
    gates.approve(paths, "mode", data={"mode": mode}, note="imported")
    stamped.append("mode")
    rep.converted.append(("storyboard.json", "mode", f"GATE 0 stamped {mode!r} (imported)"))
    if (src_ep / "bgm-config.json").is_file() and gates.needs_bgm_gate(paths):
        try:  # the music was chosen in the original: the music gate is passed
            gates.approve(paths, "bgm", note="imported")
            stamped.append("bgm")
            rep.converted.append(("bgm-config.json", "(music choice)", "GATE 0.5 (music) "
                                  "stamped with the note \"imported\""))
        except gates.GateError as e:
            rep.lost.append(("bgm-config.json", "(music choice)", f"GATE 0.5 not stamped: "
                             f"{str(e).splitlines()[0]}; the gate asks again"))
    todo = [("script", (src_ep / "script.md").is_file()),
            ("storyboard", (src_ep / "storyboard.json").is_file())]
    for gate, passed in todo:
        if not passed:
            break
        try:
            if gate == "storyboard":  # what GATE 2 shows: the storyboard and its estimate
                atomic_write_json(paths.estimate, estimate(compile_storyboard(paths, cfg, mode),
                                                           cfg))
            gates.approve(paths, gate, note="imported")
        except Exception as e:  # noqa: BLE001 - the build shows the gate instead
            rep.lost.append((f"{gate} gate", "approval", f"not stamped: "
                             f"{str(e).splitlines()[0]}; the gate asks again"))
            break
        stamped.append(gate)
        rep.converted.append((f"{gate} gate", "approval", "passed in the original: stamped "
                              "with the note \"imported\""))
    return stamped


VOICE_MODEL = "wan2.7-r2v"  # the model that takes a cast member's voice (reference_voice)


def _voices_report(dst: EpisodePaths, folder: str, voices: list[str], rep: Report) -> None:
    """A cast member's voice samples: kept; with wan2.7-r2v the first one it takes is sent
    as the reference voice of their reference image. One it would refuse is listed."""
    limits = capabilities.voice_limits(VOICE_MODEL)
    root = dst.project_paths.root.parent
    refused = {v: limits.check(root / v) for v in voices} if limits else {}
    sent = next((v for v in voices if not refused.get(v)), None)
    if sent is not None:
        rep.converted.append((folder, "voices", f"{len(voices)} voice sample(s) kept; "
                              f"{Path(sent).name} is sent as the reference voice of this "
                              f"member's reference image with {VOICE_MODEL} (provider wan27)"))
    for v, why in refused.items():
        if why:
            rep.lost.append((folder, f"voices ({Path(v).name})",
                             f"kept, but not sent: {why} ({VOICE_MODEL} reference_voice)"))


def import_episode(src_project: Path, src_ep: Path, dst: EpisodePaths, cfg: Any,
                   rep: Report) -> dict[str, Any]:

    dst.root.mkdir(parents=True, exist_ok=True)
    for d in EPISODE_DIRS:
        _copy(src_ep / d, dst.root / d)
    for name in ("bgm-config.json", "needs_director_rewrite.json"):
        _copy(src_ep / name, dst.root / name)
    for name in MANIFESTS:
        if (src_ep / name).exists():
            rep.converted.append((name, "(manifest)", "not copied: rebuilt from the "
                                  "cast/movie-set/props folders (every portrait and voice)"))
    scenes_dst = dst.scenes_dir
    scenes_dst.mkdir(parents=True, exist_ok=True)
    frags = []
    src_scenes = src_ep / "scenes"
    for p in sorted(src_scenes.iterdir()) if src_scenes.is_dir() else []:
        rel = f"scenes/{p.name}"
        if p.suffix == ".ready":
            continue
        if not SCENE_FILE_RE.match(p.name):
            _copy(p, scenes_dst / p.name)
            continue
        if p.suffix == ".md":
            _copy(p, scenes_dst / p.name)
            try:
                parse_scene_md(p.read_text(encoding="utf-8"), p)
                rep.converted.append((rel, "(scene markdown)", "kept byte for byte"))
            except InputError as e:
                rep.lost.append((rel, "(scene markdown)", f"kept, but not readable: {e.detail}"))
        else:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except ValueError as e:
                _copy(p, scenes_dst / p.name)
                rep.lost.append((rel, "(whole file)", f"not JSON ({e}); copied as is"))
                continue
            frag = _convert_fragment(p, data, rep, rel)
            frags.append(frag)
            atomic_write_json(scenes_dst / p.name, frag)
    premise = _premise(src_project, src_ep, dst, rep)
    mode = _mode(src_ep, frags)
    for kind in ("cast", "set", "prop"):
        m = write_manifest(dst, kind)
        for e in m.entries:
            if e.voices and kind == "cast":
                _voices_report(dst, e.folder, e.voices, rep)
            if len(e.images) > 1:
                rep.converted.append((e.folder, "images", f"{len(e.images)} portraits kept"))
    _outline(dst, mode, premise, rep)
    if dst.scene_files("md"):
        compile_script(dst)
        if (src_ep / "script.md").is_file():
            _copy(src_ep / "script.md", dst.root / "script.original.md")
            rep.converted.append(("script.md", "(text)", "compiled again from the scene files "
                                  "(the original kept as script.original.md)"))
    if frags:
        _direction(src_ep, dst, rep)
    for name in ("storyboard.json", "viewer.html"):
        if (src_ep / name).exists():
            rep.converted.append((name, "(file)", "not copied: the build writes ours"))
    spend = _import_calls(src_ep / "logs" / "model_calls.jsonl", dst,
                          getattr(cfg, "resolution", None) or "720P", rep)
    states = _import_states(src_ep, dst, rep)
    _touch_in_order(dst)
    stamped = _stamp(dst, cfg, mode, src_ep, rep)
    if "script" in stamped:  # the CAST CHECK the build would run behind GATE 1, done now
        atomic_write_json(dst.root / "cast-check.json", art.npcs_from_script(cfg, dst))
        for kind in ("cast", "set", "prop"):
            write_manifest(dst, kind)
    _touch_in_order(dst)
    # compiled by us (the shot specs too, when GATE 2 was stamped); the rest is the person's
    record(dst, [dst.script, dst.storyboard, *sorted(dst.root.glob("shots/*.json"))])
    return {"mode": mode, "spend": spend, "gates": stamped,
            "kept": sorted(s for s, st in states.items() if st.winner_version),
            "shots": sum(len(f["shots"]) for f in frags)}


def import_project(src: Path, root: Path, *, project: str | None = None,
                   episode: str | None = None, in_place: bool = False, cfg: Any = None,
                   log=print) -> list[dict[str, Any]]:

    cfg = cfg or WorkflowConfig()
    src_project, eps = _episode_dirs(Path(src))
    name = check_project_id(project or src_project.name)
    if episode is not None:
        want = normalize_episode(episode)
        eps = [e for e in eps if normalize_episode(e.name) == want]
        if not eps:
            raise InputError(src_project, f"no episode {episode!r} in the original project")
    if in_place:
        backup = src_project.with_name(f"{src_project.name}.backup-"
                                       f"{time.strftime('%Y%m%d-%H%M%S')}")
        shutil.copytree(src_project, backup, symlinks=True)
        log(f"backup of the original: {backup}")
        # read from the backup, write over the original folder
        src_project, eps = backup, [backup / e.name for e in eps]
        root = src_project.parent
        name = project or src_project.name.split(".backup-")[0]
        dest = root / name
    else:
        dest = Path(root) / name
        if dest.exists() and any(dest.iterdir()):
            if not episode or (dest / eps[0].name).exists():
                raise InputError(dest, "already exists: import into another --project name, "
                                 "or remove it first (nothing was written)")
    pp = ProjectPaths.of(name, Path(root))
    pp.root.mkdir(parents=True, exist_ok=True)
    for item in PROJECT_ITEMS:
        _copy(src_project / item, pp.root / item)
    if not (pp.root / "premise.md").exists() and (src_project / "initialPrompt.md").is_file():
        _copy(src_project / "initialPrompt.md", pp.root / "premise.md")
    old = time.time() - 60  # the project's sources predate everything the import derives
    for p in pp.root.rglob("*"):
        if p.is_file() and not p.relative_to(pp.root).parts[0].startswith("episode-"):
            os.utime(p, (old, old))
    results = []
    for ep_dir in eps:
        rep = Report()
        dst = pp.episode(ep_dir.name)
        res = import_episode(src_project, ep_dir, dst, cfg, rep)
        atomic_write_text(dst.root / REPORT_NAME, rep.text(ep_dir, dst.root))
        res.update(episode=dst.episode, root=str(dst.root), report=str(dst.root / REPORT_NAME),
                   extra=len(rep.extra), lost=len(rep.lost))
        log(f"imported {ep_dir} → {dst.root}: {res['shots']} shots, "
            f"{len(res['kept'])} accepted take(s) kept, mode {res['mode']}, gates stamped: "
            f"{', '.join(res['gates'])}; report {dst.root / REPORT_NAME}")
        results.append(res)
    return results
