"""The event recorder: which events move which counters, and what stays bounded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from actors.metrics import Buckets, EventRecorder
from config.sections.metrics import MetricsSettings
from daemon.clock import NS_PER_S
from daemon.messages import (
    AccountSnapshot,
    Discrepancy,
    ExecutionRecord,
    Fill,
    KillSwitchEvent,
    OrderPurpose,
    OrderStatus,
    OrderUpdate,
    PositionSnapshot,
    PositionUpdate,
    ReconciliationReport,
    RiskCheck,
    RiskDecision,
    ServiceStatus,
    Side,
    Signal,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
)

D = Decimal
T0 = 1_700_000_000 * NS_PER_S


def _sig(sid: str = "s1", source: str = "alpha", received_ns: int = T0) -> Signal:
    return Signal(
        signal_id=sid,
        source=source,
        symbol="AAPL",
        side=Side.BUY,
        created_ns=T0,
        received_ns=received_ns,
    )


def _update(status: OrderStatus, *, coid: str = "o1", cid: str = "c1", ts: int = T0) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=coid,
        correlation_id=cid,
        symbol="AAPL",
        side=Side.BUY,
        status=status,
        qty=D(10),
        ts=ts,
    )


def _recorder(**cfg: Any) -> EventRecorder:
    return EventRecorder(msgspec.convert(cfg, MetricsSettings), known_sources=["alpha", "beta"])


def test_guard_verdicts_count_received_accepted_and_rejected_by_reason() -> None:
    r = _recorder()
    r.record(SignalVerdict(signal=_sig("a"), accepted=True, ts=T0))
    r.record(SignalVerdict(signal=_sig("b"), accepted=False, reason="stale", ts=T0))
    r.record(SignalVerdict(signal=_sig("c", "beta"), accepted=False, reason="stale", ts=T0))
    assert r.signals_received == {"alpha": 2, "beta": 1}
    assert r.signals_accepted == {"alpha": 1}
    assert r.signals_rejected == {("guard", "stale"): 2}


def test_orchestrator_rejections_are_not_received_twice() -> None:
    r = _recorder()
    r.record(SignalVerdict(signal=_sig(), accepted=True, ts=T0))
    r.record(
        SignalVerdict(
            signal=_sig(),
            accepted=False,
            reason="killed",
            stage="state",
            correlation_id="c1",
            ts=T0,
        )
    )
    assert r.signals_received == {"alpha": 1}
    assert r.signals_rejected == {("state", "killed"): 1}


def test_unconfigured_sources_share_one_label_value() -> None:
    r = _recorder()
    for i in range(50):
        r.record(SignalVerdict(signal=_sig(f"x{i}", f"src{i}"), accepted=False, ts=T0))
    assert r.signals_received == {"other": 50}


def test_undecodable_payloads_count_by_origin() -> None:
    r = _recorder()
    r.record(SignalRejected(origin="redis.stream", error="bad", raw="{", ts=T0))
    assert r.signals_invalid == {"redis.stream": 1}


def test_risk_decisions_by_outcome_and_failing_check() -> None:
    r = _recorder()
    checks = (
        RiskCheck(name="max_position", value=12.0, limit=10.0, passed=False),
        RiskCheck(name="daily_loss", value=1.0, limit=3.0, passed=True),
        RiskCheck(name="max_open_positions", value=11.0, limit=10.0, passed=False),
    )
    r.record(RiskDecision(correlation_id="c1", symbol="AAPL", approved=False, checks=checks, ts=T0))
    r.record(RiskDecision(correlation_id="c2", symbol="AAPL", approved=True, ts=T0))
    assert r.risk_decisions == {"rejected": 1, "approved": 1}
    assert r.risk_check_failures == {"max_position": 1, "max_open_positions": 1}


def test_signal_to_order_latency_joins_on_correlation_id() -> None:
    r = _recorder(latency_buckets_s=(0.001, 0.01, 0.1))
    r.record(SignalRecord(correlation_id="c1", signal=_sig(received_ns=T0), ts=T0 + 1000))
    r.record(_update(OrderStatus.SUBMITTED, ts=T0 + 1_000_000))
    assert r.latency.count == 0
    r.record(_update(OrderStatus.ACCEPTED, ts=T0 + 5_000_000))  # 5 ms after arrival
    assert r.latency.count == 1
    assert r.latency.sum == pytest.approx(0.005)
    assert r.latency.cumulative() == [(0.001, 0), (0.01, 1), (0.1, 1), (float("inf"), 1)]
    assert not r.pending_signals
    # A second acceptance of the same order is not a second observation.
    r.record(_update(OrderStatus.ACCEPTED, ts=T0 + 9_000_000))
    assert r.latency.count == 1


def test_signals_turned_down_leave_the_latency_map() -> None:
    r = _recorder()
    for cid in ("c1", "c2", "c3"):
        r.record(SignalRecord(correlation_id=cid, signal=_sig(cid), ts=T0))
    r.record(RiskDecision(correlation_id="c1", symbol="AAPL", approved=False, ts=T0))
    r.record(
        SignalVerdict(signal=_sig("c2"), accepted=False, stage="fusion", correlation_id="c2", ts=T0)
    )
    r.record(_update(OrderStatus.REJECTED, cid="c3"))
    assert not r.pending_signals
    assert r.latency.count == 0


def test_latency_map_and_working_orders_are_bounded() -> None:
    r = _recorder(max_tracked_signals=3, max_tracked_orders=2)
    for i in range(5):
        r.record(SignalRecord(correlation_id=f"c{i}", signal=_sig(f"s{i}"), ts=T0))
        r.record(_update(OrderStatus.SUBMITTED, coid=f"o{i}", cid=""))
    assert list(r.pending_signals) == ["c2", "c3", "c4"]
    assert r.pending_evicted == 2
    assert list(r.working) == ["o3", "o4"]
    assert r.working_evicted == 3
    assert r.working_count == {"entry": 2}


def test_orders_by_status_and_working_set() -> None:
    r = _recorder()
    r.record(_update(OrderStatus.ACCEPTED))
    r.record(_update(OrderStatus.PARTIALLY_FILLED))
    assert dict(r.working) == {"o1": "entry"}
    assert r.working_count == {"entry": 1}
    r.record(_update(OrderStatus.FILLED))
    assert r.working_count == {"entry": 0}
    assert r.order_updates == {
        ("accepted", "entry"): 1,
        ("partially_filled", "entry"): 1,
        ("filled", "entry"): 1,
    }
    assert not r.working


def test_fills_and_slippage() -> None:
    r = _recorder(slippage_buckets_bps=(-1.0, 0.0, 1.0, 5.0))
    r.record(
        Fill(
            fill_id="f1",
            client_order_id="o1",
            symbol="AAPL",
            side=Side.SELL,
            qty=D(10),
            price=D("100.5"),
            commission=D("1.25"),
            purpose=OrderPurpose.EXIT,
            ts=T0,
        )
    )
    assert r.fills == {("sell", "exit"): 1}
    assert r.fill_notional == pytest.approx(1005.0)
    assert r.commission == pytest.approx(1.25)

    def exe(slip: float, filled: int, problems: tuple[str, ...] = ()) -> ExecutionRecord:
        return ExecutionRecord(
            correlation_id="c",
            client_order_id="o",
            symbol="AAPL",
            side=Side.BUY,
            status=OrderStatus.FILLED if filled else OrderStatus.REJECTED,
            qty=D(10),
            filled_qty=D(filled),
            expected_price=100.0,
            slippage_bps=slip,
            problems=problems,
            ts=T0,
        )

    r.record(exe(2.5, 10, ("slippage",)))
    r.record(exe(-0.5, 10))
    r.record(exe(0.0, 0, ("rejected",)))  # nothing filled: no slippage observation
    assert r.slippage.count == 2
    assert r.slippage.cumulative()[1] == (0.0, 1)
    assert r.execution_problems == {"slippage": 1, "rejected": 1}


def test_positions_exist_only_while_open_and_account_is_latest() -> None:
    r = _recorder()

    def pos(qty: int) -> PositionUpdate:
        return PositionUpdate(
            position=PositionSnapshot(symbol="AAPL", qty=D(qty), avg_price=D(100)), ts=T0
        )

    r.record(pos(40))
    assert set(r.positions) == {"AAPL"}
    r.record(pos(0))
    assert r.positions == {}
    a = AccountSnapshot(cash=D(1), equity=D(2), buying_power=D(3), ts=T0)
    r.record(a)
    assert r.account is a


def test_kill_reconciliation_and_service_transitions() -> None:
    r = _recorder()
    r.record(KillSwitchEvent(engaged=True, reason="x", trigger="operator", ts=T0))
    r.record(KillSwitchEvent(engaged=False, reason="y", trigger="operator", ts=T0))
    assert r.kill_events == {("engaged", "operator"): 1, ("reset", "operator"): 1}
    assert r.kill_engaged is False
    report = ReconciliationReport(
        run_id="r1",
        trigger="periodic",
        discrepancies=(Discrepancy(kind="missed_fill"), Discrepancy(kind="missed_fill")),
        started_ns=T0,
        ts=T0,
    )
    r.record(report)
    assert r.reconciliations == {"periodic": 1}
    assert r.discrepancies == {"missed_fill": 2}
    assert r.last_reconciliation is report
    for healthy in (True, False, False, True, False, True):
        r.record(ServiceStatus(service="redis", healthy=healthy, reporter="a", ts=T0))
    assert r.service_outages == {"redis": 2}
    assert r.service_recoveries == {"redis": 2}
    assert r.services == {("redis", "a"): True}


def test_a_failing_event_is_counted_and_the_rest_recorded() -> None:
    r = _recorder()

    class Broken(SignalVerdict, frozen=True, kw_only=True, tag=True):
        pass

    def broken(event: object) -> None:
        raise ZeroDivisionError("a bug in one handler")

    r._handlers[Broken] = broken
    failed = r.record_all(
        [
            Broken(signal=_sig(), accepted=True, ts=T0),
            SignalVerdict(signal=_sig(), accepted=True, ts=T0),
        ]
    )
    assert failed == 1
    assert r.errors == 1
    assert r.signals_received == {"alpha": 1}


def test_buckets_follow_prometheus_le_semantics() -> None:
    b = Buckets((1.0, 2.0))
    for v in (0.5, 1.0, 1.5, 2.0, 3.0):
        b.observe(v)
    assert b.cumulative() == [(1.0, 2), (2.0, 4), (float("inf"), 5)]
    assert b.count == 5
    assert b.sum == pytest.approx(8.0)
