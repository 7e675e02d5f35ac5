"""Operational messages: reconciliation, alerts, control commands, actor health."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from daemon.messages._base import Message, Nanos, Severity


class Discrepancy(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One difference between our books and the broker's, and what we did about it."""

    kind: str
    symbol: str = ""
    client_order_id: str = ""
    before: str = ""
    after: str = ""
    notional: float = 0.0
    action: str = ""


class ReconciliationReport(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Outcome of one reconciliation run."""

    run_id: str
    trigger: str
    positions_checked: int = 0
    orders_checked: int = 0
    discrepancies: tuple[Discrepancy, ...] = ()
    kill_engaged: bool = False
    started_ns: Nanos
    ts: Nanos


class Alert(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Something a person should know about, with a stable ``code`` to route on."""

    alert_id: str
    severity: Severity
    code: str
    text: str
    payload: dict[str, Any] = {}
    ts: Nanos


class ActorState(enum.StrEnum):
    """Lifecycle states of a supervised actor (see ``daemon.actor`` for transitions)."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"
    RESTARTING = "restarting"
    DISABLED = "disabled"
    FAILED = "failed"


class ActorStatus(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An actor's lifecycle changed (started, crashed, restarted, disabled...)."""

    actor: str
    state: ActorState
    core: bool
    restarts: int = 0
    error: str = ""
    ts: Nanos


class ControlCommand(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An operator command received on the admin socket, with who sent it."""

    request_id: str
    cmd: str
    args: dict[str, Any] = {}
    peer_uid: int = -1
    ts: Nanos
    peer_pid: int = -1
    ok: bool = True
    """False when the command was refused or failed (``error`` says why)."""
    error: str = ""


class Heartbeat(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Periodic liveness beacon with a one-line summary for subscribers."""

    uptime_s: float
    mode: str
    killed: bool
    open_positions: int = 0
    ts: Nanos


class BrokerStatus(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """The broker connection changed (the kill switch watches disconnects)."""

    broker: str
    connected: bool
    detail: str = ""
    ts: Nanos


class ServiceStatus(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An outside dependency (Redis, the database, a market-data feed) went bad or recovered.

    Emitted on every change by whoever depends on it (``reporter``); the alert bridge
    turns ``healthy=False`` into an outage alert and the next ``healthy=True`` into a
    recovery. ``service`` is a stable name: ``redis``, ``storage``, ``market_data``...
    """

    service: str
    healthy: bool
    detail: str = ""
    reporter: str = ""
    ts: Nanos
