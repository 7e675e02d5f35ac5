"""``tradingd db``, ``tradingd audit verify``, ``tradingd trace`` and the start-up check."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import msgspec
import pytest
import sqlalchemy as sa

from config import load_settings
from daemon.cli import main
from daemon.exitcodes import ExitCode
from storage import Database, EventStore, Projector
from storage.models import AuditRow
from tests.integration.storage.conftest import drop_schema, storage_settings
from tests.integration.storage.events import pipeline_events

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "cli-acct"


@pytest.fixture
def config(backend: str, tmp_path: Path) -> Iterator[Path]:
    """A configuration file for a fresh database of ``backend`` (dropped afterwards)."""
    cfg = storage_settings(backend, tmp_path)
    path = tmp_path / "tradingd.toml"
    path.write_text(
        "[daemon]\n"
        f'state_dir = "{tmp_path}/state"\n'
        f'socket_path = "{tmp_path}/run/tradingd.sock"\n'
        f'account = "{ACCOUNT}"\n'
        'log_format = "json"\n'
        "[storage]\n"
        f'url = "{cfg.url}"\n'
        f'db_schema = "{cfg.db_schema}"\n'
    )
    yield path
    if cfg.db_schema:

        async def cleanup() -> None:
            db = Database.open(cfg)
            await drop_schema(db)
            await db.dispose()

        anyio.run(cleanup)


def with_db(config: Path, fn: Callable[[Database], Awaitable[None]]) -> None:
    """Run ``fn(db)`` against the configured database."""

    async def go() -> None:
        db = Database.open(load_settings(config).storage)
        try:
            await fn(db)
        finally:
            await db.dispose()

    anyio.run(go)


def write_events(config: Path, n_signals: int) -> None:
    async def fn(db: Database) -> None:
        p = Projector(ZoneInfo("America/New_York"))
        await EventStore(db, ACCOUNT).write([p.prepare(e) for e in pipeline_events(n_signals)])

    with_db(config, fn)


def test_db_upgrade_current_and_downgrade(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current", "--config", str(config)]) == ExitCode.CHECK_FAILED
    assert "never migrated" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config)]) == ExitCode.OK
    assert "up to date" in capsys.readouterr().out
    assert main(["db", "current", "-c", str(config)]) == ExitCode.OK
    capsys.readouterr()
    assert main(["db", "downgrade", "base", "-c", str(config)]) == ExitCode.CONFIG_ERROR
    assert "--yes" in capsys.readouterr().err
    assert main(["db", "downgrade", "base", "-c", str(config), "--yes"]) == ExitCode.OK
    assert main(["db", "current", "-c", str(config)]) == ExitCode.CHECK_FAILED


def test_audit_verify_reports_ok_then_the_broken_link(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "-c", str(config)]) == ExitCode.OK
    write_events(config, 5)
    capsys.readouterr()
    assert main(["audit", "verify", "-c", str(config)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"account '{ACCOUNT}': ok" in out
    head = out.split("head seq ")[1].split()
    anchor = f"{head[0]}:{head[2]}"
    assert main(["audit", "verify", "-c", str(config), "--anchor", anchor]) == ExitCode.OK

    async def tamper(db: Database) -> None:
        a = AuditRow.metadata.tables[AuditRow.__tablename__]  # a Table, which DELETE takes
        async with db.engine.begin() as conn:
            await conn.execute(sa.delete(a).where(a.c.seq == 9))

    with_db(config, tamper)
    capsys.readouterr()
    assert main(["audit", "verify", "-c", str(config), "--all"]) == ExitCode.CHECK_FAILED
    err = capsys.readouterr().err
    assert "BROKEN at seq 9 (deleted)" in err
    assert main(["audit", "verify", "-c", str(config), "--anchor", "nope"]) == ExitCode.CONFIG_ERROR


def test_trace_prints_the_chain_in_order(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "-c", str(config)]) == ExitCode.OK
    write_events(config, 4)
    capsys.readouterr()
    assert main(["trace", "c-00000001", "-c", str(config)]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    kinds = [ln.split()[0] for ln in lines[1:] if not ln.startswith(" ")]
    assert kinds == [
        "signal",
        "verdict",
        "fusion",
        "risk",
        "order",
        "order",
        "fill",
        "fill",
        "execution",
        "trade",
    ]
    assert "position_symbol" in "\n".join(lines)

    assert main(["trace", "c-00000001", "-c", str(config), "--json"]) == ExitCode.OK
    body = msgspec.json.decode(capsys.readouterr().out)
    assert body["correlation_id"] == "c-00000001"
    assert [t["trade_id"] for t in body["trades"]] == ["t-1"]

    assert main(["trace", "no-such-id", "-c", str(config)]) == ExitCode.CHECK_FAILED
    assert "nothing recorded" in capsys.readouterr().err


def test_unreachable_database_exits_3_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        '[storage]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:1/none"\nconnect_timeout_s = 2.0\n'
    )
    assert main(["db", "current", "-c", str(path)]) == ExitCode.STARTUP_FAILED
    assert "reading the schema revision" in capsys.readouterr().err


def test_daemon_refuses_to_start_on_an_old_schema(config: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "run", "--config", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == ExitCode.STARTUP_FAILED, proc.stderr
    assert "tradingd db upgrade --config" in proc.stderr
