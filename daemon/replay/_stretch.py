"""Stretches of market steps a replay can hand over as one batch without changing a decision.

A bar-by-bar replay delivers each market step on its own and lets the daemon settle.
Delivering several steps as one :class:`~daemon.messages.MarketBatch` (at the time of
the last) is the same for the daemon as long as nothing *acts* in between: no timer is
due, and no actor would react to a price before the last of them. Each actor that
reacts to prices answers the second question for itself on the
:class:`~actors.kernels.HorizonBoard` (the lifecycle monitor: the first step whose
prices would fire an exit); this module holds the upcoming steps (:class:`MarketRun`)
and answers for what the harness can see from outside:

* the paper venue's working orders: a step with an update for a symbol that has one
  (the venue might fill it) — :func:`orders_horizon`;
* the account snapshot the orchestrator publishes on every mark while holding, throttled
  to one per ``orchestrator.snapshot_interval_s``: two steps closer than that would
  see a deferred snapshot bar by bar — :func:`spacing_horizon`;
* the daily-loss kill switch, which reads the equity of those snapshots: the first step
  whose prices could take the loss halfway to the limit from where it stands, or at
  once when the start-of-day equity is not known yet — :func:`loss_horizon`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from actors.kernels import MarketColumns, Stretch
from actors.kernels._validate import IntArray
from daemon.messages import MarketBatch, PositionSnapshot


@dataclass
class MarketRun:
    """Consecutive market steps taken from the input, consumed front to back.

    Columns are built on first need, once for the whole run.
    """

    ts: list[int]
    events: list[Any]
    pos: int = 0
    trigger: int = -1
    """A step known to make an actor act: delivered on its own."""
    _items: list[Any] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    _cols: MarketColumns | None = None
    _step: IntArray | None = None
    _ts: IntArray | None = None

    def __post_init__(self) -> None:
        starts = [0]
        items = self._items
        for ev in self.events:
            if isinstance(ev, MarketBatch):
                items.extend(ev.items)
            else:
                items.append(ev)
            starts.append(len(items))
        self._starts = starts

    @property
    def left(self) -> int:
        """Steps not yet delivered."""
        return len(self.events) - self.pos

    def items(self, a: int, b: int) -> list[Any]:
        """The market items of steps ``a..b-1``."""
        return self._items[self._starts[a] : self._starts[b]]

    def count(self, a: int, b: int) -> int:
        """How many market items steps ``a..b-1`` hold."""
        return self._starts[b] - self._starts[a]

    def before(self, a: int, deadline: int | None) -> int:
        """The first step at or after ``a`` due at or after ``deadline`` (None: never)."""
        if deadline is None:
            return len(self.ts)
        return max(a, bisect_left(self.ts, deadline, lo=a))

    def columns(self) -> MarketColumns | None:
        """Every item of the run as columns (None: an item is not market data)."""
        if self._cols is None:
            try:
                self._cols = MarketColumns.build(self._items)
            except (TypeError, ValueError, AttributeError):
                return None
            self._cols.prices_ok()  # once for the run; its views share it
            starts = np.asarray(self._starts, np.int64)
            sizes = starts[1:] - starts[:-1]
            self._step = np.repeat(np.arange(len(self.events), dtype=np.int64), sizes)
            self._ts = np.asarray(self.ts, np.int64)
        return self._cols

    def stretch(self, a: int, b: int) -> Stretch | None:
        """Steps ``a..b-1`` as a :class:`Stretch` (steps and items renumbered from 0)."""
        cols = self.columns()
        if cols is None or self._step is None or self._ts is None:
            return None
        ia, ib = self._starts[a], self._starts[b]
        return Stretch(cols.view(ia, ib), self._step[ia:ib] - a, self._ts[a:b])

    def view(self, a: int, b: int) -> MarketColumns | None:
        """The columns of steps ``a..b-1`` if they were built."""
        if self._cols is None:
            return None
        return self._cols.view(self._starts[a], self._starts[b])


def orders_horizon(stretch: Stretch, symbols: Iterable[str]) -> int:
    """The first step with an update for one of ``symbols`` (working orders)."""
    cols = stretch.cols
    codes = [j for j, s in enumerate(cols.symbols) if s in set(symbols)]
    if not codes:
        return stretch.steps
    hit = np.isin(cols.sym, codes)
    return int(stretch.step[int(np.argmax(hit))]) if hit.any() else stretch.steps


def spacing_horizon(stretch: Stretch, min_gap_ns: int) -> int:
    """The first step closer than ``min_gap_ns`` to the one before it."""
    if min_gap_ns <= 0 or stretch.steps < 2:
        return stretch.steps
    close = np.diff(stretch.step_ts) < min_gap_ns
    return int(np.argmax(close)) + 1 if close.any() else stretch.steps


def loss_horizon(
    stretch: Stretch,
    positions: Iterable[PositionSnapshot],
    *,
    equity: Decimal | None,
    start_equity: Decimal,
    limit_pct: float,
) -> int:
    """The first step whose prices could bring the daily loss halfway from where it is to
    ``limit_pct`` (0 when that cannot be judged: no equity yet, or already at the limit).

    Equity moves with the marks only by ``qty x (price - mark)`` per position; the
    halfway margin covers the float arithmetic and any difference between the venue's
    marks (used here) and the orchestrator's.
    """
    if equity is None or start_equity <= 0:
        return 0
    floor = float(start_equity) * (1.0 - limit_pct / 100.0)
    headroom = float(equity) - floor
    if headroom <= 0.0:
        return 0
    cols = stretch.cols
    code = {s: j for j, s in enumerate(cols.symbols)}
    drop = np.zeros(cols.n)
    at = np.arange(cols.n)
    for p in positions:
        j = code.get(p.symbol)
        if j is None or p.qty == 0:
            continue
        mark = p.last_price if p.last_price is not None else float(p.avg_price)
        last = np.maximum.accumulate(np.where(cols.sym == j, at, -1))
        px = np.where(last >= 0, cols.close[np.maximum(last, 0)], mark)
        drop -= float(p.qty) * (px - mark)
    near = drop >= headroom / 2.0
    return int(stretch.step[int(np.argmax(near))]) if near.any() else stretch.steps
