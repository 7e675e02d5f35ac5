"""Orchestrator: the nine stages from an accepted signal to a validated fill.

See docs/actors/orchestrator.md for the stages, reason codes and configuration.
"""

from actors.orchestrator._actor import Orchestrator as Orchestrator
from actors.orchestrator._adx import AdxTracker as AdxTracker
from actors.orchestrator._execution import Execution as Execution
from actors.orchestrator._fusion import Fused as Fused
from actors.orchestrator._fusion import Fusion as Fusion
from actors.orchestrator._ids import correlation_id as correlation_id
from actors.orchestrator._ids import entry_order_id as entry_order_id
from actors.orchestrator._ids import exit_order_id as exit_order_id
from actors.orchestrator._orders import OrderBook as OrderBook
from actors.orchestrator._orders import WorkingOrder as WorkingOrder
from actors.orchestrator._pipeline import EntryPipeline as EntryPipeline
from actors.orchestrator._pipeline import Reject as Reject
from actors.orchestrator._pipeline import Stage as Stage
from actors.orchestrator._sizing import Sizer as Sizer
from actors.orchestrator._sizing import SizeResult as SizeResult
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="orchestrator",
    factory=Orchestrator,
    description="nine-stage signal pipeline, order submission, fill validation, books",
    core=True,
    requires=("risk_gate",),
)

__all__ = (
    "DEFINITION",
    "AdxTracker",
    "EntryPipeline",
    "Execution",
    "Fused",
    "Fusion",
    "Orchestrator",
    "OrderBook",
    "Reject",
    "SizeResult",
    "Sizer",
    "Stage",
    "WorkingOrder",
    "correlation_id",
    "entry_order_id",
    "exit_order_id",
)
