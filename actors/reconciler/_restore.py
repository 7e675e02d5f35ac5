"""Restoring the recorded state into a fresh orchestrator before the first comparison.

After a restart the orchestrator's books are empty, while the database holds the last
position of every symbol and every order without a final outcome (write-ahead intents
included). Restored first, they are then resolved against the broker like any working
order or position — instead of every broker position looking like an orphan and every
intent being forgotten.
"""

from __future__ import annotations

import logging

import msgspec

from actors.orchestrator.books_api import Correction, SetPosition, TrackOrder
from daemon.messages import (
    ZERO,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from storage import Database
from storage.queries import OrderView, PositionView, latest_positions, open_orders

_ACKED = {OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED}


class RestoreProblem(msgspec.Struct, frozen=True, kw_only=True):
    """A recorded row that could not be restored, and why."""

    what: str
    error: str


async def recorded_state(
    db: Database, account: str, log: logging.LoggerAdapter[logging.Logger]
) -> tuple[list[Correction], list[RestoreProblem]]:
    """Corrections that put the recorded open orders and positions back in the books.

    Raises :class:`storage.StorageError` when the database cannot be read.
    """
    orders = await open_orders(db, account)
    positions = await latest_positions(db, account)
    items: list[Correction] = []
    problems: list[RestoreProblem] = []
    for v in orders:
        try:
            items.append(_track(v))
        except (ValueError, msgspec.ValidationError) as exc:
            problems.append(RestoreProblem(what=f"order {v.client_order_id}", error=str(exc)))
    for p in positions:
        items.append(_position(p))
    log.info(
        "recorded state read",
        extra={
            "event": "reconcile_restore_read",
            "orders": len(orders),
            "positions": len(positions),
        },
    )
    return items, problems


def _track(v: OrderView) -> TrackOrder:
    status = OrderStatus(v.status)
    acked = status in _ACKED
    intent = OrderIntent(
        client_order_id=v.client_order_id,
        correlation_id=v.correlation_id,
        symbol=v.symbol,
        side=Side(v.side),
        qty=v.qty,
        order_type=OrderType(v.order_type or OrderType.MARKET),
        limit_price=v.limit_price,
        stop_price=v.stop_price,
        tif=TimeInForce.DAY,
        purpose=OrderPurpose(v.purpose),
        reason=v.reason,
        ts=v.intent_ns if v.intent_ns is not None else v.updated_ns,
    )
    return TrackOrder(
        intent=intent,
        # Not acknowledged before the crash: unknown until the broker is asked.
        status=status if acked else OrderStatus.UNKNOWN,
        acked=acked,
        broker_order_id=v.broker_order_id,
        filled_qty=v.filled_qty,
        avg_fill_price=v.avg_fill_price,
    )


def _position(p: PositionView) -> SetPosition:
    return SetPosition(
        symbol=p.symbol,
        expected_qty=ZERO,
        qty=p.qty,
        avg_price=p.avg_price,
        cause="reconcile:restore",
        correlation_id=p.correlation_id,
        source=p.source,
    )
