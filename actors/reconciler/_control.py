"""The admin socket's ``reconcile`` command, bound by the reconciler while it runs.

The handler only calls the ``reconciler`` service, so a run asked for over the socket
is serialised with every other run in the actor's own loop.
"""

from __future__ import annotations

from typing import Any

import anyio

from actors.reconciler.api import ReconcilerClient
from config.sections.reconciler import ReconcilerSettings
from daemon.actor import ActorContext
from daemon.control import Call, CommandError, ControlRegistry, ErrorCode
from daemon.messages.codec import to_builtins

COMMAND = "reconcile"


def command_timeout_s(cfg: ReconcilerSettings) -> float:
    """How long the command waits for a run: two comparisons, the confirmation delay, the
    corrections, with room to spare (a run in progress is waited for too)."""
    return 2 * (4 * cfg.query_timeout_s + cfg.confirm_delay_s) + 5.0


def bind_command(ctx: ActorContext, cfg: ReconcilerSettings) -> None:
    """Serve ``reconcile`` on the daemon's control registry, when there is one."""
    registry = ctx.maybe_resource(ControlRegistry)
    if registry is None:
        return
    client = ReconcilerClient(ctx.bus)
    timeout = command_timeout_s(cfg)

    async def reconcile(call: Call, args: Any) -> Any:
        try:
            with anyio.fail_after(timeout):
                report = await client.run("operator", by=call.peer.label)
        except TimeoutError:
            raise CommandError(
                ErrorCode.UNAVAILABLE, f"the reconciler did not answer within {timeout:g}s"
            ) from None
        except Exception as exc:
            raise CommandError(
                ErrorCode.INTERNAL, f"reconciliation could not complete: {exc}"
            ) from exc
        return to_builtins(report)

    registry.register(COMMAND, reconcile)


def unbind_command(ctx: ActorContext) -> None:
    """Stop serving ``reconcile`` (answered ``unavailable`` until the actor is back)."""
    registry = ctx.maybe_resource(ControlRegistry)
    if registry is not None:
        registry.unregister(COMMAND)
