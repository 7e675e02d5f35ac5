"""The batch mark-and-check kernel against its plain-Python reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from actors.kernels import mark_and_check, mark_and_check_reference
from actors.kernels._exits import (
    F_HIGH,
    F_LAST,
    F_LOW,
    F_TRAIL_STOP,
    I_BAR_CLOSED,
    I_EXIT_SIGNAL,
    I_PENDING,
)
from actors.kernels._indicators import ATR_FIELDS, EMA_FIELDS, new_state
from tests.unit.kernels._support import PROPERTY, close
from tests.unit.kernels.test_exits import T0, build, position

NS = 10**9


@st.composite
def stream(draw: st.DrawFn, n: int, symbols: int) -> dict[str, np.ndarray]:
    """Updates for ``symbols`` symbols (the first ``n`` hold the positions), in steps."""
    m = draw(st.integers(0, 40))
    sym = np.array(draw(st.lists(st.integers(0, symbols - 1), min_size=m, max_size=m)), np.int64)
    price = 100.0
    high, low, close_, tick, opens, ours = [], [], [], [], [], []
    for _ in range(m):
        price *= draw(st.floats(0.95, 1.05))
        up, down = draw(st.floats(0.0, 0.03)), draw(st.floats(0.0, 0.03))
        high.append(price * (1 + up))
        low.append(price * (1 - down))
        close_.append(price)
        tick.append(draw(st.sampled_from([False, False, False, True])))
        # A bar that began before the positions opened now and then.
        opens.append(T0 + draw(st.sampled_from([-60, 0, 60])) * NS)
        ours.append(draw(st.booleans()))
    steps = sorted(draw(st.lists(st.integers(0, 6), min_size=m, max_size=m)))
    row = np.where(sym < n, sym, -1)
    tick_a = np.array(tick, np.bool_)
    col = np.where(np.array(ours, np.bool_) & ~tick_a, sym, -1)
    nsteps = (steps[-1] + 1) if steps else 1
    return {
        "row": row.astype(np.int64),
        "col": col.astype(np.int64),
        "tick": tick_a,
        "opens": np.array(opens, np.int64),
        "high": np.array(high),
        "low": np.array(low),
        "close": np.array(close_),
        "step": np.array(steps, np.int64),
        "step_now": T0 + np.arange(nsteps, dtype=np.int64) * 60 * NS,
    }


@PROPERTY
@given(data=st.data(), positions=st.lists(position(), min_size=0, max_size=4))
def test_stream_kernel_equals_reference(
    data: st.DataObject, positions: list[dict[str, float | int]]
) -> None:
    n = len(positions)
    symbols = n + 2
    s = data.draw(stream(n, symbols))
    fb, ib = build(positions)
    for i, p in enumerate(positions):
        # Prices start at the entry, inside the water marks, as the book arms them.
        fb[F_LAST, i] = float(p["entry"])
        fb[F_TRAIL_STOP, i] = np.nan
    ema, atr = new_state(EMA_FIELDS, symbols), new_state(ATR_FIELDS, symbols)
    cap = fb.shape[1]
    runs = []
    for fn in (mark_and_check, mark_and_check_reference):
        f, i_, e, a = fb.copy(), ib.copy(), ema.copy(), atr.copy()
        reason, trig, touched = np.zeros(cap, np.int64), np.zeros(cap), np.zeros(cap, np.int64)
        stops = []
        k, m = 0, len(s["row"])
        while True:
            k, fired = fn(
                f, i_, n, s["row"], s["col"], s["tick"], s["opens"], s["high"], s["low"],
                s["close"], s["step"], s["step_now"], k, m, e, a, 3, 4, touched, reason, trig,
            )  # fmt: skip
            stops.append((k, fired, reason[:n].tolist()))
            if fired:
                # What the monitor does with a fired check: the exit is in flight.
                i_[I_PENDING, :n] |= (reason[:n] != 0).astype(np.int64)
                f[F_HIGH, :n] = f[F_LAST, :n]
                f[F_LOW, :n] = f[F_LAST, :n]
                i_[I_BAR_CLOSED, :n] = 0
                i_[I_EXIT_SIGNAL, :n] = 0
            if k >= m:
                break
        runs.append((f, i_, e, a, stops))
    (f1, i1, e1, a1, s1), (f2, i2, e2, a2, s2) = runs
    assert s1 == s2
    assert (i1 == i2).all()
    for got, want in ((f1, f2), (e1, e2), (a1, a2)):
        assert all(close(x, y) for x, y in zip(got.ravel(), want.ravel(), strict=True))
