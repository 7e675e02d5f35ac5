"""Orders (current state and status history), fills and execution records."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base, EventRow


class OrderRow(Base):
    """One order and its latest known state, keyed by client order id.

    Created from the write-ahead ``OrderIntent`` (``intent_seq``, ``intent_ns``) and moved
    on by each ``OrderUpdate``; ``last_seq`` is the audit sequence of the update that set
    the current status, so a late-arriving older update can never overwrite a newer one.
    Orders adopted from the broker have no intent (``intent_seq`` is null).
    """

    __tablename__ = "orders"
    __table_args__ = (
        sa.Index(None, "account", "correlation_id"),
        sa.Index(None, "account", "status"),
    )

    account: Mapped[str] = mapped_column(primary_key=True)
    client_order_id: Mapped[str] = mapped_column(primary_key=True)
    intent_seq: Mapped[int | None]
    last_seq: Mapped[int | None]
    correlation_id: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal]
    order_type: Mapped[str | None]
    limit_price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    tif: Mapped[str | None]
    purpose: Mapped[str]
    reason: Mapped[str]
    intent_ns: Mapped[int | None]
    status: Mapped[str]
    filled_qty: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    broker_order_id: Mapped[str]
    updated_ns: Mapped[int]


class OrderEventRow(EventRow, Base):
    """An order's status history: one row per ``OrderUpdate``."""

    __tablename__ = "order_events"
    __table_args__ = (sa.Index(None, "account", "client_order_id"),)

    client_order_id: Mapped[str]
    ts: Mapped[int]
    status: Mapped[str]
    correlation_id: Mapped[str]
    broker_order_id: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal]
    filled_qty: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    purpose: Mapped[str]
    reason: Mapped[str]


class FillRow(EventRow, Base):
    """One execution against an order; ``fill_id`` is unique per account."""

    __tablename__ = "fills"
    # Read by correlation id (trace); no index by client order id (migration 0003).
    __table_args__ = (
        sa.UniqueConstraint("account", "fill_id"),
        sa.Index(None, "account", "correlation_id"),
    )

    fill_id: Mapped[str]
    client_order_id: Mapped[str]
    correlation_id: Mapped[str]
    broker_order_id: Mapped[str]
    ts: Mapped[int]
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal]
    price: Mapped[Decimal]
    commission: Mapped[Decimal]
    purpose: Mapped[str]


class ExecutionRow(EventRow, Base):
    """Last link of the decision chain: how an order ended and how well it was filled."""

    __tablename__ = "executions"
    __table_args__ = (sa.Index(None, "account", "correlation_id"),)

    correlation_id: Mapped[str]
    client_order_id: Mapped[str]
    ts: Mapped[int]
    symbol: Mapped[str]
    side: Mapped[str]
    status: Mapped[str]
    qty: Mapped[Decimal]
    filled_qty: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    expected_price: Mapped[float | None]
    slippage_bps: Mapped[float]
    fees: Mapped[Decimal]
    problems: Mapped[str]
    """JSON array of problem descriptions (empty array when the fill was clean)."""
