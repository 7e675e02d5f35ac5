"""Each discrepancy the issue names, made behind the daemon's back with the paper broker's
backdoor, detected and handled as configured — real actors, real bus, simulated clock."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from actors.reconciler import Kind
from daemon.clock import NS_PER_S
from daemon.messages import (
    Discrepancy,
    ExecutionRecord,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    ReconciliationReport,
    Side,
    TimeInForce,
    TradeClosed,
)
from tests.integration.reconciler._support import (
    QTY,
    System,
    last_close,
    recon_settings,
    running,
)
from tests.pipeline_support import have_data

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")


def only(report: ReconciliationReport, kind: Kind) -> Discrepancy:
    found = [d for d in report.discrepancies if d.kind == kind]
    assert len(found) == 1, report.discrepancies
    return found[0]


async def test_startup_run_comes_before_any_signal(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            (first,) = sys.events.of(ReconciliationReport)
            assert first.trigger == "startup"
            assert first.discrepancies == ()
            assert not first.kill_engaged
            await sys.open_long("AAPL", "s1")
    # The guard's first verdict came after the start-up report.
    kinds = [type(x).__name__ for x in sys.events.items]
    assert kinds.index("ReconciliationReport") < kinds.index("SignalVerdict")


async def test_position_closed_behind_our_back_is_closed_locally(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            await sys.open_long("AAPL", "s1")
            px = 190.5
            await sys.tick("AAPL", px)
            sys.paper.backdoor.close_position("AAPL")
            report = await sys.reconcile()
            assert sys.held("AAPL") == 0
            await sys.events.wait_kind(
                PositionUpdate, where=lambda u: u.position.symbol == "AAPL" and u.position.qty == 0
            )
            with anyio.fail_after(5):
                while sys.lifecycle.book.row("AAPL") is not None:
                    await anyio.lowlevel.checkpoint()
    d = only(report, Kind.GHOST_POSITION)
    assert d.symbol == "AAPL"
    assert d.before.startswith(f"{QTY} @ ")
    assert d.after == "flat at the broker"
    assert d.action == f"closed_locally: at {Decimal(repr(px))} (last price)"
    (trade,) = [t for t in sys.events.of(TradeClosed) if t.exit_reason == "reconcile_ghost"]
    assert trade.exit_price == Decimal(repr(px))
    assert trade.qty == QTY


async def test_orphan_is_adopted_and_protected(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            px = last_close("GOOG")
            await sys.tick("GOOG", px)
            sys.paper.backdoor.add_position("GOOG", Decimal(7), Decimal("500.25"))
            report = await sys.reconcile()
            assert sys.held("GOOG") == Decimal(7)
            with anyio.fail_after(5):
                while sys.lifecycle.book.row("GOOG") is None:
                    await anyio.lowlevel.checkpoint()
    d = only(report, Kind.ORPHAN_POSITION)
    assert (d.before, d.after) == ("flat", "7 @ 500.25")
    assert d.action == "adopted: default exits"
    (upd,) = [u for u in sys.events.of(PositionUpdate) if u.position.symbol == "GOOG"]
    assert upd.cause == "reconcile:adopt"
    assert upd.position.stop_price is None  # the lifecycle applies its default exits


async def test_orphan_only_reported_when_configured(tmp_path: Path) -> None:
    settings = recon_settings(tmp_path, reconciler={"orphan_positions": "report"})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            await sys.tick("GOOG", last_close("GOOG"))
            sys.paper.backdoor.add_position("GOOG", Decimal(7), Decimal("500.25"))
            report = await sys.reconcile()
            again = await sys.reconcile()
            assert sys.held("GOOG") == 0
    assert only(report, Kind.ORPHAN_POSITION).action.startswith("reported")
    assert only(again, Kind.ORPHAN_POSITION).action.startswith("reported")
    assert not [u for u in sys.events.of(PositionUpdate) if u.position.symbol == "GOOG"]


@pytest.mark.parametrize(
    ("new_qty", "kind"),
    [(Decimal(25), Kind.QUANTITY_MISMATCH), (Decimal(-10), Kind.SIDE_MISMATCH)],
)
async def test_quantity_change_sets_books_to_the_broker(
    tmp_path: Path, new_qty: Decimal, kind: Kind
) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            await sys.open_long("AAPL", "s1")
            sys.paper.backdoor.set_quantity("AAPL", new_qty)
            report = await sys.reconcile()
            assert sys.held("AAPL") == new_qty
            broker_pos = sys.paper.books.position("AAPL")
            assert broker_pos is not None
            ours = sys.orchestrator.execution.books.position("AAPL")
            assert ours is not None
            assert ours.avg_price == broker_pos.avg_price
            clean = await sys.reconcile()
    d = only(report, kind)
    assert d.before.startswith(f"{QTY} @ ")
    assert d.after == f"{new_qty} @ {broker_pos.avg_price.normalize():f}"
    assert d.action == "set_to_broker"
    assert d.notional > 0
    assert clean.discrepancies == ()


async def resting_buy(sys: System, symbol: str, sid: str) -> OrderIntent:
    """A limit buy 10% under the market (it rests), acknowledged by the broker."""
    px = last_close(symbol)
    await sys.tick(symbol, px)
    await sys.signal(symbol, sid, round(px * 0.9, 2), stop_price=round(px * 0.85, 2))
    (intent,) = await sys.events.wait_kind(OrderIntent, where=lambda i: i.symbol == symbol)
    await sys.events.wait_kind(
        OrderUpdate,
        where=lambda u: (
            u.client_order_id == intent.client_order_id and u.status is OrderStatus.ACCEPTED
        ),
    )
    return intent


LIMIT = {"orchestrator": {"initial_regime": "bull", "entry_order_type": "limit"}}


async def test_fill_we_never_heard_of_is_booked_on_its_order(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path, **LIMIT)) as sys:
            intent = await resting_buy(sys, "AAPL", "s1")
            assert intent.limit_price is not None
            sys.paper.backdoor.fill_order(intent.client_order_id, price=intent.limit_price)
            report = await sys.reconcile()
            assert sys.held("AAPL") == QTY
            assert sys.orchestrator.execution.orders.get(intent.client_order_id) is None
            clean = await sys.reconcile()
    d = only(report, Kind.MISSED_FILL)
    assert d.client_order_id == intent.client_order_id
    assert (d.before, d.action) == ("filled 0", f"booked_fill: {QTY} @ {intent.limit_price}")
    assert only(report, Kind.ORDER_STATUS).after == "filled"
    # No position discrepancy: the missed fill explains the whole difference.
    assert len(report.discrepancies) == 2
    assert clean.discrepancies == ()
    (rec,) = [
        r for r in sys.events.of(ExecutionRecord) if r.client_order_id == intent.client_order_id
    ]
    assert (rec.status, rec.filled_qty, rec.avg_fill_price) == (
        OrderStatus.FILLED,
        QTY,
        intent.limit_price,
    )
    assert "fill_reconciled" in rec.problems


async def test_order_cancelled_behind_our_back_is_finished(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path, **LIMIT)) as sys:
            intent = await resting_buy(sys, "AAPL", "s1")
            sys.paper.backdoor.cancel_order(intent.client_order_id)
            report = await sys.reconcile()
            assert sys.orchestrator.execution.orders.get(intent.client_order_id) is None
    d = only(report, Kind.ORDER_STATUS)
    assert (d.before, d.after) == ("accepted", "cancelled")


async def test_order_stuck_unknown_that_never_reached_the_broker_is_marked_failed(
    tmp_path: Path,
) -> None:
    faults = {"paper": {"faults": {"enabled": True, "lost_rate": 1.0}}}
    settings = recon_settings(tmp_path, broker=faults, reconciler={"unknown_after_s": 10.0})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            await sys.tick("AAPL", last_close("AAPL"))
            await sys.signal("AAPL", "s1", last_close("AAPL"))
            (intent,) = await sys.events.wait_kind(OrderIntent)
            coid = intent.client_order_id
            await sys.events.wait_kind(
                OrderUpdate,
                where=lambda u: u.client_order_id == coid and u.status is OrderStatus.UNKNOWN,
            )
            report = await sys.reconcile()
            assert sys.orchestrator.execution.orders.get(coid) is None
            assert await sys.paper.get_order(coid) is None
            await sys.clock.run_until(sys.clock.now_ns() + 60 * NS_PER_S)
    d = only(report, Kind.INTENT_NEVER_SENT)
    assert d.client_order_id == coid
    assert d.action == "marked_failed: not re-sent"
    (rec,) = [r for r in sys.events.of(ExecutionRecord) if r.client_order_id == coid]
    assert rec.status is OrderStatus.REJECTED
    assert "never_sent" in rec.problems
    # Never re-sent: one intent for the signal, and nothing at the broker.
    assert len(sys.events.of(OrderIntent)) == 1


async def test_young_unacknowledged_order_is_left_alone(tmp_path: Path) -> None:
    faults = {"paper": {"faults": {"enabled": True, "lost_rate": 1.0}}}
    settings = recon_settings(
        tmp_path,
        broker=faults,
        reconciler={"unknown_after_s": 3600.0},
        orchestrator={"initial_regime": "bull", "fills": {"ack_timeout_s": 3600.0}},
    )
    with anyio.fail_after(30):
        async with running(settings) as sys:
            await sys.tick("AAPL", last_close("AAPL"))
            await sys.signal("AAPL", "s1", last_close("AAPL"))
            (intent,) = await sys.events.wait_kind(OrderIntent)
            report = await sys.reconcile()
            assert sys.orchestrator.execution.orders.get(intent.client_order_id) is not None
    assert report.discrepancies == ()


@pytest.mark.parametrize("mode", ["cancel", "adopt", "report"])
async def test_unknown_open_order_at_the_broker(tmp_path: Path, mode: str) -> None:
    settings = recon_settings(tmp_path, reconciler={"unknown_orders": mode})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            px = last_close("SPY")
            await sys.tick("SPY", px)
            stranger = OrderIntent(
                client_order_id="by-hand-1",
                correlation_id="",
                symbol="SPY",
                side=Side.BUY,
                qty=Decimal(5),
                order_type=OrderType.LIMIT,
                limit_price=Decimal(str(round(px * 0.8, 2))),
                tif=TimeInForce.GTC,
                ts=sys.clock.now_ns(),
            )
            await sys.paper.submit(stranger)
            # Acknowledged after the paper broker's ack latency: then it is open there.
            await sys.clock.run_until(sys.clock.now_ns() + NS_PER_S // 10)
            assert [o.client_order_id for o in await sys.paper.open_orders()] == ["by-hand-1"]
            report = await sys.reconcile()
            await sys.clock.run_until(sys.clock.now_ns() + NS_PER_S)
            at_broker = await sys.paper.get_order("by-hand-1")
            tracked = sys.orchestrator.execution.orders.get("by-hand-1")
    d = only(report, Kind.UNKNOWN_ORDER)
    assert d.before == "not ours"
    assert at_broker is not None
    if mode == "cancel":
        assert d.action == "cancel_requested"
        assert at_broker.status is OrderStatus.CANCELLED
        assert tracked is None
    elif mode == "adopt":
        assert d.action == "adopted_order"
        assert at_broker.status is OrderStatus.ACCEPTED
        assert tracked is not None
        assert tracked.purpose is OrderPurpose.ADOPT
    else:
        assert d.action == "reported"
        assert at_broker.status is OrderStatus.ACCEPTED
        assert tracked is None


async def test_mismatches_beyond_the_threshold_engage_the_kill_switch(tmp_path: Path) -> None:
    settings = recon_settings(tmp_path, reconciler={"kill_max_discrepancies": 1})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            for sym in ("GOOG", "SPY"):
                await sys.tick(sym, last_close(sym))
                sys.paper.backdoor.add_position(sym, Decimal(3), Decimal(100))
            assert not sys.store.snapshot().killed
            report = await sys.reconcile()
            assert sys.store.snapshot().killed
    assert report.kill_engaged
    assert len(report.discrepancies) == 2
    assert sys.store.snapshot().kill_trigger == "reconciliation"


async def test_notional_threshold_engages_the_kill_switch(tmp_path: Path) -> None:
    settings = recon_settings(
        tmp_path, reconciler={"kill_max_discrepancies": 0, "kill_max_notional": 1000.0}
    )
    with anyio.fail_after(30):
        async with running(settings) as sys:
            await sys.tick("GOOG", 500.0)
            sys.paper.backdoor.add_position("GOOG", Decimal(1), Decimal(500))
            small = await sys.reconcile()
            assert not sys.store.snapshot().killed
            sys.paper.backdoor.add_position("GOOG", Decimal(10), Decimal(500))
            big = await sys.reconcile()
            assert sys.store.snapshot().killed
    assert not small.kill_engaged
    assert big.kill_engaged
    assert only(big, Kind.QUANTITY_MISMATCH).notional == 5000.0
