"""Open positions in preallocated arrays, one column each, found by symbol in O(1).

The numeric state lives in the exit kernel's matrices (``actors.kernels`` layout);
what the kernel does not need (quantities, ids, pending exits) lives in a parallel list
of :class:`RowMeta`. Columns ``0..n-1`` are always the open positions: a closed one is
replaced by the last (swap-remove), so evaluation never skips holes and nothing is
ever scanned to find a symbol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import final

import numpy as np

from actors.kernels import PositionRow, new_book
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
    I_MAX_BARS,
    I_MAX_HOLD_NS,
    I_OPENED_NS,
    I_SIDE,
    N_FLOAT,
    N_INT,
    trailing_level,
)
from actors.kernels._validate import FloatArray, IntArray
from actors.lifecycle._rules import Levels
from daemon.messages import ExitReason, Side, TradeType

_FRESH_F = np.full(N_FLOAT, np.nan)
_FRESH_I = np.zeros(N_INT, dtype=np.int64)


@dataclass(slots=True)
class RowMeta:
    """What the lifecycle knows about one position besides the kernel's numbers."""

    symbol: str
    qty: Decimal
    """Signed quantity held now."""
    opened_qty: Decimal
    """Absolute quantity when the position opened (scale-out shares are of this)."""
    correlation_id: str
    source: str
    trade_type: TradeType
    opened_ns: int
    indicator_col: int
    """The symbol's column in the indicator bank."""
    scale_out: list[tuple[float, float]] = field(default_factory=list)
    """Remaining partial targets ``(price, qty_fraction)``, nearest first."""
    exits_sent: int = 0
    """Exit intents emitted for this position (numbers each exit id)."""
    pending: ExitReason | None = None
    """Reason of the full exit in flight, if any."""
    pending_since_ns: int = 0

    @property
    def side(self) -> Side:
        """The position's side (BUY for a long)."""
        return Side.BUY if self.qty > 0 else Side.SELL

    @property
    def key(self) -> str:
        """Stable base of this position's exit ids."""
        return self.correlation_id or f"{self.symbol}@{self.opened_ns}"


@final
class PositionBook:
    """Open positions: the kernel's matrices plus metadata and a symbol index."""

    __slots__ = ("fb", "ib", "meta", "n", "rows")

    def __init__(self, capacity: int) -> None:
        self.fb: FloatArray
        self.ib: IntArray
        self.fb, self.ib = new_book(max(1, capacity))
        self.n = 0
        self.rows: dict[str, int] = {}
        self.meta: list[RowMeta] = []

    def __len__(self) -> int:
        return self.n

    def row(self, symbol: str) -> int | None:
        """The column of ``symbol``'s position, or None when flat."""
        return self.rows.get(symbol)

    @property
    def capacity(self) -> int:
        """Columns allocated."""
        return int(self.fb.shape[1])

    def add(
        self, meta: RowMeta, levels: Levels, *, entry: float, last: float, atr: float, ema: float
    ) -> int:
        """Open a column for a new position and arm its trailing stop; returns the column."""
        if meta.symbol in self.rows:
            raise ValueError(f"{meta.symbol} already has a position row")
        if self.n == self.capacity:
            self._grow(2 * self.capacity)
        r = self.n
        self.n += 1
        self.rows[meta.symbol] = r
        self.meta.append(meta)
        fb, ib = self.fb, self.ib
        side = 1 if meta.qty > 0 else -1
        ib[I_SIDE, r] = side
        ib[I_OPENED_NS, r] = meta.opened_ns
        fb[F_ENTRY, r] = entry
        fb[F_LAST, r] = fb[F_HIGH, r] = fb[F_LOW, r] = last
        fb[F_HIGH_WATER, r] = fb[F_LOW_WATER, r] = entry
        fb[F_ATR, r] = atr
        fb[F_EMA, r] = ema
        self.set_levels(r, levels)
        meta.scale_out = list(levels.scale_out)
        fb[F_SCALE_TARGET, r] = meta.scale_out[0][0] if meta.scale_out else np.nan
        # Arm the trailing stop from the entry, so it protects before the first update.
        probe = PositionRow(
            side=side,
            entry=entry,
            trail_pct=levels.trail_pct,
            trail_atr=levels.trail_atr,
            atr=atr,
            high_water=entry,
            low_water=entry,
        )
        fb[F_TRAIL_STOP, r] = trailing_level(probe, math.nan)
        return r

    def set_levels(self, r: int, levels: Levels) -> None:
        """Write ``levels`` into column ``r`` (scale-out targets are handled by the caller)."""
        fb, ib = self.fb, self.ib
        fb[F_STOP, r] = levels.stop
        fb[F_TARGET, r] = levels.target
        fb[F_TRAIL_PCT, r] = levels.trail_pct
        fb[F_TRAIL_ATR, r] = levels.trail_atr
        fb[F_VOL_K, r] = levels.vol_k
        fb[F_PATTERN_BAND, r] = levels.pattern_band
        ib[I_MAX_HOLD_NS, r] = levels.max_hold_ns
        ib[I_MAX_BARS, r] = levels.max_bars

    def remove(self, symbol: str) -> RowMeta | None:
        """Forget ``symbol``'s position (swap-remove); returns its metadata."""
        r = self.rows.pop(symbol, None)
        if r is None:
            return None
        last = self.n - 1
        gone = self.meta[r]
        if r != last:
            self.fb[:, r] = self.fb[:, last]
            self.ib[:, r] = self.ib[:, last]
            moved = self.meta[last]
            self.meta[r] = moved
            self.rows[moved.symbol] = r
        self.meta.pop()
        self.fb[:, last] = _FRESH_F
        self.ib[:, last] = _FRESH_I
        self.n = last
        return gone

    def _grow(self, capacity: int) -> None:
        fb, ib = new_book(capacity)
        fb[:, : self.n] = self.fb[:, : self.n]
        ib[:, : self.n] = self.ib[:, : self.n]
        self.fb, self.ib = fb, ib
