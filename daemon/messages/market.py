"""Market data: ticks and bars (floats: observations, not accounting)."""

from __future__ import annotations

from daemon.messages._base import Message, Nanos, Symbol


class Tick(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """A trade or quote print: last price and size at ``ts``."""

    symbol: Symbol
    price: float
    size: float = 0.0
    bid: float | None = None
    ask: float | None = None
    ts: Nanos


class Bar(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An OHLCV bar covering ``interval_s`` seconds ending at ``ts``."""

    symbol: Symbol
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0
    interval_s: int = 86_400
    ts: Nanos


MarketData = Tick | Bar


class MarketBatch(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Several market updates delivered together (ingest batches when many arrive)."""

    items: tuple[Tick | Bar, ...]
    ts: Nanos
