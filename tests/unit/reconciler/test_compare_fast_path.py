"""The comparison's in-place fast paths find exactly what the plain rule-by-rule pass finds.

``plan`` skips, without calling the rules, every order working at the broker as we know
it and every position of the same size on both sides, and counts instead of building
sets when both sides hold the same ids. The reference below is the straightforward
comparison — every order and every symbol of either side through the rules, symbols in
sorted order — and random books must give the same plan, finding for finding.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.orchestrator.books_api import LocalOrder, LocalSnapshot
from actors.reconciler import BrokerView, Kind, Plan, plan
from actors.reconciler._compare import Finding, _order, _position, _unknown_order
from config.sections.reconciler import ReconcilerSettings
from daemon.clock import NS_PER_S
from daemon.messages import BrokerOrder, OrderPurpose, OrderStatus, PositionSnapshot, Side

NOW = 1_000 * NS_PER_S
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
COIDS = tuple(f"o{i}" for i in range(8))


def reference(local: LocalSnapshot, broker: BrokerView, cfg: ReconcilerSettings) -> Plan:
    """Every order and every symbol through the rules, nothing skipped."""
    findings: list[Finding] = []
    booked: dict[str, Decimal] = {}
    ours = {o.client_order_id for o in local.orders}
    for o in local.orders:
        findings.extend(_order(o, broker, local.marks, booked, cfg, NOW))
    for coid in sorted(broker.open_orders.keys() - ours):
        findings.append(_unknown_order(broker.open_orders[coid], local.marks, cfg))
    held = {p.symbol: p for p in local.positions}
    symbols = sorted(held.keys() | broker.positions.keys())
    for sym in symbols:
        f = _position(sym, held.get(sym), broker, local.marks, booked, cfg)
        if f is not None:
            findings.append(f)
    return Plan(
        findings=findings,
        positions_checked=len(symbols),
        orders_checked=len(ours | broker.open_orders.keys()),
    )


qty = st.integers(-3, 3).map(Decimal)
filled = st.integers(0, 4).map(Decimal)
status = st.sampled_from(list(OrderStatus))
price = st.sampled_from([None, Decimal("99.5"), Decimal(100), Decimal("101.25")])


@st.composite
def local_order(draw: st.DrawFn, coid: str) -> LocalOrder:
    return LocalOrder(
        client_order_id=coid,
        correlation_id="c",
        symbol=draw(st.sampled_from(SYMBOLS)),
        side=draw(st.sampled_from(list(Side))),
        qty=Decimal(4),
        filled=draw(filled),
        avg_price=draw(price),
        status=draw(status),
        purpose=OrderPurpose.ENTRY,
        acked=draw(st.booleans()),
        submitted_ns=NOW - draw(st.integers(0, 60)) * NS_PER_S,
    )


@st.composite
def broker_order(draw: st.DrawFn, coid: str, like: LocalOrder | None) -> BrokerOrder:
    # Ours as the broker has it: in line, ended with the fills we know of, or anything.
    how = draw(st.sampled_from(["in line", "ended", "other"])) if like is not None else "other"
    if how == "in line":
        state = draw(st.sampled_from([OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED]))
    elif how == "ended":
        state = draw(st.sampled_from([s for s in OrderStatus if s.is_terminal]))
    else:
        state = draw(status)
    return BrokerOrder(
        client_order_id=coid,
        broker_order_id=f"B{coid}",
        symbol=like.symbol if like is not None else draw(st.sampled_from(SYMBOLS)),
        side=like.side if like is not None else draw(st.sampled_from(list(Side))),
        qty=Decimal(4),
        filled_qty=like.filled if like is not None and how != "other" else draw(filled),
        status=state,
        avg_fill_price=draw(price),
        ts=draw(st.integers(0, 10)),
    )


@st.composite
def books(draw: st.DrawFn) -> tuple[LocalSnapshot, BrokerView]:
    ours_ids = draw(st.lists(st.sampled_from(COIDS[:6]), unique=True, max_size=6))
    orders = [draw(local_order(c)) for c in ours_ids]
    by_id = {o.client_order_id: o for o in orders}
    open_ids = draw(st.lists(st.sampled_from(COIDS), unique=True, max_size=8))
    open_orders = {c: draw(broker_order(c, by_id.get(c))) for c in open_ids}
    lookups: dict[str, BrokerOrder | None] = {}
    for c in ours_ids:
        if c not in open_orders:
            kind = draw(st.sampled_from(["not asked", "unknown", "known"]))
            if kind == "unknown":
                lookups[c] = None
            elif kind == "known":
                lookups[c] = draw(broker_order(c, by_id[c]))
    held = draw(st.dictionaries(st.sampled_from(SYMBOLS), qty))
    # Mostly the same position at the broker, so in-line symbols meet missed fills.
    theirs = {s: q for s, q in held.items() if q and draw(st.booleans())}
    theirs |= draw(st.dictionaries(st.sampled_from(SYMBOLS), qty.filter(bool), max_size=2))
    marks = draw(st.dictionaries(st.sampled_from(SYMBOLS), st.sampled_from([99.0, 100.5])))
    local = LocalSnapshot(
        positions=tuple(
            PositionSnapshot(symbol=s, qty=q, avg_price=Decimal(100)) for s, q in held.items()
        ),
        orders=tuple(orders),
        marks=marks,
        fresh=False,
        ts=NOW,
    )
    view = BrokerView(
        positions={
            s: PositionSnapshot(symbol=s, qty=q, avg_price=Decimal("100.5"))
            for s, q in theirs.items()
        },
        open_orders=open_orders,
        lookups=lookups,
    )
    return local, view


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    books(),
    st.sampled_from(["cancel", "adopt", "report"]),
    st.sampled_from(["adopt", "report"]),
)
def test_plan_matches_the_rule_by_rule_reference(
    snapshot: tuple[LocalSnapshot, BrokerView], unknown_orders: str, orphans: str
) -> None:
    local, view = snapshot
    cfg = ReconcilerSettings(unknown_orders=unknown_orders, orphan_positions=orphans)  # type: ignore[arg-type]
    assert plan(local, view, cfg, NOW) == reference(local, view, cfg)


def test_position_findings_come_in_symbol_order_from_either_side() -> None:
    def p(sym: str, q: int) -> PositionSnapshot:
        return PositionSnapshot(symbol=sym, qty=Decimal(q), avg_price=Decimal(100))

    local = LocalSnapshot(
        positions=(p("ZZZ", 1), p("AAA", 10), p("MMM", 5)), orders=(), marks={}, fresh=False, ts=NOW
    )
    view = BrokerView({"AAA": p("AAA", 10), "MMM": p("MMM", 7), "BBB": p("BBB", 2)}, {})
    found = plan(local, view, ReconcilerSettings(), NOW)
    assert [(f.symbol, f.kind) for f in found.findings] == [
        ("BBB", Kind.ORPHAN_POSITION),
        ("MMM", Kind.QUANTITY_MISMATCH),
        ("ZZZ", Kind.GHOST_POSITION),
    ]
    assert found.positions_checked == 4
