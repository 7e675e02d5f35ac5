"""Shared fixtures: simulated clock, settings, service URLs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from config import Settings, settings_from_mapping
from daemon.clock import SimClock

# Deterministic property tests: a fixed derivation of examples from each test (no random
# seed per run, no example database), and no per-example deadline, which would turn a
# loaded CI machine into a failure. Timing never goes in an assertion.
hypothesis_settings.register_profile(
    "tradingd",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
hypothesis_settings.load_profile("tradingd")

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def sim_clock() -> SimClock:
    """A simulated clock at a fixed start time (2023-11-14T22:13:20Z)."""
    return SimClock()


@pytest.fixture
def settings() -> Settings:
    """Default settings (the embedded paper configuration's defaults)."""
    return Settings()


def tmp_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings whose state, socket and SQLite files live under ``tmp_path``."""
    raw: dict[str, Any] = {
        "daemon": {
            "state_dir": str(tmp_path / "state"),
            "socket_path": str(tmp_path / "run" / "tradingd.sock"),
        },
        "safety": {"create_state_dir": True},
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'tradingd.db'}"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return settings_from_mapping(raw)
