"""The comparison rules on hand-made snapshots: what is found, and what is planned."""

from __future__ import annotations

from decimal import Decimal

from actors.orchestrator.books_api import (
    BookFill,
    ClosePosition,
    LocalOrder,
    LocalSnapshot,
    SetPosition,
    UpdateOrder,
)
from actors.reconciler import BrokerView, Kind, breaches, plan
from actors.reconciler._compare import confirmed
from config.sections.reconciler import ReconcilerSettings
from daemon.clock import NS_PER_S
from daemon.messages import (
    BrokerOrder,
    OrderPurpose,
    OrderStatus,
    PositionSnapshot,
    Side,
)

NOW = 1_000 * NS_PER_S
CFG = ReconcilerSettings()


def pos(sym: str, qty: int, avg: str = "100") -> PositionSnapshot:
    return PositionSnapshot(symbol=sym, qty=Decimal(qty), avg_price=Decimal(avg))


def order(
    coid: str,
    *,
    filled: int = 0,
    acked: bool = True,
    age_s: float = 60.0,
    status: OrderStatus = OrderStatus.ACCEPTED,
    avg: str | None = None,
) -> LocalOrder:
    return LocalOrder(
        client_order_id=coid,
        correlation_id="c",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(10),
        filled=Decimal(filled),
        avg_price=Decimal(avg) if avg else None,
        status=status,
        purpose=OrderPurpose.ENTRY,
        acked=acked,
        submitted_ns=NOW - int(age_s * NS_PER_S),
    )


def border(coid: str, *, filled: int, status: OrderStatus, avg: str | None = None) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=coid,
        broker_order_id="B1",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(10),
        filled_qty=Decimal(filled),
        status=status,
        avg_fill_price=Decimal(avg) if avg else None,
    )


def local(positions=(), orders=(), marks=None) -> LocalSnapshot:  # type: ignore[no-untyped-def]
    return LocalSnapshot(
        positions=tuple(positions), orders=tuple(orders), marks=marks or {}, fresh=False, ts=NOW
    )


def test_equal_books_find_nothing() -> None:
    p = plan(local([pos("AAPL", 10)]), BrokerView({"AAPL": pos("AAPL", 10)}, {}), CFG, NOW)
    assert p.findings == []
    assert (p.positions_checked, p.orders_checked) == (1, 0)


def test_ghost_closes_at_the_last_price() -> None:
    p = plan(local([pos("AAPL", 10)], marks={"AAPL": 101.5}), BrokerView({}, {}), CFG, NOW)
    (f,) = p.findings
    assert f.kind is Kind.GHOST_POSITION
    assert f.corrections == (
        ClosePosition(
            symbol="AAPL",
            expected_qty=Decimal(10),
            price=Decimal("101.5"),
            reason="reconcile_ghost",
        ),
    )
    assert f.notional == 1015.0


def test_missed_fill_explains_the_position_difference() -> None:
    mine = order("o1", filled=4, avg="100")
    theirs = border("o1", filled=10, status=OrderStatus.FILLED, avg="101")
    p = plan(
        local([pos("AAPL", 4)], [mine]),
        BrokerView({"AAPL": pos("AAPL", 10)}, {}, {"o1": theirs}),
        CFG,
        NOW,
    )
    assert [f.kind for f in p.findings] == [Kind.MISSED_FILL, Kind.ORDER_STATUS]
    fill = p.findings[0].corrections[0]
    assert isinstance(fill, BookFill)
    # 10 @ 101 at the broker, 4 @ 100 booked: the missing 6 were at (1010 - 400) / 6.
    assert (fill.qty, fill.price, fill.expected_filled) == (
        Decimal(6),
        Decimal("101.66666667"),
        Decimal(4),
    )


def test_young_unacknowledged_order_is_not_asked_about() -> None:
    young = order("o1", acked=False, age_s=1.0, status=OrderStatus.SUBMITTED)
    old = order("o2", acked=False, age_s=60.0, status=OrderStatus.SUBMITTED)
    # The fetch asks only about the old one; the plan leaves the young one alone.
    p = plan(local(orders=[young, old]), BrokerView({}, {}, {"o2": None}), CFG, NOW)
    (f,) = p.findings
    assert (f.kind, f.client_order_id) == (Kind.INTENT_NEVER_SENT, "o2")
    (u,) = f.corrections
    assert isinstance(u, UpdateOrder)
    assert (u.status, u.problem) == (OrderStatus.REJECTED, "never_sent")


def test_mismatch_and_orphan_report_mode() -> None:
    cfg = ReconcilerSettings(orphan_positions="report")
    p = plan(
        local([pos("AAPL", 10)]),
        BrokerView({"AAPL": pos("AAPL", -5, "99"), "GOOG": pos("GOOG", 3)}, {}),
        cfg,
        NOW,
    )
    side, orphan = p.findings
    assert side.kind is Kind.SIDE_MISMATCH
    assert side.corrections == (
        SetPosition(
            symbol="AAPL",
            expected_qty=Decimal(10),
            qty=Decimal(-5),
            avg_price=Decimal(99),
            cause="reconcile:mismatch",
        ),
    )
    assert orphan.kind is Kind.ORPHAN_POSITION
    assert orphan.corrections == ()


def test_confirmation_keeps_only_what_both_passes_found() -> None:
    first = plan(local([pos("AAPL", 10)]), BrokerView({}, {}), CFG, NOW)
    second = plan(
        local([pos("AAPL", 10)]),
        BrokerView({"AAPL": pos("AAPL", 10), "GOOG": pos("GOOG", 1)}, {}),
        CFG,
        NOW,
    )
    assert confirmed(first.findings, second).findings == []


def test_thresholds() -> None:
    p = plan(local(), BrokerView({f"S{i}": pos(f"S{i}", 1) for i in range(6)}, {}), CFG, NOW)
    assert breaches(p.findings, CFG) == "6 discrepancies > 5"
    assert breaches(p.findings, ReconcilerSettings(kill_max_discrepancies=6)) == ""
    ignore = ReconcilerSettings(kill_ignore_kinds=("orphan_position",))
    assert breaches(p.findings, ignore) == ""
    money = ReconcilerSettings(kill_max_discrepancies=0, kill_max_notional=500.0)
    assert breaches(p.findings, money) == "notional 600.00 > 500.00"
