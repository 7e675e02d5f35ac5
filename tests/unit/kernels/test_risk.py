"""VaR and correlation kernels against their references (and numpy), edge cases included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.kernels import KernelInputError, max_abs_corr, portfolio_var, rolling_corr
from actors.kernels._risk import (
    historical_var,
    historical_var_reference,
    max_abs_correlation_reference,
    rolling_correlation_reference,
)
from tests.unit.kernels._support import PROPERTY, assert_close_seq, close

ret = st.floats(-0.2, 0.2)


@st.composite
def return_matrix(draw: st.DrawFn, min_rows: int = 0) -> list[list[float]]:
    k = draw(st.integers(1, 5))
    rows = draw(st.integers(min_rows, 60))
    return [[draw(ret) for _ in range(k)] for _ in range(rows)]


@PROPERTY
@given(
    returns=return_matrix(),
    data=st.data(),
    confidence=st.sampled_from([0.9, 0.95, 0.975, 0.99]),
)
def test_var_equals_reference_and_numpy(
    returns: list[list[float]], data: st.DataObject, confidence: float
) -> None:
    k = len(returns[0]) if returns else data.draw(st.integers(1, 3))
    notional = data.draw(st.lists(st.floats(-1e6, 1e6), min_size=k, max_size=k))
    arr = np.array(returns, dtype=np.float64).reshape(len(returns), k)
    got = portfolio_var(arr, notional, confidence)
    assert close(got, historical_var_reference(returns, notional, confidence))
    if returns:
        assert close(got, -float(np.quantile(arr @ np.array(notional), 1 - confidence)), 1e-9, 1e-6)


@PROPERTY
@given(
    data=st.data(),
    rows=st.integers(1, 300),
    k=st.integers(1, 4),
    confidence=st.sampled_from([0.5001, 0.6, 0.75, 0.9, 0.95, 0.99, 0.999]),
)
def test_var_selection_equals_full_sort_exactly(
    data: st.DataObject, rows: int, k: int, confidence: float
) -> None:
    # The kernel keeps only the few smallest P&Ls (or sorts all of them when the
    # quantile is deep); either way it must give the very float the sorted reference
    # gives, ties included (returns drawn from a handful of values).
    values = st.sampled_from([-0.03, -0.01, 0.0, 0.01, 0.02]) | ret
    returns = [[data.draw(values) for _ in range(k)] for _ in range(rows)]
    notional = data.draw(st.lists(st.floats(-1e6, 1e6), min_size=k, max_size=k))
    got = historical_var(np.array(returns, dtype=np.float64), np.array(notional), confidence)
    want = historical_var_reference(returns, notional, confidence)
    assert got == want or (got == 0.0 and want == 0.0)


def test_var_nan_pnl_sorts_last() -> None:
    # An overflowing P&L (inf - inf) is NaN: the kernel falls back to the full sort,
    # which puts NaN last (as it always did), so the quantile comes from the finite
    # days: P&Ls -0.1·i for i = 1..39, rank 39 · 0.05 = 1.95 between -3.8 and -3.7.
    returns = np.array([[1e308, 1e308]] + [[-0.01 * i, 0.0] for i in range(1, 40)])
    assert historical_var(returns, np.array([10.0, -10.0]), 0.95) == pytest.approx(3.705)


def test_var_hand_computed() -> None:
    # Returns -1%..-20% on 100 of one asset: P&L -1..-20. The 5% quantile sits at rank
    # 0.95 between the worst (-20) and the next (-19): -20 + 0.95·1 = -19.05, VaR 19.05.
    returns = [[-x / 100] for x in range(1, 21)]
    assert portfolio_var(returns, [100.0], 0.95) == pytest.approx(19.05)
    assert portfolio_var([[0.01]], [100.0], 0.95) == pytest.approx(-1.0)  # single day
    assert math.isnan(portfolio_var(np.empty((0, 2)), [1.0, 1.0]))


def test_var_rejects_bad_input() -> None:
    with pytest.raises(KernelInputError, match=r"returns: value at \[1, 0\] is nan"):
        portfolio_var([[0.01], [math.nan]], [1.0])
    with pytest.raises(KernelInputError, match="notional has 2"):
        portfolio_var([[0.01]], [1.0, 2.0])
    with pytest.raises(KernelInputError, match="confidence"):
        portfolio_var([[0.01]], [1.0], 1.0)
    with pytest.raises(KernelInputError, match="below -1"):
        portfolio_var([[-1.5]], [1.0])


@PROPERTY
@given(pairs=st.lists(st.tuples(ret, ret), min_size=0, max_size=60), window=st.integers(2, 20))
def test_rolling_correlation_equals_reference(
    pairs: list[tuple[float, float]], window: int
) -> None:
    x = [p[0] for p in pairs]
    y = [p[1] for p in pairs]
    got = rolling_corr(x, y, window)
    want = rolling_correlation_reference(x, y, window)
    assert_close_seq(got, want, "rho")
    for t in range(window - 1, len(x)):
        if not math.isnan(got[t]):
            np_rho = np.corrcoef(x[t + 1 - window : t + 1], y[t + 1 - window : t + 1])[0, 1]
            assert close(got[t], float(np_rho), 1e-6, 1e-6)


def test_rolling_correlation_known_values() -> None:
    x = [0.01, 0.02, -0.01, 0.03, 0.0]
    got = rolling_corr(x, [2 * v for v in x], 3)
    assert math.isnan(got[0])
    assert math.isnan(got[1])
    assert got[2:] == pytest.approx([1.0, 1.0, 1.0])
    assert rolling_corr(x, [-v for v in x], 5)[-1] == pytest.approx(-1.0)
    assert math.isnan(rolling_corr(x, [0.5] * 5, 3)[-1])  # no variance: undefined
    assert rolling_corr([], [], 3).shape == (0,)
    with pytest.raises(KernelInputError, match="same length"):
        rolling_corr([0.1, 0.2], [0.1], 2)
    with pytest.raises(KernelInputError, match="window"):
        rolling_corr([0.1, 0.2], [0.1, 0.2], 1)
    with pytest.raises(KernelInputError, match=r"y: value at \[1\] is inf"):
        rolling_corr([0.1, 0.2], [0.1, math.inf], 2)


@PROPERTY
@given(returns=return_matrix(min_rows=0), data=st.data(), window=st.integers(2, 40))
def test_max_abs_correlation_equals_reference(
    returns: list[list[float]], data: st.DataObject, window: int
) -> None:
    candidate = data.draw(st.lists(ret, min_size=len(returns), max_size=len(returns)))
    k = len(returns[0]) if returns else 0
    others = np.array(returns, dtype=np.float64).reshape(len(returns), k)
    columns = [[row[c] for row in returns] for c in range(k)]
    got = max_abs_corr(candidate, others, window)
    assert close(got, max_abs_correlation_reference(candidate, columns, window))


def test_max_abs_correlation_known_values() -> None:
    base = [0.01, -0.02, 0.015, 0.0, -0.01, 0.02]
    others = np.array([[-v, v * 0.5 + (0.001 if i % 2 else 0.0)] for i, v in enumerate(base)])
    assert max_abs_corr(base, others, 6) == pytest.approx(1.0)  # perfectly anti-correlated
    assert max_abs_corr(base, np.empty((6, 0)), 6) == 0.0  # nothing open
    assert math.isnan(max_abs_corr([0.01], np.array([[0.02]]), 5))  # one observation


def test_tiny_deviations_do_not_divide_by_zero() -> None:
    # Found by hypothesis in CI: sxx * syy underflowed to 0.0 although both were positive.
    candidate = [0.0, 3.107332059962455e-153]
    others = [[0.0], [1.5670666586462483e-106]]
    ref = max_abs_correlation_reference(candidate, [[r[0] for r in others]], 2)
    got = max_abs_corr(np.array(candidate), np.array(others), 2)
    assert ref == pytest.approx(1.0)
    assert got == pytest.approx(ref)
