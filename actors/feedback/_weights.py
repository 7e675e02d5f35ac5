"""Source weights for fusion: Sharpe-proportional, with confidence, floors and caps.

At each recompute, for every *qualified* source (at least ``min_trades`` trades in its
window), in this order:

1. confidence ``c``: an underperformer (Sharpe < ``underperform_sharpe``) has
   ``c ← max(confidence_min, c · confidence_decay)``; any other source has
   ``c ← min(1, c / confidence_decay)`` — trust returns as gradually as it went;
2. score ``p = max(Sharpe, 0) · c``;
3. weight ``w = clamp(p / mean(p), weight_floor, weight_cap)`` over the qualified
   sources (an average source weighs 1, like an unlisted source's default), or
   ``weight_floor`` for all when no score is positive.

Sources that do not qualify get no computed weight (fusion keeps their configured one)
and their confidence does not move.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from config.sections.feedback import FeedbackSettings


@dataclass(frozen=True, slots=True)
class WeightResult:
    """One recompute: weight and new confidence per qualified source."""

    weights: dict[str, float]
    confidence: dict[str, float]


def next_confidence(cfg: FeedbackSettings, confidence: float, sharpe: float) -> float:
    """Step 1: the source's confidence after this recompute."""
    if sharpe < cfg.underperform_sharpe:
        return max(cfg.confidence_min, confidence * cfg.confidence_decay)
    return min(1.0, confidence / cfg.confidence_decay)


def compute_weights(
    cfg: FeedbackSettings, sharpe: Mapping[str, float], confidence: Mapping[str, float]
) -> WeightResult:
    """Weights of the qualified sources in ``sharpe`` (their confidence before: ``confidence``,
    1 when absent); see the module docstring."""
    conf = {s: next_confidence(cfg, confidence.get(s, 1.0), sh) for s, sh in sharpe.items()}
    scores = {s: max(sh, 0.0) * conf[s] for s, sh in sharpe.items()}
    mean = math.fsum(scores.values()) / len(scores) if scores else 0.0
    if mean > 0.0:
        weights = {
            s: max(cfg.weight_floor, min(cfg.weight_cap, p / mean)) for s, p in scores.items()
        }
    else:
        weights = dict.fromkeys(scores, cfg.weight_floor)
    return WeightResult(weights=weights, confidence=conf)
