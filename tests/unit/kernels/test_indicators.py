"""Incremental EMA/ATR/ADX kernels against whole-series references, and known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.kernels import IndicatorBank, adx_update, atr_update, ema_update
from actors.kernels._indicators import (
    ADX_FIELDS,
    ATR_FIELDS,
    EMA_FIELDS,
    adx_reference,
    atr_reference,
    ema_reference,
    new_state,
    true_ranges,
)
from tests.unit.kernels._support import PROPERTY, assert_close_seq

Bars = list[tuple[int, float, float, float]]


@st.composite
def interleaved_bars(draw: st.DrawFn) -> tuple[int, Bars]:
    """Bars for up to 4 symbols, interleaved in a random order (symbol, high, low, close)."""
    n_sym = draw(st.integers(1, 4))
    out: Bars = []
    price = [draw(st.floats(5.0, 500.0)) for _ in range(n_sym)]
    for _ in range(draw(st.integers(0, 80))):
        j = draw(st.integers(0, n_sym - 1))
        close = price[j] * draw(st.floats(0.95, 1.05))
        high = max(close, price[j]) * draw(st.floats(1.0, 1.02))
        low = min(close, price[j]) * draw(st.floats(0.98, 1.0))
        price[j] = close
        out.append((j, high, low, close))
    return n_sym, out


def run_kernels(
    n_sym: int, bars: Bars, period: int, chunk: int
) -> tuple[list[list[float]], list[list[float]], list[list[float]]]:
    """Feed ``bars`` in batches of ``chunk``; record each symbol's value after each bar."""
    ema, atr, adx = (new_state(f, n_sym) for f in (EMA_FIELDS, ATR_FIELDS, ADX_FIELDS))
    seen: tuple[list[list[float]], ...] = tuple([[] for _ in range(n_sym)] for _ in range(3))
    for start in range(0, len(bars), chunk):
        part = bars[start : start + chunk]
        # One bar per call when recording per-bar values; batching is tested separately.
        for j, h, lo, c in part:
            sym = np.array([j], np.int64)
            hi_a, lo_a, c_a = np.array([h]), np.array([lo]), np.array([c])
            ema_update(ema, sym, c_a, 1, period)
            atr_update(atr, sym, hi_a, lo_a, c_a, 1, period)
            adx_update(adx, sym, hi_a, lo_a, c_a, 1, period)
            seen[0][j].append(float(ema[0, j]))
            seen[1][j].append(float(atr[0, j]))
            seen[2][j].append(float(adx[0, j]))
    return seen[0], seen[1], seen[2]


@PROPERTY
@given(data=interleaved_bars(), period=st.integers(1, 10))
def test_incremental_equals_series_reference(data: tuple[int, Bars], period: int) -> None:
    n_sym, bars = data
    ema, atr, adx = run_kernels(n_sym, bars, period, 7)
    for j in range(n_sym):
        mine = [b for b in bars if b[0] == j]
        h = [b[1] for b in mine]
        lo = [b[2] for b in mine]
        c = [b[3] for b in mine]
        assert_close_seq(ema[j], ema_reference(c, period), f"ema[{j}]")
        assert_close_seq(atr[j], atr_reference(h, lo, c, period), f"atr[{j}]")
        assert_close_seq(adx[j], adx_reference(h, lo, c, period), f"adx[{j}]")


@PROPERTY
@given(data=interleaved_bars(), period=st.integers(1, 10), chunk=st.integers(1, 50))
def test_batches_equal_one_at_a_time(data: tuple[int, Bars], period: int, chunk: int) -> None:
    n_sym, bars = data
    one = IndicatorBank(ema_period=period, atr_period=period, adx_period=period, capacity=1)
    many = IndicatorBank(ema_period=period, atr_period=period, adx_period=period, capacity=1)
    for j in range(n_sym):
        assert one.column(f"S{j}") == j
        assert many.column(f"S{j}") == j
    for j, h, lo, c in bars:
        one.update(np.array([j]), np.array([h]), np.array([lo]), np.array([c]), 1)
    for start in range(0, len(bars), chunk):
        part = bars[start : start + chunk]
        sym = np.array([b[0] for b in part] + [0], np.int64)  # trailing slack is ignored
        cols = [np.array([b[k] for b in part] + [1.0]) for k in (1, 2, 3)]
        many.update(sym, cols[0], cols[1], cols[2], len(part))
    for j in range(n_sym):
        assert_close_seq(
            [many.ema(j), many.atr(j), many.adx(j)], [one.ema(j), one.atr(j), one.adx(j)], "bank"
        )


def test_known_values() -> None:
    # Constant close: the EMA is that close. Constant range without gaps: ATR is the range.
    closes = [10.0] * 6
    assert ema_reference(closes, 3)[2:] == [10.0] * 4
    h, lo, c = [11.0] * 6, [9.0] * 6, [10.0] * 6
    assert atr_reference(h, lo, c, 3)[2:] == [2.0] * 4
    assert true_ranges([12.0, 15.0], [10.0, 14.0], [11.0, 14.5]) == [2.0, 4.0]  # gap up: h - c₋₁
    # A market that only rises: -DM is always 0, so DX and ADX are 100.
    rising = [float(x) for x in range(10, 40)]
    adx = adx_reference([x + 1 for x in rising], [x - 1 for x in rising], rising, 5)
    assert all(math.isnan(v) for v in adx[:9])
    assert adx[9:] == pytest.approx([100.0] * (len(rising) - 9))


def test_ema_hand_computed() -> None:
    # period 3: seed = mean(1, 2, 3) = 2; α = 0.5; then 2 + 0.5·(4−2) = 3; 3 + 0.5·(10−3) = 6.5
    bank = IndicatorBank(ema_period=3, atr_period=3)
    j = bank.column("X")
    for x in (1.0, 2.0, 3.0, 4.0, 10.0):
        bank.update(np.array([j]), np.array([x]), np.array([x]), np.array([x]), 1)
    assert bank.ema(j) == 6.5


def test_single_bar_and_empty_batch() -> None:
    bank = IndicatorBank(ema_period=1, atr_period=1, adx_period=1)
    j = bank.column("X")
    bank.update(np.zeros(4, np.int64), np.zeros(4), np.zeros(4), np.zeros(4), 0)  # nothing
    assert math.isnan(bank.ema(j))
    bank.update(np.array([j]), np.array([11.0]), np.array([9.0]), np.array([10.0]), 1)
    assert bank.ema(j) == 10.0
    assert bank.atr(j) == 2.0
    assert math.isnan(bank.adx(j))  # ADX needs a previous bar


def test_bank_grows_and_keeps_state() -> None:
    bank = IndicatorBank(ema_period=2, atr_period=2, capacity=1)
    cols = [bank.column(f"S{k}") for k in range(100)]
    assert cols == list(range(100))
    assert bank.column("S7") == 7
    assert bank.find("nope") is None
    for _ in range(2):
        bank.update(np.array([99]), np.array([2.0]), np.array([1.0]), np.array([1.5]), 1)
    assert bank.ema(99) == 1.5
    assert math.isnan(bank.ema(0))
