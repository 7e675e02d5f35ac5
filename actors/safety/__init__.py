"""Safety actor: the kill switch's automatic triggers, day figures and command service.

Watches closed trades, positions, account figures, broker links and reconciliation
reports on ``events``; engages the kill switch on the daily loss limit, circuit-breaker
escalation, reconciliation mismatches and long broker disconnects with open positions;
rolls the trading day over; and serves the ``safety`` service. The state itself lives in
:class:`daemon.safety.SafetyStore`. See docs/kill-switch.md.
"""

from actors.safety._actor import SafetyActor as SafetyActor
from actors.safety._watch import SafetyWatch as SafetyWatch
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="safety",
    factory=SafetyActor,
    description="kill-switch triggers, trading-day figures and the safety command service",
    core=True,
)

__all__ = ("DEFINITION", "SafetyActor", "SafetyWatch")
