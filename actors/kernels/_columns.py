"""Market updates as aligned arrays, so a batch is processed in one pass instead of per item.

A :class:`~daemon.messages.MarketBatch` is a tuple of ``Bar``/``Tick`` structs; looking
at them one by one costs every consumer a few microseconds an item. :class:`MarketColumns`
reads a batch once into numpy arrays (one per field, ticks as bars whose four prices
are the trade price) plus small integer codes for the symbols, which is what compiled
kernels and vectorised checks want.

The same batch object is delivered to every subscriber of the market topic, so
:func:`columns_of` remembers the columns of the last few batches by identity: the first
consumer pays for the conversion, the others reuse it. The memo holds the batch itself,
so an identity is never reused while its entry lives; batches are immutable, so the
columns can never go stale.

:class:`HorizonBoard` is where actors that react to prices say how far a stretch of
upcoming market data can go before they might act (see docs/replay.md, "batching").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, final

import numpy as np
from numpy.typing import NDArray

from actors.kernels._validate import FloatArray, IntArray
from daemon.messages import Bar, MarketBatch, Tick

BoolArray = NDArray[np.bool_]

_MEMO_SIZE = 4


@final
class MarketColumns:
    """The items of one or more market messages as aligned arrays (see the module docstring).

    ``sym`` indexes :attr:`symbols`; ticks have ``tick`` set, ``interval_s`` 0, their price
    in ``open``/``high``/``low``/``close`` and their size in ``volume``. Build with
    :meth:`build`; slice with :meth:`view`.
    """

    __slots__ = (
        "_ok",
        "close",
        "high",
        "interval_s",
        "items",
        "low",
        "n",
        "open",
        "sym",
        "symbols",
        "tick",
        "ts",
        "volume",
    )

    def __init__(
        self,
        items: Sequence[Tick | Bar],
        symbols: list[str],
        sym: IntArray,
        tick: BoolArray,
        ts: IntArray,
        interval_s: IntArray,
        prices: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
        volume: FloatArray,
    ) -> None:
        self.items = items
        self.n = len(items)
        self.symbols = symbols
        self.sym = sym
        self.tick = tick
        self.ts = ts
        self.interval_s = interval_s
        self.open, self.high, self.low, self.close = prices
        self.volume = volume
        self._ok: BoolArray | None = None

    @classmethod
    def build(cls, items: Sequence[Tick | Bar]) -> MarketColumns:
        """Read ``items`` (Bars and Ticks) into columns.

        Raises :class:`TypeError` or :class:`ValueError` when an item is neither, or a
        field is not a number: callers then take the item-by-item path, which rejects
        such items with their own messages.
        """
        n = len(items)
        codes: dict[str, int] = {}
        sym = np.fromiter((codes.setdefault(x.symbol, len(codes)) for x in items), np.int64, n)
        if all(type(x) is Bar for x in items):
            bars: Sequence[Any] = items
            o = np.fromiter((x.open for x in bars), np.float64, n)
            h = np.fromiter((x.high for x in bars), np.float64, n)
            lo = np.fromiter((x.low for x in bars), np.float64, n)
            c = np.fromiter((x.close for x in bars), np.float64, n)
            v = np.fromiter((x.volume for x in bars), np.float64, n)
            ts = np.fromiter((x.ts for x in bars), np.int64, n)
            iv = np.fromiter((x.interval_s for x in bars), np.int64, n)
            tick = np.zeros(n, np.bool_)
        else:
            o, h, lo, c, v = (np.empty(n, np.float64) for _ in range(5))
            ts, iv = np.empty(n, np.int64), np.empty(n, np.int64)
            tick = np.empty(n, np.bool_)
            for k, x in enumerate(items):
                if type(x) is Bar:
                    o[k], h[k], lo[k], c[k] = x.open, x.high, x.low, x.close
                    v[k], iv[k], tick[k] = x.volume, x.interval_s, False
                elif type(x) is Tick:
                    o[k] = h[k] = lo[k] = c[k] = x.price
                    v[k], iv[k], tick[k] = x.size, 0, True
                else:
                    raise TypeError(f"not market data: {type(x).__name__}")
                ts[k] = x.ts
        return cls(items, list(codes), sym, tick, ts, iv, (o, h, lo, c), v)

    def view(self, start: int, stop: int) -> MarketColumns:
        """Items ``start..stop-1`` (array views; symbol codes keep their meaning)."""
        part = MarketColumns(
            self.items[start:stop],
            self.symbols,
            self.sym[start:stop],
            self.tick[start:stop],
            self.ts[start:stop],
            self.interval_s[start:stop],
            (
                self.open[start:stop],
                self.high[start:stop],
                self.low[start:stop],
                self.close[start:stop],
            ),
            self.volume[start:stop],
        )
        if self._ok is not None:
            part._ok = self._ok[start:stop]
        return part

    def prices_ok(self) -> BoolArray:
        """Per item: every price finite and > 0 and, for a bar, ``low <= close <= high``.

        The same rule as :func:`~actors.kernels.check_bar` / ``check_price`` item by item
        (a bar's open is only checked as a price). Computed once; do not write to it.
        """
        ok = self._ok
        if ok is None:
            o, h, lo, c = self.open, self.high, self.low, self.close
            with np.errstate(invalid="ignore"):
                ok = (o > 0.0) & (h > 0.0) & (lo > 0.0) & (c > 0.0)
                ok &= np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
                ok &= (lo <= c) & (c <= h)
            self._ok = ok
        return ok

    def last_index(self) -> dict[str, int]:
        """Each symbol's last item (its latest price in this batch)."""
        last = dict.fromkeys(self.symbols, -1)
        names = self.symbols
        for k, j in enumerate(self.sym.tolist()):
            last[names[j]] = k
        return {s: k for s, k in last.items() if k >= 0}


_memo: list[tuple[MarketBatch, MarketColumns]] = []


def remember_columns(batch: MarketBatch, cols: MarketColumns) -> None:
    """Record ``cols`` as the columns of ``batch`` (a producer that already has them)."""
    if len(_memo) >= _MEMO_SIZE:
        del _memo[0]
    _memo.append((batch, cols))


def columns_of(batch: MarketBatch) -> MarketColumns | None:
    """The columns of ``batch`` (built once, shared by its consumers); None when an item
    is not market data or a field is not a number."""
    for b, cols in reversed(_memo):
        if b is batch:
            return cols
    try:
        cols = MarketColumns.build(batch.items)
    except (TypeError, ValueError, AttributeError):
        return None
    remember_columns(batch, cols)
    return cols


@dataclass(frozen=True, slots=True)
class Stretch:
    """Upcoming market steps a replay would like to hand over as one batch.

    ``cols`` holds their items in order; ``step[k]`` is item ``k``'s step (0-based,
    non-decreasing) and ``step_ts[i]`` the time step ``i`` would be delivered at.
    """

    cols: MarketColumns
    step: IntArray
    step_ts: IntArray

    @property
    def steps(self) -> int:
        """How many steps."""
        return int(self.step_ts.shape[0])


Horizon = Callable[[Stretch], int]
"""Given a stretch, the first step at which the caller might act on prices (0 .. steps;
``steps`` when none). Must be conservative: saying "later" wrongly changes decisions."""


@final
class HorizonBoard:
    """Who reacts to prices, and how far a stretch of market data can go before they might.

    A shared resource: an actor whose decisions depend on prices registers a
    :data:`Horizon` under its name (again after a restart, replacing the old one). The
    replay harness asks :meth:`horizon` while the daemon is quiet and hands the steps
    before it over as one batch, so nothing that would have acted mid-stretch is skipped.
    """

    __slots__ = ("_fns",)

    def __init__(self) -> None:
        self._fns: dict[str, Horizon] = {}

    def register(self, name: str, fn: Horizon) -> None:
        """Add (or replace) ``name``'s horizon."""
        self._fns[name] = fn

    def unregister(self, name: str) -> None:
        """Remove ``name``'s horizon (an actor that stops)."""
        self._fns.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._fns

    def horizon(self, stretch: Stretch) -> int:
        """The smallest horizon of every registered actor."""
        h = stretch.steps
        for fn in self._fns.values():
            h = min(h, fn(stretch))
            if h == 0:
                break
        return h
