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

One call looks at one price update per position: ``HIGH``/``LOW`` are that update's
range (a bar's high and low; equal to ``LAST`` for a tick or for a position without a
new price) with ``LOW <= LAST <= HIGH``, and ``BAR_CLOSED`` says whether a bar closed
for that position's symbol (the pattern stop looks at closes only). Rules are checked
in this order and the first that fires wins, so a bar that touches both the stop and
the target counts as the stop (the conservative reading of an unknown intrabar path):

1. stop loss, 2. volatility stop (``entry ∓ k·ATR``), 3. trailing stop, 4. profit
target, 5. pattern stop (close through the fast-EMA band), 6. exit signal, 7. time
stop, then — only if nothing closed the position — 8. a partial scale-out.

The trailing stop is checked against the level in force before this update (set by
the previous evaluation, or armed by the owner when the position opened), then
ratcheted from the new water mark and this update's ATR: it only ever moves in the
position's favour, and never in reaction to the very price that is being checked.

Output codes index :data:`REASONS` (0 = no exit); they follow the order of
:class:`daemon.messages.ExitReason`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from actors.kernels._jit import kernel
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
"""High of the update being checked (``LAST`` for a tick)."""
F_LOW = 10
"""Low of the update being checked (``LAST`` for a tick)."""
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


def padded_columns(capacity: int) -> int:
    """At least ``capacity`` columns, spanning an odd number of 64-byte cache lines.

    The kernel streams ~24 rows at once. With a power-of-two row length (1024, 16384
    columns) every row starts at the same offset modulo 4 KiB, so all the streams fall
    into the same few cache sets and evict each other: measured 4x slower at 10,000
    positions. An odd number of cache lines per row staggers the rows across the sets.
    """
    lines = max(1, -(-capacity // 8))  # 8 doubles (or int64) per cache line
    return (lines | 1) * 8


def new_book(capacity: int) -> tuple[FloatArray, IntArray]:
    """Empty ``(fb, ib)`` matrices for at least ``capacity`` positions (levels NaN, ints 0).

    The matrices may have a few more columns than asked for (see :func:`padded_columns`).
    """
    cols = padded_columns(capacity)
    fb = np.full((N_FLOAT, cols), np.nan, dtype=np.float64)
    ib = np.zeros((N_INT, cols), dtype=np.int64)
    return fb, ib


# -- compiled kernel -------------------------------------------------------------------


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
    fired at: the level clipped into the update's range — a gap through a level never
    traded at it — or the last price for rules without a level; NaN for none), and
    updates the water marks and trailing stops in place.
    """
    # Branch-free on purpose: every rule is computed for every position and the
    # highest-priority hit is selected (rules are assigned lowest priority first, so
    # later assignments win). Longs and shorts share instructions through the sign
    # s = ±1 — "adverse" is the update's extreme against the position, "favourable"
    # the other. With no data-dependent branches a mixed book mispredicts nothing and
    # LLVM can keep the loop tight: ~3x faster than the branchy form on 10k positions.
    # NaN levels make every comparison false, so unset rules never fire.
    nan = np.nan
    fired = 0
    for i in range(n):
        s = 1.0 if ib[I_SIDE, i] > 0 else -1.0
        last = fb[F_LAST, i]
        hi = fb[F_HIGH, i]
        lo = fb[F_LOW, i]
        adverse = lo if s > 0.0 else hi
        favourable = hi if s > 0.0 else lo
        atr = fb[F_ATR, i]
        ts = fb[F_TRAIL_STOP, i]
        k = fb[F_VOL_K, i]
        vstop = fb[F_ENTRY, i] - s * k * atr
        stop = fb[F_STOP, i]
        target = fb[F_TARGET, i]
        band = fb[F_PATTERN_BAND, i]
        scale = fb[F_SCALE_TARGET, i]
        edge = fb[F_EMA, i] * (1.0 - s * band)
        max_hold = ib[I_MAX_HOLD_NS, i]
        max_bars = ib[I_MAX_BARS, i]
        time_hit = ((max_hold > 0) & (now_ns - ib[I_OPENED_NS, i] >= max_hold)) | (
            (max_bars > 0) & (ib[I_BARS_HELD, i] >= max_bars)
        )
        code = NO_EXIT
        trig = nan
        if s * (favourable - scale) >= 0.0:
            code = CODE_SCALE_OUT
            trig = scale
        if time_hit:
            code = CODE_TIME_STOP
            trig = last
        if ib[I_EXIT_SIGNAL, i] != 0:
            code = CODE_EXIT_SIGNAL
            trig = last
        if (ib[I_BAR_CLOSED, i] != 0) & (band > 0.0) & (s * (last - edge) < 0.0):
            code = CODE_PATTERN_STOP
            trig = last
        if s * (favourable - target) >= 0.0:
            code = CODE_PROFIT_TARGET
            trig = target
        if s * (adverse - ts) <= 0.0:
            code = CODE_TRAILING_STOP
            trig = ts
        if (k > 0.0) & (atr > 0.0) & (s * (adverse - vstop) <= 0.0):
            code = CODE_VOLATILITY_STOP
            trig = vstop
        if s * (adverse - stop) <= 0.0:
            code = CODE_STOP_LOSS
            trig = stop
        if ib[I_PENDING, i] != 0:
            code = NO_EXIT
            trig = nan
        trig = min(max(trig, lo), hi)
        hw = max(fb[F_HIGH_WATER, i], hi)
        lw = min(fb[F_LOW_WATER, i], lo)
        fb[F_HIGH_WATER, i] = hw
        fb[F_LOW_WATER, i] = lw
        mark = hw if s > 0.0 else lw
        pct = fb[F_TRAIL_PCT, i]
        mult = fb[F_TRAIL_ATR, i]
        c1 = mark * (1.0 - s * pct)
        c1 = c1 if pct > 0.0 else nan
        c2 = mark - s * mult * atr
        c2 = c2 if (mult > 0.0) & (atr > 0.0) else nan
        cand = c2 if (s * c2 > s * c1) | (c1 != c1) else c1
        fb[F_TRAIL_STOP, i] = cand if (s * cand > s * ts) | (ts != ts) else ts
        reason[i] = code
        trigger[i] = trig
        fired += code != NO_EXIT
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
    code, trig = (NO_EXIT, math.nan) if p.pending else _first_rule(p, p.trail_stop, now_ns)
    p.high_water = max(p.high_water, p.high)
    p.low_water = min(p.low_water, p.low)
    p.trail_stop = trailing_level(p, p.trail_stop)
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
