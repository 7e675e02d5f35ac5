"""Logs: every line is JSON with the documented fields, and no configured credential ever
appears in one.

A short daemon session runs with secrets configured the way operators configure them —
a database password in ``storage.url`` (PostgreSQL accepts it: the test server trusts
local connections), a Redis user and password in ``redis.url`` (the test server knows no such
user, so every Redis user fails to authenticate and says so in the log), and a webhook whose URL
path, query and authorization header carry tokens (nothing listens there, so every
delivery fails and is logged). The session trades, engages the kill switch and stops;
every line the daemon logged, in both formats, is then searched for the secrets.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from anyio import wait_all_tasks_blocked

from daemon import names
from daemon.logs import ConsoleFormatter, JsonFormatter, setup_logging
from daemon.messages import Alert, PositionUpdate
from daemon.safety import EngageKill
from tests.conftest import DATABASE_URL, REDIS_URL
from tests.integration.observability._support import (
    SYMBOLS,
    last_close,
    obs_settings,
    running_daemon,
)
from tests.pipeline_support import have_data

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not have_data(), reason="/work/shared/data is absent"),
]

DB_PASSWORD = "Db-S3cret-pw-9731"
REDIS_PASSWORD = "R3dis-S3cret-4417"
HOOK_PATH_TOKEN = "HOOKpath-5511aa77"
HOOK_QUERY_TOKEN = "HOOKquery-7788bb"
HOOK_HEADER_TOKEN = "HOOKheader-9911cc"
SECRETS = (DB_PASSWORD, REDIS_PASSWORD, HOOK_PATH_TOKEN, HOOK_QUERY_TOKEN, HOOK_HEADER_TOKEN)

DOCUMENTED = {"time", "level", "logger", "msg"}
"""Fields on every line (docs/observability.md, "Logs")."""
LEVELS = {"debug", "info", "warning", "error", "critical"}


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """The daemon's log as JSON and as console lines, at debug level; restored afterwards."""
    root = logging.getLogger("tradingd")
    saved = (root.handlers[:], root.level, root.propagate)
    as_json, as_console = io.StringIO(), io.StringIO()
    setup_logging("debug", "json", stream=as_json)
    console = logging.StreamHandler(as_console)
    console.setFormatter(ConsoleFormatter())
    root.addHandler(console)
    try:
        yield as_json, as_console
    finally:
        root.handlers[:], root.level, root.propagate = saved


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with_password(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[-1]
    return f"{scheme}://{user}:{password}@{host}"


async def _drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def test_no_configured_credential_appears_in_any_log_line(
    base: Path, captured: tuple[io.StringIO, io.StringIO], caplog: pytest.LogCaptureFixture
) -> None:
    as_json, as_console = captured
    schema = f"t_obs_{uuid.uuid4().hex[:10]}"
    hook = f"http://127.0.0.1:{_closed_port()}/hooks/{HOOK_PATH_TOKEN}?token={HOOK_QUERY_TOKEN}"
    settings = obs_settings(
        base,
        daemon={"log_level": "debug"},
        storage={
            "url": _with_password(DATABASE_URL, "postgres", DB_PASSWORD),
            "db_schema": schema,
            "auto_migrate": True,
        },
        redis={"url": _with_password(REDIS_URL, "tdobs-nobody", REDIS_PASSWORD)},
        alerts={
            "webhook": {
                "url": hook,
                "headers": {"authorization": f"Bearer {HOOK_HEADER_TOKEN}"},
                "min_severity": "info",
                "max_attempts": 2,
            }
        },
    )
    caplog.set_level(logging.DEBUG)
    try:
        async with running_daemon(settings) as run:
            async with run.clock.autojumping():
                for sym in SYMBOLS:
                    await run.tick(sym, last_close(sym))
                await run.signal("s1", "AAPL")
                with anyio.fail_after(20):
                    await run.events.wait_kind(PositionUpdate)
                reply = await run.daemon.bus.service(names.SAFETY).call(
                    EngageKill(reason="log test", by="test")
                )
                assert reply.ok
                with anyio.fail_after(20):
                    await run.events.wait_kind(
                        Alert, where=lambda a: a.code == "kill_switch_engaged"
                    )
                await run.clock.run_until(run.clock.now_ns() + 60 * 1_000_000_000)
            await wait_all_tasks_blocked()
    finally:
        await _drop_schema(schema)

    json_lines = as_json.getvalue().splitlines()
    console_lines = as_console.getvalue().splitlines()
    assert len(json_lines) > 20
    # The session did what it must have logged about: the webhook and Redis failing.
    events = [json.loads(line).get("event") for line in json_lines]
    assert "webhook_retry" in events or "webhook_failed" in events
    assert "redis_unavailable" in events  # refused by the server, retried with backoff
    # The database was reached with the password, and the log shows where without it.
    (ready,) = [r for r in map(json.loads, json_lines) if r.get("event") == "storage_ready"]
    assert ready["url"].startswith("postgresql+asyncpg://postgres:***@")
    everything = [
        *json_lines,
        *console_lines,
        *(r.getMessage() for r in caplog.records),
        *(str(r.__dict__) for r in caplog.records),
    ]
    for secret in SECRETS:
        leaks = [line for line in everything if secret in line]
        assert not leaks, f"{secret!r} appears in the log:\n" + "\n".join(leaks[:5])


async def test_every_log_line_is_json_with_the_documented_fields(
    base: Path, captured: tuple[io.StringIO, io.StringIO]
) -> None:
    as_json, _ = captured
    settings = obs_settings(base, orchestrator={"fills": {"slippage_alert_bps": 0.1}})
    async with running_daemon(settings) as run:
        async with run.clock.autojumping():
            for sym in SYMBOLS:
                await run.tick(sym, last_close(sym))
            await run.signal("s1", "AAPL")
            with anyio.fail_after(20):
                await run.events.wait_kind(Alert, where=lambda a: a.code == "slippage")
        await wait_all_tasks_blocked()

    lines: list[dict[str, Any]] = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert lines
    for rec in lines:
        assert rec.keys() >= DOCUMENTED, rec
        assert rec["level"] in LEVELS
        assert rec["logger"].startswith("tradingd")
        assert isinstance(rec["msg"], str)
        when = dt.datetime.fromisoformat(rec["time"])
        assert when.utcoffset() == dt.timedelta(0)
        for key in ("actor", "event", "correlation_id", "symbol", "order_id"):
            assert key not in rec or isinstance(rec[key], str), (key, rec)
    # Actor loggers stamp the actor; the daemon's milestones carry an event name.
    assert {"actor_ready", "daemon_ready", "daemon_stopped"} <= {r.get("event") for r in lines}
    assert all("actor" in r for r in lines if r["logger"] == "tradingd.orchestrator")
    # An order's problem is logged with the ids that find it in the audit trail.
    (slip,) = [r for r in lines if r.get("event") == "slippage"]
    assert slip["correlation_id"].startswith("c")
    assert slip["order_id"].startswith("e")
    assert slip["actor"] == "orchestrator"


def test_json_formatter_output_is_one_object_per_line() -> None:
    rec = logging.makeLogRecord(
        {"name": "tradingd.x", "levelname": "INFO", "msg": "two\nlines", "event": "e"}
    )
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    assert json.loads(line)["msg"] == "two\nlines"
