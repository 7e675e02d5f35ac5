"""The seven alert handlers: which events raise which alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.alert_bridge import AlertDraft, default_handlers
from actors.alert_bridge._handlers import (
    Handler,
    Health,
    KillSwitch,
    LossLimits,
    OrderProblems,
    PositionClosed,
    ReconciliationMismatch,
    TradeExecuted,
)
from daemon.messages import (
    ActorState,
    ActorStatus,
    BrokerStatus,
    Discrepancy,
    ExecutionRecord,
    Fill,
    KillSwitchEvent,
    OrderPurpose,
    OrderStatus,
    OrderUpdate,
    ReconciliationReport,
    RiskCheck,
    RiskDecision,
    ServiceStatus,
    Severity,
    Side,
    TradeClosed,
    TradingMode,
    TradingModeChanged,
)

D = Decimal


def one(handler: Handler, event: object) -> AlertDraft:
    [draft] = list(handler.handle(event))
    return draft


def none(handler: Handler, event: object) -> None:
    assert list(handler.handle(event)) == []


def test_there_are_seven_handlers_covering_distinct_concerns() -> None:
    names = [type(h).__name__ for h in default_handlers()]
    assert names == [
        "TradeExecuted",
        "PositionClosed",
        "OrderProblems",
        "KillSwitch",
        "LossLimits",
        "ReconciliationMismatch",
        "Health",
    ]


def test_trade_executed_on_every_fill() -> None:
    fill = Fill(
        fill_id="f1",
        client_order_id="o1",
        correlation_id="c1",
        symbol="AAPL",
        side=Side.SELL,
        qty=D("10.000"),
        price=D("187.25"),
        purpose=OrderPurpose.EXIT,
        ts=1,
    )
    d = one(TradeExecuted(), fill)
    assert (d.severity, d.code, d.subject) == (Severity.INFO, "trade_executed", "f1")
    assert d.text == "SELL 10 AAPL @ 187.25 (exit)"
    assert d.payload["price"] == "187.25"
    assert d.payload["correlation_id"] == "c1"


def test_position_closed_carries_the_pnl() -> None:
    trade = TradeClosed(
        trade_id="t1",
        correlation_id="c1",
        symbol="AAPL",
        side=Side.BUY,
        qty=D("10"),
        entry_price=D("100"),
        exit_price=D("97.5"),
        entry_ns=1,
        exit_ns=2,
        pnl=D("-25.50"),
        fees=D("0.50"),
        exit_reason="stop_loss",
        ts=2,
    )
    d = one(PositionClosed(), trade)
    assert d.code == "position_closed"
    assert d.text == "closed long 10 AAPL 100 -> 97.5: P&L -25.50 (fees 0.50), stop_loss"
    assert d.payload["pnl"] == "-25.50"


def _update(status: OrderStatus, purpose: OrderPurpose = OrderPurpose.ENTRY) -> OrderUpdate:
    return OrderUpdate(
        client_order_id="o9",
        symbol="MSFT",
        side=Side.BUY,
        status=status,
        qty=D("5"),
        purpose=purpose,
        reason="insufficient buying power",
        ts=1,
    )


def test_order_rejections_are_worse_for_exits_and_unknown_orders_are_errors() -> None:
    h = OrderProblems()
    entry = one(h, _update(OrderStatus.REJECTED))
    assert (entry.severity, entry.code, entry.subject) == (Severity.WARNING, "order_rejected", "o9")
    assert entry.text == "entry order o9 buy MSFT rejected: insufficient buying power"
    assert one(h, _update(OrderStatus.REJECTED, OrderPurpose.EXIT)).severity is Severity.ERROR
    unknown = one(h, _update(OrderStatus.UNKNOWN))
    assert (unknown.severity, unknown.code) == (Severity.ERROR, "order_unknown")
    none(h, _update(OrderStatus.FILLED))
    none(h, _update(OrderStatus.ACCEPTED))


def test_fill_problems_from_execution_records() -> None:
    rec = ExecutionRecord(
        correlation_id="c",
        client_order_id="o1",
        symbol="AAPL",
        side=Side.BUY,
        status=OrderStatus.FILLED,
        qty=D("10"),
        filled_qty=D("12"),
        problems=("overfill: 12 > 10", "slippage 80 bps"),
        ts=1,
    )
    d = one(OrderProblems(), rec)
    assert (d.severity, d.code) == (Severity.WARNING, "fill_problem")
    assert d.text == "order o1 buy AAPL: overfill: 12 > 10; slippage 80 bps"
    none(OrderProblems(), ExecutionRecord(**{**_fields(rec), "problems": ()}))


def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__struct_fields__}


def test_kill_switch_engaged_is_critical_and_reset_a_warning() -> None:
    h = KillSwitch()
    engaged = KillSwitchEvent(
        engaged=True, reason="manual", trigger="operator", by="alice", flatten=True, ts=5
    )
    d = one(h, engaged)
    assert (d.severity, d.code) == (Severity.CRITICAL, "kill_switch_engaged")
    assert d.text == "KILL SWITCH ENGAGED (operator), flattening all positions: manual"
    reset = one(h, KillSwitchEvent(engaged=False, reason="ok now", trigger="", by="bob", ts=6))
    assert (reset.severity, reset.code) == (Severity.WARNING, "kill_switch_reset")
    assert reset.text == "kill switch reset by bob: ok now"
    mode = one(
        h,
        TradingModeChanged(mode=TradingMode.PAUSED, previous=TradingMode.RUNNING, by="alice", ts=7),
    )
    assert (mode.severity, mode.code) == (Severity.INFO, "trading_mode_changed")
    assert mode.text == "trading mode running -> paused by alice"


def test_loss_limits_from_the_kill_switch_and_from_risk_refusals() -> None:
    kill = KillSwitchEvent(engaged=True, reason="day P&L -3.2%", trigger="daily_loss", ts=5)
    none(KillSwitch(), kill)  # raised once, under the loss-limit code
    d = one(LossLimits(), kill)
    assert (d.severity, d.code) == (Severity.CRITICAL, "daily_loss_limit")
    assert d.text == "KILL SWITCH ENGAGED by the daily loss: day P&L -3.2%"
    breaker = KillSwitchEvent(engaged=True, reason="3 trips", trigger="circuit_breaker", ts=6)
    assert one(LossLimits(), breaker).code == "circuit_breaker"

    refused = RiskDecision(
        correlation_id="c",
        symbol="AAPL",
        approved=False,
        checks=(
            RiskCheck(name="max_position", value=1, limit=10, passed=True),
            RiskCheck(name="daily_loss", value=3.5, limit=3.0, passed=False),
        ),
        ts=1,
    )
    r = one(LossLimits(), refused)
    assert (r.severity, r.code, r.subject) == (Severity.WARNING, "daily_loss_limit", "risk")
    assert r.text == "entries refused by the daily loss check (value 3.5, limit 3)"
    none(LossLimits(), KillSwitchEvent(engaged=True, reason="x", trigger="operator", ts=1))
    none(LossLimits(), RiskDecision(correlation_id="c", symbol="A", approved=True, ts=1))


def test_reconciliation_mismatch_lists_discrepancies() -> None:
    report = ReconciliationReport(
        run_id="r1",
        trigger="periodic",
        discrepancies=(
            Discrepancy(
                kind="position_qty", symbol="AAPL", before="10", after="12", action="adopt"
            ),
        ),
        started_ns=1,
        ts=2,
    )
    d = one(ReconciliationMismatch(), report)
    assert (d.severity, d.code) == (Severity.WARNING, "reconciliation_mismatch")
    assert (
        d.text
        == "reconciliation r1 (periodic) found 1 discrepancies: position_qty AAPL 10 -> 12 (adopt)"
    )
    killed = ReconciliationReport(**{**_fields(report), "kill_engaged": True})
    assert one(ReconciliationMismatch(), killed).severity is Severity.CRITICAL
    none(
        ReconciliationMismatch(), ReconciliationReport(run_id="r2", trigger="x", started_ns=1, ts=2)
    )


def _actor(state: ActorState, core: bool = False, restarts: int = 0) -> ActorStatus:
    return ActorStatus(
        actor="regime", state=state, core=core, restarts=restarts, error="boom", ts=1
    )


def test_actor_crashes_disables_escalations_and_recovery() -> None:
    h = Health()
    none(h, _actor(ActorState.RUNNING))  # a normal start says nothing
    crash = one(h, _actor(ActorState.CRASHED))
    assert (crash.severity, crash.code, crash.subject) == (
        Severity.WARNING,
        "actor_crashed",
        "regime",
    )
    none(h, _actor(ActorState.RESTARTING))
    rec = one(h, _actor(ActorState.RUNNING, restarts=1))
    assert (rec.severity, rec.code) == (Severity.INFO, "actor_recovered")
    none(h, _actor(ActorState.RUNNING, restarts=1))
    assert one(h, _actor(ActorState.CRASHED, core=True)).severity is Severity.ERROR
    assert one(h, _actor(ActorState.DISABLED)).code == "actor_disabled"
    esc = one(h, _actor(ActorState.FAILED, core=True))
    assert (esc.severity, esc.code) == (Severity.CRITICAL, "actor_escalated")


def _svc(service: str, healthy: bool, reporter: str) -> ServiceStatus:
    return ServiceStatus(
        service=service, healthy=healthy, detail="refused", reporter=reporter, ts=1
    )


def test_one_outage_reported_by_several_reporters_is_one_alert_and_one_recovery() -> None:
    h = Health()
    none(h, _svc("redis", True, "a"))
    down = one(h, _svc("redis", False, "a"))
    assert (down.severity, down.code, down.subject) == (Severity.ERROR, "redis_down", "redis")
    assert down.text == "redis unavailable (a): refused"
    none(h, _svc("redis", False, "b"))
    none(h, _svc("redis", False, "a"))
    none(h, _svc("redis", True, "a"))  # b is still cut off
    up = one(h, _svc("redis", True, "b"))
    assert (up.severity, up.code) == (Severity.INFO, "redis_restored")
    assert one(h, _svc("storage", False, "storage_writer")).code == "storage_down"
    stale = one(h, _svc("market_data", False, "redis_market"))
    assert (stale.severity, stale.code) == (Severity.WARNING, "market_data_stale")
    assert stale.text == "market data stale (redis_market): refused"
    assert one(h, _svc("market_data", True, "redis_market")).code == "market_data_resumed"


def test_broker_disconnects_and_reconnects() -> None:
    h = Health()
    none(h, BrokerStatus(broker="paper", connected=True, ts=1))
    d = one(h, BrokerStatus(broker="paper", connected=False, detail="timeout", ts=2))
    assert (d.severity, d.code) == (Severity.ERROR, "broker_disconnected")
    none(h, BrokerStatus(broker="paper", connected=False, ts=3))
    assert one(h, BrokerStatus(broker="paper", connected=True, ts=4)).code == "broker_reconnected"
