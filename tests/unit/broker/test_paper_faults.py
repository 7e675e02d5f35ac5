"""Seeded determinism, the fault mode, and the backdoor the reconciler tests use."""

from __future__ import annotations

import anyio
import pytest

from actors.broker import PaperBroker, PaperReason
from config.sections.broker import PaperFaultSettings
from daemon.clock import SimClock
from daemon.messages import OrderStatus, OrderType, Side
from daemon.messages.codec import encode_msgpack
from tests.unit.broker._helpers import (
    MS,
    T0,
    D,
    drain,
    fills,
    intent,
    paper,
    running,
    statuses,
    tick,
    updates,
)

S = OrderStatus


async def _session(seed: int, faults: PaperFaultSettings | None) -> bytes:
    """A scripted trading session; returns every event it produced, encoded."""
    clock = SimClock(start_ns=T0)
    broker = paper(
        clock,
        seed=seed,
        faults=faults,
        cash=1_000_000.0,
        ack_latency_ms=3.0,
        fill_latency_ms=7.0,
        slippage_bps=2.0,
        slippage_noise_bps=5.0,
        commission_per_share=0.005,
        commission_min=1.0,
        max_participation_pct=20.0,
    )
    out = bytearray()
    async with running(broker):
        price = 100.0
        for step in range(40):
            price += ((step * 7) % 5 - 2) * 0.13
            await broker.on_market(tick(round(price, 2), size=500.0 + step * 10))
            side = Side.BUY if step % 3 else Side.SELL
            kind = OrderType.LIMIT if step % 4 == 0 else OrderType.MARKET
            limit = f"{price - 0.1:.2f}" if kind is OrderType.LIMIT else None
            await broker.submit(
                intent(f"o{step}", side, str(50 + step * 5), order_type=kind, limit=limit)
            )
            if step % 5 == 4:
                await broker.cancel(f"o{step - 1}")
            # Jump, then settle: every timer acts at its own due time regardless.
            clock.advance_to(clock.now_ns() + 4 * MS)
            await broker.poll()
        clock.advance_to(clock.now_ns() + 50 * MS)
        await broker.poll()
        for event in drain(broker):
            out += encode_msgpack(event)
    out += encode_msgpack(await broker.account())
    return bytes(out)


FAULTS = PaperFaultSettings(
    enabled=True,
    reject_rate=0.1,
    timeout_rate=0.1,
    lost_rate=0.1,
    partial_rate=0.2,
    duplicate_rate=0.1,
)


@pytest.mark.parametrize("faults", [None, FAULTS], ids=["clean", "faults"])
async def test_same_seed_same_events_byte_for_byte(faults: PaperFaultSettings | None) -> None:
    first = await _session(11, faults)
    second = await _session(11, faults)
    assert len(first) > 10_000
    assert first == second


@pytest.mark.parametrize("faults", [None, FAULTS], ids=["clean", "faults"])
async def test_another_seed_other_noise(faults: PaperFaultSettings | None) -> None:
    assert await _session(11, faults) != await _session(12, faults)


def _faulty(clock: SimClock, **rates: float) -> PaperBroker:
    return paper(clock, faults=PaperFaultSettings(enabled=True, **rates), ack_latency_ms=1.0)


