"""End to end on the simulated clock: signal in → guard → orchestrator → risk gate →
paper broker → fills → books, through the real actors on a real bus."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors.orchestrator import correlation_id, entry_order_id
from daemon import names
from daemon.clock import SimClock
from daemon.messages import (
    AccountSnapshot,
    Alert,
    CancelAllOrders,
    ExecutionRecord,
    ExitIntent,
    ExitReason,
    Fill,
    FusionRecord,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    Side,
    Signal,
    SignalRecord,
    SignalVerdict,
    TradeClosed,
)
from tests.integration.pipeline._harness import last_close, pipeline_settings, running_pipeline
from tests.pipeline_support import have_data, signal

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

PX = last_close("AAPL") if have_data() else 100.0


def aapl(clock: SimClock, sid: str, **kw: Any) -> Signal:
    """A buy of AAPL at the last real close, stop 5% below, target 10% above."""
    base: dict[str, Any] = {
        "entry_price": PX,
        "stop_price": round(PX * 0.95, 2),
        "target_price": round(PX * 1.1, 2),
    }
    base.update(kw)
    return signal(clock, sid, **base)


async def test_market_order_signal_to_position() -> None:
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            await p.tick("AAPL", PX)
            sig = aapl(p.clock, "m1")
            await p.send(sig)
            (rec,) = await p.events.wait_kind(ExecutionRecord)
            await p.events.wait_kind(AccountSnapshot)
    cid = correlation_id("alpha", "m1")
    coid = entry_order_id("paper", "alpha", "m1")
    assert rec.status is OrderStatus.FILLED
    assert rec.problems == ()
    assert rec.filled_qty == Decimal(40)
    assert rec.correlation_id == cid
    assert rec.client_order_id == coid
    items = p.events.items
    chain = [
        x
        for x in items
        if isinstance(x, SignalRecord | FusionRecord | RiskDecision | OrderIntent | ExecutionRecord)
    ]
    assert [type(x) for x in chain] == [
        SignalRecord,
        FusionRecord,
        RiskDecision,
        OrderIntent,
        ExecutionRecord,
    ]
    assert {x.correlation_id for x in chain} == {cid}
    decision = p.events.of(RiskDecision)[0]
    assert decision.approved
    assert len(decision.checks) == 14
    intent_at = items.index(p.events.of(OrderIntent)[0])
    fills = p.events.of(Fill)
    assert fills
    assert all(items.index(f) > intent_at for f in fills)
    assert all(f.correlation_id == cid for f in fills)
    pos = p.events.of(PositionUpdate)[-1].position
    assert pos.qty == Decimal(40)
    assert pos.stop_price == round(PX * 0.95, 2)
    assert pos.target_price == round(PX * 1.1, 2)
    assert p.orchestrator.execution.books.qty("AAPL") == Decimal(40)
    updates = [u.status for u in p.events.of(OrderUpdate)]
    assert updates[0] is OrderStatus.ACCEPTED
    assert updates[-1] is OrderStatus.FILLED
    verdicts = p.events.of(SignalVerdict)
    assert [(v.stage, v.accepted) for v in verdicts] == [("guard", True)]
    # The risk gate released the reservation when the order finished.
    assert p.risk_gate.portfolio.reservations == {}
    assert p.risk_gate.portfolio.holdings["AAPL"].qty == 40.0


async def test_limit_order_rests_then_fills_when_the_market_comes_down() -> None:
    settings = pipeline_settings(orchestrator={"entry_order_type": "limit"})
    limit_px = round(PX - 2.0, 2)
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "l1", entry_price=limit_px, stop_price=round(PX * 0.9, 2)))
            await p.events.wait_kind(OrderUpdate, where=lambda u: u.status is OrderStatus.ACCEPTED)
            assert not p.events.of(Fill)
            await p.tick("AAPL", limit_px - 0.5)
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    intent = p.events.of(OrderIntent)[0]
    assert intent.order_type is OrderType.LIMIT
    assert intent.limit_price == Decimal(str(limit_px))
    assert rec.status is OrderStatus.FILLED
    assert all(f.price <= Decimal(str(limit_px)) for f in p.events.of(Fill))


async def test_partial_fills_then_cancel_rest_after_the_stall() -> None:
    settings = pipeline_settings(
        orchestrator={"fills": {"partial": "cancel_rest", "partial_timeout_s": 5.0}}
    )
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            # 10% participation of 100 shares: 10 per print.
            await p.tick("AAPL", PX, size=100.0)
            await p.send(aapl(p.clock, "p1"))
            await p.events.wait_kind(Fill)
            await p.tick("AAPL", PX, size=100.0)
            await p.events.wait_kind(Fill, 2)
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    assert rec.status is OrderStatus.CANCELLED
    assert rec.filled_qty == Decimal(20)
    assert rec.problems == ("partial_fill",)
    assert p.orchestrator.execution.books.qty("AAPL") == Decimal(20)
    partials = [u for u in p.events.of(OrderUpdate) if u.status is OrderStatus.PARTIALLY_FILLED]
    assert partials
    assert p.orchestrator.execution.heat_working == pytest.approx(0.0)


async def test_partial_fills_keep_working_by_default() -> None:
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            await p.tick("AAPL", PX, size=100.0)
            await p.send(aapl(p.clock, "p2"))
            await p.events.wait_kind(Fill)
            await p.clock.run_until(p.clock.now_ns() + 60 * 1_000_000_000)
            assert not p.events.of(ExecutionRecord)
            for _ in range(3):
                await p.tick("AAPL", PX, size=100.0)
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    assert rec.status is OrderStatus.FILLED
    assert rec.filled_qty == Decimal(40)
    assert len(p.events.of(Fill)) == 4


async def test_broker_rejection_is_recorded() -> None:
    settings = pipeline_settings(
        broker={"paper": {"faults": {"enabled": True, "reject_rate": 1.0}}}
    )
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "r1"))
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    assert rec.status is OrderStatus.REJECTED
    assert rec.problems == ("rejected",)
    assert rec.filled_qty == 0
    assert p.orchestrator.execution.books.qty("AAPL") == 0
    assert p.risk_gate.portfolio.reservations == {}


async def test_risk_denial_sends_no_order() -> None:
    settings = pipeline_settings(
        orchestrator={"initial_regime": "crisis", "regimes": {"crisis": {"min_conviction": 0.0}}}
    )
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "d1"))
            (v,) = await p.events.wait_kind(SignalVerdict, where=lambda v: not v.accepted)
    assert (v.stage, v.reason, v.detail) == ("risk", "risk_denied", "regime")
    assert not p.events.of(OrderIntent)
    assert p.bus.channel(names.BROKER_COMMANDS).stats.sent == 0


async def test_killed_refuses_entries_at_the_state_gate() -> None:
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            p.safety.killed = True
            p.safety.kill_reason = "operator"
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "k1"))
            (v,) = await p.events.wait_kind(SignalVerdict, where=lambda v: not v.accepted)
    assert (v.stage, v.reason) == ("state", "killed")
    assert not p.events.of(OrderIntent)


async def test_kill_during_the_pipeline_is_caught_at_the_last_point() -> None:
    from tests.pipeline_support import MemorySafety

    class KilledMidway(MemorySafety):
        # The snapshot (stage 1) still says running; the last-point check says killed,
        # as if the kill switch engaged while the risk gate was deciding.
        def may_submit(self, purpose):  # type: ignore[no-untyped-def]
            self.checks += 1
            return "kill switch engaged: test" if purpose.opens_risk else None

    with anyio.fail_after(20):
        async with running_pipeline(safety=KilledMidway()) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "k2"))
            (rec,) = await p.events.wait_kind(ExecutionRecord)
            (v,) = await p.events.wait_kind(SignalVerdict, where=lambda v: not v.accepted)
    assert rec.status is OrderStatus.REJECTED
    assert rec.problems == ("blocked",)
    assert (v.stage, v.reason) == ("submit", "submit_blocked")
    assert p.events.of(OrderIntent)  # the intent was written ahead...
    assert p.bus.channel(names.BROKER_COMMANDS).stats.sent == 0  # ...but nothing left
    assert p.risk_gate.portfolio.reservations == {}


async def test_same_signal_twice_makes_one_order() -> None:
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            await p.tick("AAPL", PX)
            sig = aapl(p.clock, "i1")
            await p.send(sig)
            await p.send(sig)
            await p.events.wait_kind(ExecutionRecord)
            # Past the guard's memory (e.g. it restarted): the orchestrator still knows.
            inbox = p.bus.channel(names.ORCHESTRATOR_IN)
            verdict = SignalVerdict(signal=sig, accepted=True, ts=p.clock.now_ns())
            await inbox.send(verdict)
            await p.events.wait_kind(SignalVerdict, where=lambda v: v.reason == "duplicate_order")
    assert len(p.events.of(OrderIntent)) == 1
    assert p.bus.channel(names.BROKER_COMMANDS).stats.sent == 1
    reasons = [(v.stage, v.reason) for v in p.events.of(SignalVerdict) if not v.accepted]
    assert reasons == [("guard", "duplicate_id"), ("submit", "duplicate_order")]
    assert p.orchestrator.execution.books.qty("AAPL") == Decimal(40)


async def test_lost_order_goes_unknown_and_is_queried_never_resent() -> None:
    settings = pipeline_settings(broker={"paper": {"faults": {"enabled": True, "lost_rate": 1.0}}})
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "u1"))
            (u,) = await p.events.wait_kind(
                OrderUpdate, where=lambda u: u.status is OrderStatus.UNKNOWN
            )
            await p.events.wait_kind(Alert, where=lambda a: a.code == "order_unresolved")
    assert u.reason == "no acknowledgement in time"
    assert not p.events.of(ExecutionRecord)  # not failed: unknown until the broker says
    assert p.bus.channel(names.BROKER_COMMANDS).stats.sent == 1
    order = p.orchestrator.execution.orders.get(u.client_order_id)
    assert order is not None
    assert order.status is OrderStatus.UNKNOWN
    assert order.queries >= 3


async def test_lost_ack_is_resolved_by_the_fills() -> None:
    settings = pipeline_settings(
        broker={"paper": {"faults": {"enabled": True, "timeout_rate": 1.0}}}
    )
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "t1"))
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    assert rec.status is OrderStatus.FILLED
    assert "stale_ack" not in rec.problems


async def test_slippage_beyond_threshold_raises_an_alert() -> None:
    settings = pipeline_settings(
        orchestrator={"fills": {"slippage_alert_bps": 0.5}},
        broker={"paper": {"slippage_bps": 5.0}},
    )
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "sl1"))
            (rec,) = await p.events.wait_kind(ExecutionRecord)
            (alert,) = await p.events.wait_kind(Alert, where=lambda a: a.code == "slippage")
    assert "slippage" in rec.problems
    assert rec.slippage_bps >= 5.0
    assert alert.payload["correlation_id"] == rec.correlation_id


async def test_exit_goes_out_while_killed_and_closes_the_trade() -> None:
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "x1"))
            await p.events.wait_kind(ExecutionRecord)
            p.safety.killed = True
            await p.tick("AAPL", PX + 1.0)
            await p.bus.channel(names.ORCHESTRATOR_EXITS).send(
                ExitIntent(
                    exit_id="stop-1",
                    symbol="AAPL",
                    side=Side.SELL,
                    reason=ExitReason.STOP_LOSS,
                    ts=p.clock.now_ns(),
                )
            )
            (trade,) = await p.events.wait_kind(TradeClosed)
            await p.events.wait_kind(ExecutionRecord, 2)
    assert trade.qty == Decimal(40)
    assert trade.exit_reason == "stop_loss"
    assert trade.correlation_id == correlation_id("alpha", "x1")
    assert p.orchestrator.execution.books.qty("AAPL") == 0
    assert p.events.of(PositionUpdate)[-1].position.qty == 0


async def test_cancel_all_cancels_a_resting_limit() -> None:
    settings = pipeline_settings(orchestrator={"entry_order_type": "limit"})
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(
                aapl(p.clock, "c1", entry_price=round(PX - 5.0, 2), stop_price=round(PX * 0.9, 2))
            )
            await p.events.wait_kind(OrderUpdate, where=lambda u: u.status is OrderStatus.ACCEPTED)
            await p.bus.channel(names.ORCHESTRATOR_CONTROL).send(
                CancelAllOrders(reason="operator", ts=p.clock.now_ns())
            )
            (rec,) = await p.events.wait_kind(ExecutionRecord)
    assert rec.status is OrderStatus.CANCELLED
    assert rec.problems == ("zero_fill",)


async def test_a_re_entered_position_is_marked_at_the_current_price_not_a_stale_one() -> None:
    # Regression (found replaying SPY): while flat, marks were not recorded, so a
    # re-entered position carried the previous position's last price and its stop or
    # target fired at once in the lifecycle monitor.
    moved = round(PX * 1.2, 2)
    with anyio.fail_after(20):
        async with running_pipeline() as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "r1"))
            await p.events.wait_kind(ExecutionRecord)
            await p.bus.channel(names.ORCHESTRATOR_EXITS).send(
                ExitIntent(
                    exit_id="close-r1",
                    symbol="AAPL",
                    side=Side.SELL,
                    reason=ExitReason.OPERATOR,
                    ts=p.clock.now_ns(),
                )
            )
            await p.events.wait_kind(TradeClosed)
            await p.tick("AAPL", moved)  # the market moves while we are flat
            await p.send(
                aapl(
                    p.clock,
                    "r2",
                    entry_price=moved,
                    stop_price=round(moved * 0.95, 2),
                    target_price=round(moved * 1.1, 2),
                )
            )
            await p.events.wait_kind(ExecutionRecord, 3)
    reopened = [u.position for u in p.events.of(PositionUpdate) if u.position.qty > 0][-1]
    assert reopened.last_price == pytest.approx(moved)


async def test_every_exit_signal_ends_in_an_order_or_a_verdict() -> None:
    """Exit signals that make no order are turned down with their own reason codes
    (a Redis stream entry is acknowledged on that verdict, not left pending)."""

    def close(clock: SimClock, sid: str, px: float = PX) -> Signal:
        return signal(clock, sid, side=Side.SELL, is_exit=True, entry_price=px)

    # Fills take 50 ms, so the exit order is still working when the others arrive.
    settings = pipeline_settings(broker={"paper": {"fill_latency_ms": 50.0}})
    first = correlation_id("alpha", "close-1")
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", PX)
            await p.send(aapl(p.clock, "open"))
            await p.events.wait_kind(ExecutionRecord)
            sig = close(p.clock, "close-1")
            await p.send(sig)
            await p.events.wait_kind(OrderIntent, 2)
            # Another exit signal while the whole position is being closed.
            # (Another price: the same content would be the guard's duplicate.)
            await p.send(close(p.clock, "close-2", PX + 0.01))
            # The first one re-delivered past the guard's memory (straight to the
            # orchestrator, as after a guard restart).
            await p.bus.channel(names.ORCHESTRATOR_IN).send(
                SignalVerdict(signal=sig, accepted=True, ts=p.clock.now_ns())
            )
            await p.events.wait_kind(TradeClosed)
            verdicts = {
                (v.correlation_id, v.reason)
                for v in p.events.of(SignalVerdict)
                if v.stage != "guard"
            }
    assert verdicts == {
        (correlation_id("alpha", "close-2"), "exit_already_closing"),
        (first, "exit_duplicate"),
    }
    assert len([i for i in p.events.of(OrderIntent) if i.correlation_id == first]) == 1
    assert p.orchestrator.execution.books.qty("AAPL") == 0
