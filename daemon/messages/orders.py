"""Order intents, commands to brokers, order events, fills and execution records."""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from daemon.messages._base import ZERO, Message, Nanos, Side, Symbol


class OrderType(enum.StrEnum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class TimeInForce(enum.StrEnum):
    """How long an order works."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderPurpose(enum.StrEnum):
    """Why an order exists: entries open risk, everything else reduces it."""

    ENTRY = "entry"
    EXIT = "exit"
    FLATTEN = "flatten"
    ADOPT = "adopt"

    @property
    def opens_risk(self) -> bool:
        """True only for entries; exits and flattening are allowed while killed."""
        return self is OrderPurpose.ENTRY


class OrderStatus(enum.StrEnum):
    """Life of an order. ``UNKNOWN`` means the broker has not said; never assume failed."""

    INTENT = "intent"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True when no further fills can arrive."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class OrderIntent(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Write-ahead record of an order we are about to send.

    Recorded before the order leaves the process, so that after a crash every intent
    without an outcome can be resolved by asking the broker for ``client_order_id``.
    """

    client_order_id: str
    correlation_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    purpose: OrderPurpose = OrderPurpose.ENTRY
    reason: str = ""
    ts: Nanos


class SubmitOrder(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Command to a broker: send the order described by ``intent``."""

    intent: OrderIntent


class CancelOrder(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Command to a broker: cancel a working order."""

    client_order_id: str
    reason: str = ""
    ts: Nanos


OrderCommand = SubmitOrder | CancelOrder


class OrderUpdate(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An order's new status as reported by the broker (or inferred: ``UNKNOWN``)."""

    client_order_id: str
    correlation_id: str = ""
    broker_order_id: str = ""
    symbol: Symbol
    side: Side
    status: OrderStatus
    qty: Decimal
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    purpose: OrderPurpose = OrderPurpose.ENTRY
    reason: str = ""
    ts: Nanos


class Fill(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """One execution against an order. ``fill_id`` is unique per broker."""

    fill_id: str
    client_order_id: str
    correlation_id: str = ""
    broker_order_id: str = ""
    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal
    commission: Decimal = ZERO
    purpose: OrderPurpose = OrderPurpose.ENTRY
    ts: Nanos


class ExecutionRecord(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Last link of the audit chain: how an order ended and how well it was filled."""

    correlation_id: str
    client_order_id: str
    symbol: Symbol
    side: Side
    status: OrderStatus
    qty: Decimal
    filled_qty: Decimal
    avg_fill_price: Decimal | None = None
    expected_price: float | None = None
    slippage_bps: float = 0.0
    fees: Decimal = ZERO
    problems: tuple[str, ...] = ()
    ts: Nanos


class BrokerOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order as the broker sees it (answers to queries, used by the reconciler)."""

    client_order_id: str
    broker_order_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    filled_qty: Decimal
    status: OrderStatus
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    avg_fill_price: Decimal | None = None
    ts: Nanos = 0
    stop_price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    correlation_id: str = ""
    purpose: OrderPurpose = OrderPurpose.ENTRY
    reason: str = ""
    """Why the order ended as it did (rejection or cancellation reason), if it has."""
