"""Incremental indicators per symbol — EMA, ATR (Wilder), ADX (Wilder) — and references.

State lives in one ``float64[fields, symbols]`` matrix per indicator; a batch of bar
updates is three aligned arrays (symbol index, high/low/close) applied in order, so
several bars of one symbol in a batch are handled one after another. Each update
costs O(1): no history is kept or rescanned. Values are NaN until the indicator has
seen enough bars:

* EMA(n): seeded with the simple mean of the first ``n`` closes, then
  ``ema += α·(close − ema)`` with ``α = 2/(n+1)``; ready after ``n`` bars.
* ATR(n): true range ``max(h−l, |h−c₋₁|, |l−c₋₁|)`` (``h−l`` on the first bar), seeded
  with the mean of the first ``n`` true ranges, then Wilder's
  ``atr = (atr·(n−1) + tr)/n``; ready after ``n`` bars.
* ADX(n): Wilder's directional movement. ``+DM``/``−DM`` from the second bar on;
  TR, +DM and −DM are summed over the first ``n`` moves, then smoothed
  ``s = s − s/n + x``; ``DX = 100·|+DI − −DI|/(+DI + −DI)`` with ``DI = 100·sDM/sTR``;
  ADX is the mean of the first ``n`` DX values, then ``adx = (adx·(n−1) + dx)/n``;
  ready after ``2n`` bars.
"""

from __future__ import annotations

import math

import numpy as np

from actors.kernels._jit import helper, kernel
from actors.kernels._validate import FloatArray, IntArray

# EMA state rows
EMA_VALUE = 0
EMA_COUNT = 1
EMA_SUM = 2
EMA_FIELDS = 3

# ATR state rows
ATR_VALUE = 0
ATR_COUNT = 1
ATR_SUM = 2
ATR_PREV_CLOSE = 3
ATR_FIELDS = 4

# ADX state rows
ADX_VALUE = 0
ADX_COUNT = 1
ADX_PREV_HIGH = 2
ADX_PREV_LOW = 3
ADX_PREV_CLOSE = 4
ADX_TR = 5
ADX_PDM = 6
ADX_MDM = 7
ADX_DX_SUM = 8
ADX_PLUS_DI = 9
ADX_MINUS_DI = 10
ADX_FIELDS = 11


def new_state(fields: int, symbols: int) -> FloatArray:
    """A fresh state matrix: values and previous prices NaN, counters and sums 0."""
    state = np.zeros((fields, symbols), dtype=np.float64)
    state[0, :] = np.nan
    if fields == ATR_FIELDS:
        state[ATR_PREV_CLOSE, :] = np.nan
    elif fields == ADX_FIELDS:
        state[ADX_PREV_HIGH : ADX_PREV_CLOSE + 1, :] = np.nan
        state[ADX_PLUS_DI : ADX_MINUS_DI + 1, :] = np.nan
    return state


def reset_symbol(state: FloatArray, j: int) -> None:
    """Forget symbol column ``j`` (e.g. to reuse it for another symbol)."""
    fresh = new_state(state.shape[0], 1)
    state[:, j] = fresh[:, 0]


# -- compiled kernels ------------------------------------------------------------------


@helper
def ema_one(state: FloatArray, j: int, x: float, period: int) -> None:
    # One bar of ema_update (which loops over this): kernels that interleave bars with
    # other work call it per bar instead of the dispatcher with a slice, which would
    # compile a second specialisation.
    alpha = 2.0 / (period + 1.0)
    c = state[EMA_COUNT, j] + 1.0
    state[EMA_COUNT, j] = c
    if c < period:
        state[EMA_SUM, j] += x
    elif c == period:
        state[EMA_SUM, j] += x
        state[EMA_VALUE, j] = state[EMA_SUM, j] / period
    else:
        v = state[EMA_VALUE, j]
        state[EMA_VALUE, j] = v + alpha * (x - v)


@helper
def atr_one(state: FloatArray, j: int, h: float, lo: float, close: float, period: int) -> None:
    # One bar of atr_update (see ema_one).
    pc = state[ATR_PREV_CLOSE, j]
    tr = h - lo
    if pc == pc:
        tr = max(tr, abs(h - pc), abs(lo - pc))
    state[ATR_PREV_CLOSE, j] = close
    c = state[ATR_COUNT, j] + 1.0
    state[ATR_COUNT, j] = c
    if c < period:
        state[ATR_SUM, j] += tr
    elif c == period:
        state[ATR_SUM, j] += tr
        state[ATR_VALUE, j] = state[ATR_SUM, j] / period
    else:
        state[ATR_VALUE, j] = (state[ATR_VALUE, j] * (period - 1.0) + tr) / period


@kernel
def ema_update(state: FloatArray, sym: IntArray, close: FloatArray, m: int, period: int) -> None:
    """Apply ``m`` closes (``close[k]`` for symbol column ``sym[k]``) to the EMA state."""
    for k in range(m):
        ema_one(state, sym[k], close[k], period)


@kernel
def atr_update(
    state: FloatArray,
    sym: IntArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    m: int,
    period: int,
) -> None:
    """Apply ``m`` bars to the Wilder ATR state (see the module docstring)."""
    for k in range(m):
        atr_one(state, sym[k], high[k], low[k], close[k], period)


