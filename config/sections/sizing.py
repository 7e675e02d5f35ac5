"""``[sizing]``: how many shares an approved entry gets."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import NonNegFloat, Percent, PosFloat, Section

SizingMethod = Literal[
    "fixed_risk", "kelly", "half_kelly", "quarter_kelly", "fixed_dollar", "fixed_shares"
]


class SourceStats(Section, frozen=True, kw_only=True):
    """A source's recorded edge, for the Kelly methods (``SourceWeights`` replaces it)."""

    win_rate: Annotated[float, msgspec.Meta(ge=0, le=1)]
    payoff: PosFloat
    """Average win over average loss."""


class DrawdownTier(Section, frozen=True, kw_only=True):
    """From ``drawdown_pct`` below the equity peak on, sizes are multiplied by ``multiplier``."""

    drawdown_pct: Percent
    multiplier: Annotated[float, msgspec.Meta(ge=0, le=1)]


def _default_tiers() -> list[DrawdownTier]:
    return [
        DrawdownTier(drawdown_pct=5.0, multiplier=0.75),
        DrawdownTier(drawdown_pct=10.0, multiplier=0.5),
        DrawdownTier(drawdown_pct=20.0, multiplier=0.25),
    ]


class SizingSettings(Section, frozen=True, kw_only=True):
    """Position sizing: the method, then the heat cap and multipliers, then lot rounding."""

    method: SizingMethod = "fixed_risk"
    risk_per_trade_pct: Percent = 1.0
    """FIXED_RISK: equity put at risk between entry and stop, in %."""
    default_stop_pct: Percent = 2.0
    """Assumed stop distance (% of entry) for signals without a stop (risk and heat)."""
    kelly_cap: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.25
    """Kelly methods: most of the equity one position may take, as a fraction."""
    sources: dict[str, SourceStats] = {}
    """Per-source win rate and payoff for the Kelly methods."""
    fixed_dollar: PosFloat = 5_000.0
    fixed_shares: PosFloat = 100.0
    heat_cap_pct: Percent = 6.0
    """Sum of open risk (entry to stop, all positions and working entries) as % of equity."""
    drawdown_tiers: list[DrawdownTier] = msgspec.field(default_factory=_default_tiers)
    volatility_input: str = "vix"
    """Key of ``RegimeUpdate.inputs`` holding a VIX-like volatility level ("" disables)."""
    volatility_reference: PosFloat = 20.0
    """At this volatility the multiplier is 1; it is ``reference / level`` clamped below."""
    volatility_min_multiplier: NonNegFloat = 0.5
    volatility_max_multiplier: PosFloat = 1.5
    lot_size: PosFloat = 1.0
    """Quantities are rounded down to a multiple of this (0.0001 for fractional crypto)."""
