"""Offline review: measures the clip (duration, canvas, black and frozen frames, audio
loudness, first-frame match, portraits) and maps the findings onto the six review axes.
It returns raw scores; review_policy.decide() judges them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ... import media
from ...base.models import AXES, Review, ShotSpec
from ..base import CallContext, ProviderError
from .common import DURATION_TOLERANCE_S, FIRST_FRAME_MAX_DIFF, REVIEW_MODEL, SILENT_LUFS
from .speech import _spoken_lines


def _overlap(iv: tuple[float, float], others: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(iv[1], b) - max(iv[0], a)) for a, b in others)


def _fmt_tc(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 60):02d}:{t % 60:05.2f}"


@dataclass
class Clip:
    """What one probe and one decoding pass measured, plus what the review found so far."""

    spec: ShotSpec
    path: Path
    info: media.MediaInfo
    scan: media.ScanResult
    freeze_min_s: float
    checks: dict[str, object] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def score_logic(c: Clip, first_frame: Path | None) -> int:
    """Duration, and (chained shots) whether the first frame continues the previous shot."""
    expected = float(c.spec.shot.duration)
    res = c.scan
    score = 10
    dur_err = round(res.duration - expected, 3)
    c.checks.update(duration_s=res.duration, expected_duration_s=expected,
                    duration_error_s=dur_err)
    if abs(dur_err) > DURATION_TOLERANCE_S:
        score = 2
        c.problem(f"duration is {res.duration:.2f} s, expected {expected:g} s "
                  f"(off by {dur_err:+.2f} s; tolerance ±{DURATION_TOLERANCE_S} s)")
    elif abs(dur_err) > 0.05:
        score = 9
    if first_frame is not None:
        try:
            diff = media.mean_frame_diff(media.frame_image(c.path, width=160), Path(first_frame))
        except (media.MediaError, OSError) as e:
            diff = 255.0
            c.checks["first_frame_error"] = str(e)
        c.checks.update(first_frame_diff=round(diff, 2), first_frame_max_diff=FIRST_FRAME_MAX_DIFF)
        if diff > FIRST_FRAME_MAX_DIFF:
            score = min(score, 3)
            c.problem(f"first frame at 00:00.00 does not match the previous shot's last frame "
                      f"(difference {diff:.1f} > {FIRST_FRAME_MAX_DIFF:g})")
        elif diff > FIRST_FRAME_MAX_DIFF / 2:
            score = min(score, 9)
    return score


def score_proportion(c: Clip) -> int:
    """The canvas: size, codec and pixel format."""
    spec, info = c.spec, c.info
    want_w, want_h = media.canvas_size(spec.resolution, spec.ratio)
    c.checks.update(width=info.width, height=info.height, expected_size=f"{want_w}x{want_h}",
                    vcodec=info.vcodec, pix_fmt=info.pix_fmt, fps=info.fps)
    if not info.has_video:
        c.problem("the file has no video stream")
        return 0
    if (info.width, info.height) != (want_w, want_h):
        c.problem(f"canvas is {info.width}x{info.height}, expected {want_w}x{want_h} "
                  f"({spec.resolution} {spec.ratio})")
        return 2
    if info.vcodec != "h264" or info.pix_fmt != "yuv420p":
        c.problem(f"video is {info.vcodec}/{info.pix_fmt}, not h264/yuv420p "
                  "(may not play in browsers)")
        return 7
    return 10


def score_physics(c: Clip) -> int:
    """A frozen picture (a black stretch is reported once, as black, under style)."""
    res = c.scan
    frozen = [(a, b) for a, b in res.frozen if _overlap((a, b), res.black) < 0.9 * (b - a)]
    frozen_s = round(sum(b - a for a, b in frozen), 3)
    c.checks.update(frozen_s=frozen_s, freeze_min_s=c.freeze_min_s,
                    frozen_intervals=[[round(a, 2), round(b, 2)] for a, b in frozen])
    if not frozen:
        return 10
    a, b = frozen[0]
    c.problem(f"frozen picture from {_fmt_tc(a)} to {_fmt_tc(b)} "
              f"({frozen_s:.1f} s without motion)")
    return 1 if frozen_s >= 0.9 * max(res.duration, 0.01) else 3


def score_style(c: Clip) -> int:
    """Black frames."""
    res = c.scan
    c.checks.update(black_s=res.black_s,
                    black_intervals=[[round(a, 2), round(b, 2)] for a, b in res.black])
    if not res.black:
        return 10
    a, b = res.black[0]
    c.problem(f"black frames from {_fmt_tc(a)} to {_fmt_tc(b)} ({res.black_s:.1f} s)")
    return 1 if res.black_s >= 0.9 * max(res.duration, 0.01) else 3


def score_cast_match(c: Clip, portraits: list[Path]) -> int:
    """The reference portraits of r2v / i2v shots are there to match against."""
    shot = c.spec.shot
    found = [p for p in portraits if Path(p).is_file()]
    c.checks.update(portraits_given=len(portraits), portraits_found=len(found),
                    characters=list(shot.characters))
    if not shot.characters:
        return 10
    if shot.kind in ("r2v", "i2v") and not found:
        c.problem(f"{shot.kind} shot with {', '.join(shot.characters)} has no portrait to "
                  "match against")
        return 2
    if shot.kind in ("r2v", "i2v") and len(found) < len(portraits):
        c.problem(f"{len(portraits) - len(found)} reference image(s) missing")
        return 6
    return 9


def score_dialog_attribution(c: Clip) -> int:
    """Audio present, audible, not clipping; words need audible speech."""
    c.checks["has_audio"] = c.info.has_audio
    if c.scan.loudness is None:
        c.problem("no audio stream (dialog, narration and ambience are missing)")
        return 0
    levels = c.scan.loudness.json_safe()
    lufs, peak = levels["integrated_lufs"], levels["true_peak_dbtp"]
    c.checks.update(levels)
    spoken = bool(_spoken_lines(c.spec))
    if lufs < SILENT_LUFS:
        c.problem(f"audio is silent ({lufs:.1f} LUFS integrated)")
        return 2
    if peak > 0.0:
        c.problem(f"audio clips (true peak {peak:+.1f} dBTP)")
        return 6
    if lufs < -40.0 and spoken:
        c.problem(f"the shot has words but the audio is very quiet ({lufs:.1f} LUFS)")
        return 6
    return 10 if lufs >= -35.0 else 9


def critique_of(c: Clip, first_frame: Path | None) -> str:
    if c.problems:
        return "Technical check found: " + "; ".join(c.problems) + "."
    return (f"Technical check clean: {c.scan.duration:.2f} s at {c.info.width}x{c.info.height}, "
            f"no black or frozen frames, audio at {c.checks.get('integrated_lufs')} LUFS"
            + (", first frame continues the previous shot" if first_frame else "") + ".")


class OfflineReview:
    """Technical review: measurements, not taste, mapped onto the six axes."""

    name = "offline"

    def review(self, ctx: CallContext, spec: ShotSpec, clip: Path, *, version: int,
               first_frame: Path | None, portraits: list[Path]) -> Review:
        clip = Path(clip)
        with ctx.timed("offline", REVIEW_MODEL, "technical-review") as log:
            try:
                info = media.probe(clip)
            except media.MediaError as e:
                raise ProviderError(f"{spec.shot.id} v{version}: cannot review {clip}: {e}") \
                    from e
            fmin = min(2.0, max(0.5, 0.4 * float(spec.shot.duration)))
            c = Clip(spec, clip, info, media.scan(clip, black_min_s=0.5, freeze_min_s=fmin),
                     fmin)
            scores = {"logic": score_logic(c, first_frame), "proportion": score_proportion(c),
                      "physics": score_physics(c), "style": score_style(c),
                      "cast_match": score_cast_match(c, portraits),
                      "dialog_attribution": score_dialog_attribution(c)}
            log.update(unit="clip", billed_units=0, cost=0.0)
        # raw scores and an advisory verdict (like a model's): review_policy.decide() judges
        return Review(breakdown={a: float(scores[a]) for a in AXES}, verdict="REJECT",
                      critique=critique_of(c, first_frame),
                      model_verdict="REJECT" if c.problems else "ACCEPT", version=version,
                      shot_id=spec.shot.id, reviewer=REVIEW_MODEL, checks=c.checks)