@kernel
def adx_update(
    state: FloatArray,
    sym: IntArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    m: int,
    period: int,
) -> None:
    """Apply ``m`` bars to the Wilder ADX state (see the module docstring)."""
    for k in range(m):
        j = sym[k]
        h = high[k]
        lo = low[k]
        cl = close[k]
        ph = state[ADX_PREV_HIGH, j]
        pl = state[ADX_PREV_LOW, j]
        pc = state[ADX_PREV_CLOSE, j]
        state[ADX_PREV_HIGH, j] = h
        state[ADX_PREV_LOW, j] = lo
        state[ADX_PREV_CLOSE, j] = cl
        if pc != pc:
            continue
        up = h - ph
        down = pl - lo
        pdm = up if (up > down and up > 0.0) else 0.0
        mdm = down if (down > up and down > 0.0) else 0.0
        tr = max(h - lo, abs(h - pc), abs(lo - pc))
        c = state[ADX_COUNT, j] + 1.0
        state[ADX_COUNT, j] = c
        if c <= period:
            state[ADX_TR, j] += tr
            state[ADX_PDM, j] += pdm
            state[ADX_MDM, j] += mdm
            if c < period:
                continue
        else:
            state[ADX_TR, j] = state[ADX_TR, j] - state[ADX_TR, j] / period + tr
            state[ADX_PDM, j] = state[ADX_PDM, j] - state[ADX_PDM, j] / period + pdm
            state[ADX_MDM, j] = state[ADX_MDM, j] - state[ADX_MDM, j] / period + mdm
        str_ = state[ADX_TR, j]
        pdi = 0.0
        mdi = 0.0
        if str_ > 0.0:
            pdi = 100.0 * state[ADX_PDM, j] / str_
            mdi = 100.0 * state[ADX_MDM, j] / str_
        state[ADX_PLUS_DI, j] = pdi
        state[ADX_MINUS_DI, j] = mdi
        total = pdi + mdi
        dx = 100.0 * abs(pdi - mdi) / total if total > 0.0 else 0.0
        # c counts moves (bars after the first); DX values start at move ``period``,
        # so the ``period``-th DX — the first ADX — comes at move ``2·period − 1``.
        if c < 2 * period - 1:
            state[ADX_DX_SUM, j] += dx
        elif c == 2 * period - 1:
            state[ADX_DX_SUM, j] += dx
            state[ADX_VALUE, j] = state[ADX_DX_SUM, j] / period
        else:
            state[ADX_VALUE, j] = (state[ADX_VALUE, j] * (period - 1.0) + dx) / period


# -- plain-Python references: whole series, written for reading ---------------------------


def _nan_list(n: int) -> list[float]:
    return [math.nan] * n


def ema_reference(close: list[float], period: int) -> list[float]:
    """EMA of one symbol's closes, one value per bar (NaN before the first ``period``)."""
    out = _nan_list(len(close))
    alpha = 2.0 / (period + 1.0)
    ema = math.nan
    total = 0.0
    for t, x in enumerate(close):
        if t < period:
            total += x
            if t == period - 1:
                ema = total / period
                out[t] = ema
        else:
            ema = ema + alpha * (x - ema)
            out[t] = ema
    return out


def true_ranges(high: list[float], low: list[float], close: list[float]) -> list[float]:
    """True range per bar (``high − low`` for the first bar)."""
    out: list[float] = []
    for t in range(len(high)):
        if t == 0:
            out.append(high[t] - low[t])
        else:
            pc = close[t - 1]
            out.append(max(high[t] - low[t], abs(high[t] - pc), abs(low[t] - pc)))
    return out


def atr_reference(
    high: list[float], low: list[float], close: list[float], period: int
) -> list[float]:
    """Wilder ATR of one symbol, one value per bar (NaN before the first ``period``)."""
    trs = true_ranges(high, low, close)
    out = _nan_list(len(trs))
    if len(trs) < period:
        return out
    atr = sum(trs[:period]) / period
    out[period - 1] = atr
    for t in range(period, len(trs)):
        atr = (atr * (period - 1.0) + trs[t]) / period
        out[t] = atr
    return out


def adx_reference(
    high: list[float], low: list[float], close: list[float], period: int
) -> list[float]:
    """Wilder ADX of one symbol, one value per bar (NaN before bar ``2·period``)."""
    n = len(high)
    out = _nan_list(n)
    trs, pdms, mdms = [], [], []
    for t in range(1, n):
        up = high[t] - high[t - 1]
        down = low[t - 1] - low[t]
        pdms.append(up if up > down and up > 0.0 else 0.0)
        mdms.append(down if down > up and down > 0.0 else 0.0)
        pc = close[t - 1]
        trs.append(max(high[t] - low[t], abs(high[t] - pc), abs(low[t] - pc)))
    if len(trs) < period:
        return out
    s_tr, s_p, s_m = sum(trs[:period]), sum(pdms[:period]), sum(mdms[:period])
    dxs: list[float] = []
    adx = math.nan
    for m in range(period - 1, len(trs)):
        if m >= period:
            s_tr = s_tr - s_tr / period + trs[m]
            s_p = s_p - s_p / period + pdms[m]
            s_m = s_m - s_m / period + mdms[m]
        pdi = 100.0 * s_p / s_tr if s_tr > 0.0 else 0.0
        mdi = 100.0 * s_m / s_tr if s_tr > 0.0 else 0.0
        dx = 100.0 * abs(pdi - mdi) / (pdi + mdi) if pdi + mdi > 0.0 else 0.0
        dxs.append(dx)
        if len(dxs) == period:
            adx = sum(dxs) / period
        elif len(dxs) > period:
            adx = (adx * (period - 1.0) + dx) / period
        else:
            continue
        out[m + 1] = adx
    return out
