"""Signal guard: validity, freshness, duplicates and cooldown for every inbound signal.

Reads ``guard.in`` (decoded :class:`~daemon.messages.Signal` structs), publishes a
:class:`~daemon.messages.SignalVerdict` per signal on ``events`` and forwards accepted
ones to ``orchestrator.in``. See docs/actors/signal_guard.md.
"""

from actors.signal_guard._actor import SignalGuard as SignalGuard
from actors.signal_guard._rules import GuardReason as GuardReason
from actors.signal_guard._rules import GuardRules as GuardRules
from actors.signal_guard._ttl import ExpiringSet as ExpiringSet
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="signal_guard",
    factory=SignalGuard,
    description="validates, de-duplicates and cools down inbound signals",
    core=True,
    # No signal is handled before the start-up reconciliation has finished.
    requires=("reconciler",),
)

__all__ = ("DEFINITION", "ExpiringSet", "GuardReason", "GuardRules", "SignalGuard")
