"""Quiescence: wait until the daemon has finished reacting to what it was just given.

Replay is deterministic because the harness never moves time or feeds the next input
while any actor still has work: on the asyncio event loop, with no I/O involved, the
order in which ready tasks run is fixed, so the same inputs fed at the same quiet
points produce the same interleaving, byte for byte.

"Quiet" means: nothing is scheduled to run on the loop (its ready queue is empty once
this task has yielded), and no worker thread started through anyio is still running
(the safety state is written from one, and what it decides depends on the result).
Database I/O of the storage writer runs on aiosqlite's own thread and is deliberately
not waited for: nothing the daemon decides depends on when a record is committed.

anyio's ``wait_all_tasks_blocked`` would do, but it scans every task and sleeps 0.1 s of
real time whenever one is runnable, which makes a replay of a million bars take days;
the ready-queue check costs a few microseconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ("Settler",)


class Settler:
    """Waits for quiescence on the running asyncio loop (see the module docstring).

    Build it inside the loop; raises :class:`RuntimeError` on a loop without a ready
    queue to inspect (uvloop), where replay cannot guarantee determinism.
    """

    __slots__ = ("_pool", "_ready", "_workers", "rounds", "settles")

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)
        if ready is None:
            raise RuntimeError(
                "replay needs the standard asyncio event loop (its ready queue is how "
                f"quiescence is detected); got {type(loop).__name__}"
            )
        self._ready: Any = ready
        self._workers = _thread_pool_state()
        self._pool: tuple[Any, Any] | None = None
        self.rounds = 0
        """Loop iterations spent settling (a cost measure)."""
        self.settles = 0

    async def settle(self) -> None:
        """Return once no task is runnable and no worker thread is busy."""
        ready = self._ready
        self.settles += 1
        while True:
            await asyncio.sleep(0)
            self.rounds += 1
            if ready:
                continue
            if self._busy_threads() == 0:
                return
            # A worker thread is running (a state-file write): its result comes back
            # through call_soon_threadsafe, so wait for the loop to be woken by it.
            await asyncio.sleep(0.0002)

    def _busy_threads(self) -> int:
        pool = self._pool
        if pool is None:
            state = self._workers
            if state is None:
                state = self._workers = _thread_pool_state()
                if state is None:
                    return 0
            workers, idle = state
            try:
                # The loop's worker set and idle deque: the same objects for the loop's
                # life once the first thread has started, so looked up once (a run
                # variable lookup costs more than the rest of a settle).
                pool = self._pool = (workers.get(), idle.get())
            except LookupError:
                return 0
        return len(pool[0]) - len(pool[1])


def _thread_pool_state() -> tuple[Any, Any] | None:
    """anyio's worker-thread bookkeeping on asyncio (run variables of the loop).

    Private to anyio, so looked up defensively: without it, settling only checks the
    ready queue, and a replay whose actors use worker threads may lose determinism —
    the determinism tests would catch that.
    """
    try:
        from anyio._backends import _asyncio as backend
    except ImportError:  # pragma: no cover - anyio always ships it
        return None
    workers = getattr(backend, "_threadpool_workers", None)
    idle = getattr(backend, "_threadpool_idle_workers", None)
    if workers is None or idle is None:  # pragma: no cover - anyio internals moved
        return None
    return workers, idle
