"""BENCH=reconcile: one full reconciliation against the paper broker, by book size.

For N in 10, 1,000 and 10,000: N positions and N working orders (one resting limit order
per symbol), the same in our books and at the broker, so the run finds nothing and
measures the whole comparison: the orchestrator's snapshot through its books service,
the broker's positions and open orders through the query service, the plan, the report.

* ``run_<N>``: wall time of one run (best of a few), through the reconciler service.
  Baseline: fetching the broker's positions and open orders through the query service,
  the least any reconciliation must do, measured in the same run.
* ``compare_<N>``: the comparison alone (:func:`actors.reconciler.plan` over the same
  snapshots, best of a few) — the one stretch of a run that is the reconciler's own
  synchronous work on the event loop. Baseline: one dict lookup per order and per
  position over the same snapshots, the floor of any O(n) comparison.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio

from actors import broker, orchestrator, reconciler
from actors.broker import BrokerClient, PaperBroker
from actors.orchestrator.books_api import BooksClient, SetPosition, TrackOrder
from actors.reconciler import BrokerView, ReconcilerClient, plan
from config import Settings
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import (
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
    Tick,
    TimeInForce,
)
from tests.bench._common import Result, best_of, latency_result
from tests.pipeline_support import start_actors, with_settings

SIZES = (10, 1_000, 10_000)
REPEATS = 3


def _settings() -> Settings:
    return with_settings(
        Settings(),
        broker={
            "initial_cash": 1e12,
            "paper": {"ack_latency_ms": 0.0, "fill_latency_ms": 0.0},
        },
        reconciler={"interval_s": 0.0, "confirm_delay_s": 0.0},
    )


async def _populate(bus: Bus, paper: PaperBroker, clock: SimClock, n: int) -> None:
    """N positions and N resting orders at the broker, mirrored into our books."""
    items: list[Any] = []
    for i in range(n):
        sym = f"S{i:05d}"
        await paper.on_market(Tick(symbol=sym, price=100.0, size=1e9, ts=clock.now_ns()))
        paper.backdoor.add_position(sym, Decimal(10), Decimal(100))
        intent = OrderIntent(
            client_order_id=f"o{i}",
            correlation_id=f"c{i}",
            symbol=sym,
            side=Side.BUY,
            qty=Decimal(5),
            order_type=OrderType.LIMIT,
            limit_price=Decimal(50),
            tif=TimeInForce.GTC,
            purpose=OrderPurpose.ENTRY,
            ts=clock.now_ns(),
        )
        order = await paper.submit(intent)
        items.append(
            SetPosition(
                symbol=sym,
                expected_qty=Decimal(0),
                qty=Decimal(10),
                avg_price=Decimal(100),
                cause="bench",
            )
        )
        items.append(
            TrackOrder(
                intent=intent,
                status=OrderStatus.ACCEPTED,
                acked=True,
                broker_order_id=order.broker_order_id,
            )
        )
    results = await BooksClient(bus).apply("bench", tuple(items))
    assert all(r.applied for r in results)


async def _one(n: int) -> tuple[float, float, float, float]:
    """(run, its baseline, compare, its baseline) in seconds for a book of ``n``."""
    settings = _settings()
    clock = SimClock()
    bus = Bus()
    paper = PaperBroker(settings.broker, clock)
    resources: dict[type[Any], Any] = {PaperBroker: paper}
    defs = [orchestrator.DEFINITION, broker.DEFINITION, reconciler.DEFINITION]
    async with anyio.create_task_group() as tg:
        await start_actors(tg, defs, settings, clock, bus, resources)
        await _populate(bus, paper, clock, n)
        client = ReconcilerClient(bus)
        queries = BrokerClient(bus)
        run_s = base_s = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            report = await client.run("bench")
            run_s = min(run_s, time.perf_counter() - t0)
            assert report.discrepancies == (), report.discrepancies[:3]
            assert report.positions_checked == n
            assert report.orders_checked == n
            t0 = time.perf_counter()
            positions = await queries.positions()
            orders = await queries.open_orders()
            base_s = min(base_s, time.perf_counter() - t0)
            assert len(positions) == len(orders) == n
        local = await BooksClient(bus).local_state()
        view = BrokerView(
            positions={p.symbol: p for p in positions if p.qty},
            open_orders={o.client_order_id: o for o in orders},
        )
        cfg, at = settings.reconciler, clock.now_ns()

        def compare() -> float:
            t0 = time.perf_counter()
            found = plan(local, view, cfg, at)
            took = time.perf_counter() - t0
            assert found.findings == []
            assert found.positions_checked == n
            return took

        def lookups() -> float:
            t0 = time.perf_counter()
            open_orders, held = view.open_orders, view.positions
            for o in local.orders:
                open_orders.get(o.client_order_id)
            for p in local.positions:
                held.get(p.symbol)
            return time.perf_counter() - t0

        compare_s = best_of(10, compare)
        floor_s = best_of(10, lookups)
        tg.cancel_scope.cancel()
    return run_s, base_s, compare_s, floor_s


async def _main() -> list[Result]:
    out: list[Result] = []
    for n in SIZES:
        run_s, base_s, compare_s, floor_s = await _one(n)
        out.append(
            latency_result(
                "reconcile",
                f"run_{n}",
                round(run_s * 1000, 3),
                "ms",
                "broker positions + open orders through the query service",
                round(base_s * 1000, 3),
                positions=n,
                orders=n,
            )
        )
        out.append(
            latency_result(
                "reconcile",
                f"compare_{n}",
                round(compare_s * 1000, 3),
                "ms",
                "one dict lookup per order and per position over the same snapshots",
                round(floor_s * 1000, 3),
                positions=n,
                orders=n,
            )
        )
    return out


def run() -> Iterator[Result]:
    """Run the reconcile benchmark on uvloop and yield its results."""
    yield from anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
