"""Marking positions with validated market data, and feeding bars to the indicators."""

from __future__ import annotations

from typing import final

from actors.kernels import IndicatorBank, batch_buffers
from actors.kernels._exits import (
    F_ATR,
    F_EMA,
    F_HIGH,
    F_LAST,
    F_LOW,
    I_BAR_CLOSED,
    I_BARS_HELD,
    I_OPENED_NS,
)
from actors.lifecycle._book import PositionBook
from daemon.clock import NS_PER_S
from daemon.messages import Bar


@final
class Marker:
    """Writes one update per position into the book; queues bars for the indicators.

    The caller checks the book between two updates of the same position, so each
    update's own range (a tick's price, a bar's high and low) is the range to check.
    Bars of ``bar_interval_s`` feed the EMA/ATR (in batches, applied by :meth:`flush`
    before the check) and count as bars held; other bars only mark prices.
    """

    __slots__ = ("_bars", "_rows", "bank", "bar_interval_s", "book")

    def __init__(
        self, book: PositionBook, bank: IndicatorBank, bar_interval_s: int, max_batch: int
    ) -> None:
        self.book = book
        self.bank = bank
        self.bar_interval_s = bar_interval_s
        self._bars = batch_buffers(max_batch)
        self._rows: list[int] = []

    def tick(self, r: int, price: float) -> None:
        """Mark position column ``r`` with a trade at ``price``."""
        fb = self.book.fb
        fb[F_LAST, r] = fb[F_HIGH, r] = fb[F_LOW, r] = price

    def bar(self, r: int | None, bar: Bar) -> None:
        """Take a bar: queue it for the indicators if it is ours; mark ``r`` if open."""
        ours = bar.interval_s == self.bar_interval_s
        if ours:
            self._queue(bar, -1 if r is None else r)
        if r is None:
            return
        fb, ib = self.book.fb, self.book.ib
        fb[F_LAST, r] = bar.close
        # A bar that began before the position opened spans prices from before the
        # entry: only its close belongs to the position.
        if bar.ts - bar.interval_s * NS_PER_S >= ib[I_OPENED_NS, r]:
            fb[F_HIGH, r], fb[F_LOW, r] = bar.high, bar.low
        else:
            fb[F_HIGH, r] = fb[F_LOW, r] = bar.close
        if ours:
            ib[I_BARS_HELD, r] += 1
            ib[I_BAR_CLOSED, r] = 1

    def _queue(self, bar: Bar, r: int) -> None:
        sym, hi, lo, cl = self._bars
        m = len(self._rows)
        if m == sym.shape[0]:
            self.flush()
            m = 0
        sym[m] = self.bank.column(bar.symbol)
        hi[m], lo[m], cl[m] = bar.high, bar.low, bar.close
        self._rows.append(r)

    def flush(self) -> None:
        """Apply the queued bars to the indicators and copy the values to positions."""
        m = len(self._rows)
        if not m:
            return
        sym, hi, lo, cl = self._bars
        self.bank.update(sym, hi, lo, cl, m)
        fb = self.book.fb
        for k, r in enumerate(self._rows):
            if r >= 0:
                j = int(sym[k])
                fb[F_ATR, r] = self.bank.atr(j)
                fb[F_EMA, r] = self.bank.ema(j)
        self._rows.clear()
