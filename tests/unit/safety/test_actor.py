"""The safety actor: every automatic trigger, rollover, write retry, and the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from actors.safety import DEFINITION, SafetyActor, SafetyWatch
from daemon import names
from daemon.actor import ActorContext, Health
from daemon.bus import Bus, Subscription
from daemon.clock import NS_PER_S, SimClock
from daemon.logs import actor_logger
from daemon.messages import (
    AccountSnapshot,
    Alert,
    BrokerStatus,
    Discrepancy,
    FlattenAll,
    KillSwitchEvent,
    OrderPurpose,
    PositionSnapshot,
    PositionUpdate,
    ReconciliationReport,
    Side,
    TradeClosed,
    TradingMode,
)
from daemon.safety import (
    EngageKill,
    GetSafety,
    KillTrigger,
    ReplyCode,
    ResetKill,
    SafetyStore,
    SetMode,
)
from tests.unit.safety.support import FaultyOps, enospc, make_settings, ns, open_store

T0 = ns(2024, 3, 1, 10)  # Friday 10:00 New York
ENTRY = OrderPurpose.ENTRY


class Rig:
    """A safety actor over a real store in a temp dir, on a simulated clock."""

    def __init__(self, store: SafetyStore, bus: Bus, clock: SimClock, ops: FaultyOps) -> None:
        self.store, self.bus, self.clock, self.ops = store, bus, clock, ops
        self.resources: dict[type[Any], Any] = {SafetyStore: store}
        self.out: Subscription[Any] = bus.topic(names.EVENTS).subscribe(
            "test", types=(KillSwitchEvent, Alert)
        )
        self.actor = self.new_actor()

    def new_actor(self) -> SafetyActor:
        ctx = ActorContext(
            name="safety",
            settings=self.store.settings,
            clock=self.clock,
            bus=self.bus,
            log=actor_logger("safety"),
            health=Health(self.clock),
            resources=self.resources,
        )
        actor = DEFINITION.factory(ctx)
        assert isinstance(actor, SafetyActor)
        return actor

    async def feed(self, *events: Any) -> None:
        await self.actor.handle_events(list(events))

    async def next_out(self, kind: type[Any], code: str = "") -> Any:
        with anyio.fail_after(10):  # a guard only; we synchronise on the event itself
            while True:
                ev = await self.out.receive()
                if isinstance(ev, kind) and (not code or getattr(ev, "code", "") == code):
                    return ev


async def _rig(tmp_path: Path, **safety: Any) -> AsyncIterator[Rig]:
    d = tmp_path / "state"
    d.mkdir()
    bus, clock, ops = Bus(), SimClock(T0), FaultyOps()
    store = await open_store(make_settings(d, **safety), clock, bus, ops)
    try:
        yield Rig(store, bus, clock, ops)
    finally:
        store.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path):
        yield r


def account(equity: str, t: int = T0) -> AccountSnapshot:
    e = Decimal(equity)
    return AccountSnapshot(cash=e, equity=e, buying_power=e, ts=t)


def closed(pnl: str, tid: str = "t1", t: int = T0) -> TradeClosed:
    return TradeClosed(
        trade_id=tid,
        correlation_id="c",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(10),
        entry_price=Decimal(100),
        exit_price=Decimal(100),
        entry_ns=t - 60 * NS_PER_S,
        exit_ns=t,
        pnl=Decimal(pnl),
        ts=t,
    )


def position(symbol: str, qty: str, unrealized: str = "0") -> PositionUpdate:
    snap = PositionSnapshot(
        symbol=symbol, qty=Decimal(qty), avg_price=Decimal(100), unrealized_pnl=Decimal(unrealized)
    )
    return PositionUpdate(position=snap, ts=T0)


def broker(connected: bool) -> BrokerStatus:
    return BrokerStatus(broker="paper", connected=connected, ts=T0)


# -- daily loss ---------------------------------------------------------------------------


async def test_daily_loss_from_closed_trades_kills_and_flattens(rig: Rig) -> None:
    await rig.feed(account("100000"))
    assert rig.store.state.day.start_equity == Decimal(100000)
    await rig.feed(closed("-1500", "a"))
    assert not rig.store.snapshot().killed
    await rig.feed(closed("-1500", "b"))
    snap = rig.store.snapshot()
    assert snap.killed
    assert snap.kill_trigger == KillTrigger.DAILY_LOSS
    assert "3.00%" in snap.kill_reason
    assert snap.day.realized_pnl == "-3000"
    assert snap.day.trade_count == 2
    [flat] = _drain(rig.bus, names.LIFECYCLE_CONTROL)
    assert isinstance(flat, FlattenAll)
    refused = await rig.store.reset("let me trade", by="ops")
    assert refused.code is ReplyCode.CONDITIONS_HOLD


async def test_daily_loss_from_account_equity(rig: Rig) -> None:
    await rig.feed(account("100000"))
    await rig.feed(account("97100"))
    assert not rig.store.snapshot().killed
    await rig.feed(account("96999.99"))
    assert rig.store.snapshot().kill_trigger == KillTrigger.DAILY_LOSS


async def test_daily_loss_from_unrealized_positions(rig: Rig) -> None:
    await rig.feed(account("100000"), position("AAPL", "100", "-2000"))
    assert not rig.store.snapshot().killed
    await rig.feed(position("MSFT", "-50", "-1000"))
    assert rig.store.snapshot().killed


async def test_daily_loss_trigger_can_be_turned_off(tmp_path: Path) -> None:
    async for r in _rig(tmp_path, daily_loss_kill=False):
        await r.feed(account("100000"), closed("-50000"))
        assert not r.store.snapshot().killed


async def test_loss_condition_clears_when_the_day_recovers(rig: Rig) -> None:
    await rig.feed(account("100000"), position("AAPL", "10", "-3500"))
    assert rig.store.snapshot().killed
    await rig.feed(position("AAPL", "10", "-100"))
    assert KillTrigger.DAILY_LOSS not in rig.store.conditions()
    assert rig.store.snapshot().killed, "the switch stays engaged until an operator resets it"
    assert (await rig.store.reset("recovered", by="ops")).ok


# -- circuit breaker ----------------------------------------------------------------------


async def test_breaker_trip_alerts_and_holds_entries_back_via_the_snapshot(rig: Rig) -> None:
    await rig.feed(account("1000000"))
    await rig.feed(closed("-1", "a"), closed("-1", "b"), closed("-1", "c"))
    snap = rig.store.snapshot()
    assert snap.breaker_until_ns == T0 + 1800 * NS_PER_S
    assert snap.breaker_trips == 1
    assert not snap.killed, "escalation is off by default"
    alert = await rig.next_out(Alert, "circuit_breaker_tripped")
    assert "3 consecutive losses" in alert.text


async def test_breaker_escalates_to_the_kill_switch_when_configured(tmp_path: Path) -> None:
    async for r in _rig(tmp_path, breaker_max_losses=2, breaker_kill_after_trips=2):
        await r.feed(account("1000000"), closed("-1", "a"), closed("-1", "b"))
        assert not r.store.snapshot().killed
        await r.feed(closed("-1", "c"), closed("-1", "d"))
        snap = r.store.snapshot()
        assert snap.killed
        assert snap.kill_trigger == KillTrigger.CIRCUIT_BREAKER


async def test_duplicate_trade_events_count_once(rig: Rig) -> None:
    await rig.feed(closed("-1", "a"), closed("-1", "a"))
    await rig.feed(closed("-1", "a"))
    assert rig.store.snapshot().day.trade_count == 1
    assert rig.store.snapshot().day_trades == ("2024-03-01",)


# -- reconciliation -----------------------------------------------------------------------


def report(kill: bool) -> ReconciliationReport:
    d = (Discrepancy(kind="position_qty", symbol="AAPL", notional=50_000.0),) if kill else ()
    return ReconciliationReport(
        run_id="r1", trigger="periodic", discrepancies=d, kill_engaged=kill, started_ns=T0, ts=T0
    )


async def test_reconciliation_mismatch_kills_until_a_clean_run(rig: Rig) -> None:
    await rig.feed(report(True))
    snap = rig.store.snapshot()
    assert snap.kill_trigger == KillTrigger.RECONCILIATION
    assert "position_qty" in snap.kill_reason
    assert not (await rig.store.reset("x", by="ops")).ok
    await rig.feed(report(False))
    assert (await rig.store.reset("books agree", by="ops")).ok


async def test_restart_killed_by_reconciliation_waits_for_a_clean_run(tmp_path: Path) -> None:
    async for r in _rig(tmp_path):
        await r.feed(report(True))
        d = Path(r.store.path).parent
    again = await open_store(make_settings(d), SimClock(T0))
    try:
        assert KillTrigger.RECONCILIATION in again.conditions()
    finally:
        again.close()


# -- broker disconnect (timers) -----------------------------------------------------------


async def _running(rig: Rig, tg: anyio.abc.TaskGroup) -> None:
    await tg.start(rig.actor.run)


async def test_broker_down_with_positions_kills_at_the_deadline(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        await rig.feed(position("AAPL", "10"), broker(False))
        await rig.clock.run_until(T0 + 59 * NS_PER_S)
        assert not rig.store.snapshot().killed
        await rig.clock.run_until(T0 + 60 * NS_PER_S)
        ev = await rig.next_out(KillSwitchEvent)
        assert ev.trigger == KillTrigger.BROKER_DISCONNECT
        assert "1 open position" in ev.reason
        assert _drain(rig.bus, names.LIFECYCLE_CONTROL) == [], "no flatten through a dead link"
        assert not (await rig.store.reset("x", by="ops")).ok
        await rig.feed(broker(True))
        assert (await rig.store.reset("link is back", by="ops")).ok
        tg.cancel_scope.cancel()


async def test_broker_back_before_the_deadline_does_nothing(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        await rig.feed(position("AAPL", "10"), broker(False))
        await rig.clock.run_until(T0 + 30 * NS_PER_S)
        await rig.feed(broker(True))
        await rig.clock.run_until(T0 + 600 * NS_PER_S)
        assert not rig.store.snapshot().killed
        tg.cancel_scope.cancel()


async def test_broker_down_without_positions_does_nothing(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        await rig.feed(position("AAPL", "10"), position("AAPL", "0"), broker(False))
        await rig.clock.run_until(T0 + 600 * NS_PER_S)
        assert not rig.store.snapshot().killed
        assert rig.actor.watch.positions == {}
        tg.cancel_scope.cancel()


# -- rollover, retry ----------------------------------------------------------------------


async def test_rollover_at_the_session_boundary_resets_figures_not_the_kill(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        await rig.feed(account("100000"), closed("-10", "a"))
        await rig.store.engage("stop for today", by="ops")
        midnight = ns(2024, 3, 2)
        await rig.clock.run_until(midnight - 1)
        assert rig.store.snapshot().day.trading_day == "2024-03-01"
        await rig.clock.run_until(midnight)
        alert = await rig.next_out(Alert, "trading_day_rollover")
        assert "2024-03-02" in alert.text
        snap = rig.store.snapshot()
        assert snap.day.trading_day == "2024-03-02"
        assert snap.day.realized_pnl == "0"
        assert snap.day.trade_count == 0
        assert snap.day.start_equity == "100000"
        assert snap.killed
        assert snap.day_trades == ("2024-03-01",), "the PDT ledger spans days"
        tg.cancel_scope.cancel()


async def test_failed_write_is_retried_on_the_clock_until_it_succeeds(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        rig.ops.fail["write"] = enospc()
        await rig.feed(closed("1", "a"))
        assert not rig.store.writable
        assert rig.store.may_submit(ENTRY) is not None
        await rig.clock.run_until(T0 + 5 * NS_PER_S)
        assert not rig.store.writable, "still failing"
        del rig.ops.fail["write"]
        await rig.clock.run_until(T0 + 10 * NS_PER_S)
        await rig.next_out(Alert, "safety_write_recovered")
        assert rig.store.writable
        assert rig.store.may_submit(ENTRY) is None
        tg.cancel_scope.cancel()


# -- the service --------------------------------------------------------------------------


async def test_commands_over_the_bus_service(rig: Rig) -> None:
    svc = rig.bus.service(names.SAFETY)
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        with anyio.fail_after(10):
            got = await svc.call(GetSafety())
            assert got.ok
            assert not got.snapshot.killed
            engaged = await svc.call(EngageKill(reason="ops says", by="carol", flatten=True))
            assert engaged.changed
            assert engaged.snapshot.killed
            assert rig.store.may_submit(ENTRY) is not None
            paused = await svc.call(SetMode(mode=TradingMode.PAUSED, reason="x", by="carol"))
            assert paused.snapshot.mode is TradingMode.PAUSED
            reset = await svc.call(ResetKill(reason="fine", by="carol"))
            assert reset.ok
            assert not reset.snapshot.killed
            bad = await svc.call("engage please")
            assert bad.code is ReplyCode.BAD_REQUEST
        tg.cancel_scope.cancel()


async def test_a_restarted_actor_keeps_what_it_knew(rig: Rig) -> None:
    await rig.feed(position("AAPL", "10"), account("5000"))
    fresh = rig.new_actor()
    assert fresh.watch is rig.actor.watch
    assert isinstance(rig.resources[SafetyWatch], SafetyWatch)
    assert fresh.watch.positions == {"AAPL": Decimal(10)}
    assert fresh.inbox is rig.actor.inbox, "one subscription for the store's life"


def _drain(bus: Bus, name: str) -> list[Any]:
    ch = bus.channel(name)
    out = []
    while ch.depth():
        out.append(ch.receive_nowait())
    return out


async def test_reload_moves_the_session_boundary(rig: Rig) -> None:
    async with anyio.create_task_group() as tg:
        await _running(rig, tg)
        await rig.feed(closed("-10", "a"))
        new = make_settings(Path(rig.store.path).parent, session_boundary="17:00")
        await rig.actor.on_reload(new)
        five_pm = ns(2024, 3, 1, 17)
        await rig.clock.run_until(five_pm)
        alert = await rig.next_out(Alert, "trading_day_rollover")
        assert "2024-03-02 starts" in alert.text, "after a 17:00 boundary the next day begins"
        assert rig.store.snapshot().day.trade_count == 0
        tg.cancel_scope.cancel()
