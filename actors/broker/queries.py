"""Request/reply queries served by the broker actor on ``daemon.names.BROKER_QUERY``.

The orchestrator asks :class:`GetOrder` to resolve stale or unknown orders; the
reconciler asks all four. :class:`BrokerClient` gives callers typed methods::

    client = BrokerClient(bus)
    order = await client.get_order("sig-123:0")   # BrokerOrder | None

A failed query (broker disconnected, ...) raises the broker's error in the caller,
e.g. :class:`actors.broker.protocol.BrokerUnavailable`.
"""

from __future__ import annotations

from typing import Any, TypeAlias, final

import msgspec

from daemon import names
from daemon.bus import Bus, Service
from daemon.messages import AccountSnapshot, BrokerOrder, PositionSnapshot


class GetOrder(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for one order by client order id; answered with ``BrokerOrder | None``."""

    client_order_id: str


class ListOpenOrders(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for every working order; answered with ``tuple[BrokerOrder, ...]``."""


class GetPositions(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for every open position; answered with ``tuple[PositionSnapshot, ...]``."""


class GetAccount(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for the account; answered with ``AccountSnapshot``."""


BrokerQuery: TypeAlias = GetOrder | ListOpenOrders | GetPositions | GetAccount
"""Every request the broker query service accepts."""

BrokerAnswer: TypeAlias = (
    BrokerOrder | tuple[BrokerOrder, ...] | tuple[PositionSnapshot, ...] | AccountSnapshot | None
)
"""Every answer it gives (which one depends on the request, see each request)."""


@final
class BrokerClient:
    """Typed caller of the broker query service (``names.BROKER_QUERY``)."""

    __slots__ = ("_service",)

    def __init__(self, bus: Bus) -> None:
        self._service: Service[Any, Any] = bus.service(names.BROKER_QUERY)

    async def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The broker's view of one order, None when the broker does not know it."""
        answer: BrokerOrder | None = await self._service.call(
            GetOrder(client_order_id=client_order_id)
        )
        return answer

    async def open_orders(self) -> tuple[BrokerOrder, ...]:
        """Every order working at the broker."""
        answer: tuple[BrokerOrder, ...] = await self._service.call(ListOpenOrders())
        return answer

    async def positions(self) -> tuple[PositionSnapshot, ...]:
        """Every position the broker holds."""
        answer: tuple[PositionSnapshot, ...] = await self._service.call(GetPositions())
        return answer

    async def account(self) -> AccountSnapshot:
        """The broker's account figures."""
        answer: AccountSnapshot = await self._service.call(GetAccount())
        return answer
