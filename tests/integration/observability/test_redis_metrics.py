"""The signal stream's backlog and the Redis links, as the metrics show them (real Redis)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis

from actors.metrics import StreamProbe
from config import Settings
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.logs import actor_logger
from tests.conftest import REDIS_URL
from tests.integration.observability._support import obs_settings, running_daemon, value
from tests.pipeline_support import have_data, with_settings

pytestmark = pytest.mark.redis


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    c = Redis.from_url(REDIS_URL)
    try:
        await c.ping()
    except Exception as exc:
        await c.aclose()
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    yield c
    await c.aclose()


@pytest.fixture
def prefix() -> str:
    return f"tdobs{os.getpid()}_{uuid.uuid4().hex[:8]}"


async def _cleanup(client: Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)


def _settings(prefix: str, **sections: dict[str, Any]) -> Settings:
    return with_settings(
        Settings(),
        redis={"url": REDIS_URL, "prefix": prefix},
        daemon={"account": "acct"},
        **sections,
    )


async def test_lag_and_pending_are_read_from_the_consumer_group(client: Redis, prefix: str) -> None:
    settings = _settings(prefix)
    clock = SimClock()
    probe = StreamProbe(
        settings,
        clock=clock,
        events=Bus().topic("events"),
        interval_s=15.0,
        log=actor_logger("metrics"),
    )
    stream, group = probe.keys.signal_stream, probe.keys.group
    try:
        empty = await probe.read(client)
        assert (empty.length, empty.lag, empty.pending) == (0, 0, 0)
        for i in range(5):
            await client.xadd(stream, {"n": str(i)})
        await client.xgroup_create(stream, group, id="0")
        # Two entries delivered to a consumer and not acknowledged; three never delivered.
        await client.xreadgroup(group, "c1", {stream: ">"}, count=2)
        f = await probe.read(client)
        assert (f.length, f.lag, f.pending, f.consumers) == (5, 3, 2, 1)
        assert f.stream == stream
        assert probe.ok
        assert probe.last is f
    finally:
        await _cleanup(client, prefix)


@pytest.mark.skipif(not have_data(), reason="/work/shared/data is absent")
async def test_a_daemon_with_redis_exports_links_and_stream_figures(
    base: Path, client: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = obs_settings(
        base,
        redis={"url": REDIS_URL, "prefix": prefix},
        metrics={"redis_probe_interval_s": 1.0},
    )
    try:
        async with running_daemon(settings) as run:
            probe = run.metrics.stream_probe
            assert probe is not None
            async with run.clock.autojumping():
                with anyio.fail_after(20):
                    await probe.progress.wait_for(lambda: probe.readings >= 2)
            m = await run.scrape()
            assert value(m, "tradingd_redis_probe_up") == 1
            key = {"stream": probe.keys.signal_stream, "group": probe.keys.group}
            assert value(m, "tradingd_redis_stream_pending", **key) == 0
            assert ("tradingd_redis_stream_lag", frozenset(key.items())) in m
            # Every actor's Redis loop is a link, and each is connected.
            links = {dict(k[1])["link"] for k in m if k[0] == "tradingd_redis_connected"}
            assert {"redis_signals.stream", "redis_signals.pubsub", "metrics.probe"} <= links
            connected = {
                dict(k[1])["link"]: v for k, v in m.items() if k[0] == "tradingd_redis_connected"
            }
            assert set(connected.values()) == {1.0}, connected
    finally:
        await _cleanup(client, prefix)
