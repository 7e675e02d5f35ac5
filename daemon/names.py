"""Names of the bus endpoints that connect the actors (one place, no typos).

Channels are point-to-point (one consuming actor); the ``events`` topic fans every
domain event out to its subscribers (storage, journal, alerts, Redis, lifecycle...).
"""

from __future__ import annotations

EVENTS = "events"
"""Topic: every domain event (verdicts, records, orders, fills, positions, alerts...)."""

SIGNALS_IN = "guard.in"
"""Channel: raw inbound signals (Redis, socket, replay) to the signal guard."""
ORCHESTRATOR_IN = "orchestrator.in"
"""Channel: accepted signals (SignalVerdict) from the guard to the orchestrator."""
ORCHESTRATOR_EXITS = "orchestrator.exits"
"""Channel: ExitIntent from the lifecycle monitor (and operators) to the orchestrator."""
ORCHESTRATOR_BROKER = "orchestrator.broker"
"""Channel: OrderUpdate/Fill events from the broker to the orchestrator."""
BROKER_COMMANDS = "broker.commands"
"""Channel: SubmitOrder/CancelOrder from the orchestrator to the broker."""
MARKET = "market"
"""Topic: Tick/Bar/MarketBatch from ingest, the demo feed or replay (lifecycle, paper
broker, risk gate and regime subscribe; lossless, so a replay is exact)."""
ORCHESTRATOR_CONTROL = "orchestrator.control"
"""Channel: CancelAllOrders and other operator/kill requests to the orchestrator."""
BROKER_QUERY = "broker.query"
"""Service: broker queries (order by client order id, open orders, positions, account)."""
RISK = "risk"
"""Service: RiskRequest -> RiskDecision (the risk gate)."""
LIFECYCLE_CONTROL = "lifecycle.control"
"""Channel: control requests to the lifecycle monitor (emergency close all)."""
SAFETY = "safety"
"""Service: kill switch and trading mode commands (EngageKill, ResetKill, SetMode,
GetSafety -> SafetyReply), served by the safety actor; see daemon.safety.api."""
ORCHESTRATOR_BOOKS = "orchestrator.books"
"""Service: LocalState / ApplyCorrections -> the orchestrator's books and working orders
(the reconciler's only way to read or correct them; see actors.orchestrator.books_api)."""
RECONCILER = "reconciler"
"""Service: RunReconciliation -> ReconciliationReport (the admin socket's ``reconcile``)."""
