"""``[feedback]``: the optional feedback actor's trade windows, weight rule and storage.

The rule is written out with a worked example in docs/actors/feedback.md.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.sections._base import NonNegFloat, PosFloat, PosInt, Seconds, Section

UnitFraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
"""A fraction in (0, 1]."""


class FeedbackSettings(Section, frozen=True, kw_only=True):
    """Per-source performance from closed trades, turned into fusion weights and Kelly stats.

    The actor is optional and off unless ``"feedback"`` is in ``[actors] enabled``.
    """

    window_trades: Annotated[int, msgspec.Meta(ge=2)] = 50
    """Statistics cover each source's last this-many closed trades."""
    min_trades: Annotated[int, msgspec.Meta(ge=2)] = 10
    """A source needs this many trades in its window before it gets a weight."""
    recompute_every: PosInt = 10
    """Weights are recomputed (and published) after every this-many closed trades."""
    weight_floor: NonNegFloat = 0.1
    """No computed weight goes below this (a source keeps a voice and can recover)."""
    weight_cap: PosFloat = 3.0
    """No computed weight goes above this (one lucky source cannot drown the others)."""
    sharpe_cap: PosFloat = 3.0
    """Per-trade Sharpe is clamped to ±this (and is ±this when every return is equal)."""
    underperform_sharpe: float = 0.0
    """A source whose Sharpe is below this is underperforming at a recompute."""
    confidence_decay: UnitFraction = 0.8
    """An underperformer's confidence is multiplied by this at each recompute; a
    performer's is divided by it (up to 1), so trust comes back as gradually as it went."""
    confidence_min: UnitFraction = 0.1
    """Confidence never decays below this."""
    payoff_cap: PosFloat = 10.0
    """Payoff (average win / average loss) is clamped to this; a source without losses
    reports exactly this."""
    persist: bool = True
    """Keep statistics, confidence and weights in the database across restarts."""
    dedup_capacity: PosInt = 10_000
    """Trade ids remembered (and reloaded at start) to ignore a re-delivered TradeClosed."""
    retry_s: Seconds = 5.0
    """While the database cannot be reached, try again this often (nothing is dropped)."""
