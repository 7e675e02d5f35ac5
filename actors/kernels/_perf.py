"""Performance statistics of a return series and a list of trade P&Ls, and references.

Definitions (``r`` = per-period simple returns, ``T`` = their count, ``p`` = periods
per year, ``rf`` = risk-free return per period):

* total return ``Π(1+r) − 1``; annual return ``(1+total)^(p/T) − 1``;
* annual volatility ``std(r, ddof=1)·√p``;
* Sharpe ``mean(r−rf)/std(r−rf, ddof=1)·√p`` (NaN when ``T < 2`` or no variance);
* Sortino ``mean(r−rf)/√(mean(min(0, r−rf)²))·√p`` (NaN without downside);
* max drawdown: largest fall of the compounded equity from its running peak, as a
  positive fraction (the starting equity of 1 counts as a peak);
* Calmar ``annual return / max drawdown`` (NaN without drawdown);
* win rate: share of trades with P&L > 0 (NaN without trades);
* profit factor ``Σ wins / |Σ losses|`` (inf with wins and no losses, NaN with neither).

Results come back as a ``float64[N_STATS]`` vector indexed by the ``S_*`` constants;
:func:`actors.kernels.performance` wraps it into a :class:`PerformanceStats`.
"""

from __future__ import annotations

import math

import numpy as np

from actors.kernels._jit import kernel
from actors.kernels._validate import FloatArray

S_TOTAL_RETURN = 0
S_ANNUAL_RETURN = 1
S_ANNUAL_VOLATILITY = 2
S_SHARPE = 3
S_SORTINO = 4
S_CALMAR = 5
S_MAX_DRAWDOWN = 6
S_WIN_RATE = 7
S_PROFIT_FACTOR = 8
S_TRADES = 9
N_STATS = 10

STAT_NAMES: tuple[str, ...] = (
    "total_return",
    "annual_return",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "trades",
)
"""Name of each entry of the statistics vector, in index order."""


@kernel
def simple_returns(equity: FloatArray, out: FloatArray) -> int:
    """``out[t] = equity[t+1]/equity[t] − 1``; returns how many were written (len − 1)."""
    m = equity.shape[0] - 1
    for t in range(max(m, 0)):
        out[t] = equity[t + 1] / equity[t] - 1.0
    return int(max(m, 0))


@kernel
def performance_stats(
    returns: FloatArray, trade_pnl: FloatArray, periods_per_year: float, risk_free: float
) -> FloatArray:
    """All statistics at once (see the module docstring); one pass over each input."""
    out = np.full(N_STATS, np.nan)
    t_count = returns.shape[0]
    growth = 1.0
    peak = 1.0
    mdd = 0.0
    total_ex = 0.0
    for t in range(t_count):
        growth *= 1.0 + returns[t]
        if growth > peak:
            peak = growth
        dd = 1.0 - growth / peak
        if dd > mdd:
            mdd = dd
        total_ex += returns[t] - risk_free
    total = growth - 1.0
    out[S_TOTAL_RETURN] = total
    out[S_MAX_DRAWDOWN] = mdd
    if t_count > 0:
        annual = growth ** (periods_per_year / t_count) - 1.0 if growth > 0.0 else -1.0
        out[S_ANNUAL_RETURN] = annual
        mean_ex = total_ex / t_count
        ss = 0.0
        down = 0.0
        mean_r = 0.0
        for t in range(t_count):
            mean_r += returns[t]
        mean_r /= t_count
        var_r = 0.0
        for t in range(t_count):
            e = returns[t] - risk_free
            ss += (e - mean_ex) * (e - mean_ex)
            d = returns[t] - mean_r
            var_r += d * d
            if e < 0.0:
                down += e * e
        root_p = math.sqrt(periods_per_year)
        if t_count > 1:
            out[S_ANNUAL_VOLATILITY] = math.sqrt(var_r / (t_count - 1)) * root_p
            sd = math.sqrt(ss / (t_count - 1))
            if sd > 0.0:
                out[S_SHARPE] = mean_ex / sd * root_p
        dd_dev = math.sqrt(down / t_count)
        if dd_dev > 0.0:
            out[S_SORTINO] = mean_ex / dd_dev * root_p
        if mdd > 0.0:
            out[S_CALMAR] = annual / mdd
    n_trades = trade_pnl.shape[0]
    out[S_TRADES] = n_trades
    if n_trades > 0:
        wins = 0
        gross_win = 0.0
        gross_loss = 0.0
        for k in range(n_trades):
            x = trade_pnl[k]
            if x > 0.0:
                wins += 1
                gross_win += x
            elif x < 0.0:
                gross_loss -= x
        out[S_WIN_RATE] = wins / n_trades
        if gross_loss > 0.0:
            out[S_PROFIT_FACTOR] = gross_win / gross_loss
        elif gross_win > 0.0:
            out[S_PROFIT_FACTOR] = np.inf
    return out


# -- plain-Python reference ------------------------------------------------------------------


def _annualise(growth: float, power: float) -> float:
    if growth <= 0.0:
        return -1.0
    try:
        return float(growth**power) - 1.0
    except OverflowError:  # compiled code gives inf here; so must the reference
        return math.inf


def _std(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def performance_stats_reference(
    returns: list[float], trade_pnl: list[float], periods_per_year: float, risk_free: float
) -> list[float]:
    """Reference for :func:`performance_stats`, written from the definitions."""
    out = [math.nan] * N_STATS
    equity = [1.0]
    for r in returns:
        equity.append(equity[-1] * (1.0 + r))
    out[S_TOTAL_RETURN] = equity[-1] - 1.0
    peak = 1.0
    mdd = 0.0
    for e in equity:
        peak = max(peak, e)
        mdd = max(mdd, 1.0 - e / peak)
    out[S_MAX_DRAWDOWN] = mdd
    t_count = len(returns)
    if t_count:
        growth = equity[-1]
        annual = _annualise(growth, periods_per_year / t_count)
        out[S_ANNUAL_RETURN] = annual
        excess = [r - risk_free for r in returns]
        mean_ex = sum(excess) / t_count
        root_p = math.sqrt(periods_per_year)
        if t_count > 1:
            out[S_ANNUAL_VOLATILITY] = _std(returns) * root_p
            sd = _std(excess)
            if sd > 0.0:
                out[S_SHARPE] = mean_ex / sd * root_p
        downside = math.sqrt(sum(min(0.0, e) ** 2 for e in excess) / t_count)
        if downside > 0.0:
            out[S_SORTINO] = mean_ex / downside * root_p
        if mdd > 0.0:
            out[S_CALMAR] = annual / mdd
    out[S_TRADES] = float(len(trade_pnl))
    if trade_pnl:
        wins = [x for x in trade_pnl if x > 0.0]
        losses = [x for x in trade_pnl if x < 0.0]
        out[S_WIN_RATE] = len(wins) / len(trade_pnl)
        gross_loss = -sum(losses)
        if gross_loss > 0.0:
            out[S_PROFIT_FACTOR] = sum(wins) / gross_loss
        elif wins:
            out[S_PROFIT_FACTOR] = math.inf
    return out
