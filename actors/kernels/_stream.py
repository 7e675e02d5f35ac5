"""Exit checks over a stream of market updates in one call, and its plain-Python reference.

The lifecycle monitor, given a batch of market updates, marks each open position with
its symbol's update, feeds bars of its interval to the EMA/ATR, and checks the exit
rules (:func:`~actors.kernels.evaluate_exits`) over every position whenever a position
is about to be marked a second time, at the end of the batch, and — when the updates
are grouped into *steps* (the deliveries a bar-by-bar replay would make) — at the end
of each step. :func:`mark_and_check` does all of that for a whole batch in compiled code,
stopping right after the first check that fires so the caller can turn the exits into
intents (and then resume where it stopped).

Per update ``k`` (arrays aligned on the updates):

* ``row[k]``: the position column of its symbol (-1: none), ``col[k]``: its indicator
  column when it is a bar of the indicator interval (-1: otherwise), ``tick[k]``: a
  trade (its price is in ``high``/``low``/``close``), ``opens[k]``: when a bar began
  (``ts - interval``; a bar that began before its position opened only marks the close);
* ``step[k]``: its step (non-decreasing), ``step_now[step]``: the time a step's checks
  run at (the clock at its delivery).

Indicator updates run the very per-bar steps :func:`~actors.kernels.ema_update` and
:func:`~actors.kernels.atr_update` loop over (``ema_one``/``atr_one``; the reference calls
the kernels themselves); a position's
ATR/EMA are copied from its symbol's column after its bar, as the monitor does before
each check.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from actors.kernels._exits import (
    F_ATR,
    F_EMA,
    F_HIGH,
    F_LAST,
    F_LOW,
    I_BAR_CLOSED,
    I_BARS_HELD,
    I_EXIT_SIGNAL,
    I_OPENED_NS,
    evaluate_exits,
    evaluate_exits_reference,
)
from actors.kernels._indicators import (
    ATR_VALUE,
    EMA_VALUE,
    atr_one,
    atr_update,
    ema_one,
    ema_update,
)
from actors.kernels._jit import kernel
from actors.kernels._validate import FloatArray, IntArray

BoolArray = NDArray[np.bool_]


@kernel
def mark_and_check(
    fb: FloatArray,
    ib: IntArray,
    n: int,
    row: IntArray,
    col: IntArray,
    tick: BoolArray,
    opens: IntArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    step: IntArray,
    step_now: IntArray,
    start: int,
    m: int,
    ema: FloatArray,
    atr: FloatArray,
    ema_period: int,
    atr_period: int,
    touched: IntArray,
    reason: IntArray,
    trigger: FloatArray,
) -> tuple[int, int]:
    """Apply updates ``start..m-1``; returns ``(next, fired)`` (see the module docstring).

    ``fired`` > 0: a check fired, ``reason``/``trigger`` hold its results for positions
    ``0..n-1`` and the position ranges and one-shot flags are *not* yet reset (the
    caller acts on them, resets, and calls again from ``next``). ``fired`` 0: every
    update was applied (``next == m``) and nothing fired. ``touched`` is scratch space
    of at least ``n`` entries.
    """
    for i in range(n):
        touched[i] = -1
    group = 0
    k = start
    while k < m:
        r = row[k]
        boundary = k > start and step[k] != step[k - 1]
        if boundary or (r >= 0 and touched[r] == group):
            fired = evaluate_exits(fb, ib, n, step_now[step[k - 1]], reason, trigger)
            if fired:
                return k, fired
            for i in range(n):
                fb[F_HIGH, i] = fb[F_LAST, i]
                fb[F_LOW, i] = fb[F_LAST, i]
                ib[I_BAR_CLOSED, i] = 0
                ib[I_EXIT_SIGNAL, i] = 0
            group += 1
        j = col[k]
        if j >= 0:
            ema_one(ema, j, close[k], ema_period)
            atr_one(atr, j, high[k], low[k], close[k], atr_period)
        if r >= 0:
            touched[r] = group
            c = close[k]
            fb[F_LAST, r] = c
            if tick[k] or opens[k] < ib[I_OPENED_NS, r]:
                fb[F_HIGH, r] = c
                fb[F_LOW, r] = c
            else:
                fb[F_HIGH, r] = high[k]
                fb[F_LOW, r] = low[k]
            if j >= 0:
                ib[I_BARS_HELD, r] += 1
                ib[I_BAR_CLOSED, r] = 1
                fb[F_ATR, r] = atr[ATR_VALUE, j]
                fb[F_EMA, r] = ema[EMA_VALUE, j]
        k += 1
    if m <= start:
        return m, 0
    fired = evaluate_exits(fb, ib, n, step_now[step[m - 1]], reason, trigger)
    if fired:
        return m, fired
    for i in range(n):
        fb[F_HIGH, i] = fb[F_LAST, i]
        fb[F_LOW, i] = fb[F_LAST, i]
        ib[I_BAR_CLOSED, i] = 0
        ib[I_EXIT_SIGNAL, i] = 0
    return m, 0


def mark_and_check_reference(
    fb: FloatArray,
    ib: IntArray,
    n: int,
    row: IntArray,
    col: IntArray,
    tick: BoolArray,
    opens: IntArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    step: IntArray,
    step_now: IntArray,
    start: int,
    m: int,
    ema: FloatArray,
    atr: FloatArray,
    ema_period: int,
    atr_period: int,
    touched: IntArray,
    reason: IntArray,
    trigger: FloatArray,
) -> tuple[int, int]:
    """Plain-Python twin of :func:`mark_and_check`, written as the monitor reads: a set
    of touched positions, checks with the reference exit evaluation."""
    ema_py = getattr(ema_update, "py_func", ema_update)
    atr_py = getattr(atr_update, "py_func", atr_update)

    def check(now: int) -> int:
        fired = evaluate_exits_reference(fb, ib, n, now, reason, trigger)
        if not fired:
            fb[F_HIGH, :n] = fb[F_LAST, :n]
            fb[F_LOW, :n] = fb[F_LAST, :n]
            ib[I_BAR_CLOSED, :n] = 0
            ib[I_EXIT_SIGNAL, :n] = 0
        return int(fired)

    seen: set[int] = set()
    for k in range(start, m):
        r = int(row[k])
        boundary = k > start and step[k] != step[k - 1]
        if boundary or (r >= 0 and r in seen):
            fired = check(int(step_now[step[k - 1]]))
            if fired:
                return k, fired
            seen.clear()
        j = int(col[k])
        if j >= 0:
            ema_py(ema, col[k : k + 1], close[k : k + 1], 1, ema_period)
            atr_py(
                atr,
                col[k : k + 1],
                high[k : k + 1],
                low[k : k + 1],
                close[k : k + 1],
                1,
                atr_period,
            )
        if r < 0:
            continue
        seen.add(r)
        fb[F_LAST, r] = close[k]
        if tick[k] or opens[k] < ib[I_OPENED_NS, r]:
            fb[F_HIGH, r] = fb[F_LOW, r] = close[k]
        else:
            fb[F_HIGH, r], fb[F_LOW, r] = high[k], low[k]
        if j >= 0:
            ib[I_BARS_HELD, r] += 1
            ib[I_BAR_CLOSED, r] = 1
            fb[F_ATR, r] = atr[ATR_VALUE, j]
            fb[F_EMA, r] = ema[EMA_VALUE, j]
    if m <= start:
        return m, 0
    return m, check(int(step_now[step[m - 1]]))
