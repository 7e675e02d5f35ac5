"""Performance statistics kernel against its reference, hand-computed values, edge cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.kernels import KernelInputError, performance, returns_from_equity
from actors.kernels._perf import STAT_NAMES, performance_stats_reference
from tests.unit.kernels._support import PROPERTY, close


@PROPERTY
@given(
    returns=st.lists(st.floats(-0.5, 0.5), max_size=80),
    pnl=st.lists(st.floats(-1e4, 1e4), max_size=40),
    ppy=st.sampled_from([12.0, 52.0, 252.0, 252.0 * 390]),
    rf=st.sampled_from([0.0, 0.0001]),
)
def test_stats_equal_reference(
    returns: list[float], pnl: list[float], ppy: float, rf: float
) -> None:
    got = performance(returns, pnl, periods_per_year=ppy, risk_free=rf)
    want = performance_stats_reference(returns, pnl, ppy, rf)
    for name, w in zip(STAT_NAMES, want, strict=True):
        g = float(getattr(got, name))
        # Annualising raises a ratio to a large power; compare those a little looser.
        rel = 1e-7 if name in ("annual_return", "calmar") else 1e-9
        assert close(g, w, rel, 1e-12), f"{name}: kernel {g!r} != reference {w!r}"


def test_hand_computed() -> None:
    # Equity 1 → 1.1 → 0.99 → 1.089: drawdown (1.1 − 0.99)/1.1 = 10%.
    s = performance([0.1, -0.1, 0.1], [100.0, -50.0, 25.0, 0.0], periods_per_year=252)
    assert s.total_return == pytest.approx(0.089)
    assert s.max_drawdown == pytest.approx(0.1)
    assert s.win_rate == pytest.approx(0.5)
    assert s.profit_factor == pytest.approx(125.0 / 50.0)
    assert s.trades == 4
    mean, sd = 0.1 / 3, math.sqrt(((0.2 / 3) ** 2 * 2 + (0.4 / 3) ** 2) / 2)
    assert s.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert s.sortino == pytest.approx(mean / math.sqrt(0.01 / 3) * math.sqrt(252))
    assert s.calmar == pytest.approx(s.annual_return / 0.1)


def test_edge_cases() -> None:
    empty = performance([], [])
    assert empty.total_return == 0.0
    assert empty.max_drawdown == 0.0
    assert empty.trades == 0
    assert all(
        math.isnan(getattr(empty, k))
        for k in ("annual_return", "sharpe", "sortino", "calmar", "win_rate", "profit_factor")
    )
    single = performance([0.02], [10.0])
    assert math.isnan(single.sharpe)  # one period has no standard deviation
    assert single.profit_factor == math.inf  # wins, no losses
    assert math.isnan(single.calmar)  # no drawdown
    flat = performance([0.01, 0.01, 0.01], [0.0])
    assert math.isnan(flat.sharpe)
    assert math.isnan(flat.sortino)
    assert math.isnan(flat.profit_factor)


def test_returns_from_equity() -> None:
    assert list(returns_from_equity([100.0, 110.0, 99.0])) == pytest.approx([0.1, -0.1])
    assert returns_from_equity([100.0]).shape == (0,)
    assert returns_from_equity([]).shape == (0,)
    with pytest.raises(KernelInputError, match=r"equity: price at \[1\] is 0.0"):
        returns_from_equity([100.0, 0.0])


def test_bad_input_is_rejected_at_the_boundary() -> None:
    with pytest.raises(KernelInputError, match=r"returns: value at \[2\] is nan"):
        performance([0.01, 0.02, math.nan])
    with pytest.raises(KernelInputError, match="trade_pnl"):
        performance([0.01], [math.inf])
    with pytest.raises(KernelInputError, match="periods_per_year"):
        performance([0.01], periods_per_year=0)
