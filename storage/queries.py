"""Read side: what reports, the admin socket and ``tradingd trace`` ask the database.

Every function takes a :class:`~storage.Database` and an account and returns plain
``msgspec`` Structs (JSON-ready for the admin socket; decimals stay exact). Money is
summed in Python with ``Decimal`` so both backends give the same exact answers (SQLite
keeps decimals as text). Days are trading days (``YYYY-MM-DD`` in ``daemon.timezone``)
as fixed when each trade was written.

Raises :class:`~storage.StorageUnavailable` when the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Literal, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage._engine import Database
from storage._errmap import map_error
from storage.models import (
    DailyStatsRow,
    ExecutionRow,
    FillRow,
    FusionComponentRow,
    FusionRow,
    OrderEventRow,
    OrderRow,
    PositionRow,
    RiskCheckRow,
    RiskDecisionRow,
    SignalRow,
    SignalVerdictRow,
    TradeRow,
)

T = TypeVar("T")
_ZERO = Decimal(0)

OPEN_STATUSES = ("intent", "submitted", "accepted", "partially_filled", "unknown")
"""Order statuses that can still fill (``unknown`` until the reconciler resolves it)."""


class View(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every query result."""


class TradeView(View, frozen=True, kw_only=True):
    """A closed round trip."""

    trade_id: str
    correlation_id: str
    day: str
    symbol: str
    side: str
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ns: int
    exit_ns: int
    holding_ns: int
    pnl: Decimal
    fees: Decimal
    exit_reason: str
    source: str
    trade_type: str


class PnlGroup(View, frozen=True, kw_only=True):
    """Closed-trade totals of one group (a day, source, symbol or exit reason)."""

    key: str
    trades: int
    wins: int
    losses: int
    pnl: Decimal
    fees: Decimal

    @property
    def win_rate(self) -> float:
        """Winning trades over all trades (0 when there are none)."""
        return self.wins / self.trades if self.trades else 0.0


class DailyStatsView(View, frozen=True, kw_only=True):
    """One trading day's totals as kept by the storage writer."""

    day: str
    trades: int
    wins: int
    losses: int
    pnl: Decimal
    fees: Decimal
    gross_profit: Decimal
    gross_loss: Decimal
    best_trade: Decimal
    worst_trade: Decimal


class OrderEventView(View, frozen=True, kw_only=True):
    """One status change of an order."""

    ts: int
    status: str
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    reason: str


class OrderView(View, frozen=True, kw_only=True):
    """An order's latest state (and, in a trace, its status history)."""

    client_order_id: str
    correlation_id: str
    symbol: str
    side: str
    qty: Decimal
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    status: str
    purpose: str
    order_type: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    reason: str
    broker_order_id: str
    intent_ns: int | None
    updated_ns: int
    history: tuple[OrderEventView, ...] = ()


class FillView(View, frozen=True, kw_only=True):
    """One execution."""

    fill_id: str
    client_order_id: str
    ts: int
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    purpose: str


class SignalView(View, frozen=True, kw_only=True):
    """The accepted signal that opened a correlation id."""

    ts: int
    signal_id: str
    source: str
    symbol: str
    side: str
    trade_type: str
    conviction: int
    entry_price: float | None
    stop_price: float | None
    target_price: float | None


class VerdictView(View, frozen=True, kw_only=True):
    """A verdict on the signal (guard or orchestrator stage)."""

    ts: int
    stage: str
    accepted: bool
    reason: str
    detail: str


class FusionComponentView(View, frozen=True, kw_only=True):
    """One signal's share of a fused decision."""

    signal_id: str
    source: str
    side: str
    conviction: int
    weight: float
    age_s: float


class FusionView(View, frozen=True, kw_only=True):
    """How the signal was fused with recent ones."""

    ts: int
    side: str
    conviction: float
    regime: str
    strategy: str
    components: tuple[FusionComponentView, ...]


class RiskCheckView(View, frozen=True, kw_only=True):
    """One risk check with its value and limit."""

    name: str
    value: float
    limit: float
    passed: bool
    detail: str


class RiskView(View, frozen=True, kw_only=True):
    """The risk gate's decision."""

    ts: int
    approved: bool
    reason: str
    checks: tuple[RiskCheckView, ...]


