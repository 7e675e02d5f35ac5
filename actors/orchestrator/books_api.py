"""The orchestrator's books service: what the reconciler may ask of the orchestrator.

The orchestrator owns the books and the working orders; nothing else mutates them. The
reconciler reads them and has them corrected only through this request/reply service,
served in the orchestrator's own loop (``names.ORCHESTRATOR_BOOKS``)::

    client = BooksClient(bus)
    local = await client.local_state()                 # LocalSnapshot
    results = await client.apply("run-1", corrections)  # tuple[CorrectionResult, ...]

Every correction names the state it expects to find (a position's quantity, an order's
filled quantity): the orchestrator applies it only if that still holds, and otherwise
answers ``stale`` — so a fill that arrived while the reconciler was comparing is never
overwritten or booked twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeAlias, final

import msgspec

from daemon import names
from daemon.bus import Bus, Service
from daemon.messages import (
    ZERO,
    Nanos,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    PositionSnapshot,
    Side,
)

__all__ = (
    "ApplyCorrections",
    "BookFill",
    "BooksClient",
    "BooksRequest",
    "CancelAtBroker",
    "ClosePosition",
    "Correction",
    "CorrectionResult",
    "LocalOrder",
    "LocalSnapshot",
    "LocalState",
    "SetPosition",
    "TrackOrder",
    "UpdateOrder",
)


class LocalOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A working order as the orchestrator knows it."""

    client_order_id: str
    correlation_id: str
    symbol: str
    side: Side
    qty: Decimal
    filled: Decimal
    avg_price: Decimal | None
    status: OrderStatus
    purpose: OrderPurpose
    acked: bool
    """False while the broker has said nothing about it (an unknown-outcome intent)."""
    submitted_ns: Nanos
    broker_order_id: str = ""
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None


class LocalState(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for the books' positions and the working orders; answered with LocalSnapshot."""


class LocalSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The orchestrator's positions and working orders at one moment."""

    positions: tuple[PositionSnapshot, ...]
    orders: tuple[LocalOrder, ...]
    marks: dict[str, float]
    """The last price seen for every symbol held or traded by a working order."""
    fresh: bool
    """True when nothing has happened in the books yet (a new or restarted orchestrator):
    the reconciler then restores the recorded state before comparing."""
    ts: Nanos


class SetPosition(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Make the position in ``symbol`` be ``qty`` at ``avg_price`` (not a trade).

    For quantity or side mismatches, adopted orphans and positions restored at start-up.
    """

    symbol: str
    expected_qty: Decimal
    qty: Decimal
    avg_price: Decimal
    cause: str
    correlation_id: str = ""
    source: str = ""


class ClosePosition(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Close a ghost position at ``price``: a trade closed with ``exit_reason`` = reason."""

    symbol: str
    expected_qty: Decimal
    price: Decimal
    reason: str


class BookFill(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Book an execution of a tracked order that the broker reports and we never heard of."""

    client_order_id: str
    expected_filled: Decimal
    qty: Decimal
    price: Decimal
    broker_order_id: str = ""


class UpdateOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Move a tracked order to the broker's status (finished when terminal).

    ``REJECTED`` with ``problem="never_sent"`` marks an intent that never reached the
    broker as failed; it is never re-sent.
    """

    client_order_id: str
    status: OrderStatus
    reason: str
    broker_order_id: str = ""
    filled_qty: Decimal = ZERO
    problem: str = ""


class TrackOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Start tracking an order: an unknown one open at the broker (adopted), or an
    intent recorded before a restart whose outcome is not known (``acked=False``)."""

    intent: OrderIntent
    status: OrderStatus
    acked: bool
    broker_order_id: str = ""
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None


class CancelAtBroker(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Cancel an order open at the broker that we never sent."""

    client_order_id: str
    reason: str


Correction: TypeAlias = (
    SetPosition | ClosePosition | BookFill | UpdateOrder | TrackOrder | CancelAtBroker
)
"""Every change the reconciler may ask for."""


class ApplyCorrections(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Apply ``items`` in order; answered with one CorrectionResult per item."""

    run_id: str
    items: tuple[Correction, ...]


class CorrectionResult(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one correction: applied, or why not (``stale``: state moved on)."""

    applied: bool
    detail: str = ""


BooksRequest: TypeAlias = LocalState | ApplyCorrections
"""Every request the books service answers."""


@final
class BooksClient:
    """Typed caller of the orchestrator's books service (``names.ORCHESTRATOR_BOOKS``)."""

    __slots__ = ("_service",)

    def __init__(self, bus: Bus) -> None:
        self._service: Service[Any, Any] = bus.service(names.ORCHESTRATOR_BOOKS)

    async def local_state(self) -> LocalSnapshot:
        """The orchestrator's positions and working orders now."""
        answer: LocalSnapshot = await self._service.call(LocalState())
        return answer

    async def apply(
        self, run_id: str, items: tuple[Correction, ...]
    ) -> tuple[CorrectionResult, ...]:
        """Apply ``items`` in order; one result each."""
        answer: tuple[CorrectionResult, ...] = await self._service.call(
            ApplyCorrections(run_id=run_id, items=items)
        )
        return answer
