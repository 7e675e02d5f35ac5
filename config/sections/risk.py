"""``[risk]``: the risk gate's limits (every check and its keys: docs/actors/risk_gate.md)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.sections._base import NonNegFloat, Percent, PosFloat, PosInt, Section
from daemon.messages import Regime


class RegimeRule(Section, frozen=True, kw_only=True):
    """Check 7, one row of the regime matrix: which new entries a regime allows."""

    allow_long: bool = True
    allow_short: bool = True
    limit_multiplier: Annotated[float, msgspec.Meta(ge=0, le=2)] = 1.0
    """Scales the position and VaR limits in this regime."""


def _default_regimes() -> dict[Regime, RegimeRule]:
    return {
        Regime.BULL: RegimeRule(),
        Regime.SIDEWAYS: RegimeRule(),
        Regime.BEAR: RegimeRule(limit_multiplier=0.75),
        Regime.CRISIS: RegimeRule(allow_long=False, limit_multiplier=0.5),
    }


class RiskSettings(Section, frozen=True, kw_only=True):
    """Limits every entry is checked against."""

    max_position_pct: Percent = 10.0
    """Largest position in one symbol, as % of equity."""
    daily_loss_limit_pct: Percent = 3.0
    """Realized + unrealized loss for the day, as % of start-of-day equity."""
    max_open_positions: PosInt = 10

    # 1. pattern-day-trader rule
    pdt_enabled: bool = True
    pdt_equity_threshold: NonNegFloat = 25_000.0
    """Below this equity, at most ``pdt_max_day_trades`` day trades in 5 business days."""
    pdt_max_day_trades: Annotated[int, msgspec.Meta(ge=0)] = 3
    # 2. buying power
    buying_power_buffer_pct: Annotated[float, msgspec.Meta(ge=0, lt=100)] = 0.0
    """Part of the buying power kept back (fees, slippage)."""
    # 3. position limits
    sectors: dict[str, str] = {}
    """Sector per symbol; enables the per-sector limit."""
    max_sector_pct: Percent = 30.0
    # 4. correlation
    max_correlation: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.85
    """Largest |ρ| of daily returns between a new entry and any open position."""
    correlation_window: Annotated[int, msgspec.Meta(ge=3)] = 60
    # 5. liquidity
    min_adv: NonNegFloat = 100_000.0
    """Least average daily volume (shares) over ``adv_window`` bars."""
    max_adv_pct: Percent = 1.0
    """An order may be at most this % of the average daily volume."""
    min_price: NonNegFloat = 1.0
    adv_window: PosInt = 20
    # 6. value at risk
    var_limit_pct: Percent = 2.0
    """Portfolio 1-day historical VaR after the trade, as % of equity."""
    var_confidence: Annotated[float, msgspec.Meta(gt=0.5, lt=1)] = 0.95
    var_window: Annotated[int, msgspec.Meta(ge=20)] = 250
    # 7. regime matrix
    regimes: dict[Regime, RegimeRule] = msgspec.field(default_factory=_default_regimes)
    # beyond the eight: order rate
    max_orders_per_window: PosInt = 120
    """Approved entries allowed per ``order_rate_window_s``; more are denied, never queued."""
    order_rate_window_s: PosFloat = 60.0
    # market history
    require_history: bool = True
    """Deny when a symbol has too little history for ADV/VaR (fail closed)."""
    min_history: Annotated[int, msgspec.Meta(ge=2)] = 20
    """Fewest daily returns the liquidity, correlation and VaR checks need."""
    bar_interval_s: PosInt = 86_400
    """Only bars of this interval feed the price and volume history."""
    history_files: dict[str, str] = {}
    """Symbol to a daily-bars CSV (Yahoo format) preloaded at start."""
    reservation_ttl_s: PosFloat = 3_600.0
    """An approved entry counts against the limits until its order ends, or this long."""