async def test_fault_reject() -> None:
    clock = SimClock(start_ns=T0)
    broker = _faulty(clock, reject_rate=1.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o"))
        await clock.run_until(T0 + MS)
        (update,) = updates(drain(broker))
    assert (update.status, update.reason) == (S.REJECTED, PaperReason.FAULT_REJECT)


async def test_fault_timeout_withholds_the_ack_but_the_order_works() -> None:
    clock = SimClock(start_ns=T0)
    broker = _faulty(clock, timeout_rate=1.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o", order_type=OrderType.LIMIT, limit="95"))
        await clock.run_until(T0 + 10 * MS)
        assert drain(broker) == []  # silence: the orchestrator will ask
        asked = await broker.get_order("o")
        assert asked is not None
        assert asked.status is S.ACCEPTED
        await broker.on_market(tick(94.0))
        events = drain(broker)
    assert statuses(events) == [S.FILLED]


async def test_fault_lost_order_is_unknown_to_the_venue() -> None:
    clock = SimClock(start_ns=T0)
    broker = _faulty(clock, lost_rate=1.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        sent = await broker.submit(intent("o"))
        await clock.run_until(T0 + 10 * MS)
        assert drain(broker) == []
        assert sent.status is S.SUBMITTED
        assert await broker.get_order("o") is None
        assert broker.books.open_positions == 0


async def test_fault_partial_fills_part_then_cancels() -> None:
    clock = SimClock(start_ns=T0)
    broker = _faulty(clock, partial_rate=1.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o", qty="1000"))
        await clock.run_until(T0 + MS)
        events = drain(broker)
    final = updates(events)[-1]
    assert final.status is S.CANCELLED
    assert final.reason == PaperReason.FAULT_PARTIAL
    assert 0 <= final.filled_qty < D(1000)
    assert sum(f.qty for f in fills(events)) == final.filled_qty


async def test_fault_duplicate_events() -> None:
    clock = SimClock(start_ns=T0)
    broker = _faulty(clock, duplicate_rate=1.0)
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o"))
        await clock.run_until(T0 + MS)
        events = drain(broker)
    assert [type(e).__name__ for e in events] == [
        "OrderUpdate",
        "OrderUpdate",
        "Fill",
        "Fill",
        "OrderUpdate",
        "OrderUpdate",
    ]
    assert events[2] == events[3]
    assert broker.books.qty("AAPL") == D(100)  # the account itself is not doubled


async def test_faults_off_unless_enabled() -> None:
    clock = SimClock(start_ns=T0)
    broker = paper(clock, faults=PaperFaultSettings(enabled=False, reject_rate=1.0))
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.submit(intent("o"))
        assert statuses(drain(broker)) == [S.ACCEPTED, S.FILLED]


async def test_backdoor_changes_the_account_without_events() -> None:
    clock = SimClock(start_ns=T0)
    broker = paper(clock)
    door = broker.backdoor
    async with running(broker):
        await broker.on_market(tick(100.0))
        await broker.on_market(tick(50.0, symbol="MSFT"))
        await broker.submit(intent("o"))
        drain(broker)
        door.close_position("AAPL")
        door.add_position("ORPH", D(-7), D(20))
        door.set_quantity("MSFT", D(12))
        door.set_quantity("MSFT", D(5))
        await broker.submit(intent("w", order_type=OrderType.LIMIT, limit="90"))
        await broker.submit(intent("x", order_type=OrderType.LIMIT, limit="90"))
        drain(broker)
        filled = door.fill_order("w", qty=D(40), price=D(89))
        cancelled = door.cancel_order("x")
        with pytest.raises(KeyError):
            door.cancel_order("x")
        door.close_position("NOPE")  # nothing held: nothing to do
        with pytest.raises(KeyError, match="no price"):
            door.set_quantity("NOPE", D(1))
        positions = {p.symbol: p.qty for p in await broker.positions()}
        assert drain(broker) == []
        assert [o.client_order_id for o in await broker.open_orders()] == ["w"]
    assert positions == {"AAPL": D(40), "MSFT": D(5), "ORPH": D(-7)}
    assert filled.status is S.PARTIALLY_FILLED
    assert filled.filled_qty == D(40)
    assert cancelled.status is S.CANCELLED


async def test_event_backpressure_keeps_order() -> None:
    clock = SimClock(start_ns=T0)
    broker = paper(clock, event_capacity=1)
    seen: list[str] = []
    async with running(broker):
        await broker.on_market(tick(100.0))
        async with anyio.create_task_group() as tg:

            async def consume() -> None:
                while len(seen) < 6:
                    for e in await broker.next_events():
                        seen.append(f"{e.client_order_id}:{type(e).__name__}")

            tg.start_soon(consume)
            await broker.submit(intent("a"))
            await broker.submit(intent("b"))
    assert seen == [
        "a:OrderUpdate",
        "a:Fill",
        "a:OrderUpdate",
        "b:OrderUpdate",
        "b:Fill",
        "b:OrderUpdate",
    ]
