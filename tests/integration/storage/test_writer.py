"""The storage writer actor on both backends: batching, outages, restarts, rejections.

Outages here are real: another connection holds a lock the writer needs (SQLite: an
exclusive write transaction; PostgreSQL: ``LOCK TABLE audit_log``), so the writer's
statements time out exactly as they would against a stuck server. The throwaway-cluster
test (stopping PostgreSQL itself) is in ``test_outage_postgres.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import msgspec
import pytest
import sqlalchemy as sa

from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Alert, Event
from storage import Database, Spool, migrate
from storage.audit import verify_chain
from storage.models import AlertRow
from tests.integration.storage.conftest import ACCOUNT
from tests.integration.storage.events import START_NS, iter_pipeline_events, pipeline_events
from tests.integration.storage.writer_support import (
    audit_keys,
    keys_of,
    make_writer,
    running,
    wait_for,
    without_own_alerts,
    writer_settings,
)

INTERVAL = 0.25


async def publish(bus: Bus, events: list[Event]) -> None:
    topic = bus.topic(names.EVENTS)
    for i, e in enumerate(events):
        await topic.publish(e)
        if i % 32 == 31:
            await anyio.lowlevel.checkpoint()


async def publish_and_tick(bus: Bus, writer: Any, clock: SimClock, events: list[Event]) -> None:
    """Publish, wait until the writer holds them all, then let the batch interval pass."""
    target = writer.stats.received + len(events)
    await publish(bus, events)
    await wait_for(writer, lambda s: s.received >= target)
    clock.advance(INTERVAL)


def alerts_sub(bus: Bus) -> Any:
    return bus.topic(names.EVENTS).subscribe("test-alerts", types=(Alert,), capacity=1000)


def drain_alerts(sub: Any) -> list[Alert]:
    """The writer's own alerts seen so far (the test events carry alerts of their own)."""
    out: list[Alert] = []
    while True:
        try:
            alert = sub.channel.receive_nowait()
        except anyio.WouldBlock:
            return out
        if alert.code.startswith(("storage_", "spool_")):
            out.append(alert)


async def assert_recorded_in_order(db: Database, events: list[Event], alerts: list[Alert]) -> None:
    keys = await audit_keys(db)
    assert without_own_alerts(keys, alerts) == keys_of(events)
    report = await verify_chain(db, ACCOUNT)
    assert report.ok, report.describe()


@asynccontextmanager
async def database_blocked(db: Database) -> AsyncIterator[None]:
    """Hold a lock the writer needs, from another connection, for the block's duration."""
    if db.backend == "sqlite":
        path = db.engine.url.database
        assert path
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pg = await asyncpg.connect(dsn, server_settings={"search_path": db.schema})
    tx = pg.transaction()
    await tx.start()
    await pg.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await tx.rollback()
        await pg.close()


