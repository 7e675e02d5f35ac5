"""The daemon with the storage writer: schema check at start, shared engine, clean stop."""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec
import pytest

from actors.storage_writer import DEFINITION, StorageWriter
from config import Settings
from config.sections.daemon import DaemonSettings
from daemon.clock import SimClock
from daemon.errors import StartupError
from daemon.exitcodes import ExitCode
from daemon.runtime import Daemon
from storage import Database
from storage.audit import verify_chain
from tests.integration.storage.conftest import drop_schema, storage_settings
from tests.integration.storage.events import pipeline_events


def daemon_settings(backend: str, tmp_path: Path, **storage: object) -> Settings:
    cfg = msgspec.structs.replace(storage_settings(backend, tmp_path), **storage)
    daemon = DaemonSettings(
        state_dir=str(tmp_path / "state"), account="d-acct", socket_path=str(tmp_path / "s.sock")
    )
    return msgspec.structs.replace(Settings(), storage=cfg, daemon=daemon)


async def test_daemon_refuses_an_old_schema(backend: str, tmp_path: Path) -> None:
    settings = daemon_settings(backend, tmp_path, auto_migrate=False)
    daemon = Daemon(settings, clock=SimClock(), definitions=[DEFINITION], handle_signals=False)
    try:
        with pytest.raises(StartupError, match=r"behind.*tradingd db upgrade --config"):
            await daemon.run()
    finally:
        db = Database.open(settings.storage)
        await drop_schema(db)
        await db.dispose()


async def test_daemon_migrates_records_and_stops_cleanly(backend: str, tmp_path: Path) -> None:
    settings = daemon_settings(backend, tmp_path, auto_migrate=True)
    clock = SimClock()
    daemon = Daemon(settings, clock=clock, definitions=[DEFINITION], handle_signals=False)
    events = pipeline_events(10)
    codes: list[ExitCode] = []
    stopped = anyio.Event()

    async def main() -> None:
        codes.append(await daemon.run())
        stopped.set()

    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        tg.start_soon(main)
        with anyio.fail_after(60):
            await daemon.ready.wait()
        assert daemon.supervisor is not None
        writer = daemon.supervisor.records["storage_writer"].actor
        assert isinstance(writer, StorageWriter)
        for e in events:
            await daemon.events.publish(e)
        daemon.request_stop("test")
        with anyio.fail_after(60):
            await stopped.wait()
        tg.cancel_scope.cancel()
    assert codes == [ExitCode.OK]
    # Again: mypy takes the task group's __aexit__ as possibly swallowing an exception
    # raised before the check inside the block.
    assert isinstance(writer, StorageWriter)
    # Everything published before the stop was written by the final flush.
    assert writer.stats.recorded >= len(events)
    assert writer.stats.spooled == 0
    db = Database.open(settings.storage)
    try:
        report = await verify_chain(db, "d-acct")
        assert report.ok
        assert report.records >= len(events)
    finally:
        await drop_schema(db)
        await db.dispose()
