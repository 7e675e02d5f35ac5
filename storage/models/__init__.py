"""Typed SQLAlchemy 2 models of everything tradingd records (see docs/storage.md)."""

from storage.models._base import Base as Base
from storage.models._base import EventRow as EventRow
from storage.models.audit import AuditRow as AuditRow
from storage.models.books import DailyStatsRow as DailyStatsRow
from storage.models.books import PositionRow as PositionRow
from storage.models.books import TradeRow as TradeRow
from storage.models.feedback import FeedbackSourceRow as FeedbackSourceRow
from storage.models.feedback import FeedbackTradeRow as FeedbackTradeRow
from storage.models.ops import AlertRow as AlertRow
from storage.models.ops import DiscrepancyRow as DiscrepancyRow
from storage.models.ops import KillSwitchRow as KillSwitchRow
from storage.models.ops import ReconciliationRunRow as ReconciliationRunRow
from storage.models.ops import TradingModeRow as TradingModeRow
from storage.models.orders import ExecutionRow as ExecutionRow
from storage.models.orders import FillRow as FillRow
from storage.models.orders import OrderEventRow as OrderEventRow
from storage.models.orders import OrderRow as OrderRow
from storage.models.pipeline import FusionComponentRow as FusionComponentRow
from storage.models.pipeline import FusionRow as FusionRow
from storage.models.pipeline import RiskCheckRow as RiskCheckRow
from storage.models.pipeline import RiskDecisionRow as RiskDecisionRow
from storage.models.pipeline import SignalRejectionRow as SignalRejectionRow
from storage.models.pipeline import SignalRow as SignalRow
from storage.models.pipeline import SignalVerdictRow as SignalVerdictRow

metadata = Base.metadata
"""All tradingd tables (what Alembic migrates)."""

__all__ = (
    "AlertRow",
    "AuditRow",
    "Base",
    "DailyStatsRow",
    "DiscrepancyRow",
    "EventRow",
    "ExecutionRow",
    "FeedbackSourceRow",
    "FeedbackTradeRow",
    "FillRow",
    "FusionComponentRow",
    "FusionRow",
    "KillSwitchRow",
    "OrderEventRow",
    "OrderRow",
    "PositionRow",
    "ReconciliationRunRow",
    "RiskCheckRow",
    "RiskDecisionRow",
    "SignalRejectionRow",
    "SignalRow",
    "SignalVerdictRow",
    "TradeRow",
    "TradingModeRow",
    "metadata",
)
