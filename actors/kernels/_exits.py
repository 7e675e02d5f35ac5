"""Batch exit evaluation over every open position, and its plain-Python reference.

Positions live in two preallocated matrices, one row per *field* and one column per
position (structure of arrays: each field is a contiguous run, which is what the
compiled loop and a numpy pass both want):

* ``fb`` — ``float64[N_FLOAT, capacity]``: prices, levels and trailing state;
* ``ib`` — ``int64[N_INT, capacity]``: side, times, counters and flags.

Columns ``0..n-1`` are the open positions (the owner keeps them packed). Levels that
are not set are NaN (or 0 for the multipliers): every comparison with NaN is false,
so an unset level never fires. Prices (``LAST``/``HIGH``/``LOW``) must be finite and
positive; that is checked where they enter, not here (see ``_validate``).

One call looks at one price update per position: ``HIGH``/``LOW`` are the extremes
seen since the previous evaluation (equal to ``LAST`` for a tick) and ``BAR_CLOSED``
says whether a bar closed for that position's symbol (the pattern stop looks at
closes only). Rules are checked in this order and the first that fires wins, so a bar
that touches both the stop and the target counts as the stop (the conservative
reading of an unknown intrabar path):

1. stop loss, 2. volatility stop (``entry ∓ k·ATR``), 3. trailing stop, 4. profit
target, 5. pattern stop (close through the fast-EMA band), 6. exit signal, 7. time
stop, then — only if nothing closed the position — 8. a partial scale-out.

The trailing stop is checked against the level set by what was known *before* this
update (the water marks of earlier updates, this update's ATR), then ratcheted with
this update's high/low: it only ever moves in the position's favour.

Output codes index :data:`REASONS` (0 = no exit); they follow the order of
:class:`daemon.messages.ExitReason`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from actors.kernels._jit import helper, kernel
from actors.kernels._validate import FloatArray, IntArray
from daemon.messages import ExitReason

# -- layout of the float matrix ``fb`` -------------------------------------------------
F_ENTRY = 0
"""Average entry price."""
F_STOP = 1
"""Stop-loss level (NaN: none)."""
F_TARGET = 2
"""Profit-target level (NaN: none)."""
F_TRAIL_PCT = 3
"""Trailing distance as a fraction of the water mark, e.g. 0.03 (0/NaN: off)."""
F_TRAIL_ATR = 4
"""Trailing distance in ATRs from the water mark (0/NaN: off)."""
F_VOL_K = 5
"""Volatility stop: exit ``k`` ATRs against the entry (0/NaN: off)."""
F_PATTERN_BAND = 6
"""Pattern stop: band around the fast EMA as a fraction, e.g. 0.002 (0/NaN: off)."""
F_SCALE_TARGET = 7
"""Next partial-target level (NaN: none)."""
F_LAST = 8
"""Last price (the close for a bar)."""
F_HIGH = 9
"""Highest price since the previous evaluation."""
F_LOW = 10
"""Lowest price since the previous evaluation."""
F_ATR = 11
"""Current ATR of the symbol (NaN until warmed up)."""
F_EMA = 12
"""Current fast EMA of the symbol (NaN until warmed up)."""
F_HIGH_WATER = 13
"""Highest price since entry (starts at the entry)."""
F_LOW_WATER = 14
"""Lowest price since entry (starts at the entry)."""
F_TRAIL_STOP = 15
"""Current trailing-stop level (NaN until armed)."""
N_FLOAT = 16

# -- layout of the int matrix ``ib`` ---------------------------------------------------
I_SIDE = 0
"""+1 long, -1 short."""
I_OPENED_NS = 1
"""When the position was opened (ns since the epoch)."""
I_MAX_HOLD_NS = 2
"""Time stop: maximum holding time in ns (0: off)."""
I_BARS_HELD = 3
"""Bars closed since entry."""
I_MAX_BARS = 4
"""Time stop: maximum bars held (0: off)."""
I_EXIT_SIGNAL = 5
"""1 when an exit signal for this position arrived."""
I_BAR_CLOSED = 6
"""1 when a bar closed for this symbol in this update."""
I_PENDING = 7
"""1 while an exit for this position is in flight: no further exit is reported."""
N_INT = 8

# -- reason codes ----------------------------------------------------------------------
NO_EXIT = 0
CODE_PROFIT_TARGET = 1
CODE_STOP_LOSS = 2
CODE_TRAILING_STOP = 3
CODE_TIME_STOP = 4
CODE_VOLATILITY_STOP = 5
CODE_PATTERN_STOP = 6
CODE_EXIT_SIGNAL = 7
CODE_END_OF_DAY = 8
CODE_SCALE_OUT = 9

REASONS: tuple[ExitReason | None, ...] = (
    None,
    ExitReason.PROFIT_TARGET,
    ExitReason.STOP_LOSS,
    ExitReason.TRAILING_STOP,
    ExitReason.TIME_STOP,
    ExitReason.VOLATILITY_STOP,
    ExitReason.PATTERN_STOP,
    ExitReason.EXIT_SIGNAL,
    ExitReason.END_OF_DAY,
    ExitReason.SCALE_OUT,
)
"""Reason code → :class:`ExitReason` (code 0 is "no exit")."""

REASON_CODES: dict[ExitReason, int] = {r: i for i, r in enumerate(REASONS) if r is not None}
""":class:`ExitReason` → reason code, for the reasons the kernel can produce."""


def new_book(capacity: int) -> tuple[FloatArray, IntArray]:
    """Empty ``(fb, ib)`` matrices for ``capacity`` positions (levels NaN, ints 0)."""
    fb = np.full((N_FLOAT, capacity), np.nan, dtype=np.float64)
    ib = np.zeros((N_INT, capacity), dtype=np.int64)
    return fb, ib


# -- compiled kernel -------------------------------------------------------------------


@helper
def _ratchet(
    side: int, current: float, hw: float, lw: float, pct: float, mult: float, atr: float
) -> float:
    # The tighter of the two trailing distances wins; the level never moves back.
    cand = np.nan
    if side > 0:
        if pct > 0.0:
            cand = hw * (1.0 - pct)
        if mult > 0.0 and atr > 0.0:
            c2 = hw - mult * atr
            if not (cand >= c2):
                cand = c2
        if cand == cand and not (current >= cand):
            return cand
    else:
        if pct > 0.0:
            cand = lw * (1.0 + pct)
        if mult > 0.0 and atr > 0.0:
            c2 = lw + mult * atr
            if not (cand <= c2):
                cand = c2
        if cand == cand and not (current <= cand):
            return cand
    return current


@kernel
def evaluate_exits(
    fb: FloatArray,
    ib: IntArray,
    n: int,
    now_ns: int,
    reason: IntArray,
    trigger: FloatArray,
) -> int:
    """Check every exit rule for positions ``0..n-1``; returns how many exits fired.

    Writes ``reason[i]`` (a code, 0 for none) and ``trigger[i]`` (the price the rule
    fired at: the level, clipped into the update's range, or the last price for
    rules without a level), and updates the water marks and trailing stops in place.
    """
    fired = 0
    for i in range(n):
        side = ib[I_SIDE, i]
        last = fb[F_LAST, i]
        hi = fb[F_HIGH, i]
        lo = fb[F_LOW, i]
        atr = fb[F_ATR, i]
        pct = fb[F_TRAIL_PCT, i]
        mult = fb[F_TRAIL_ATR, i]
        hw = fb[F_HIGH_WATER, i]
        lw = fb[F_LOW_WATER, i]
        ts = _ratchet(side, fb[F_TRAIL_STOP, i], hw, lw, pct, mult, atr)
        code = NO_EXIT
        trig = np.nan
        if ib[I_PENDING, i] == 0:
            entry = fb[F_ENTRY, i]
            stop = fb[F_STOP, i]
            target = fb[F_TARGET, i]
            k = fb[F_VOL_K, i]
            vstop = np.nan
            if k > 0.0 and atr > 0.0:
                vstop = entry - side * k * atr
            if side > 0:
                if lo <= stop:
                    code = CODE_STOP_LOSS
                    trig = min(stop, hi)
                elif lo <= vstop:
                    code = CODE_VOLATILITY_STOP
                    trig = min(vstop, hi)
                elif lo <= ts:
                    code = CODE_TRAILING_STOP
                    trig = min(ts, hi)
                elif hi >= target:
                    code = CODE_PROFIT_TARGET
                    trig = max(target, lo)
            else:
                if hi >= stop:
                    code = CODE_STOP_LOSS
                    trig = max(stop, lo)
                elif hi >= vstop:
                    code = CODE_VOLATILITY_STOP
                    trig = max(vstop, lo)
                elif hi >= ts:
                    code = CODE_TRAILING_STOP
                    trig = max(ts, lo)
                elif lo <= target:
                    code = CODE_PROFIT_TARGET
                    trig = min(target, hi)
            if code == NO_EXIT and ib[I_BAR_CLOSED, i] != 0:
                band = fb[F_PATTERN_BAND, i]
                ema = fb[F_EMA, i]
                # A long breaks down through the lower band, a short up through the upper.
                edge = ema * (1.0 - side * band)
                if band > 0.0 and ema > 0.0 and side * (last - edge) < 0.0:
                    code = CODE_PATTERN_STOP
                    trig = last
            if code == NO_EXIT and ib[I_EXIT_SIGNAL, i] != 0:
                code = CODE_EXIT_SIGNAL
                trig = last
            if code == NO_EXIT:
                max_hold = ib[I_MAX_HOLD_NS, i]
                max_bars = ib[I_MAX_BARS, i]
                if (max_hold > 0 and now_ns - ib[I_OPENED_NS, i] >= max_hold) or (
                    max_bars > 0 and ib[I_BARS_HELD, i] >= max_bars
                ):
                    code = CODE_TIME_STOP
                    trig = last
            if code == NO_EXIT:
                scale = fb[F_SCALE_TARGET, i]
                if side > 0 and hi >= scale:
                    code = CODE_SCALE_OUT
                    trig = max(scale, lo)
                elif side < 0 and lo <= scale:
                    code = CODE_SCALE_OUT
                    trig = min(scale, hi)
        if hi > hw:
            hw = hi
        if lo < lw:
            lw = lo
        fb[F_HIGH_WATER, i] = hw
        fb[F_LOW_WATER, i] = lw
        fb[F_TRAIL_STOP, i] = _ratchet(side, ts, hw, lw, pct, mult, atr)
        reason[i] = code
        trigger[i] = trig
        if code != NO_EXIT:
            fired += 1
    return fired


# -- plain-Python reference ------------------------------------------------------------


@dataclass(slots=True)
class PositionRow:
    """One position as plain Python values: the reference's (and a naive actor's) view."""

    side: int
    entry: float
    stop: float = math.nan
    target: float = math.nan
    trail_pct: float = math.nan
    trail_atr: float = math.nan
    vol_k: float = math.nan
    pattern_band: float = math.nan
    scale_target: float = math.nan
    last: float = math.nan
    high: float = math.nan
    low: float = math.nan
    atr: float = math.nan
    ema: float = math.nan
    high_water: float = math.nan
    low_water: float = math.nan
    trail_stop: float = math.nan
    opened_ns: int = 0
    max_hold_ns: int = 0
    bars_held: int = 0
    max_bars: int = 0
    exit_signal: int = 0
    bar_closed: int = 0
    pending: int = 0


def _set(x: float) -> bool:
    return not math.isnan(x)


def _on(x: float) -> bool:
    return _set(x) and x > 0.0


def trailing_level(p: PositionRow, current: float) -> float:
    """The trailing-stop level after ratcheting ``current`` with ``p``'s water marks."""
    candidates: list[float] = []
    if p.side > 0:
        if _on(p.trail_pct):
            candidates.append(p.high_water * (1.0 - p.trail_pct))
        if _on(p.trail_atr) and _on(p.atr):
            candidates.append(p.high_water - p.trail_atr * p.atr)
        if not candidates:
            return current
        best = max(candidates)
        return best if not _set(current) or best > current else current
    if _on(p.trail_pct):
        candidates.append(p.low_water * (1.0 + p.trail_pct))
    if _on(p.trail_atr) and _on(p.atr):
        candidates.append(p.low_water + p.trail_atr * p.atr)
    if not candidates:
        return current
    best = min(candidates)
    return best if not _set(current) or best < current else current


