"""``[regime]``: the optional regime actor's reference symbols, indicators and rules.

Every threshold is documented with its rule in docs/actors/regime.md. Percentages are
in percent (``1.0`` is 1 %); volatilities are annualised and in percent, the scale of
a VIX-like index, so ``crisis_vol`` and ``crisis_vol_index`` read alike.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.sections._base import PosFloat, PosInt, Section

Fraction = Annotated[float, msgspec.Meta(ge=0, lt=1)]
"""A fraction in [0, 1)."""
Pct = Annotated[float, msgspec.Meta(gt=0, le=100)]
"""A percentage in (0, 100]."""
VolPct = Annotated[float, msgspec.Meta(gt=0, le=1000)]
"""An annualised volatility in percent (VIX scale)."""


class RegimeSettings(Section, frozen=True, kw_only=True):
    """Regime detection from the bars of one reference symbol (and a volatility index).

    The actor is optional and off unless ``"regime"`` is in ``[actors] enabled``.
    """

    symbol: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] = "SPY"
    """Reference index (an index ETF): its bars drive trend, volatility and drawdown."""
    volatility_symbol: Annotated[str, msgspec.Meta(max_length=32)] = ""
    """A volatility index (e.g. ``VIX``), from ticks or bars; empty: realised volatility only."""
    bar_interval_s: PosInt = 86_400
    """Only reference bars of this interval are used (daily by default)."""
    history_files: dict[str, str] = {}
    """Yahoo-format CSV per symbol (``Date,Open,High,Low,Close,...``) replayed at start,
    so the detector is warm at once instead of after ``ema_period + slope_bars`` bars."""

    # -- indicators ----------------------------------------------------------------------
    ema_period: PosInt = 50
    """EMA of the reference closes: trend direction and the price-above/below test."""
    slope_bars: PosInt = 20
    """EMA slope = change of the EMA over this many bars, in %."""
    adx_period: PosInt = 14
    """Wilder ADX period (trend strength)."""
    atr_period: PosInt = 14
    """Wilder ATR period (reported as ``atr_pct``, informational)."""
    vol_window: Annotated[int, msgspec.Meta(ge=2)] = 20
    """Bars of log returns in the realised volatility."""
    periods_per_year: PosFloat = 252.0
    """Annualises realised volatility (252 for daily bars)."""
    drawdown_window: PosInt = 252
    """Drawdown is measured from the highest close of this many bars."""

    # -- rules (checked in this order: CRISIS, BEAR, BULL, else SIDEWAYS) -----------------
    crisis_vol: VolPct = 40.0
    """Realised volatility at or above this is CRISIS."""
    crisis_vol_index: VolPct = 35.0
    """A volatility-index level at or above this is CRISIS."""
    crisis_drawdown_pct: Pct = 25.0
    """A drawdown this deep is CRISIS when realised volatility is at least ``bear_vol``."""
    bear_vol: VolPct = 25.0
    """Volatility that confirms a deep drawdown as CRISIS and keeps a market from BULL."""
    bear_drawdown_pct: Pct = 20.0
    """A drawdown this deep with a non-rising EMA is BEAR."""
    trend_slope_pct: PosFloat = 1.0
    """An EMA slope beyond ±this (%) is a trend (BULL above the EMA, BEAR below)."""
    trend_min_adx: Annotated[float, msgspec.Meta(ge=0, le=100)] = 15.0
    """Trend regimes also need ADX at least this (0: ADX is reported, not required)."""
    bull_max_drawdown_pct: Pct = 10.0
    """BULL needs the drawdown shallower than this."""
    bull_max_vol_index: VolPct = 25.0
    """BULL needs the volatility index (when known) below this."""
    volatility_max_age_s: PosFloat = 4 * 86_400.0
    """A volatility-index level older than this is ignored (stale feed)."""

    # -- hysteresis ----------------------------------------------------------------------
    confirm_bars: PosInt = 5
    """A new regime must be the classification for this many bars in a row."""
    crisis_confirm_bars: PosInt = 2
    """Bars in a row needed to enter CRISIS (protection should not wait a week)."""
    exit_margin: Fraction = 0.2
    """Staying in the current regime needs its thresholds met only to within this
    fraction (e.g. CRISIS is kept while volatility is above ``0.8 · crisis_vol``)."""
    ema_band_pct: Annotated[float, msgspec.Meta(ge=0, le=50)] = 1.0
    """Staying BULL (BEAR) tolerates a close this % below (above) the EMA."""
