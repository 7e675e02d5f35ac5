"""Incremental Wilder ADX per symbol for the strategy-selection gate (stage 5).

Plain Python on purpose: one bar at a time arrives from the ``market`` topic, and
per-bar Python is cheaper than a numba call at that granularity. The arithmetic is the
same as ``actors.kernels`` ``adx_update`` (Wilder sums over the first ``period``
moves, then ``s − s/n + x`` smoothing; ADX is the mean of the first ``period`` DX
values, then Wilder-smoothed; ready after ``2·period`` bars), so the kernel can take
over for batch replays without changing a decision.
"""

from __future__ import annotations

import math
from typing import final


@final
class _AdxState:
    __slots__ = ("adx", "count", "dx_sum", "mdm", "pc", "pdm", "ph", "pl", "tr")

    def __init__(self) -> None:
        self.adx = math.nan
        self.count = 0
        self.ph = math.nan
        self.pl = math.nan
        self.pc = math.nan
        self.tr = 0.0
        self.pdm = 0.0
        self.mdm = 0.0
        self.dx_sum = 0.0


@final
class AdxTracker:
    """Wilder ADX(``period``) for every symbol that has sent bars."""

    __slots__ = ("_states", "period")

    def __init__(self, period: int) -> None:
        self.period = period
        self._states: dict[str, _AdxState] = {}

    def value(self, symbol: str) -> float:
        """The symbol's ADX, NaN until it has ``2·period`` bars."""
        s = self._states.get(symbol)
        return math.nan if s is None else s.adx

    def update(self, symbol: str, high: float, low: float, close: float) -> float:
        """Apply one bar and return the new ADX (NaN while warming up)."""
        s = self._states.get(symbol)
        if s is None:
            s = self._states[symbol] = _AdxState()
        n = self.period
        ph, pl, pc = s.ph, s.pl, s.pc
        s.ph, s.pl, s.pc = high, low, close
        if math.isnan(pc):
            return s.adx
        up = high - ph
        down = pl - low
        pdm = up if (up > down and up > 0.0) else 0.0
        mdm = down if (down > up and down > 0.0) else 0.0
        tr = max(high - low, abs(high - pc), abs(low - pc))
        s.count += 1
        c = s.count
        if c <= n:
            s.tr += tr
            s.pdm += pdm
            s.mdm += mdm
            if c < n:
                return s.adx
        else:
            s.tr = s.tr - s.tr / n + tr
            s.pdm = s.pdm - s.pdm / n + pdm
            s.mdm = s.mdm - s.mdm / n + mdm
        pdi = 100.0 * s.pdm / s.tr if s.tr > 0.0 else 0.0
        mdi = 100.0 * s.mdm / s.tr if s.tr > 0.0 else 0.0
        total = pdi + mdi
        dx = 100.0 * abs(pdi - mdi) / total if total > 0.0 else 0.0
        if c < 2 * n - 1:
            s.dx_sum += dx
        elif c == 2 * n - 1:
            s.dx_sum += dx
            s.adx = s.dx_sum / n
        else:
            s.adx = (s.adx * (n - 1.0) + dx) / n
        return s.adx