def _first_rule(p: PositionRow, trail: float, now_ns: int) -> tuple[int, float]:
    long = p.side > 0
    hi, lo, last = p.high, p.low, p.last

    def adverse(level: float) -> bool:
        return _set(level) and (lo <= level if long else hi >= level)

    def favourable(level: float) -> bool:
        return _set(level) and (hi >= level if long else lo <= level)

    def at_adverse(level: float) -> float:
        return min(level, hi) if long else max(level, lo)

    def at_favourable(level: float) -> float:
        return max(level, lo) if long else min(level, hi)

    vstop = math.nan
    if _on(p.vol_k) and _on(p.atr):
        vstop = p.entry - p.vol_k * p.atr if long else p.entry + p.vol_k * p.atr
    for code, level in (
        (CODE_STOP_LOSS, p.stop),
        (CODE_VOLATILITY_STOP, vstop),
        (CODE_TRAILING_STOP, trail),
    ):
        if adverse(level):
            return code, at_adverse(level)
    if favourable(p.target):
        return CODE_PROFIT_TARGET, at_favourable(p.target)
    if p.bar_closed and _on(p.pattern_band) and _on(p.ema):
        if long and last < p.ema * (1.0 - p.pattern_band):
            return CODE_PATTERN_STOP, last
        if not long and last > p.ema * (1.0 + p.pattern_band):
            return CODE_PATTERN_STOP, last
    if p.exit_signal:
        return CODE_EXIT_SIGNAL, last
    if (p.max_hold_ns > 0 and now_ns - p.opened_ns >= p.max_hold_ns) or (
        p.max_bars > 0 and p.bars_held >= p.max_bars
    ):
        return CODE_TIME_STOP, last
    if favourable(p.scale_target):
        return CODE_SCALE_OUT, at_favourable(p.scale_target)
    return NO_EXIT, math.nan


