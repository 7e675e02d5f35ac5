"""Position sizing (stage 7): how many units an entry gets, or why it gets none.

The base size comes from the configured method:

* ``fixed_risk`` — ``equity × risk_per_trade_pct`` at risk between entry and stop:
  ``qty = equity·r / |entry − stop|``;
* ``kelly`` / ``half_kelly`` / ``quarter_kelly`` — the Kelly fraction of the source's
  edge, ``f = W − (1 − W)/R`` (win rate ``W``, payoff ``R``), times 1, ½ or ¼, capped at
  ``kelly_cap``, as a share of equity: ``qty = equity·f / entry``;
* ``fixed_dollar`` — ``qty = fixed_dollar / entry``; ``fixed_shares`` — ``qty = fixed_shares``.

It is then multiplied by the regime's size multiplier, the drawdown tier's multiplier
and the volatility multiplier (``reference / level`` clamped to [min, max]), cut so that
the open risk of all positions plus this one stays within the heat cap, and rounded
down to a whole lot. A size that comes out at zero is a rejection with a reason code,
never an order.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import final

import msgspec

from config.sections.sizing import SizingSettings

_KELLY_MULT = {"kelly": 1.0, "half_kelly": 0.5, "quarter_kelly": 0.25}


class SizeResult(msgspec.Struct, frozen=True):
    """The size of one entry and how it was reached (``reason`` set when it is zero)."""

    qty: Decimal
    reason: str = ""
    detail: str = ""
    base_qty: float = 0.0
    risk_per_unit: float = 0.0
    multiplier: float = 1.0

    @property
    def ok(self) -> bool:
        """True when there is something to trade."""
        return not self.reason


@final
class Sizer:
    """Sizes entries from ``[sizing]``; the configuration is flattened once."""

    __slots__ = ("_cfg", "_kelly_mult", "_lot", "_lot_dec", "_stats", "_tiers", "published")

    def __init__(self, cfg: SizingSettings) -> None:
        self._cfg = cfg
        self._kelly_mult = _KELLY_MULT.get(cfg.method, 0.0)
        self._lot = cfg.lot_size
        lot = cfg.lot_size
        self._lot_dec = Decimal(int(lot)) if lot.is_integer() else Decimal(repr(lot))
        # Deepest tier first, so the first match is the one that applies.
        self._tiers = sorted(
            ((t.drawdown_pct / 100.0, t.multiplier) for t in cfg.drawdown_tiers), reverse=True
        )
        self._stats = {name: (s.win_rate, s.payoff) for name, s in cfg.sources.items()}
        self.published: tuple[dict[str, float], dict[str, float]] = ({}, {})
        """Win rates and payoffs from ``SourceWeights`` (kept across a reload)."""

    @property
    def method(self) -> str:
        """The configured sizing method."""
        return self._cfg.method

    def set_stats(self, win_rate: dict[str, float], payoff: dict[str, float]) -> None:
        """Take per-source statistics from a ``SourceWeights`` event.

        A payoff of zero or less (the feedback actor's figure for a source without
        winning trades) is taken as it is: the source has no edge and Kelly sizes it at
        zero, rather than trading on stale configured statistics. A win rate outside
        [0, 1] or a NaN payoff is bad data and leaves the source's statistics unchanged.
        """
        self.published[0].update(win_rate)
        self.published[1].update(payoff)
        for name, w in win_rate.items():
            r = payoff.get(name)
            if r is not None and 0.0 <= w <= 1.0 and not math.isnan(r):
                self._stats[name] = (w, r)

    def risk_per_unit(self, entry: float, stop: float | None) -> float:
        """Money at risk per unit between entry and stop (default stop distance if none)."""
        if stop is not None and stop > 0.0 and stop != entry:
            return abs(entry - stop)
        return entry * self._cfg.default_stop_pct / 100.0

    def drawdown_multiplier(self, equity: float, peak_equity: float) -> float:
        """The multiplier of the deepest drawdown tier reached (1 at the peak)."""
        if peak_equity <= 0.0 or equity >= peak_equity:
            return 1.0
        dd = (peak_equity - equity) / peak_equity
        for threshold, mult in self._tiers:
            if dd >= threshold:
                return mult
        return 1.0

    def volatility_multiplier(self, level: float | None) -> float:
        """``reference / level`` clamped to the configured range (1 when unknown)."""
        cfg = self._cfg
        if level is None or not math.isfinite(level) or level <= 0.0:
            return 1.0
        m = cfg.volatility_reference / level
        return min(cfg.volatility_max_multiplier, max(cfg.volatility_min_multiplier, m))

    def size(
        self,
        *,
        equity: float,
        entry: float,
        stop: float | None,
        source: str,
        open_risk: float = 0.0,
        peak_equity: float = 0.0,
        regime_multiplier: float = 1.0,
        heat_multiplier: float = 1.0,
        volatility: float | None = None,
    ) -> SizeResult:
        """Size an entry at ``entry`` (stop ``stop``) for ``source`` with ``equity``."""
        cfg = self._cfg
        if not (equity > 0.0 and math.isfinite(equity)):
            return SizeResult(Decimal(0), "no_equity", f"equity {equity} is not positive")
        if not (entry > 0.0 and math.isfinite(entry)):
            return SizeResult(Decimal(0), "no_price", "no usable entry price")
        rpu = self.risk_per_unit(entry, stop)
        method = cfg.method
        if method == "fixed_risk":
            base = equity * cfg.risk_per_trade_pct / 100.0 / rpu
        elif method == "fixed_dollar":
            base = cfg.fixed_dollar / entry
        elif method == "fixed_shares":
            base = cfg.fixed_shares
        else:
            stats = self._stats.get(source)
            if stats is None:
                return SizeResult(
                    Decimal(0), "kelly_no_stats", f"no win rate/payoff for source {source!r}"
                )
            w, r = stats
            if r <= 0.0:
                # No winning trades: no win rate gives an edge (and R = 0 would divide).
                return SizeResult(
                    Decimal(0), "kelly_no_edge", f"payoff R={r} is not positive (W={w})"
                )
            f = w - (1.0 - w) / r
            if f <= 0.0:
                return SizeResult(
                    Decimal(0), "kelly_no_edge", f"Kelly fraction {f:.4f} (W={w}, R={r})"
                )
            f = min(f * self._kelly_mult, cfg.kelly_cap)
            base = equity * f / entry
        mult = (
            regime_multiplier
            * self.drawdown_multiplier(equity, peak_equity)
            * self.volatility_multiplier(volatility)
        )
        qty = base * mult
        if qty <= 0.0:
            return SizeResult(
                Decimal(0), "multiplier_zero", f"size multipliers give {mult:g}", base, rpu, mult
            )
        room = equity * cfg.heat_cap_pct / 100.0 * heat_multiplier - open_risk
        if room <= 0.0:
            return SizeResult(
                Decimal(0),
                "heat_cap",
                f"open risk {open_risk:.2f} already at the heat cap",
                base,
                rpu,
                mult,
            )
        qty = min(qty, room / rpu)
        # The epsilon keeps 99.99999999 (binary float) from rounding down a whole lot.
        lots = math.floor(qty / self._lot + 1e-9)
        if lots <= 0:
            return SizeResult(
                Decimal(0),
                "below_lot",
                f"size {qty:.6g} is below one lot of {self._lot:g}",
                base,
                rpu,
                mult,
            )
        return SizeResult(Decimal(lots) * self._lot_dec, "", "", base, rpu, mult)
