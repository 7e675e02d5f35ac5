"""Shared fixtures: simulated clock, settings, service URLs."""

from __future__ import annotations

import os
import pytest

from config import Settings
from daemon.clock import SimClock

DATABASE_URL = os.environ.get(
    "DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def sim_clock() -> SimClock:
    """A simulated clock at a fixed start time (2023-11-14T22:13:20Z)."""
    return SimClock()


@pytest.fixture
def settings() -> Settings:
    """Default settings (the embedded paper configuration's defaults)."""
    return Settings()
