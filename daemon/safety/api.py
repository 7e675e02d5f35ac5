"""The kill switch's command API: requests, the reply, and the trigger names.

Two ways in, same semantics:

* in-process, on the :class:`~daemon.safety.store.SafetyStore` resource
  (``await store.engage(...)``, ``reset``, ``set_mode``) — the reconciler and the
  supervisor's escalation hook use this;
* over the bus, ``await bus.service(names.SAFETY).call(EngageKill(...))`` →
  :class:`SafetyReply`, served by the safety actor — the admin socket uses this.

Engaging is never refused. Resetting needs a reason, and is refused while a condition
that engages the switch automatically still holds, unless ``force`` is set.
"""

from __future__ import annotations

import enum

import msgspec

from daemon.messages import TradingMode
from daemon.safety.gate import SafetySnapshot

__all__ = (
    "EngageKill",
    "GetSafety",
    "KillTrigger",
    "ReplyCode",
    "ResetKill",
    "SafetyReply",
    "SafetyRequest",
    "SetMode",
)


class KillTrigger(enum.StrEnum):
    """What engaged the kill switch."""

    OPERATOR = "operator"
    DAILY_LOSS = "daily_loss"
    CIRCUIT_BREAKER = "circuit_breaker"
    RECONCILIATION = "reconciliation"
    ACTOR_ESCALATION = "actor_escalation"
    BROKER_DISCONNECT = "broker_disconnect"
    STATE_FILE = "state_file"
    """The state file was missing its directory, damaged, locked or not writable at start."""

    @property
    def automatic(self) -> bool:
        """True for every trigger but the operator's own command."""
        return self is not KillTrigger.OPERATOR


class ReplyCode(enum.StrEnum):
    """Outcome codes of a safety command (the admin socket passes them on)."""

    OK = "ok"
    REASON_REQUIRED = "reason_required"
    """A reset or mode change without a reason."""
    CONDITIONS_HOLD = "conditions_hold"
    """A reset refused because an automatic trigger's condition still holds."""
    BAD_REQUEST = "bad_request"
    """Not a safety request."""
    WRITE_FAILED = "write_failed"
    """The change could not be made durable, so it was not made (or, for an engage,
    it holds in memory and entries stay blocked)."""


class EngageKill(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Engage the kill switch: block entries, cancel working orders, optionally flatten."""

    reason: str
    by: str = ""
    flatten: bool = False
    trigger: KillTrigger = KillTrigger.OPERATOR


class ResetKill(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Release the kill switch (``force`` overrides conditions that still hold)."""

    reason: str
    by: str = ""
    force: bool = False


class SetMode(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Change the trading mode (``paused`` is reduce-only and survives a restart)."""

    mode: TradingMode
    reason: str
    by: str = ""


class GetSafety(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """Ask for the current safety state and the conditions that hold."""


SafetyRequest = EngageKill | ResetKill | SetMode | GetSafety
"""Every request the ``safety`` service answers."""


class SafetyReply(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to a safety command."""

    ok: bool
    changed: bool = False
    """True when the command changed the state (and the change is durable)."""
    code: ReplyCode = ReplyCode.OK
    message: str = ""
    snapshot: SafetySnapshot
    conditions: tuple[str, ...] = ()
    """Automatic-trigger conditions that hold now, as ``trigger: detail``."""
