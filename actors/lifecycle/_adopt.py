"""Reading the broker's open positions at start-up, bounded by the clock."""

from __future__ import annotations

import logging

import anyio

from actors.broker.queries import BrokerClient
from daemon.bus import Bus
from daemon.clock import Clock
from daemon.messages import PositionSnapshot


async def broker_positions(
    bus: Bus, clock: Clock, timeout_s: float, log: logging.LoggerAdapter[logging.Logger]
) -> tuple[PositionSnapshot, ...] | None:
    """The broker's positions, or None when it fails or does not answer in ``timeout_s``.

    The wait is measured on ``clock`` (never the wall clock), so a replay or a test on
    a simulated clock gives up deterministically.
    """
    client = BrokerClient(bus)
    found: tuple[PositionSnapshot, ...] | None = None

    async def ask(scope: anyio.CancelScope) -> None:
        nonlocal found
        try:
            found = await client.positions()
        except Exception as exc:  # the broker's own errors: going on without is safe
            log.warning(
                "cannot read broker positions", extra={"event": "adopt_failed", "error": repr(exc)}
            )
        scope.cancel()

    async def give_up(scope: anyio.CancelScope) -> None:
        await clock.sleep(timeout_s)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, tg.cancel_scope)
        tg.start_soon(give_up, tg.cancel_scope)
    return found