def evaluate_position(p: PositionRow, now_ns: int) -> tuple[int, float]:
    """Reference for one position: ``(code, trigger)``; updates ``p``'s trailing state."""
    trail = trailing_level(p, p.trail_stop)
    code, trig = (NO_EXIT, math.nan) if p.pending else _first_rule(p, trail, now_ns)
    p.high_water = max(p.high_water, p.high)
    p.low_water = min(p.low_water, p.low)
    p.trail_stop = trailing_level(p, trail)
    return code, trig


def row_from_book(fb: FloatArray, ib: IntArray, i: int) -> PositionRow:
    """Column ``i`` of the matrices as a :class:`PositionRow`."""
    f = [float(x) for x in fb[:, i]]
    j = [int(x) for x in ib[:, i]]
    return PositionRow(
        side=j[I_SIDE],
        entry=f[F_ENTRY],
        stop=f[F_STOP],
        target=f[F_TARGET],
        trail_pct=f[F_TRAIL_PCT],
        trail_atr=f[F_TRAIL_ATR],
        vol_k=f[F_VOL_K],
        pattern_band=f[F_PATTERN_BAND],
        scale_target=f[F_SCALE_TARGET],
        last=f[F_LAST],
        high=f[F_HIGH],
        low=f[F_LOW],
        atr=f[F_ATR],
        ema=f[F_EMA],
        high_water=f[F_HIGH_WATER],
        low_water=f[F_LOW_WATER],
        trail_stop=f[F_TRAIL_STOP],
        opened_ns=j[I_OPENED_NS],
        max_hold_ns=j[I_MAX_HOLD_NS],
        bars_held=j[I_BARS_HELD],
        max_bars=j[I_MAX_BARS],
        exit_signal=j[I_EXIT_SIGNAL],
        bar_closed=j[I_BAR_CLOSED],
        pending=j[I_PENDING],
    )


def evaluate_exits_reference(
    fb: FloatArray,
    ib: IntArray,
    n: int,
    now_ns: int,
    reason: IntArray,
    trigger: FloatArray,
) -> int:
    """Plain-Python twin of :func:`evaluate_exits` (same arguments, same effects)."""
    fired = 0
    for i in range(n):
        p = row_from_book(fb, ib, i)
        code, trig = evaluate_position(p, now_ns)
        fb[F_HIGH_WATER, i] = p.high_water
        fb[F_LOW_WATER, i] = p.low_water
        fb[F_TRAIL_STOP, i] = p.trail_stop
        reason[i] = code
        trigger[i] = trig
        fired += code != NO_EXIT
    return fired
