"""The ``Broker`` protocol: what tradingd needs from any venue, paper or real.

Real venues come as adapters behind this protocol; the embedded default is
:class:`actors.broker.paper.PaperBroker`. The broker actor is the only caller.

Errors (all under :class:`daemon.errors.TradingdError`)::

    BrokerError
    ├── BrokerUnavailable   not connected: the request certainly did not reach the venue
    └── BrokerTimeout       no answer in time: the request may or may not have arrived

Rejections are not exceptions: a rejected order is an ``OrderUpdate`` with status
``REJECTED`` and a reason, because only the venue can say an order failed.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias, runtime_checkable

import anyio
from anyio.abc import TaskStatus

from daemon.errors import TradingdError
from daemon.messages import (
    AccountSnapshot,
    Bar,
    BrokerOrder,
    Fill,
    MarketBatch,
    OrderIntent,
    OrderUpdate,
    PositionSnapshot,
    Tick,
)

OrderEvent: TypeAlias = OrderUpdate | Fill
"""What a broker's event stream carries."""


class BrokerError(TradingdError):
    """Raised when a broker request cannot be completed (see the subclasses)."""


class BrokerUnavailable(BrokerError):
    """Raised when the broker is not connected; the request did not reach the venue."""


class BrokerTimeout(BrokerError):
    """Raised when the venue did not answer in time; the outcome is unknown."""


@runtime_checkable
class Broker(Protocol):
    """A trading venue as tradingd sees it.

    Contract every implementation keeps:

    * ``submit`` is idempotent by ``client_order_id``: submitting an id the venue already
      knows creates nothing, returns the existing order, and emits its current state as
      an ``OrderUpdate`` with reason ``duplicate_client_order_id``.
    * Every change of an order's state is reported on the event stream, a ``Fill`` before
      the ``OrderUpdate`` that reflects it, in the order they happened.
    * Quantities and prices are ``Decimal``; times come from the injected clock.
    """

    @property
    def name(self) -> str:
        """Short name of the venue (``paper``, ...), used in ``BrokerStatus``."""
        ...

    @property
    def connected(self) -> bool:
        """True while requests can reach the venue."""
        ...

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Do the session's background work (timers, socket readers) until cancelled.

        Started by the broker actor in its task group before :meth:`connect`.
        """
        ...

    async def connect(self) -> None:
        """Open the session (idempotent); raises :class:`BrokerUnavailable` on failure."""
        ...

    async def close(self) -> None:
        """Close the session; working orders stay at the venue."""
        ...

    async def submit(self, intent: OrderIntent) -> BrokerOrder:
        """Send an order (market/limit/stop; day/gtc/ioc) and return its state now."""
        ...

    async def cancel(self, client_order_id: str) -> BrokerOrder | None:
        """Ask the venue to cancel; returns the order's state now, None if unknown.

        The cancellation itself is confirmed by an ``OrderUpdate`` (fills may race it).
        """
        ...

    async def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The venue's view of one order, or None when the venue does not know the id."""
        ...

    async def open_orders(self) -> tuple[BrokerOrder, ...]:
        """Every order still working at the venue."""
        ...

    async def positions(self) -> tuple[PositionSnapshot, ...]:
        """Every open position the venue holds for the account."""
        ...

    async def account(self) -> AccountSnapshot:
        """Cash, equity and buying power as the venue computes them."""
        ...

    async def next_events(self, max_items: int = 1024) -> list[OrderEvent]:
        """Wait for order events, then return up to ``max_items`` of them, in order."""
        ...


@runtime_checkable
class MarketFedBroker(Broker, Protocol):
    """A simulated venue that prices orders from the daemon's own market data."""

    async def on_market(self, item: Tick | Bar | MarketBatch) -> None:
        """Take one market update: reprice, fill resting orders, mark positions."""
        ...
