"""Risk kernels — historical VaR, rolling and candidate correlation — and references.

* :func:`historical_var`: one-day historical-simulation VaR of a portfolio. Each past
  day's P&L is ``Σₖ returns[t, k] · notional[k]`` (today's positions replayed on past
  returns); VaR at confidence ``c`` is minus the ``1 − c`` quantile of those P&Ls,
  interpolated linearly between order statistics (numpy's default ``linear`` method),
  so a positive number is a loss in the notionals' currency. No history: NaN.
* :func:`rolling_correlation`: Pearson correlation of two return series over a
  trailing window, two-pass (mean first) for accuracy; NaN before the window is full
  and where either side has no variance.
* :func:`max_abs_correlation`: the largest ``|ρ|`` between a candidate's returns and
  each open position's over the last ``window`` observations — what the risk gate
  compares with its correlation limit. No open positions: 0. Undefined (fewer than
  two observations, or no variance anywhere): NaN.
"""

from __future__ import annotations

import math

import numpy as np

from actors.kernels._jit import helper, kernel
from actors.kernels._validate import FloatArray


@helper
def _pearson(x: FloatArray, y: FloatArray, start: int, stop: int) -> float:
    m = stop - start
    mx = 0.0
    my = 0.0
    for t in range(start, stop):
        mx += x[t]
        my += y[t]
    mx /= m
    my /= m
    sxy = 0.0
    sxx = 0.0
    syy = 0.0
    for t in range(start, stop):
        dx = x[t] - mx
        dy = y[t] - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    # sqrt each factor first: for tiny (subnormal) deviations sxx * syy underflows to 0
    # even though both are positive, and the quotient would divide by zero.
    den = math.sqrt(sxx) * math.sqrt(syy)
    if den <= 0.0:
        return np.nan
    r = sxy / den
    # Rounding can push |r| a hair past 1 for perfectly (anti)correlated inputs.
    return min(1.0, max(-1.0, r))


_TAIL_MAX = 64
"""Largest number of order statistics :func:`historical_var` keeps in an insertion
buffer; a deeper quantile (confidence near 0.5) sorts every P&L instead."""


@kernel
def historical_var(returns: FloatArray, notional: FloatArray, confidence: float) -> float:
    """One-day historical VaR of ``notional`` (per asset) over ``returns[t, asset]``."""
    t_count = returns.shape[0]
    if t_count == 0:
        return np.nan
    k_count = returns.shape[1]
    h = (t_count - 1) * (1.0 - confidence)
    lo = math.floor(h)
    hi = min(lo + 1, t_count - 1)
    m = hi + 1
    if lo >= 0 and m <= _TAIL_MAX:
        # The quantile needs only the m smallest P&Ls: keep them sorted in a small
        # buffer. Most days are above the buffer's largest and cost one comparison, so
        # this is several times cheaper than sorting all of them (the risk gate's
        # 250 days at 95% keep 14). Order statistics are values, so the result is
        # the one the full sort gives; a NaN P&L falls through to the sort, which
        # orders NaN last as the reference does.
        tail = np.empty(m, dtype=np.float64)
        n = 0
        finite = True
        for t in range(t_count):
            acc = 0.0
            for k in range(k_count):
                acc += returns[t, k] * notional[k]
            if acc != acc:
                finite = False
                break
            if n < m:
                j = n
                n += 1
            elif acc < tail[m - 1]:
                j = m - 1
            else:
                continue
            while j > 0 and tail[j - 1] > acc:
                tail[j] = tail[j - 1]
                j -= 1
            tail[j] = acc
        if finite:
            q = tail[lo] + (h - lo) * (tail[hi] - tail[lo])
            return float(-q)
    pnl = np.empty(t_count, dtype=np.float64)
    for t in range(t_count):
        acc = 0.0
        for k in range(k_count):
            acc += returns[t, k] * notional[k]
        pnl[t] = acc
    pnl.sort()
    q = pnl[lo] + (h - lo) * (pnl[hi] - pnl[lo])
    return float(-q)


@kernel
def rolling_correlation(x: FloatArray, y: FloatArray, window: int, out: FloatArray) -> None:
    """``out[t]`` = Pearson ρ of ``x``/``y`` over ``t−window+1..t`` (NaN when undefined)."""
    for t in range(x.shape[0]):
        if t + 1 < window or window < 2:
            out[t] = np.nan
        else:
            out[t] = _pearson(x, y, t + 1 - window, t + 1)


@kernel
def max_abs_correlation(candidate: FloatArray, others: FloatArray, window: int) -> float:
    """Largest ``|ρ|`` of ``candidate`` against each column of ``others`` (last ``window``)."""
    t_count = candidate.shape[0]
    k_count = others.shape[1]
    if k_count == 0:
        return 0.0
    start = max(0, t_count - window)
    if t_count - start < 2:
        return np.nan
    col = np.empty(t_count, dtype=np.float64)
    best = np.nan
    for k in range(k_count):
        for t in range(start, t_count):
            col[t] = others[t, k]
        r = abs(_pearson(candidate, col, start, t_count))
        if r == r and not (best >= r):
            best = r
    return best


# -- plain-Python references ---------------------------------------------------------------


def pearson_reference(x: list[float], y: list[float]) -> float:
    """Pearson ρ of two equal-length lists (NaN without variance)."""
    m = len(x)
    mx = sum(x) / m
    my = sum(y) / m
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    den = math.sqrt(sxx) * math.sqrt(syy)
    if den <= 0.0:
        return math.nan
    return min(1.0, max(-1.0, sxy / den))


def historical_var_reference(
    returns: list[list[float]], notional: list[float], confidence: float
) -> float:
    """Reference for :func:`historical_var` over lists (rows are days)."""
    if not returns:
        return math.nan
    pnl = sorted(sum(r * n for r, n in zip(row, notional, strict=True)) for row in returns)
    h = (len(pnl) - 1) * (1.0 - confidence)
    lo = math.floor(h)
    hi = min(lo + 1, len(pnl) - 1)
    return -(pnl[lo] + (h - lo) * (pnl[hi] - pnl[lo]))


def rolling_correlation_reference(x: list[float], y: list[float], window: int) -> list[float]:
    """Reference for :func:`rolling_correlation`."""
    out: list[float] = []
    for t in range(len(x)):
        if window < 2 or t + 1 < window:
            out.append(math.nan)
        else:
            out.append(pearson_reference(x[t + 1 - window : t + 1], y[t + 1 - window : t + 1]))
    return out


def max_abs_correlation_reference(
    candidate: list[float], others: list[list[float]], window: int
) -> float:
    """Reference for :func:`max_abs_correlation`; ``others`` holds one list per position."""
    if not others:
        return 0.0
    tail = candidate[-window:] if window > 0 else []
    if len(tail) < 2:
        return math.nan
    rs = [abs(pearson_reference(tail, col[-window:])) for col in others]
    finite = [r for r in rs if not math.isnan(r)]
    return max(finite) if finite else math.nan
