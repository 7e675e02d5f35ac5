"""What the regime rules look at, computed incrementally from the reference symbol's bars.

EMA, ATR and ADX come from the compiled kernels (:class:`actors.kernels.IndicatorBank`,
one column); the rest is O(1) per bar in plain Python, because one daily bar at a time
is far below the cost of a numba call's argument boxing:

* EMA slope: ``100 · (ema_t / ema_{t−k} − 1)`` over ``k = slope_bars`` bars, from a ring
  of the last ``k + 1`` EMA values;
* realised volatility: sample standard deviation (ddof 1) of the last ``vol_window``
  log returns, times ``√periods_per_year``, in percent (the scale of a VIX-like index);
* drawdown: ``100 · (1 − close / max(close over drawdown_window bars))``, a positive
  number, from a monotonic deque (amortised O(1) rolling maximum).

Nothing is reported until every one of them is defined, so an emitted input is never NaN.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import final

from actors.kernels import IndicatorBank, batch_buffers
from config.sections.regime import RegimeSettings


@dataclass(frozen=True, slots=True)
class Features:
    """The reference symbol's state after one bar (all finite)."""

    close: float
    ema: float
    ema_slope_pct: float
    adx: float
    plus_di: float
    minus_di: float
    atr_pct: float
    realized_vol: float
    drawdown_pct: float

    def as_inputs(self) -> dict[str, float]:
        """The features as ``RegimeUpdate.inputs`` entries (rounded for readability)."""
        return {
            "close": self.close,
            "ema": round(self.ema, 6),
            "ema_slope_pct": round(self.ema_slope_pct, 4),
            "adx": round(self.adx, 4),
            "plus_di": round(self.plus_di, 4),
            "minus_di": round(self.minus_di, 4),
            "atr_pct": round(self.atr_pct, 4),
            "realized_vol": round(self.realized_vol, 4),
            "drawdown_pct": round(self.drawdown_pct, 4),
        }


@final
class FeatureTracker:
    """Feeds one symbol's bars through the indicators; :meth:`update` returns the features."""

    __slots__ = (
        "_ann",
        "_bank",
        "_bars",
        "_buf",
        "_col",
        "_dd_window",
        "_emas",
        "_highs",
        "_prev_close",
        "_rets",
        "_slope_len",
        "_vol_window",
        "_warm_bars",
    )

    def __init__(self, cfg: RegimeSettings) -> None:
        self._bank = IndicatorBank(
            ema_period=cfg.ema_period,
            atr_period=cfg.atr_period,
            adx_period=cfg.adx_period,
            capacity=1,
        )
        self._col = self._bank.column("reference")
        self._buf = batch_buffers(1)
        self._buf[0][0] = self._col
        self._slope_len = cfg.slope_bars + 1
        self._emas: deque[float] = deque(maxlen=self._slope_len)
        self._rets: deque[float] = deque(maxlen=cfg.vol_window)
        self._vol_window = cfg.vol_window
        self._ann = math.sqrt(cfg.periods_per_year)
        self._dd_window = cfg.drawdown_window
        # (bar number, close), closes strictly decreasing: the front is the window's high.
        self._highs: deque[tuple[int, float]] = deque()
        self._prev_close = math.nan
        self._bars = 0
        self._warm_bars = max(
            cfg.ema_period + cfg.slope_bars,
            2 * cfg.adx_period,
            cfg.atr_period,
            cfg.vol_window + 1,
        )

    @property
    def bars(self) -> int:
        """Bars seen so far."""
        return self._bars

    @property
    def warm_up_bars(self) -> int:
        """Bars needed before the first :class:`Features`."""
        return self._warm_bars

    def update(self, high: float, low: float, close: float) -> Features | None:
        """Apply one (validated) bar; the features, or None while warming up."""
        sym, hi, lo, cl = self._buf
        hi[0] = high
        lo[0] = low
        cl[0] = close
        bank = self._bank
        bank.update(sym, hi, lo, cl, 1)
        j = self._col
        n = self._bars = self._bars + 1

        ema = bank.ema(j)
        if not math.isnan(ema):
            self._emas.append(ema)
        if not math.isnan(self._prev_close):
            self._rets.append(math.log(close / self._prev_close))
        self._prev_close = close
        highs = self._highs
        while highs and highs[-1][1] <= close:
            highs.pop()
        highs.append((n, close))
        if highs[0][0] <= n - self._dd_window:
            highs.popleft()

        if n < self._warm_bars:
            return None
        adx = bank.adx(j)
        atr = bank.atr(j)
        plus_di, minus_di = bank.directional(j)
        emas = self._emas
        if (
            len(emas) < self._slope_len
            or len(self._rets) < self._vol_window
            or math.isnan(adx)
            or math.isnan(atr)
        ):
            return None
        return Features(
            close=close,
            ema=ema,
            ema_slope_pct=100.0 * (ema / emas[0] - 1.0),
            adx=adx,
            plus_di=plus_di,
            minus_di=minus_di,
            atr_pct=100.0 * atr / close,
            realized_vol=self._realized_vol(),
            drawdown_pct=100.0 * (1.0 - close / highs[0][1]),
        )

    def _realized_vol(self) -> float:
        rets = self._rets
        n = len(rets)
        mean = math.fsum(rets) / n
        var = math.fsum((r - mean) ** 2 for r in rets) / (n - 1)
        return 100.0 * math.sqrt(var) * self._ann
