"""The clip ACCEPT rule, in one place. Pure: no I/O, no provider.

Reviewers (providers) return raw scores for the six axes plus their own advisory verdict
(kept as `model_verdict`). `decide()` turns that into our verdict:

- ACCEPT when the mean of the six axes is at least `threshold` and no axis is at or below
  `veto_floor` (one very bad axis sinks a clip however good the rest is);
- REJECT otherwise (the render loop rewrites the prompt and tries again);
- ERROR when the reviewer failed or an axis is missing (never a silent pass).
"""

from __future__ import annotations

from ..base.models import AXES, Review


def decide(review: Review, threshold: float, veto_floor: float) -> Review:
    """Apply the ACCEPT rule to a raw review; the reviewer's own verdict never decides."""
    if review.verdict == "ERROR" or not review.breakdown:
        return review.model_copy(update={"verdict": "ERROR", "score": None,
                                         "threshold": threshold, "veto_floor": veto_floor})
    missing = [a for a in AXES if a not in review.breakdown]
    if missing:
        return review.model_copy(update={
            "verdict": "ERROR", "score": None, "threshold": threshold, "veto_floor": veto_floor,
            "error": f"review is missing axes {missing}"})
    score = round(sum(float(review.breakdown[a]) for a in AXES) / len(AXES), 2)
    vetoed = [a for a in AXES if float(review.breakdown[a]) <= veto_floor]
    verdict = "ACCEPT" if score >= threshold and not vetoed else "REJECT"
    return review.model_copy(update={"score": score, "vetoed_axes": vetoed or None,
                                     "verdict": verdict, "threshold": threshold,
                                     "veto_floor": veto_floor})
