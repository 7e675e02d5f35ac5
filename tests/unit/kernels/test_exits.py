"""The batch exit kernel against its plain-Python reference, and each rule on its own."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.kernels import (
    CODE_EXIT_SIGNAL,
    CODE_PATTERN_STOP,
    CODE_PROFIT_TARGET,
    CODE_SCALE_OUT,
    CODE_STOP_LOSS,
    CODE_TIME_STOP,
    CODE_TRAILING_STOP,
    CODE_VOLATILITY_STOP,
    NO_EXIT,
    REASONS,
    evaluate_exits,
    evaluate_exits_reference,
    new_book,
)
from actors.kernels._exits import (
    F_ATR,
    F_EMA,
    F_ENTRY,
    F_HIGH,
    F_HIGH_WATER,
    F_LAST,
    F_LOW,
    F_LOW_WATER,
    F_PATTERN_BAND,
    F_SCALE_TARGET,
    F_STOP,
    F_TARGET,
    F_TRAIL_ATR,
    F_TRAIL_PCT,
    F_TRAIL_STOP,
    F_VOL_K,
    I_BAR_CLOSED,
    I_BARS_HELD,
    I_EXIT_SIGNAL,
    I_MAX_BARS,
    I_MAX_HOLD_NS,
    I_OPENED_NS,
    I_PENDING,
    I_SIDE,
)
from daemon.messages import ExitReason
from tests.unit.kernels._support import PROPERTY, close

NAN = math.nan
T0 = 1_700_000_000_000_000_000


def maybe(strategy: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.one_of(st.just(NAN), strategy)


@st.composite
def position(draw: st.DrawFn) -> dict[str, float | int]:
    side = draw(st.sampled_from([1, -1]))
    entry = draw(st.floats(10.0, 200.0))
    frac = st.floats(0.001, 0.2)
    return {
        "side": side,
        "entry": entry,
        "stop": draw(maybe(frac.map(lambda u: entry * (1 - side * u)))),
        "target": draw(maybe(frac.map(lambda u: entry * (1 + side * u)))),
        "trail_pct": draw(st.one_of(st.just(NAN), st.just(0.0), st.floats(0.005, 0.2))),
        "trail_atr": draw(maybe(st.floats(0.5, 5.0))),
        "vol_k": draw(maybe(st.floats(0.5, 5.0))),
        "pattern_band": draw(maybe(st.floats(0.0, 0.05))),
        "scale_target": draw(maybe(frac.map(lambda u: entry * (1 + side * u)))),
        "atr": draw(maybe(st.floats(0.001, 0.05).map(lambda u: entry * u))),
        "ema": draw(maybe(st.floats(0.9, 1.1).map(lambda u: entry * u))),
        "max_hold_ns": draw(st.sampled_from([0, 60 * 10**9, 3600 * 10**9])),
        "bars_held": draw(st.integers(0, 30)),
        "max_bars": draw(st.sampled_from([0, 5, 20])),
        "exit_signal": draw(st.sampled_from([0, 0, 0, 1])),
        "pending": draw(st.sampled_from([0, 0, 0, 1])),
    }


@st.composite
def update(draw: st.DrawFn, pos: dict[str, float | int]) -> tuple[float, float, float, int]:
    """(last, high, low, bar_closed), sometimes snapped exactly onto a level."""
    entry = float(pos["entry"])
    pts = draw(st.lists(st.floats(0.7, 1.3).map(lambda u: entry * u), min_size=1, max_size=3))
    levels = [float(pos[k]) for k in ("stop", "target", "scale_target")]
    levels = [x for x in levels if not math.isnan(x)]
    # len(): with the list itself on the left, mypy would solve draw's type from it.
    if len(levels) > 0 and draw(st.booleans()):
        pts.append(draw(st.sampled_from(levels)))
    last = pts[0]
    return last, max(pts), min(pts), draw(st.sampled_from([0, 1]))


def build(positions: list[dict[str, float | int]]) -> tuple[np.ndarray, np.ndarray]:
    n = len(positions)
    fb, ib = new_book(max(n, 1))
    for i, p in enumerate(positions):
        ib[I_SIDE, i] = p["side"]
        for key, row in (
            ("entry", F_ENTRY),
            ("stop", F_STOP),
            ("target", F_TARGET),
            ("trail_pct", F_TRAIL_PCT),
            ("trail_atr", F_TRAIL_ATR),
            ("vol_k", F_VOL_K),
            ("pattern_band", F_PATTERN_BAND),
            ("scale_target", F_SCALE_TARGET),
            ("atr", F_ATR),
            ("ema", F_EMA),
        ):
            fb[row, i] = p[key]
        fb[F_HIGH_WATER, i] = fb[F_LOW_WATER, i] = p["entry"]
        ib[I_OPENED_NS, i] = T0
        for key, row in (
            ("max_hold_ns", I_MAX_HOLD_NS),
            ("bars_held", I_BARS_HELD),
            ("max_bars", I_MAX_BARS),
            ("exit_signal", I_EXIT_SIGNAL),
            ("pending", I_PENDING),
        ):
            ib[row, i] = p[key]
    return fb, ib


def run_both(
    fb: np.ndarray, ib: np.ndarray, n: int, now: int
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray, int]:
    """Run the kernel on (fb, ib) in place and the reference on copies it returns."""
    fb_ref, ib_ref = fb.copy(), ib.copy()
    cap = fb.shape[1]
    reason, trig = np.zeros(cap, np.int64), np.zeros(cap)
    reason_ref, trig_ref = np.zeros(cap, np.int64), np.zeros(cap)
    fired = evaluate_exits(fb, ib, n, now, reason, trig)
    fired_ref = evaluate_exits_reference(fb_ref, ib_ref, n, now, reason_ref, trig_ref)
    for row in range(fb.shape[0]):
        for i in range(n):
            assert close(fb[row, i], fb_ref[row, i]), (row, i, fb[row, i], fb_ref[row, i])
    assert (ib == ib_ref).all()
    for i in range(n):
        assert close(trig[i], trig_ref[i]), (i, trig[i], trig_ref[i])
    return reason, trig, fired, reason_ref, trig_ref, fired_ref


@PROPERTY
@given(data=st.data(), positions=st.lists(position(), min_size=0, max_size=24))
def test_kernel_equals_reference(
    data: st.DataObject, positions: list[dict[str, float | int]]
) -> None:
    fb, ib = build(positions)
    n = len(positions)
    now = T0
    for _ in range(data.draw(st.integers(1, 4))):
        now += data.draw(st.sampled_from([1, 30 * 10**9, 3600 * 10**9]))
        for i, p in enumerate(positions):
            last, hi, lo, closed = data.draw(update(p))
            fb[F_LAST, i], fb[F_HIGH, i], fb[F_LOW, i] = last, hi, lo
            ib[I_BAR_CLOSED, i] = closed
        reason, _, fired, reason_ref, _, fired_ref = run_both(fb, ib, n, now)
        assert fired == fired_ref == int(np.count_nonzero(reason[:n]))
        assert list(reason[:n]) == list(reason_ref[:n])


@PROPERTY
@given(data=st.data(), pos=position())
def test_trailing_stop_never_loosens(data: st.DataObject, pos: dict[str, float | int]) -> None:
    pos = {**pos, "trail_pct": data.draw(st.floats(0.005, 0.2)), "pending": 1}
    fb, ib = build([pos])
    side = int(pos["side"])
    previous = NAN
    for _ in range(data.draw(st.integers(1, 30))):
        last, hi, lo, _closed = data.draw(update(pos))
        fb[F_LAST, 0], fb[F_HIGH, 0], fb[F_LOW, 0] = last, hi, lo
        fb[F_ATR, 0] = last * data.draw(maybe(st.floats(0.001, 0.1)))
        evaluate_exits(fb, ib, 1, T0, np.zeros(1, np.int64), np.zeros(1))
        level = float(fb[F_TRAIL_STOP, 0])
        assert not math.isnan(level)
        if not math.isnan(previous):
            assert side * (level - previous) >= 0.0, f"trail loosened {previous} -> {level}"
        previous = level
        # The water marks only widen too.
        assert fb[F_HIGH_WATER, 0] >= hi or math.isclose(fb[F_HIGH_WATER, 0], hi)
        assert fb[F_LOW_WATER, 0] <= lo or math.isclose(fb[F_LOW_WATER, 0], lo)


def test_reason_codes_follow_exit_reason() -> None:
    assert REASONS[0] is None
    assert list(REASONS[1:]) == list(ExitReason)[: len(REASONS) - 1]


def test_empty_book() -> None:
    fb, ib = new_book(4)
    reason = np.full(4, -1, np.int64)
    assert evaluate_exits(fb, ib, 0, T0, reason, np.zeros(4)) == 0
    assert evaluate_exits_reference(fb, ib, 0, T0, reason, np.zeros(4)) == 0
    assert (reason == -1).all()  # nothing written past n


def one(
    side: int = 1, entry: float = 100.0, **levels: float | int
) -> tuple[np.ndarray, np.ndarray]:
    base: dict[str, float | int] = {
        "side": side,
        "entry": entry,
        "stop": NAN,
        "target": NAN,
        "trail_pct": NAN,
        "trail_atr": NAN,
        "vol_k": NAN,
        "pattern_band": NAN,
        "scale_target": NAN,
        "atr": NAN,
        "ema": NAN,
        "max_hold_ns": 0,
        "bars_held": 0,
        "max_bars": 0,
        "exit_signal": 0,
        "pending": 0,
    }
    base.update(levels)
    return build([base])


def step(
    fb: np.ndarray,
    ib: np.ndarray,
    last: float,
    hi: float | None = None,
    lo: float | None = None,
    *,
    closed: int = 0,
    now: int = T0,
) -> tuple[int, float]:
    fb[F_LAST, 0] = last
    fb[F_HIGH, 0] = last if hi is None else hi
    fb[F_LOW, 0] = last if lo is None else lo
    ib[I_BAR_CLOSED, 0] = closed
    reason, trig, *_ = run_both(fb, ib, 1, now)
    return int(reason[0]), float(trig[0])


@pytest.mark.parametrize("side", [1, -1])
def test_stop_loss_alone(side: int) -> None:
    fb, ib = one(side, stop=100.0 - side * 2.0)
    assert step(fb, ib, 100.0 - side * 1.99)[0] == NO_EXIT
    assert step(fb, ib, 100.0 - side * 2.0) == (CODE_STOP_LOSS, 98.0 if side > 0 else 102.0)


@pytest.mark.parametrize("side", [1, -1])
def test_stop_gap_reports_the_range_not_the_level(side: int) -> None:
    fb, ib = one(side, stop=100.0 - side * 2.0)
    # A bar entirely beyond the stop: the level was never traded; report the bar's edge.
    gap = 95.0 if side > 0 else 105.0
    code, trig = step(fb, ib, gap, gap + 0.5, gap - 0.5)
    assert code == CODE_STOP_LOSS
    assert trig == (gap + 0.5 if side > 0 else gap - 0.5)


@pytest.mark.parametrize("side", [1, -1])
def test_profit_target_alone(side: int) -> None:
    fb, ib = one(side, target=100.0 + side * 5.0)
    assert step(fb, ib, 100.0 + side * 4.0)[0] == NO_EXIT
    code, trig = step(
        fb, ib, 100.0 + side * 4.0, 106.0 if side > 0 else 104.0, 96.0 if side > 0 else 94.0
    )
    assert (code, trig) == (CODE_PROFIT_TARGET, 100.0 + side * 5.0)


def test_stop_wins_when_one_bar_touches_stop_and_target() -> None:
    fb, ib = one(1, stop=98.0, target=105.0)
    assert step(fb, ib, 100.0, 106.0, 97.0)[0] == CODE_STOP_LOSS


@pytest.mark.parametrize("side", [1, -1])
def test_trailing_stop_percent_alone(side: int) -> None:
    fb, ib = one(side, trail_pct=0.05)
    # Run in the position's favour to 120 (or 80), then give back more than 5%.
    for px in (104.0, 110.0, 120.0) if side > 0 else (96.0, 90.0, 80.0):
        assert step(fb, ib, px)[0] == NO_EXIT
    level = 120.0 * 0.95 if side > 0 else 80.0 * 1.05
    assert fb[F_TRAIL_STOP, 0] == pytest.approx(level)
    assert step(fb, ib, level + side * 0.01)[0] == NO_EXIT
    code, trig = step(fb, ib, level - side * 0.01)
    assert code == CODE_TRAILING_STOP
    assert trig == pytest.approx(level - side * 0.01)


def test_trailing_stop_atr_alone() -> None:
    fb, ib = one(1, trail_atr=2.0, atr=1.5)
    assert step(fb, ib, 110.0)[0] == NO_EXIT
    assert fb[F_TRAIL_STOP, 0] == pytest.approx(110.0 - 3.0)
    assert step(fb, ib, 107.01)[0] == NO_EXIT
    assert step(fb, ib, 106.99)[0] == CODE_TRAILING_STOP


def test_trailing_takes_the_tighter_distance() -> None:
    fb, ib = one(1, trail_pct=0.10, trail_atr=2.0, atr=1.0)
    step(fb, ib, 100.0)
    assert fb[F_TRAIL_STOP, 0] == pytest.approx(98.0)  # 2 ATR (98) beats 10% (90)


@pytest.mark.parametrize("side", [1, -1])
def test_volatility_stop_alone(side: int) -> None:
    fb, ib = one(side, vol_k=2.0, atr=1.5)  # exit 3.0 against the entry
    assert step(fb, ib, 100.0 - side * 2.99)[0] == NO_EXIT
    assert step(fb, ib, 100.0 - side * 3.0)[0] == CODE_VOLATILITY_STOP


def test_volatility_stop_waits_for_atr() -> None:
    fb, ib = one(1, vol_k=2.0)  # ATR not warmed up yet: NaN
    assert step(fb, ib, 50.0)[0] == NO_EXIT


@pytest.mark.parametrize("side", [1, -1])
def test_pattern_stop_on_bar_close_only(side: int) -> None:
    fb, ib = one(side, pattern_band=0.01, ema=100.0)
    through = 100.0 - side * 1.5  # beyond the 1% band on the wrong side of the EMA
    assert step(fb, ib, through, closed=0)[0] == NO_EXIT  # a tick through it: not a close
    assert step(fb, ib, 100.0 - side * 0.5, closed=1)[0] == NO_EXIT  # inside the band
    assert step(fb, ib, through, closed=1) == (CODE_PATTERN_STOP, through)


def test_exit_signal_alone() -> None:
    fb, ib = one(1, exit_signal=1)
    assert step(fb, ib, 101.0) == (CODE_EXIT_SIGNAL, 101.0)


def test_time_stop_by_time_and_by_bars() -> None:
    fb, ib = one(1, max_hold_ns=3600 * 10**9)
    assert step(fb, ib, 100.0, now=T0 + 3599 * 10**9)[0] == NO_EXIT
    assert step(fb, ib, 100.0, now=T0 + 3600 * 10**9)[0] == CODE_TIME_STOP
    fb, ib = one(1, max_bars=3, bars_held=2)
    assert step(fb, ib, 100.0)[0] == NO_EXIT
    ib[I_BARS_HELD, 0] = 3
    assert step(fb, ib, 100.0)[0] == CODE_TIME_STOP


def test_scale_out_only_when_nothing_closes() -> None:
    fb, ib = one(1, scale_target=103.0, target=106.0)
    assert step(fb, ib, 103.5) == (CODE_SCALE_OUT, 103.5)
    assert step(fb, ib, 107.0)[0] == CODE_PROFIT_TARGET


def test_pending_positions_are_not_reported_again() -> None:
    fb, ib = one(1, stop=98.0, pending=1)
    assert step(fb, ib, 90.0)[0] == NO_EXIT
    assert fb[F_LOW_WATER, 0] == 90.0  # but their marks still move


@pytest.mark.parametrize("capacity", [1, 7, 8, 1000, 1024, 16384, 100_000])
def test_book_rows_are_staggered_across_cache_sets(capacity: int) -> None:
    fb, ib = new_book(capacity)
    for m in (fb, ib):
        cols = m.shape[1]
        assert cols >= capacity
        assert cols % 8 == 0
        assert (cols // 8) % 2 == 1  # an odd number of 64-byte lines per row
    assert math.isnan(fb[F_STOP, capacity - 1])