async def test_size_or_time_whichever_first(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(db, tmp_path, batch_size=100, batch_interval_s=INTERVAL)
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(20)[:250]
    async with running(writer, clock):
        await publish(bus, events)
        await wait_for(writer, lambda s: s.recorded >= 200)
        await anyio.wait_all_tasks_blocked()
        # Two full batches went at once; the remaining 50 wait for the interval.
        assert (writer.stats.recorded, writer.stats.batches, writer.stats.pending) == (200, 2, 50)
        clock.advance(INTERVAL)
        await wait_for(writer, lambda s: s.recorded >= 250)
        assert writer.stats.batches == 3
    await assert_recorded_in_order(db, events, [])


async def test_outage_spools_then_replays_everything_once_in_order(
    db: Database, tmp_path: Path
) -> None:
    clock = SimClock()
    bus = Bus()
    alerts = alerts_sub(bus)
    settings = writer_settings(
        db,
        tmp_path,
        batch_size=50,
        batch_interval_s=INTERVAL,
        connect_timeout_s=0.05,
        statement_timeout_s=0.3,
        retry_initial_s=1.0,
        retry_max_s=4.0,
    )
    writer = make_writer(None, settings, clock, bus)
    stream = iter_pipeline_events(30)
    a, b, c, d = ([next(stream) for _ in range(n)] for n in (60, 70, 80, 40))
    async with running(writer, clock):
        await publish_and_tick(bus, writer, clock, a)
        await wait_for(writer, lambda s: s.recorded >= len(a))

        async with database_blocked(db):
            await publish_and_tick(bus, writer, clock, b)
            await wait_for(writer, lambda s: s.outage and s.spooled >= len(b))
            raised = drain_alerts(alerts)
            assert [x.code for x in raised] == ["storage_unavailable"]
            # Still down: new records go straight to the spool, publishers never wait.
            await publish_and_tick(bus, writer, clock, c)
            await wait_for(writer, lambda s: s.spooled >= len(b) + len(c))
            assert writer.stats.outage

        clock.advance(5.0)  # past the retry
        total = len(a) + len(b) + len(c) + 2  # plus the writer's two alerts
        await wait_for(writer, lambda s: s.recorded >= total - 1 and not s.outage)
        await publish_and_tick(bus, writer, clock, d)
        await wait_for(writer, lambda s: s.recorded >= total + len(d))
        await wait_for(writer, lambda s: s.backlog_frames == 0 and s.pending == 0)
        raised += drain_alerts(alerts)
    assert [x.code for x in raised] == ["storage_unavailable", "storage_recovered"]
    assert writer.stats.outages == 1
    assert writer.stats.recorded == total + len(d)
    await assert_recorded_in_order(db, a + b + c + d, raised)
    async with db.connect() as conn:
        codes = (await conn.execute(sa.select(AlertRow.__table__.c.code))).scalars().all()
    assert sorted(c for c in codes if c.startswith("storage_")) == [
        "storage_recovered",
        "storage_unavailable",
    ]
    assert not list((tmp_path / "spool").glob("*.seg"))  # the spool was emptied


async def test_outage_never_backs_up_into_publishers(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=64)
    settings = writer_settings(
        db, tmp_path, batch_size=100, connect_timeout_s=0.05, statement_timeout_s=0.3
    )
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(200)[:2000]
    async with running(writer, clock), database_blocked(db):
        await publish_and_tick(bus, writer, clock, events)
        assert writer.sub.channel.stats.blocked == 0
        await wait_for(writer, lambda s: s.spooled > 0)
        await publish_and_tick(bus, writer, clock, events[:500])
        assert writer.sub.channel.stats.blocked == 0


async def test_crash_spools_what_was_in_hand_and_the_next_writer_replays_it(
    db: Database, tmp_path: Path
) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(db, tmp_path, batch_size=10_000, batch_interval_s=3600.0)
    events = pipeline_events(10)
    first = make_writer(db, settings, clock, bus)
    async with running(first, clock):
        await publish(bus, events)
        await wait_for(first, lambda s: s.received == len(events))
        assert first.stats.recorded == 0
    # Cancelled with everything still queued: it went to the spool on the way out.
    assert first.stats.spooled == len(events)

    second = make_writer(db, settings, clock, bus)
    async with running(second, clock):
        await wait_for(second, lambda s: s.recorded >= len(events) and s.backlog_frames == 0)
    assert second.stats.replayed == len(events)
    await assert_recorded_in_order(db, events, [])


async def test_on_stop_writes_what_is_queued(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(db, tmp_path, batch_size=10_000, batch_interval_s=3600.0)
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(8)
    async with running(writer, clock):
        await publish(bus, events)
        await wait_for(writer, lambda s: s.received == len(events))
        with anyio.fail_after(60):
            await writer.on_stop()
        assert writer.stats.recorded == len(events)
        assert writer.stats.spooled == 0
    await assert_recorded_in_order(db, events, [])


async def test_on_stop_while_down_spools_instead(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(
        db,
        tmp_path,
        batch_size=10_000,
        batch_interval_s=3600.0,
        connect_timeout_s=0.05,
        statement_timeout_s=0.3,
    )
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(8)
    async with running(writer, clock), database_blocked(db):
        await publish(bus, events)
        await wait_for(writer, lambda s: s.received == len(events))
        with anyio.fail_after(60):
            await writer.on_stop()
        assert writer.stats.recorded == 0
        assert writer.stats.spooled >= len(events)
    spool = Spool(tmp_path / "spool")
    spool.open()
    assert spool.backlog
    spool.close()


async def test_slow_database_spills_to_the_spool_and_order_holds(
    db: Database, tmp_path: Path
) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(
        db, tmp_path, batch_size=10_000, batch_interval_s=3600.0, max_buffered=50
    )
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(30)
    async with running(writer, clock):
        await publish(bus, events)
        await wait_for(writer, lambda s: s.received == len(events) and s.backlog_frames == 0)
        assert writer.stats.spooled >= len(events) - 50
        assert writer.stats.pending <= 50
        clock.advance(3600.0)  # the last, short batch goes when its interval is up
        await wait_for(writer, lambda s: s.recorded >= len(events))
    await assert_recorded_in_order(db, events, [])


async def test_a_record_the_database_refuses_is_isolated(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus()
    alerts = alerts_sub(bus)
    settings = writer_settings(db, tmp_path, batch_size=64, batch_interval_s=INTERVAL)
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(10)
    poison = msgspec.structs.replace(events[40], ts=2**63)  # one past BIGINT's maximum
    stream = [*events[:77], poison, *events[77:]]
    async with running(writer, clock):
        await publish_and_tick(bus, writer, clock, stream)
        await wait_for(writer, lambda s: s.rejected == 1 and s.recorded >= len(events))
        await publish_and_tick(bus, writer, clock, [])  # the alert about it
        await wait_for(writer, lambda s: s.recorded >= len(events) + 1)
        raised = drain_alerts(alerts)
    assert [x.code for x in raised] == ["storage_record_rejected"]
    assert f"rejected a {type(poison).__name__} record" in raised[0].text
    await assert_recorded_in_order(db, events, raised)
    dead = Spool(tmp_path / "spool" / "rejected")
    dead.open()
    assert dead.pending_frames == 1
    dead.close()


async def test_unknown_database_writes_nothing_until_migrated(
    empty_db: Database, tmp_path: Path
) -> None:
    """A database without the schema is an outage (alerted), not a crash."""
    clock = SimClock()
    bus = Bus()
    alerts = alerts_sub(bus)
    settings = writer_settings(empty_db, tmp_path, batch_size=10, retry_initial_s=1.0)
    writer = make_writer(empty_db, settings, clock, bus)
    events = pipeline_events(2)
    async with running(writer, clock):
        await publish(bus, events)
        await wait_for(writer, lambda s: bool(s.outage))
        raised = drain_alerts(alerts)
        assert [a.code for a in raised] == ["storage_unavailable"]
        assert "run `tradingd db upgrade --config" in raised[0].text
        await migrate.upgrade(empty_db)
        clock.advance(2.0)
        await wait_for(writer, lambda s: not s.outage and s.backlog_frames == 0)
        await wait_for(writer, lambda s: s.recorded >= len(events) + 1)
    assert (await verify_chain(empty_db, ACCOUNT)).ok


async def test_with_auto_migrate_a_database_that_comes_back_empty_is_migrated(
    empty_db: Database, tmp_path: Path
) -> None:
    clock = SimClock()
    bus = Bus()
    settings = writer_settings(
        empty_db, tmp_path, batch_size=10, retry_initial_s=1.0, auto_migrate=True
    )
    writer = make_writer(None, settings, clock, bus)
    events = pipeline_events(2)
    async with running(writer, clock):
        await publish(bus, events)
        await wait_for(writer, lambda s: bool(s.outage))
        clock.advance(2.0)
        await wait_for(writer, lambda s: not s.outage and s.backlog_frames == 0)
        await wait_for(writer, lambda s: s.recorded >= len(events) + 1)
    assert (await migrate.schema_status(empty_db)).up_to_date
    assert (await verify_chain(empty_db, ACCOUNT)).ok


def test_start_ns_is_in_the_past() -> None:
    # The generated events must be older than any clock a test uses (sanity).
    assert SimClock().now_ns() >= START_NS


@pytest.fixture(autouse=True)
def _quiet_writer_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL", logger="tradingd.storage_writer")
