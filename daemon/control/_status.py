"""What ``status`` reports, and the one-line summary systemd shows (``STATUS=``).

Daemon-level figures (state, uptime, actors and their health) come from the runtime
and its supervisor. The safety state is asked of its owner through the ``safety``
service; positions and orders through the command handlers their owner registered.
Every owner query has a short deadline, so one stuck actor makes ``status`` report
that part unavailable instead of hanging.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio

from daemon import names
from daemon.clock import NS_PER_S
from daemon.control._protocol import PROTOCOL_VERSION, CommandError, ErrorCode
from daemon.control._registry import Call, ControlRegistry
from daemon.messages import SCHEMA_VERSION, ActorState
from daemon.messages.codec import to_builtins
from daemon.safety import SafetyGate

if TYPE_CHECKING:
    from daemon.runtime import Daemon

SAFETY_ACTOR = "safety"
"""The actor that serves the ``safety`` service (kill switch and trading mode)."""

RECONCILER_ACTOR = "reconciler"
"""The actor whose start-up run must finish before the daemon is ready."""


@functools.cache
def package_version() -> str:
    """The installed ``tradingd`` version (``0+unknown`` when not installed).

    Cached: the metadata lookup walks ``sys.path`` (hundreds of microseconds), and the
    code of a running daemon does not change version under it.
    """
    try:
        return importlib.metadata.version("tradingd")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def version_info() -> dict[str, Any]:
    """Versions a client may need: the daemon, the protocol, the message schema."""
    return {
        "version": package_version(),
        "protocol": PROTOCOL_VERSION,
        "schema": SCHEMA_VERSION,
        "python": sys.version.split()[0],
    }


def daemon_state(daemon: Daemon) -> str:
    """``starting``, ``reconciling``, ``running`` or ``stopping``.

    ``reconciling`` while the start-up reconciliation runs: the reconciler reports itself
    ready only once that run is over, so before the daemon is ready its record is
    STARTING for exactly that long (a start-up that may take a while on a big book or a
    slow broker, and that an operator should not mistake for a hang).
    """
    sup = daemon.supervisor
    if sup is not None and sup.shutdown_requested.is_set():
        return "stopping"
    if daemon.ready.is_set():
        return "running"
    if sup is not None:
        rec = sup.records.get(RECONCILER_ACTOR)
        if rec is not None and rec.state is ActorState.STARTING:
            return "reconciling"
    return "starting"


def uptime_s(daemon: Daemon) -> float:
    """Seconds since the daemon object was created (monotonic)."""
    return round(time.monotonic() - daemon.started_monotonic, 3)


def actors_status(daemon: Daemon) -> list[dict[str, Any]]:
    """Every supervised actor: lifecycle state, restarts, health, last error."""
    sup = daemon.supervisor
    if sup is None:
        return []
    stuck = set(sup.stuck_actors())
    now = daemon.clock.now_ns()
    out: list[dict[str, Any]] = []
    for name in sup.order:
        rec = sup.records[name]
        busy = rec.health.stuck_for_ns(now) / NS_PER_S
        out.append(
            {
                "name": name,
                "core": rec.definition.core,
                "state": str(rec.state),
                "restarts": rec.restarts,
                "processed": rec.health.processed,
                "busy_s": round(busy, 3),
                "stuck": name in stuck,
                "last_error": rec.last_error,
            }
        )
    return out


def safety_gate(daemon: Daemon) -> SafetyGate | None:
    """The safety state's read side, if the runtime provides one."""
    for res in daemon.resources.values():
        if isinstance(res, SafetyGate):
            return res
    return None


