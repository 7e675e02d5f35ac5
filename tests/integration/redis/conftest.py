"""Fixtures for tests against the real Redis in REDIS_URL (skipped if it is not reachable)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.integration.redis._support import delete_prefix

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_url() -> str:
    """The Redis server under test."""
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client for the test's own reads and writes."""
    client = Redis.from_url(redis_url)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis at {redis_url} is not reachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(request: pytest.FixtureRequest, redis_client: Redis) -> AsyncIterator[str]:
    """A key prefix unique to this test (and process); its keys are deleted afterwards."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    p = f"t{os.getpid()}_{name}"
    await delete_prefix(redis_client, p)
    yield p
    await delete_prefix(redis_client, p)
