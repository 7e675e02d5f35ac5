"""Checked entry points: validate at the boundary, then call the compiled kernel.

The hot exit path does not come through here (the lifecycle actor validates each price
as it arrives and calls :func:`evaluate_exits` directly); everything else that hands
outside data to a kernel should.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from actors.kernels._perf import (
    S_ANNUAL_RETURN,
    S_ANNUAL_VOLATILITY,
    S_CALMAR,
    S_MAX_DRAWDOWN,
    S_PROFIT_FACTOR,
    S_SHARPE,
    S_SORTINO,
    S_TOTAL_RETURN,
    S_TRADES,
    S_WIN_RATE,
    performance_stats,
    simple_returns,
)
from actors.kernels._risk import historical_var, max_abs_correlation, rolling_correlation
from actors.kernels._validate import (
    FloatArray,
    KernelInputError,
    as_float_array,
    as_price_array,
    check_same_length,
)


class PerformanceStats(msgspec.Struct, frozen=True, kw_only=True):
    """Performance of a return series and its trades (NaN where undefined)."""

    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    win_rate: float
    profit_factor: float
    trades: int


def _check_returns(name: str, values: Any, ndim: int = 1) -> FloatArray:
    arr = as_float_array(name, values, ndim=ndim)
    if arr.size and float(arr.min()) < -1.0:
        raise KernelInputError(f"{name}: a simple return below -1 (-100%) is impossible")
    return arr


def _check_window(window: int) -> None:
    if window < 2:
        raise KernelInputError(f"window must be >= 2 observations, got {window}")


def portfolio_var(returns: Any, notional: Any, confidence: float = 0.95) -> float:
    """One-day historical VaR (a positive loss) of ``notional`` per asset.

    ``returns`` is ``[days, assets]`` of simple daily returns; ``notional`` the signed
    exposure per asset. NaN without history.
    """
    r = _check_returns("returns", returns, ndim=2)
    w = as_float_array("notional", notional)
    if r.shape[1] != w.shape[0]:
        raise KernelInputError(
            f"returns has {r.shape[1]} asset column(s) but notional has {w.shape[0]}"
        )
    if not 0.0 < confidence < 1.0:
        raise KernelInputError(f"confidence must be in (0, 1), got {confidence}")
    return float(historical_var(r, w, float(confidence)))


def rolling_corr(x: Any, y: Any, window: int) -> FloatArray:
    """Rolling Pearson correlation of two return series (NaN where undefined)."""
    xa = as_float_array("x", x)
    ya = as_float_array("y", y)
    check_same_length(x=xa, y=ya)
    _check_window(window)
    out = np.empty(xa.shape[0], dtype=np.float64)
    rolling_correlation(xa, ya, int(window), out)
    return out


def max_abs_corr(candidate: Any, others: Any, window: int) -> float:
    """Largest ``|ρ|`` of a candidate's returns against each column of ``others``."""
    c = as_float_array("candidate", candidate)
    o = as_float_array("others", others, ndim=2)
    if o.shape[0] != c.shape[0]:
        raise KernelInputError(
            f"others has {o.shape[0]} observation(s) but candidate has {c.shape[0]}"
        )
    _check_window(window)
    return float(max_abs_correlation(c, o, int(window)))


def returns_from_equity(equity: Any) -> FloatArray:
    """Simple returns of an equity (or price) curve; one fewer than the inputs."""
    e = as_price_array("equity", equity)
    out = np.empty(max(0, e.shape[0] - 1), dtype=np.float64)
    simple_returns(e, out)
    return out


def performance(
    returns: Any,
    trade_pnl: Any = (),
    *,
    periods_per_year: float = 252.0,
    risk_free: float = 0.0,
) -> PerformanceStats:
    """Sharpe, Sortino, Calmar, drawdown, win rate and profit factor (see ``_perf``).

    ``periods_per_year`` annualises (252 for daily returns, 252·390 for minutes...).
    """
    r = _check_returns("returns", returns)
    p = as_float_array("trade_pnl", np.asarray(trade_pnl, dtype=np.float64).reshape(-1))
    if not periods_per_year > 0.0:
        raise KernelInputError(f"periods_per_year must be > 0, got {periods_per_year}")
    v = performance_stats(r, p, float(periods_per_year), float(risk_free))
    return PerformanceStats(
        total_return=float(v[S_TOTAL_RETURN]),
        annual_return=float(v[S_ANNUAL_RETURN]),
        annual_volatility=float(v[S_ANNUAL_VOLATILITY]),
        sharpe=float(v[S_SHARPE]),
        sortino=float(v[S_SORTINO]),
        calmar=float(v[S_CALMAR]),
        max_drawdown=float(v[S_MAX_DRAWDOWN]),
        win_rate=float(v[S_WIN_RATE]),
        profit_factor=float(v[S_PROFIT_FACTOR]),
        trades=int(v[S_TRADES]),
    )