def summary_line(daemon: Daemon) -> str:
    """One line for ``systemctl status``: state, trading mode, kill switch, actor health.

    No clock-dependent figures, so the line changes only when something happened.
    """
    parts = [daemon_state(daemon)]
    gate = safety_gate(daemon)
    if gate is not None:
        snap = gate.snapshot()
        parts.append(f"mode {snap.mode}")
        parts.append(f"KILLED ({snap.kill_trigger or 'operator'})" if snap.killed else "kill off")
    sup = daemon.supervisor
    if sup is not None:
        recs = list(sup.records.values())
        running = sum(1 for r in recs if r.state is ActorState.RUNNING)
        parts.append(f"{running}/{len(recs)} actors running")
        stuck = sup.stuck_actors()
        if stuck:
            parts.append(f"STUCK: {', '.join(stuck)}")
        down = [r.name for r in recs if r.definition.core and r.state is not ActorState.RUNNING]
        if down and daemon.ready.is_set():
            parts.append(f"core down: {', '.join(down)}")
    return " · ".join(parts)


async def collect_status(daemon: Daemon, call: Call, part_timeout_s: float) -> dict[str, Any]:
    """The full ``status`` result; parts whose owner cannot answer are listed as unavailable."""
    sup = daemon.supervisor
    unavailable: dict[str, str] = {}
    result: dict[str, Any] = {
        "daemon": {
            "state": daemon_state(daemon),
            "pid": os.getpid(),
            "account": daemon.settings.daemon.account,
            "uptime_s": uptime_s(daemon),
            "now_ns": daemon.clock.now_ns(),
            **version_info(),
        },
        "healthy": sup.core_healthy() if sup is not None else False,
        "ready": readiness(daemon),
        "actors": actors_status(daemon),
    }
    registry: ControlRegistry = daemon.resources[ControlRegistry]

    async def safety() -> None:
        result["safety"] = await _safety(daemon, part_timeout_s, unavailable)

    async def part(name: str) -> None:
        result[name] = await _owner_query(registry, call, name, part_timeout_s, unavailable)

    # The owners are asked at once: status takes as long as the slowest, not the sum.
    async with anyio.create_task_group() as tg:
        tg.start_soon(safety)
        for name in ("positions", "orders", "account"):
            tg.start_soon(part, name)
    result["unavailable"] = dict(sorted(unavailable.items()))
    return {k: result[k] for k in (*_ORDER, "unavailable")}


_ORDER = ("daemon", "healthy", "ready", "actors", "safety", "positions", "orders", "account")


def readiness(daemon: Daemon) -> dict[str, Any] | None:
    """Readiness as ``/readyz`` reports it: ``ready``, every check, what is not ready.

    None when the runtime has no health probe (docs/observability.md).
    """
    from daemon.metrics import HealthProbe  # daemon.metrics imports daemon.control

    probe = daemon.resources.get(HealthProbe)
    return probe.readiness().as_dict() if isinstance(probe, HealthProbe) else None


async def _safety(daemon: Daemon, timeout_s: float, unavailable: dict[str, str]) -> Any:
    from daemon.safety.api import GetSafety  # the safety API is optional at import time

    sup = daemon.supervisor
    if sup is None or SAFETY_ACTOR not in sup.records:
        gate = safety_gate(daemon)
        if gate is not None:
            return to_builtins(gate.snapshot())
        unavailable["safety"] = "no safety actor is running in this daemon"
        return None
    with anyio.move_on_after(timeout_s):
        reply = await daemon.bus.service(names.SAFETY).call(GetSafety())
        out: dict[str, Any] = to_builtins(reply.snapshot)
        out["conditions"] = list(reply.conditions)
        return out
    unavailable["safety"] = f"the safety actor did not answer within {timeout_s:g}s"
    return None


async def _owner_query(
    registry: ControlRegistry, call: Call, cmd: str, timeout_s: float, unavailable: dict[str, str]
) -> Any:
    try:
        binding = registry.resolve(cmd)
        handler = binding.handler
        if handler is None:
            raise CommandError(ErrorCode.UNAVAILABLE, f"{cmd} is a stream, not a query")
        with anyio.fail_after(timeout_s):
            return await handler(Call(call.request_id, cmd, call.peer), binding.spec.parse_args({}))
    except CommandError as exc:
        unavailable[cmd] = exc.message
    except TimeoutError:
        spec = registry.spec(cmd)
        who = spec.provider if spec is not None else cmd
        unavailable[cmd] = f"{who} did not answer within {timeout_s:g}s"
    return None
