"""Running a storage writer in a test: settings, context, a host task group, checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import sqlalchemy as sa

from actors.storage_writer import StorageWriter
from config import Settings
from config.sections.daemon import DaemonSettings
from daemon.actor import ActorContext, Health
from daemon.bus import Bus
from daemon.clock import Clock, SimClock
from daemon.logs import actor_logger
from daemon.messages import Alert, Event
from storage import Database
from storage._chain import canonical_payload, event_key
from storage.models import AuditRow
from tests.integration.storage.conftest import ACCOUNT


def writer_settings(db: Database, state_dir: Path, **storage: Any) -> Settings:
    """Settings for a writer on ``db`` with ``storage`` overrides."""
    cfg = msgspec.structs.replace(db.settings, **storage)
    daemon = DaemonSettings(state_dir=str(state_dir), account=ACCOUNT, timezone="UTC")
    return msgspec.structs.replace(Settings(), storage=cfg, daemon=daemon)


def make_writer(db: Database | None, settings: Settings, clock: Clock, bus: Bus) -> StorageWriter:
    """A writer as the supervisor would build it (``db`` shared as a resource if given)."""
    ctx = ActorContext(
        name="storage_writer",
        settings=settings,
        clock=clock,
        bus=bus,
        log=actor_logger("storage_writer"),
        health=Health(clock),
        resources={Database: db} if db is not None else {},
    )
    return StorageWriter(ctx)


@asynccontextmanager
async def running(
    writer: StorageWriter, clock: Clock | None = None, *, autojump: bool = False
) -> AsyncIterator[StorageWriter]:
    """Run ``writer`` (and the clock's autojump) until the block ends, then cancel it."""
    async with anyio.create_task_group() as tg:
        if autojump and isinstance(clock, SimClock):
            await tg.start(clock.autojump)
        await tg.start(writer.run)
        try:
            yield writer
        finally:
            tg.cancel_scope.cancel()


GUARD_S = 60.0
"""Real-time guard on waits for database work (a hang fails the test instead of blocking)."""


async def wait_for(writer: StorageWriter, predicate: Any) -> None:
    """Wait until ``predicate(writer.stats)`` holds, re-checked on every change."""
    try:
        with anyio.fail_after(GUARD_S):
            await writer.progress.wait_for(lambda: bool(predicate(writer.stats)))
    except TimeoutError:
        raise AssertionError(f"writer did not get there; its state: {writer.status()}") from None


async def audit_keys(db: Database) -> list[tuple[str, str]]:
    """``(kind, event_key)`` of every audit record, in chain order."""
    a = AuditRow.__table__
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(a.c.kind, a.c.event_key).where(a.c.account == ACCOUNT).order_by(a.c.seq)
        )
        return [(r.kind, r.event_key) for r in rows]


def keys_of(events: Sequence[Event]) -> list[tuple[str, str]]:
    """What :func:`audit_keys` returns for ``events`` recorded in this order."""
    return [(type(e).__name__, event_key(canonical_payload(e))) for e in events]


def without_own_alerts(
    keys: list[tuple[str, str]], alerts: Sequence[Alert]
) -> list[tuple[str, str]]:
    """``keys`` minus the writer's own alerts (which it records too)."""
    own = {k for _, k in keys_of(alerts)}
    return [k for k in keys if k[1] not in own]
