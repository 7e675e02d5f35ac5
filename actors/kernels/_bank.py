"""Per-symbol indicator state (EMA, ATR, ADX) in preallocated matrices, updated in batches."""

from __future__ import annotations

from typing import final

import numpy as np

from actors.kernels._indicators import (
    ADX_FIELDS,
    ADX_MINUS_DI,
    ADX_PLUS_DI,
    ADX_VALUE,
    ATR_FIELDS,
    ATR_VALUE,
    EMA_FIELDS,
    EMA_VALUE,
    adx_update,
    atr_update,
    ema_update,
    new_state,
)
from actors.kernels._validate import FloatArray, IntArray, KernelInputError


@final
class IndicatorBank:
    """EMA, ATR and (optionally) ADX for many symbols; one column per symbol.

    Symbols get a column on first sight; the matrices double when full, so the cost
    of a new symbol is amortised and an update never searches anything. Inputs are
    trusted: validate bars at the boundary before :meth:`update`.
    """

    __slots__ = ("_adx", "_atr", "_cols", "_ema", "adx_period", "atr_period", "ema_period")

    def __init__(
        self,
        *,
        ema_period: int,
        atr_period: int,
        adx_period: int | None = None,
        capacity: int = 64,
    ) -> None:
        for name, value in (("ema_period", ema_period), ("atr_period", atr_period)):
            if value < 1:
                raise KernelInputError(f"{name} must be >= 1, got {value}")
        if adx_period is not None and adx_period < 1:
            raise KernelInputError(f"adx_period must be >= 1, got {adx_period}")
        self.ema_period = ema_period
        self.atr_period = atr_period
        self.adx_period = adx_period
        cap = max(1, capacity)
        self._cols: dict[str, int] = {}
        self._ema = new_state(EMA_FIELDS, cap)
        self._atr = new_state(ATR_FIELDS, cap)
        self._adx = new_state(ADX_FIELDS, cap if adx_period is not None else 1)

    def __len__(self) -> int:
        return len(self._cols)

    def column(self, symbol: str) -> int:
        """The column of ``symbol``, allocating one on first sight."""
        j = self._cols.get(symbol)
        if j is None:
            j = len(self._cols)
            if j >= self._ema.shape[1]:
                self._grow(2 * self._ema.shape[1])
            self._cols[symbol] = j
        return j

    def find(self, symbol: str) -> int | None:
        """The column of ``symbol`` if it has one."""
        return self._cols.get(symbol)

    def _grow(self, cap: int) -> None:
        def grown(old: FloatArray) -> FloatArray:
            new = new_state(old.shape[0], cap)
            new[:, : old.shape[1]] = old
            return new

        self._ema = grown(self._ema)
        self._atr = grown(self._atr)
        if self.adx_period is not None:
            self._adx = grown(self._adx)

    def update(
        self, sym: IntArray, high: FloatArray, low: FloatArray, close: FloatArray, m: int
    ) -> None:
        """Apply the first ``m`` bars (columns ``sym``) to every indicator, in order."""
        ema_update(self._ema, sym, close, m, self.ema_period)
        atr_update(self._atr, sym, high, low, close, m, self.atr_period)
        if self.adx_period is not None:
            adx_update(self._adx, sym, high, low, close, m, self.adx_period)

    def ema(self, j: int) -> float:
        """Current EMA of column ``j`` (NaN until warmed up)."""
        return float(self._ema[EMA_VALUE, j])

    def atr(self, j: int) -> float:
        """Current ATR of column ``j`` (NaN until warmed up)."""
        return float(self._atr[ATR_VALUE, j])

    def adx(self, j: int) -> float:
        """Current ADX of column ``j`` (NaN until warmed up or when ADX is off)."""
        if self.adx_period is None:
            return float("nan")
        return float(self._adx[ADX_VALUE, j])

    def directional(self, j: int) -> tuple[float, float]:
        """Current ``(+DI, −DI)`` of column ``j`` (NaN until available)."""
        if self.adx_period is None:
            return float("nan"), float("nan")
        return float(self._adx[ADX_PLUS_DI, j]), float(self._adx[ADX_MINUS_DI, j])

    @property
    def ema_state(self) -> FloatArray:
        """The EMA state matrix (``EMA_*`` rows, one column per symbol), for kernels
        that update it in place; replaced when the bank grows, so fetch it after
        :meth:`column`."""
        return self._ema

    @property
    def atr_state(self) -> FloatArray:
        """The ATR state matrix (``ATR_*`` rows); see :attr:`ema_state`."""
        return self._atr

    @property
    def ema_values(self) -> FloatArray:
        """Every column's EMA (a view; do not write)."""
        values: FloatArray = self._ema[EMA_VALUE]
        return values

    @property
    def atr_values(self) -> FloatArray:
        """Every column's ATR (a view; do not write)."""
        values: FloatArray = self._atr[ATR_VALUE]
        return values


def batch_buffers(size: int) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Reusable ``(sym, high, low, close)`` buffers for batches of up to ``size`` bars."""
    return (
        np.zeros(size, dtype=np.int64),
        np.zeros(size, dtype=np.float64),
        np.zeros(size, dtype=np.float64),
        np.zeros(size, dtype=np.float64),
    )
