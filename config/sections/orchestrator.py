"""``[orchestrator]``: fusion, regime profiles, strategy gate, orders and fill validation."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import NonNegFloat, PosFloat, PosInt, Section
from daemon.messages import Regime

Conviction = Annotated[float, msgspec.Meta(ge=0, le=100)]
"""A (fused) conviction score in [0, 100]."""


class FusionSettings(Section, frozen=True, kw_only=True):
    """Stage 4: recent signals on one symbol combined by source weight and age."""

    window_s: PosFloat = 300.0
    """Signals older than this take no part in fusion."""
    half_life_s: PosFloat = 60.0
    """A signal's weight halves every ``half_life_s`` of age."""
    weights: dict[str, NonNegFloat] = {}
    """Weight per source (replaced at run time by ``SourceWeights`` events)."""
    default_weight: NonNegFloat = 1.0
    """Weight of a source not in ``weights``."""
    min_conviction: Conviction = 0.0
    """A fused conviction below this is ``fusion_weak``."""
    max_symbols: PosInt = 10_000
    """Symbols with fusion memory; beyond it the least recently seen is forgotten."""


class RegimeProfile(Section, frozen=True, kw_only=True):
    """Stage 3: how a market regime adapts sizes and the entry bar."""

    size_multiplier: Annotated[float, msgspec.Meta(ge=0, le=2)] = 1.0
    """Scales every entry size in this regime (0 stops new entries)."""
    min_conviction: Conviction = 0.0
    """A signal below this conviction is ``regime_conviction`` in this regime."""
    heat_multiplier: Annotated[float, msgspec.Meta(ge=0, le=2)] = 1.0
    """Scales ``sizing.heat_cap_pct`` in this regime."""


def _default_profiles() -> dict[Regime, RegimeProfile]:
    return {
        Regime.BULL: RegimeProfile(),
        Regime.SIDEWAYS: RegimeProfile(size_multiplier=0.75),
        Regime.BEAR: RegimeProfile(size_multiplier=0.5, min_conviction=60.0, heat_multiplier=0.75),
        Regime.CRISIS: RegimeProfile(
            size_multiplier=0.25, min_conviction=80.0, heat_multiplier=0.5
        ),
    }


class StrategyGateSettings(Section, frozen=True, kw_only=True):
    """Stage 5: trend signals only when trending, mean reversion only when ranging (ADX)."""

    enabled: bool = False
    adx_period: PosInt = 14
    trend_min_adx: NonNegFloat = 25.0
    """A ``trend`` source's signal needs ADX at least this."""
    mean_reversion_max_adx: NonNegFloat = 20.0
    """A ``mean_reversion`` source's signal needs ADX at most this."""
    styles: dict[str, Literal["trend", "mean_reversion", "any"]] = {}
    """Style per source; sources not listed are ``any`` (never gated)."""
    bar_interval_s: PosInt = 86_400
    """Only bars of this interval feed the ADX."""
    missing_adx: Literal["pass", "reject"] = "reject"
    """What to do while a symbol has too few bars for an ADX."""


class FillSettings(Section, frozen=True, kw_only=True):
    """Stage 9: how order outcomes are validated."""

    ack_timeout_s: PosFloat = 5.0
    """No acknowledgement within this: status ``unknown``, ask the broker (never resubmit)."""
    query_retry_s: PosFloat = 5.0
    """While the broker cannot say, ask again this often."""
    partial: Literal["keep", "cancel_rest"] = "keep"
    """A partially filled order that stops filling: keep it working, or cancel the rest."""
    partial_timeout_s: PosFloat = 30.0
    """How long a partial fill may stall before ``cancel_rest`` cancels the remainder."""
    slippage_alert_bps: PosFloat = 25.0
    """Average fill worse than the expected price by more than this raises an alert."""
    max_finished_orders: PosInt = 10_000
    """Finished orders kept in memory (for late events and idempotency); oldest trimmed."""


class OrchestratorSettings(Section, frozen=True, kw_only=True):
    """The nine-stage pipeline: see docs/actors/orchestrator.md."""

    initial_regime: Regime = Regime.SIDEWAYS
    """Regime until the first ``RegimeUpdate``."""
    entry_order_type: Literal["market", "limit"] = "market"
    """Entries go out as market orders, or as limits at the signal's entry price."""
    limit_offset_bps: NonNegFloat = 0.0
    """Limit entries: price this much through the entry (worse for us, fills more often)."""
    tif: Literal["day", "gtc"] = "day"
    price_tick: PosFloat = 0.01
    """Limit prices are rounded to this tick."""
    snapshot_interval_s: PosFloat = 0.25
    """Least time between two ``AccountSnapshot`` events (after fills or marks)."""
    fusion: FusionSettings = FusionSettings()
    regimes: dict[Regime, RegimeProfile] = msgspec.field(default_factory=_default_profiles)
    strategy: StrategyGateSettings = StrategyGateSettings()
    fills: FillSettings = FillSettings()