class ExecutionView(View, frozen=True, kw_only=True):
    """How an order ended and how well it was filled."""

    ts: int
    client_order_id: str
    status: str
    filled_qty: Decimal
    avg_fill_price: Decimal | None
    expected_price: float | None
    slippage_bps: float
    fees: Decimal
    problems: tuple[str, ...]


class PositionView(View, frozen=True, kw_only=True):
    """A position snapshot."""

    ts: int
    symbol: str
    qty: Decimal
    avg_price: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    correlation_id: str
    source: str
    cause: str


class Trace(View, frozen=True, kw_only=True):
    """Everything recorded under one correlation id, from signal to closed trade."""

    correlation_id: str
    signal: SignalView | None
    verdicts: tuple[VerdictView, ...]
    fusion: FusionView | None
    risk: tuple[RiskView, ...]
    orders: tuple[OrderView, ...]
    fills: tuple[FillView, ...]
    executions: tuple[ExecutionView, ...]
    trades: tuple[TradeView, ...]

    @property
    def found(self) -> bool:
        """True when anything at all was recorded under this id."""
        return any((self.signal, self.verdicts, self.fusion, self.risk, self.orders, self.trades))


# -- plumbing ---------------------------------------------------------------------------------


async def _run(db: Database, what: str, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    try:
        async with db.connect() as conn:
            return await fn(conn)
    except BaseException as exc:
        mapped = map_error(exc, what)
        if mapped is None:
            raise
        raise mapped from exc


def _view(kind: type[T], row: Any, **extra: Any) -> T:
    """Build view ``kind`` from ``row``'s columns, ``extra`` overriding or adding fields."""
    mapping = row._mapping
    values: dict[str, Any] = {}
    for f in msgspec.structs.fields(kind):  # type: ignore[arg-type]
        if f.name in extra:
            values[f.name] = extra[f.name]
        elif f.name in mapping:
            values[f.name] = mapping[f.name]
    return kind(**values)


def _cols(table: sa.FromClause, kind: type[View], *extra: str) -> list[sa.ColumnElement[Any]]:
    names = [f.name for f in msgspec.structs.fields(kind) if f.name in table.c]
    return [table.c[n] for n in [*names, *extra]]


_TRADES = TradeRow.__table__
_ORDERS = OrderRow.__table__
_ORDER_EVENTS = OrderEventRow.__table__
_DAILY = DailyStatsRow.__table__


# -- trades and P&L -----------------------------------------------------------------------------


async def trades_by_day(db: Database, account: str, day: str) -> list[TradeView]:
    """Trades closed on trading day ``day`` (``YYYY-MM-DD``), in exit order."""
    return await trades_between(db, account, day, day)


async def trades_between(
    db: Database, account: str, first_day: str, last_day: str
) -> list[TradeView]:
    """Trades closed from ``first_day`` to ``last_day`` inclusive, in exit order."""
    q = (
        sa.select(*_cols(_TRADES, TradeView))
        .where(_TRADES.c.account == account, _TRADES.c.day.between(first_day, last_day))
        .order_by(_TRADES.c.exit_ns, _TRADES.c.audit_seq)
    )

    async def go(conn: AsyncConnection) -> list[TradeView]:
        return [_view(TradeView, r) for r in await conn.execute(q)]

    return await _run(db, "reading trades", go)


PnlBy = Literal["day", "source", "symbol", "exit_reason"]


async def pnl_by(
    db: Database,
    account: str,
    by: PnlBy,
    *,
    first_day: str = "0000-00-00",
    last_day: str = "9999-99-99",
) -> list[PnlGroup]:
    """Closed-trade P&L grouped ``by`` day, source, symbol or exit reason, sorted by key."""
    if by not in ("day", "source", "symbol", "exit_reason"):
        raise ValueError(f"cannot group P&L by {by!r}")
    key = _TRADES.c[by]
    q = (
        sa.select(key, _TRADES.c.pnl, _TRADES.c.fees)
        .where(_TRADES.c.account == account, _TRADES.c.day.between(first_day, last_day))
        .execution_options(yield_per=5000)
    )

    async def go(conn: AsyncConnection) -> list[PnlGroup]:
        acc: dict[str, list[Any]] = {}
        result = await conn.stream(q)
        async for k, pnl, fees in result:
            g = acc.get(k)
            if g is None:
                g = acc[k] = [0, 0, 0, _ZERO, _ZERO]
            g[0] += 1
            g[1] += pnl > 0
            g[2] += pnl < 0
            g[3] += pnl
            g[4] += fees
        return [
            PnlGroup(key=k, trades=g[0], wins=g[1], losses=g[2], pnl=g[3], fees=g[4])
            for k, g in sorted(acc.items())
        ]

    return await _run(db, f"reading P&L by {by}", go)


async def daily_stats(
    db: Database, account: str, first_day: str = "0000-00-00", last_day: str = "9999-99-99"
) -> list[DailyStatsView]:
    """The per-day totals the writer keeps, from ``first_day`` to ``last_day``."""
    q = (
        sa.select(*_cols(_DAILY, DailyStatsView))
        .where(_DAILY.c.account == account, _DAILY.c.day.between(first_day, last_day))
        .order_by(_DAILY.c.day)
    )

    async def go(conn: AsyncConnection) -> list[DailyStatsView]:
        return [_view(DailyStatsView, r) for r in await conn.execute(q)]

    return await _run(db, "reading daily statistics", go)


# -- orders ---------------------------------------------------------------------------------


async def open_orders(db: Database, account: str) -> list[OrderView]:
    """Orders that can still fill (including ``unknown`` ones), oldest first."""
    q = (
        sa.select(*_cols(_ORDERS, OrderView))
        .where(_ORDERS.c.account == account, _ORDERS.c.status.in_(OPEN_STATUSES))
        .order_by(_ORDERS.c.updated_ns, _ORDERS.c.client_order_id)
    )

    async def go(conn: AsyncConnection) -> list[OrderView]:
        return [_view(OrderView, r) for r in await conn.execute(q)]

    return await _run(db, "reading open orders", go)


async def order(db: Database, account: str, client_order_id: str) -> OrderView | None:
    """One order with its status history, or None."""

    async def go(conn: AsyncConnection) -> OrderView | None:
        orders = await _orders_where(conn, account, _ORDERS.c.client_order_id == client_order_id)
        return orders[0] if orders else None

    return await _run(db, "reading an order", go)


async def _orders_where(
    conn: AsyncConnection, account: str, cond: sa.ColumnElement[bool]
) -> list[OrderView]:
    rows = (
        await conn.execute(
            sa.select(*_cols(_ORDERS, OrderView))
            .where(_ORDERS.c.account == account, cond)
            .order_by(sa.func.coalesce(_ORDERS.c.intent_ns, _ORDERS.c.updated_ns))
        )
    ).all()
    if not rows:
        return []
    ids = [r.client_order_id for r in rows]
    ev = _ORDER_EVENTS
    history: dict[str, list[OrderEventView]] = {i: [] for i in ids}
    events = await conn.execute(
        sa.select(ev.c.client_order_id, *_cols(ev, OrderEventView))
        .where(ev.c.account == account, ev.c.client_order_id.in_(ids))
        .order_by(ev.c.audit_seq)
    )
    for e in events:
        history[e.client_order_id].append(_view(OrderEventView, e))
    return [_view(OrderView, r, history=tuple(history[r.client_order_id])) for r in rows]


# -- positions ------------------------------------------------------------------------------


async def latest_positions(db: Database, account: str) -> list[PositionView]:
    """The last snapshot of every symbol whose position is not flat."""
    p = PositionRow.__table__
    last = (
        sa.select(p.c.symbol, sa.func.max(p.c.audit_seq).label("seq"))
        .where(p.c.account == account)
        .group_by(p.c.symbol)
        .subquery()
    )
    q = (
        sa.select(*_cols(p, PositionView))
        .join(last, sa.and_(p.c.symbol == last.c.symbol, p.c.audit_seq == last.c.seq))
        .where(p.c.account == account)
        .order_by(p.c.symbol)
    )

    async def go(conn: AsyncConnection) -> list[PositionView]:
        views = [_view(PositionView, r) for r in await conn.execute(q)]
        return [v for v in views if v.qty != 0]

    return await _run(db, "reading positions", go)


# -- trace ----------------------------------------------------------------------------------


async def trace(db: Database, account: str, correlation_id: str) -> Trace:
    """Signal → verdicts → fusion → risk decision(s) → orders → fills → executions → trades."""
    return await _run(db, "tracing a correlation id", lambda c: _trace(c, account, correlation_id))


async def _trace(conn: AsyncConnection, account: str, cid: str) -> Trace:
    s = SignalRow.__table__
    sig_row = (
        await conn.execute(
            sa.select(*_cols(s, SignalView)).where(
                s.c.account == account, s.c.correlation_id == cid
            )
        )
    ).first()
    signal = _view(SignalView, sig_row) if sig_row is not None else None

    v = SignalVerdictRow.__table__
    vq = sa.select(*_cols(v, VerdictView)).where(v.c.account == account)
    if signal is not None:
        # Every verdict on the signal, the guard's (before a correlation id existed) and
        # the orchestrator's, through the (account, source, signal_id) index.
        vq = vq.where(v.c.source == signal.source, v.c.signal_id == signal.signal_id)
    else:
        vq = vq.where(v.c.correlation_id == cid)
    verdicts = tuple(_view(VerdictView, r) for r in await conn.execute(vq.order_by(v.c.audit_seq)))

    f = FusionRow.__table__
    fusion_row = (
        await conn.execute(
            sa.select(f.c.audit_seq, *_cols(f, FusionView)).where(
                f.c.account == account, f.c.correlation_id == cid
            )
        )
    ).first()
    fusion = None
    if fusion_row is not None:
        fc = FusionComponentRow.__table__
        comps = await conn.execute(
            sa.select(*_cols(fc, FusionComponentView))
            .where(fc.c.account == account, fc.c.audit_seq == fusion_row.audit_seq)
            .order_by(fc.c.idx)
        )
        fusion = _view(
            FusionView, fusion_row, components=tuple(_view(FusionComponentView, c) for c in comps)
        )

    rd = RiskDecisionRow.__table__
    rc = RiskCheckRow.__table__
    risk: list[RiskView] = []
    for d in await conn.execute(
        sa.select(rd.c.audit_seq, rd.c.ts, rd.c.approved, rd.c.reason)
        .where(rd.c.account == account, rd.c.correlation_id == cid)
        .order_by(rd.c.audit_seq)
    ):
        checks = await conn.execute(
            sa.select(rc.c.name, rc.c.value, rc.c.limit_value, rc.c.passed, rc.c.detail)
            .where(rc.c.account == account, rc.c.audit_seq == d.audit_seq)
            .order_by(rc.c.idx)
        )
        risk.append(
            _view(
                RiskView,
                d,
                checks=tuple(_view(RiskCheckView, c, limit=c.limit_value) for c in checks),
            )
        )

    orders = await _orders_where(conn, account, _ORDERS.c.correlation_id == cid)

    fl = FillRow.__table__
    fills = tuple(
        _view(FillView, r)
        for r in await conn.execute(
            sa.select(*_cols(fl, FillView))
            .where(fl.c.account == account, fl.c.correlation_id == cid)
            .order_by(fl.c.audit_seq)
        )
    )
    ex = ExecutionRow.__table__
    executions = tuple(
        _view(ExecutionView, r, problems=tuple(msgspec.json.decode(r.problems, type=list[str])))
        for r in await conn.execute(
            sa.select(*_cols(ex, ExecutionView, "problems"))
            .where(ex.c.account == account, ex.c.correlation_id == cid)
            .order_by(ex.c.audit_seq)
        )
    )
    trades = tuple(
        _view(TradeView, r)
        for r in await conn.execute(
            sa.select(*_cols(_TRADES, TradeView))
            .where(_TRADES.c.account == account, _TRADES.c.correlation_id == cid)
            .order_by(_TRADES.c.audit_seq)
        )
    )
    return Trace(
        correlation_id=cid,
        signal=signal,
        verdicts=verdicts,
        fusion=fusion,
        risk=tuple(risk),
        orders=tuple(orders),
        fills=fills,
        executions=executions,
        trades=trades,
    )
