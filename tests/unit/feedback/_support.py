"""An in-memory FeedbackStore (a real implementation of the protocol) and an actor harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from actors.feedback import FeedbackActor, FeedbackStore
from config.settings import Settings
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Alert, SourceWeights, TradeClosed
from storage import StorageUnavailable
from storage.feedback import FeedbackSource, FeedbackState, FeedbackTrade
from tests.pipeline_support import EventLog, context, with_settings
from tests.unit.feedback._trades import SETTINGS, T0

FAIL_AFTER_S = 30  # a guard against hangs, never part of an assertion


@dataclass
class MemoryStore:
    """Keeps the feedback state in dicts; ``available = False`` makes it fail like a
    database that cannot be reached."""

    trades: dict[tuple[str, str], FeedbackTrade] = field(default_factory=dict)
    sources: dict[tuple[str, str], FeedbackSource] = field(default_factory=dict)
    available: bool = True
    saves: int = 0
    attempts: int = 0

    def _check(self) -> None:
        self.attempts += 1
        if not self.available:
            raise StorageUnavailable("memory store switched off")

    async def load(self, account: str, *, window: int, recent: int) -> FeedbackState:
        self._check()
        mine = [t for (a, _), t in self.trades.items() if a == account]
        windows: dict[str, list[FeedbackTrade]] = {}
        for t in sorted(mine, key=lambda t: (t.source, t.seq)):
            windows.setdefault(t.source, []).append(t)
        recent_ids = [t.trade_id for t in sorted(mine, key=lambda t: t.exit_ns)][-recent:]
        return FeedbackState(
            sources=[r for (a, _), r in sorted(self.sources.items()) if a == account],
            windows={s: w[-window:] for s, w in windows.items()},
            recent_ids=recent_ids,
        )

    async def save(
        self, account: str, trades: Sequence[FeedbackTrade], sources: Sequence[FeedbackSource]
    ) -> None:
        self._check()
        self.saves += 1
        for t in trades:
            self.trades.setdefault((account, t.trade_id), t)
        for r in sources:
            self.sources[(account, r.source)] = r


def _is_store(x: FeedbackStore) -> FeedbackStore:
    return x


_is_store(MemoryStore())  # mypy: MemoryStore implements FeedbackStore


def feedback_settings(**overrides: Any) -> Settings:
    raw: dict[str, Any] = {f: getattr(SETTINGS, f) for f in SETTINGS.__struct_fields__}
    raw.update(overrides)
    return with_settings(Settings(), feedback=raw, actors={"enabled": ["feedback"]})


class Harness:
    def __init__(self, bus: Bus, clock: SimClock, log: EventLog, actor: FeedbackActor) -> None:
        self.bus = bus
        self.clock = clock
        self.log = log
        self.actor = actor
        self.sent = 0

    async def close(self, *trades: TradeClosed, settle: bool = True) -> None:
        """Publish closed trades and (unless told not to) let the actor take all of them."""
        events = self.bus.topic(names.EVENTS)
        for t in trades:
            await events.publish(t)
            self.sent += 1
        if settle:
            await self.settle()

    async def settle(self) -> None:
        """Return once the actor has taken every published trade and waits again."""
        health = self.actor.health
        with anyio.fail_after(FAIL_AFTER_S):
            while health.processed < self.sent or health.busy_since_ns is not None:
                await anyio.lowlevel.checkpoint()

    async def flush(self) -> None:
        """Save everything the actor has credited (as its saver would)."""
        with anyio.fail_after(FAIL_AFTER_S):
            while not await self.actor.save() or self.actor._pending or self.actor._dirty:
                await anyio.lowlevel.checkpoint()

    async def attempt(self, store: MemoryStore) -> None:
        """Move the clock by one retry interval and wait for the store to be tried."""
        before = store.attempts
        self.clock.advance(self.actor.cfg.retry_s)
        with anyio.fail_after(FAIL_AFTER_S):
            while store.attempts == before:
                await anyio.lowlevel.checkpoint()

    def weights(self) -> list[SourceWeights]:
        return self.log.of(SourceWeights)

    def alerts(self) -> list[Alert]:
        return self.log.of(Alert)


@asynccontextmanager
async def harness(
    store: FeedbackStore | None,
    settings: Settings | None = None,
    bus: Bus | None = None,
    resources: dict[type[Any], Any] | None = None,
) -> AsyncIterator[Harness]:
    """A running feedback actor on ``store`` (None: persistence off, unless ``resources``
    provide the database)."""
    settings = settings or feedback_settings(persist=store is not None or bool(resources))
    clock = SimClock(start_ns=T0)
    bus = bus or Bus(default_capacity=4096)
    log = EventLog(bus.topic(names.EVENTS).subscribe("test", types=(SourceWeights, Alert)))
    ctx = context("feedback", settings, clock, bus, resources)
    actor = FeedbackActor(ctx, store=store)
    async with anyio.create_task_group() as tg:
        await tg.start(log.run)
        with anyio.fail_after(FAIL_AFTER_S):
            await tg.start(actor.run)
        try:
            yield Harness(bus, clock, log, actor)
        finally:
            tg.cancel_scope.cancel()
