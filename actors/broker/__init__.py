"""The broker actor and the brokers behind it.

* :mod:`actors.broker.protocol`: the :class:`Broker` protocol every venue implements,
  and the broker errors;
* :mod:`actors.broker.queries`: the request/reply queries on ``broker.query`` and the
  typed :class:`BrokerClient`;
* :mod:`actors.broker.paper`: :class:`PaperBroker`, the embedded simulated venue;
* :mod:`actors.broker.actor`: :class:`BrokerActor`, which connects them to the bus.

See docs/broker.md.
"""

from actors.broker._model import PaperReason as PaperReason
from actors.broker.actor import BrokerActor as BrokerActor
from actors.broker.paper import PaperBackdoor as PaperBackdoor
from actors.broker.paper import PaperBroker as PaperBroker
from actors.broker.protocol import Broker as Broker
from actors.broker.protocol import BrokerError as BrokerError
from actors.broker.protocol import BrokerTimeout as BrokerTimeout
from actors.broker.protocol import BrokerUnavailable as BrokerUnavailable
from actors.broker.protocol import MarketFedBroker as MarketFedBroker
from actors.broker.protocol import OrderEvent as OrderEvent
from actors.broker.queries import BrokerClient as BrokerClient
from actors.broker.queries import BrokerQuery as BrokerQuery
from actors.broker.queries import GetAccount as GetAccount
from actors.broker.queries import GetOrder as GetOrder
from actors.broker.queries import GetPositions as GetPositions
from actors.broker.queries import ListOpenOrders as ListOpenOrders
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="broker",
    factory=BrokerActor,
    description="Sends orders to the venue (paper by default), reports its events, "
    "answers broker queries",
    core=True,
)

__all__ = (
    "DEFINITION",
    "Broker",
    "BrokerActor",
    "BrokerClient",
    "BrokerError",
    "BrokerQuery",
    "BrokerTimeout",
    "BrokerUnavailable",
    "GetAccount",
    "GetOrder",
    "GetPositions",
    "ListOpenOrders",
    "MarketFedBroker",
    "OrderEvent",
    "PaperBackdoor",
    "PaperBroker",
    "PaperReason",
)
