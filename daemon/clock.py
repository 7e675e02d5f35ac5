"""Time for everything in tradingd: a live clock in production, a simulated one elsewhere.

Nothing in ``actors/`` reads the wall clock or sleeps on its own; it asks its
:class:`Clock`. The :class:`SimClock` advances only when told — by a test, by the
replay harness feeding recorded timestamps, or by its autojump task, which (like
trio's ``autojump_clock``) moves time to the next timer whenever every task is
blocked, so a ten-minute timeout test finishes at once and deterministically.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol, final, runtime_checkable

import anyio
from anyio import wait_all_tasks_blocked
from anyio.abc import TaskStatus

NS_PER_S = 1_000_000_000


@runtime_checkable
class Clock(Protocol):
    """Source of time and of timed waits for everything inside the daemon."""

    def now_ns(self) -> int:
        """Current time: nanoseconds since the Unix epoch, UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def sleep_until(self, deadline_ns: int) -> None:
        """Wait until this clock reads at least ``deadline_ns``."""
        ...


@final
class LiveClock:
    """Wall-clock time; waits use the event loop's monotonic timer."""

    def now_ns(self) -> int:
        """Current wall-clock time in nanoseconds since the epoch."""
        return time.time_ns()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of real time."""
        await anyio.sleep(max(0.0, seconds))

    async def sleep_until(self, deadline_ns: int) -> None:
        """Wait until the wall clock reaches ``deadline_ns``."""
        await anyio.sleep(max(0.0, (deadline_ns - time.time_ns()) / NS_PER_S))


class _Timer:
    __slots__ = ("cancelled", "deadline", "event")

    def __init__(self, deadline: int) -> None:
        self.deadline = deadline
        self.event = anyio.Event()
        self.cancelled = False


@final
class SimClock:
    """Simulated time: moves only by :meth:`advance`, :meth:`advance_to` or autojump.

    Timers due at the same instant fire in the order they were set, so runs are
    deterministic. Time never goes backwards.
    """

    def __init__(self, start_ns: int = 1_700_000_000 * NS_PER_S) -> None:
        self._now = start_ns
        self._heap: list[tuple[int, int, _Timer]] = []
        self._seq = itertools.count()

    def now_ns(self) -> int:
        """Current simulated time."""
        return self._now

    @property
    def next_deadline(self) -> int | None:
        """The earliest pending timer, or ``None`` when nothing is waiting."""
        heap = self._heap
        # A sleep cancelled before its time (a rescheduled waker) leaves its timer in
        # the heap, marked: dropped here, so nobody steps the clock to a time at which
        # nothing wakes.
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (0 or less yields once)."""
        await self.sleep_until(self._now + max(0, int(seconds * NS_PER_S)))

    async def sleep_until(self, deadline_ns: int) -> None:
        """Wait until simulated time reaches ``deadline_ns``."""
        if deadline_ns <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        timer = _Timer(deadline_ns)
        heapq.heappush(self._heap, (deadline_ns, next(self._seq), timer))
        try:
            await timer.event.wait()
        except BaseException:
            timer.cancelled = True
            raise

    def advance_to(self, t_ns: int) -> int:
        """Move time to ``t_ns`` and wake every timer due by then; returns how many woke.

        Woken tasks run at the next checkpoint of the caller. Callers that need each
        timer's task to run before later timers fire should step with
        :meth:`run_until` instead.
        """
        if t_ns < self._now:
            raise ValueError(f"time cannot go backwards: {t_ns} < {self._now}")
        fired = 0
        while self._heap and self._heap[0][0] <= t_ns:
            deadline, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.event.set()
            fired += 1
        self._now = t_ns
        return fired

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``; see :meth:`advance_to`."""
        return self.advance_to(self._now + int(seconds * NS_PER_S))

    async def run_until(self, t_ns: int) -> None:
        """Step timer by timer up to ``t_ns``, letting woken tasks settle between steps."""
        await wait_all_tasks_blocked()
        while (due := self.next_deadline) is not None and due <= t_ns:
            self.advance_to(due)
            await wait_all_tasks_blocked()
        if t_ns > self._now:
            self._now = t_ns

    @asynccontextmanager
    async def autojumping(self) -> AsyncIterator[SimClock]:
        """Run :meth:`autojump` for the duration of an ``async with`` block."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.autojump)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def autojump(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run forever: whenever every task is blocked, jump to the next timer.

        Start it in the test's task group and cancel the group when done.
        """
        task_status.started()
        while True:
            await wait_all_tasks_blocked()
            due = self.next_deadline
            if due is not None:
                self.advance_to(due)
            else:
                # Nothing to jump to: yield until some task sets a timer or does work.
                await anyio.lowlevel.checkpoint()
                await wait_all_tasks_blocked()
                if self.next_deadline is None:
                    await _idle_pause()


async def _idle_pause() -> None:
    # Real time, deliberately: with no timers pending and every task blocked, the only
    # way forward is an outside event (I/O, a thread); a short real wait keeps the
    # autojump loop from spinning a core while it waits for that.
    await anyio.sleep(0.001)
