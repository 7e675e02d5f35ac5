"""The message catalogue: everything that crosses an actor boundary.

Every message is a frozen, keyword-only, tagged ``msgspec.Struct``. See ``_base`` for
the representation of numbers and time, and ``codec`` for the reused encoders.
"""

from daemon.messages._base import ZERO as ZERO
from daemon.messages._base import Message as Message
from daemon.messages._base import Money as Money
from daemon.messages._base import Nanos as Nanos
from daemon.messages._base import Qty as Qty
from daemon.messages._base import Regime as Regime
from daemon.messages._base import Severity as Severity
from daemon.messages._base import Side as Side
from daemon.messages._base import TradeType as TradeType
from daemon.messages.books import AccountSnapshot as AccountSnapshot
from daemon.messages.books import PositionSnapshot as PositionSnapshot
from daemon.messages.books import PositionUpdate as PositionUpdate
from daemon.messages.books import TradeClosed as TradeClosed
from daemon.messages.codec import EVENT_TYPES as EVENT_TYPES
from daemon.messages.codec import SCHEMA_VERSION as SCHEMA_VERSION
from daemon.messages.codec import Event as Event
from daemon.messages.codec import MessageDecodeError as MessageDecodeError
from daemon.messages.market import Bar as Bar
from daemon.messages.market import MarketBatch as MarketBatch
from daemon.messages.market import MarketData as MarketData
from daemon.messages.market import Tick as Tick
from daemon.messages.ops import ActorState as ActorState
from daemon.messages.ops import ActorStatus as ActorStatus
from daemon.messages.ops import Alert as Alert
from daemon.messages.ops import BrokerStatus as BrokerStatus
from daemon.messages.ops import ControlCommand as ControlCommand
from daemon.messages.ops import Discrepancy as Discrepancy
from daemon.messages.ops import Heartbeat as Heartbeat
from daemon.messages.ops import ReconciliationReport as ReconciliationReport
from daemon.messages.ops import ServiceStatus as ServiceStatus
from daemon.messages.orders import BrokerOrder as BrokerOrder
from daemon.messages.orders import CancelOrder as CancelOrder
from daemon.messages.orders import ExecutionRecord as ExecutionRecord
from daemon.messages.orders import Fill as Fill
from daemon.messages.orders import OrderCommand as OrderCommand
from daemon.messages.orders import OrderIntent as OrderIntent
from daemon.messages.orders import OrderPurpose as OrderPurpose
from daemon.messages.orders import OrderStatus as OrderStatus
from daemon.messages.orders import OrderType as OrderType
from daemon.messages.orders import OrderUpdate as OrderUpdate
from daemon.messages.orders import SubmitOrder as SubmitOrder
from daemon.messages.orders import TimeInForce as TimeInForce
from daemon.messages.risk import RiskCheck as RiskCheck
from daemon.messages.risk import RiskDecision as RiskDecision
from daemon.messages.risk import RiskRequest as RiskRequest
from daemon.messages.safety import CancelAllOrders as CancelAllOrders
from daemon.messages.safety import ExitIntent as ExitIntent
from daemon.messages.safety import ExitReason as ExitReason
from daemon.messages.safety import FlattenAll as FlattenAll
from daemon.messages.safety import KillSwitchEvent as KillSwitchEvent
from daemon.messages.safety import TradingMode as TradingMode
from daemon.messages.safety import TradingModeChanged as TradingModeChanged
from daemon.messages.signals import FusionComponent as FusionComponent
from daemon.messages.signals import FusionRecord as FusionRecord
from daemon.messages.signals import RegimeUpdate as RegimeUpdate
from daemon.messages.signals import Signal as Signal
from daemon.messages.signals import SignalRecord as SignalRecord
from daemon.messages.signals import SignalRejected as SignalRejected
from daemon.messages.signals import SignalVerdict as SignalVerdict
from daemon.messages.signals import SourceWeights as SourceWeights
