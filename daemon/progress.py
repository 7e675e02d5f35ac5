"""Waiting on progress and on the clock, instead of polling and real-time timeouts.

:class:`Progress` is a change notifier: the owner of some counters calls
:meth:`Progress.notify` after changing them, and a waiter calls
``await progress.wait_for(lambda: stats.acked >= 3)``, which re-checks the condition
after every change and never sleeps. :func:`run_within` bounds an await by the injected
clock, so a simulated clock decides when a timeout fires.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, final

import anyio

from daemon.clock import Clock
from daemon.errors import TradingdError

T = TypeVar("T")


class ClockTimeout(TradingdError, TimeoutError):
    """Raised by :func:`run_within` when the clock passes the deadline first."""


@final
class Progress:
    """Wakes every waiter each time :meth:`notify` is called."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        """Something changed: wake everyone waiting."""
        event, self._event = self._event, anyio.Event()
        event.set()

    async def wait(self) -> None:
        """Wait for the next :meth:`notify`."""
        await self._event.wait()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, re-checking it after each change."""
        while not predicate():
            await self._event.wait()


async def run_within(clock: Clock, seconds: float, fn: Callable[[], Awaitable[T]]) -> T:
    """``await fn()``, cancelled and raising :class:`ClockTimeout` after ``seconds`` of ``clock``.

    Exceptions from ``fn`` propagate unchanged (not wrapped in an exception group).
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    async def body(scope: anyio.CancelScope) -> None:
        try:
            outcome.append(await fn())
        except Exception as exc:
            failure.append(exc)
        scope.cancel()

    async def expire(scope: anyio.CancelScope) -> None:
        await clock.sleep(seconds)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(body, tg.cancel_scope)
        tg.start_soon(expire, tg.cancel_scope)
    if failure:
        raise failure[0]
    if not outcome:
        raise ClockTimeout(f"no result within {seconds:g}s")
    return outcome[0]
