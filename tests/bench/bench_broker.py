"""BENCH=broker: the paper venue and the books on their hot paths.

* ``submit_to_accept_p50`` / ``_p99``: :meth:`PaperBroker.submit` with zero ack latency
  (and a fill latency, so only the acknowledgement happens in the call): the order is
  validated, buying power checked, reserved and ACCEPTED, the event delivered.
  Baseline: one bus channel hop (send + receive) of the same intent.
* ``submit_fill_throughput``: orders/s with zero ack *and* fill latency: acknowledge,
  price with slippage, commission, book the fill, three events out.
  Baseline: raw channel hops of three events per order.
* ``books_fill_throughput``: :meth:`Books.apply_fill` per second (alternating buys and
  sells, so every other fill closes a trade). Baseline: the same average-cost update in
  plain floats (inexact) — the price of exactness.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from decimal import Decimal

import anyio

from actors.broker import PaperBroker
from actors.common import Books
from config.sections.broker import BrokerSettings, PaperBrokerSettings
from daemon.bus import Channel
from daemon.clock import SimClock
from daemon.messages import Fill, OrderIntent, Side, Tick
from tests.bench._common import Result, latency_result, percentile, throughput_result

N = 20_000


def _intents(n: int) -> list[OrderIntent]:
    return [
        OrderIntent(
            client_order_id=f"o{i}",
            correlation_id=f"c{i}",
            symbol="AAPL",
            side=Side.BUY if i % 2 else Side.SELL,
            qty=Decimal(10),
            ts=0,
        )
        for i in range(n)
    ]


async def _broker(fill_latency_ms: float) -> tuple[PaperBroker, SimClock]:
    clock = SimClock()
    cfg = PaperBrokerSettings(
        ack_latency_ms=0.0, fill_latency_ms=fill_latency_ms, max_participation_pct=100.0
    )
    broker = PaperBroker(BrokerSettings(initial_cash=1e12, paper=cfg), clock)
    await broker.connect()
    await broker.on_market(Tick(symbol="AAPL", price=100.0, ts=clock.now_ns()))
    return broker, clock


def _drain(broker: PaperBroker) -> None:
    with contextlib.suppress(anyio.WouldBlock):
        broker.next_events_nowait(1 << 20)


async def _accept_latency() -> list[float]:
    broker, _ = await _broker(fill_latency_ms=1.0)
    samples: list[float] = []
    for i, intent in enumerate(_intents(N)):
        t0 = time.perf_counter_ns()
        await broker.submit(intent)
        samples.append((time.perf_counter_ns() - t0) / 1000)
        if i % 256 == 0:
            _drain(broker)
    return samples


async def _hop_latency() -> list[float]:
    ch: Channel[OrderIntent] = Channel("bench", 1024)
    samples: list[float] = []
    for intent in _intents(N):
        t0 = time.perf_counter_ns()
        await ch.send(intent)
        ch.receive_nowait()
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


async def _fill_throughput() -> float:
    broker, _ = await _broker(fill_latency_ms=0.0)
    intents = _intents(N)
    t0 = time.perf_counter()
    for i, intent in enumerate(intents):
        await broker.submit(intent)
        if i % 256 == 0:
            _drain(broker)
    return N / (time.perf_counter() - t0)


async def _hop_throughput() -> float:
    ch: Channel[OrderIntent] = Channel("bench", 1 << 16)
    intents = _intents(N)
    t0 = time.perf_counter()
    for i, intent in enumerate(intents):
        for _ in range(3):
            await ch.send(intent)
        if i % 256 == 0:
            while ch.depth():
                ch.receive_nowait()
    return N / (time.perf_counter() - t0)


def _fills(n: int) -> list[Fill]:
    return [
        Fill(
            fill_id=f"f{i}",
            client_order_id=f"o{i}",
            symbol="AAPL",
            side=Side.BUY if i % 2 else Side.SELL,
            qty=Decimal(10),
            price=Decimal("100.01") + Decimal(i % 7),
            commission=Decimal("1.00"),
            ts=i,
        )
        for i in range(n)
    ]


def _books_throughput() -> float:
    books = Books(Decimal(10**9))
    fills = _fills(N)
    t0 = time.perf_counter()
    for f in fills:
        books.apply_fill(f)
    return N / (time.perf_counter() - t0)


def _float_books_throughput() -> float:
    fills = [(f.side.sign * float(f.qty), float(f.price), float(f.commission)) for f in _fills(N)]
    qty = cost = cash = realized = 0.0
    t0 = time.perf_counter()
    for signed, px, fee in fills:
        cash -= signed * px + fee
        if qty == 0 or (qty > 0) == (signed > 0):
            qty += signed
            cost += signed * px
        else:
            close = min(abs(signed), abs(qty))
            removed = cost * close / abs(qty)
            realized += (1 if qty > 0 else -1) * close * px - removed
            cost -= removed
            qty += signed
    return N / (time.perf_counter() - t0)


async def _main() -> list[Result]:
    await _accept_latency()  # warm up
    ours = await _accept_latency()
    hop = await _hop_latency()
    fill_tp = max([await _fill_throughput() for _ in range(3)])
    hop_tp = max([await _hop_throughput() for _ in range(3)])
    books_tp = max(_books_throughput() for _ in range(3))
    float_tp = max(_float_books_throughput() for _ in range(3))
    return [
        latency_result(
            "broker",
            "submit_to_accept_p50",
            round(percentile(ours, 0.5), 2),
            "us",
            "bus channel hop of the intent, p50",
            round(percentile(hop, 0.5), 2),
        ),
        latency_result(
            "broker",
            "submit_to_accept_p99",
            round(percentile(ours, 0.99), 2),
            "us",
            "bus channel hop of the intent, p99",
            round(percentile(hop, 0.99), 2),
        ),
        throughput_result(
            "broker",
            "submit_fill_throughput",
            round(fill_tp),
            "orders/s",
            "three bus channel hops per order",
            round(hop_tp),
        ),
        throughput_result(
            "broker",
            "books_fill_throughput",
            round(books_tp),
            "fills/s",
            "the same average-cost update in floats (inexact)",
            round(float_tp),
        ),
    ]


def run() -> Iterator[Result]:
    """Run the broker benchmark on uvloop and yield its results."""
    yield from anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
