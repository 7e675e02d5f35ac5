"""The regime rules: one bar's features (and a volatility-index level) to a regime.

Checked in order, first match wins (docs/actors/regime.md has the table):

1. CRISIS — realised volatility ≥ ``crisis_vol``; or the volatility index ≥
   ``crisis_vol_index``; or drawdown ≥ ``crisis_drawdown_pct`` with realised
   volatility ≥ ``bear_vol``.
2. BEAR — EMA slope ≤ −``trend_slope_pct`` with the close below the EMA (and ADX ≥
   ``trend_min_adx``); or drawdown ≥ ``bear_drawdown_pct`` while the EMA is not rising.
3. BULL — EMA slope ≥ ``trend_slope_pct`` with the close above the EMA (and ADX ≥
   ``trend_min_adx``), drawdown < ``bull_max_drawdown_pct``, realised volatility <
   ``bear_vol`` and the volatility index (when known) < ``bull_max_vol_index``.
4. SIDEWAYS — anything else.

Hysteresis, part one (margins): the rules of the regime currently in force are
checked with thresholds loosened by ``exit_margin`` (a fraction of each threshold) and
the EMA test by ``ema_band_pct``, so a value hovering at a threshold does not flip the
classification back and forth. Part two (bars in a row) is in ``_detector``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from actors.regime._features import Features
from config.sections.regime import RegimeSettings
from daemon.messages import Regime


@dataclass(frozen=True, slots=True)
class Verdict:
    """One bar's classification and the rule that produced it (for the update's reason)."""

    regime: Regime
    reason: str


@final
class RegimeRules:
    """The rule table of ``[regime]``, as a function of features and the current regime."""

    __slots__ = ("_cfg",)

    def __init__(self, cfg: RegimeSettings) -> None:
        self._cfg = cfg

    def classify(self, f: Features, vix: float | None, current: Regime | None) -> Verdict:
        """The regime the bar's features point to, given the regime in force."""
        return (
            self._crisis(f, vix, current is Regime.CRISIS)
            or self._bear(f, current is Regime.BEAR)
            or self._bull(f, vix, current is Regime.BULL)
            or Verdict(Regime.SIDEWAYS, _sideways_reason(f))
        )

    def _crisis(self, f: Features, vix: float | None, held: bool) -> Verdict | None:
        c = self._cfg
        k = 1.0 - c.exit_margin if held else 1.0
        if f.realized_vol >= c.crisis_vol * k:
            return Verdict(
                Regime.CRISIS,
                f"realized_vol {f.realized_vol:.1f} >= {c.crisis_vol * k:.1f}",
            )
        if vix is not None and vix >= c.crisis_vol_index * k:
            return Verdict(Regime.CRISIS, f"vix {vix:.1f} >= {c.crisis_vol_index * k:.1f}")
        if f.drawdown_pct >= c.crisis_drawdown_pct * k and f.realized_vol >= c.bear_vol * k:
            return Verdict(
                Regime.CRISIS,
                f"drawdown {f.drawdown_pct:.1f}% >= {c.crisis_drawdown_pct * k:.1f}% with "
                f"realized_vol {f.realized_vol:.1f} >= {c.bear_vol * k:.1f}",
            )
        return None

    def _bear(self, f: Features, held: bool) -> Verdict | None:
        c = self._cfg
        k = 1.0 - c.exit_margin if held else 1.0
        band = c.ema_band_pct / 100.0 if held else 0.0
        slope = -c.trend_slope_pct * k
        if (
            f.ema_slope_pct <= slope
            and f.close < f.ema * (1.0 + band)
            and f.adx >= c.trend_min_adx * k
        ):
            return Verdict(
                Regime.BEAR,
                f"ema_slope {f.ema_slope_pct:.2f}% <= {slope:.2f}% with the close below the EMA",
            )
        # Not rising: below zero when entering, below a small rise while held.
        rising = c.trend_slope_pct * c.exit_margin if held else 0.0
        if f.drawdown_pct >= c.bear_drawdown_pct * k and f.ema_slope_pct <= rising:
            return Verdict(
                Regime.BEAR,
                f"drawdown {f.drawdown_pct:.1f}% >= {c.bear_drawdown_pct * k:.1f}% "
                f"and ema_slope {f.ema_slope_pct:.2f}% <= {rising:.2f}%",
            )
        return None

    def _bull(self, f: Features, vix: float | None, held: bool) -> Verdict | None:
        c = self._cfg
        k = 1.0 - c.exit_margin if held else 1.0
        up = 1.0 + c.exit_margin if held else 1.0
        band = c.ema_band_pct / 100.0 if held else 0.0
        slope = c.trend_slope_pct * k
        if not (
            f.ema_slope_pct >= slope
            and f.close > f.ema * (1.0 - band)
            and f.adx >= c.trend_min_adx * k
        ):
            return None
        if f.drawdown_pct >= c.bull_max_drawdown_pct * up:
            return None
        if f.realized_vol >= c.bear_vol * up:
            return None
        if vix is not None and vix >= c.bull_max_vol_index * up:
            return None
        return Verdict(
            Regime.BULL,
            f"ema_slope {f.ema_slope_pct:.2f}% >= {slope:.2f}% with the close above the EMA, "
            f"drawdown {f.drawdown_pct:.1f}%, realized_vol {f.realized_vol:.1f}",
        )


def _sideways_reason(f: Features) -> str:
    return (
        f"no trend, stress or crisis rule met (ema_slope {f.ema_slope_pct:.2f}%, "
        f"adx {f.adx:.1f}, drawdown {f.drawdown_pct:.1f}%, realized_vol {f.realized_vol:.1f})"
    )
