"""The ``metrics`` admin-socket command: the same exposition ``/metrics`` serves.

The metrics actor binds it while it runs (``tradingctl metrics``); while it does not,
the command is answered ``unavailable`` naming the actor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from daemon.control import Call, CommandSpec, ControlRegistry

COMMAND = "metrics"
SPEC = CommandSpec(
    name=COMMAND,
    summary="Prometheus metrics in the text exposition format",
    provider="the metrics actor (enable it with [metrics] enabled = true)",
)
"""The command's catalogue entry (no arguments, read-only)."""

Render = Callable[[], Awaitable[bytes]]
"""Produces the current exposition (text format 0.0.4)."""


def declare_metrics_command(registry: ControlRegistry) -> None:
    """Make ``metrics`` a known command (answered ``unavailable`` until bound)."""
    registry.declare(SPEC)


def bind_metrics_command(registry: ControlRegistry, render: Render) -> None:
    """Serve ``metrics`` with ``render``; the result is ``{"content_type", "text"}``."""
    declare_metrics_command(registry)

    async def handler(call: Call, args: object) -> dict[str, str]:
        body = await render()
        return {"content_type": CONTENT_TYPE, "text": body.decode("utf-8")}

    registry.register(COMMAND, handler)


def unbind_metrics_command(registry: ControlRegistry) -> None:
    """Stop serving ``metrics`` (the actor is stopping or restarting)."""
    registry.unregister(COMMAND)


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Content type of the Prometheus text format the command returns."""
