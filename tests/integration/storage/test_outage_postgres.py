"""A real PostgreSQL outage: a throwaway cluster is stopped mid-run and started again.

Records keep flowing the whole time. Afterwards every record is in the database exactly
once, in publication order, the audit chain verifies, and the outage and the recovery
were both alerted (and recorded).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa

from config.sections.storage import StorageSettings
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Alert, Event
from storage import Database, migrate
from storage.audit import verify_chain
from storage.models import AlertRow, FillRow, TradeRow
from tests.integration.storage.conftest import ACCOUNT
from tests.integration.storage.events import iter_pipeline_events
from tests.integration.storage.writer_support import (
    GUARD_S,
    audit_keys,
    keys_of,
    make_writer,
    running,
    wait_for,
    without_own_alerts,
    writer_settings,
)

pytestmark = pytest.mark.postgres

INTERVAL = 0.1
CHUNK = 40


def _version() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    return versions[-1] if versions else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ctl(version: str, name: str, action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        capture_output=True,
        timeout=120,
    )


class Cluster:
    """A PostgreSQL cluster of our own, on a spare port, that a test may stop and start."""

    def __init__(self, version: str, name: str, port: int) -> None:
        self.version = version
        self.name = name
        self.port = port
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        """Fast shutdown: sessions are terminated, in-flight transactions roll back."""
        _ctl(self.version, self.name, "stop")

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        _ctl(self.version, self.name, "start")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    version = _version()
    if not version or shutil.which("pg_createcluster") is None:
        pytest.skip("needs PostgreSQL's cluster tools (pg_createcluster) to stop a server")
    name = f"tdoutage{uuid.uuid4().hex[:8]}"
    port = _free_port()
    subprocess.run(
        ["pg_createcluster", version, name, "--port", str(port), "--", "--auth=trust"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    c = Cluster(version, name, port)
    try:
        c.start()
        yield c
    finally:
        subprocess.run(
            ["pg_dropcluster", "--stop", version, name], check=False, capture_output=True
        )


async def test_records_survive_the_server_going_away_mid_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    db = Database.open(StorageSettings(url=cluster.url))
    await migrate.upgrade(db)
    await db.dispose()
    settings = writer_settings(
        db,
        tmp_path,
        batch_size=100,
        batch_interval_s=INTERVAL,
        connect_timeout_s=2.0,
        statement_timeout_s=5.0,
        retry_initial_s=0.5,
        retry_max_s=2.0,
    )
    clock = SimClock()
    bus = Bus()
    topic = bus.topic(names.EVENTS)
    alerts = topic.subscribe("test-alerts", types=(Alert,), capacity=10_000)
    writer = make_writer(None, settings, clock, bus)
    stream = iter_pipeline_events(10_000)
    published: list[Event] = []

    async def pump(chunks: int) -> None:
        for _ in range(chunks):
            for _ in range(CHUNK):
                e = next(stream)
                published.append(e)
                await topic.publish(e)
            clock.advance(INTERVAL)
            await anyio.lowlevel.checkpoint()

    async with running(writer, clock):
        await pump(25)
        await wait_for(writer, lambda s: s.recorded >= 500)

        # Stop the server while records keep coming.
        stopping = anyio.Event()

        async def pump_until_stopped() -> None:
            while not stopping.is_set():
                await pump(1)
                await anyio.wait_all_tasks_blocked()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump_until_stopped)
            await anyio.to_thread.run_sync(cluster.stop)
            stopping.set()
        await pump(10)
        await wait_for(writer, lambda s: bool(s.outage) and s.spooled > 0)
        await pump(10)  # down the whole time: these go to the spool
        clock.advance(INTERVAL)
        n = len(published)
        await wait_for(writer, lambda s: s.received >= n + 1 and s.pending == 0)
        down_spooled = writer.stats.spooled

        await anyio.to_thread.run_sync(cluster.start)
        with anyio.fail_after(GUARD_S):
            while writer.stats.outage:
                clock.advance(settings.storage.retry_max_s * 1.5)
                await writer.progress.wait()
        await pump(10)
        target = len(published)
        await wait_for(
            writer,
            lambda s: (
                s.received >= target + 2
                and s.backlog_frames == 0
                and s.pending == 0
                and s.recorded >= target + 2
            ),
        )

    raised: list[Alert] = []
    while True:
        try:
            a = alerts.channel.receive_nowait()
        except anyio.WouldBlock:
            break
        if a.code.startswith("storage_"):
            raised.append(a)
    assert [a.code for a in raised] == ["storage_unavailable", "storage_recovered"]
    assert down_spooled >= 20 * CHUNK

    db = Database.open(StorageSettings(url=cluster.url))
    try:
        keys = await audit_keys(db)
        assert without_own_alerts(keys, raised) == keys_of(published)  # once each, in order
        assert len(keys) == len(published) + 2
        report = await verify_chain(db, ACCOUNT)
        assert report.ok, report.describe()
        async with db.connect() as conn:
            fills = (await conn.execute(sa.select(sa.func.count()).select_from(FillRow))).scalar()
            trades = (await conn.execute(sa.select(sa.func.count()).select_from(TradeRow))).scalar()
            codes = (await conn.execute(sa.select(AlertRow.__table__.c.code))).scalars().all()
        assert fills == sum(1 for e in published if type(e).__name__ == "Fill")
        assert trades == sum(1 for e in published if type(e).__name__ == "TradeClosed")
        assert {"storage_unavailable", "storage_recovered"} <= set(codes)
    finally:
        await db.dispose()
