"""Reconciler: the daemon's books and working orders converge to the broker's.

See docs/actors/reconciler.md for when it runs, every discrepancy kind, the actions
and their configuration keys, and the report format.
"""

from actors.reconciler._actor import Reconciler as Reconciler
from actors.reconciler._compare import BrokerView as BrokerView
from actors.reconciler._compare import Finding as Finding
from actors.reconciler._compare import Plan as Plan
from actors.reconciler._compare import breaches as breaches
from actors.reconciler._compare import plan as plan
from actors.reconciler._kinds import Action as Action
from actors.reconciler._kinds import Kind as Kind
from actors.reconciler.api import ReconcilerClient as ReconcilerClient
from actors.reconciler.api import RunReconciliation as RunReconciliation
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="reconciler",
    factory=Reconciler,
    description="compares our positions and working orders with the broker's and "
    "corrects our books (start-up, periodic, reconnect, on demand)",
    core=True,
    # The orchestrator serves the books, the broker the queries; the lifecycle monitor
    # must hear of adopted positions, the storage writer and the safety actor of the
    # report. The signal guard requires this actor, so no signal is handled before the
    # start-up run has finished.
    requires=("broker", "orchestrator", "lifecycle", "storage_writer", "safety"),
)

__all__ = (
    "DEFINITION",
    "Action",
    "BrokerView",
    "Finding",
    "Kind",
    "Plan",
    "Reconciler",
    "ReconcilerClient",
    "RunReconciliation",
    "breaches",
    "plan",
)
