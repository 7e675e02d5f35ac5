"""Fixtures of the observability tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.observability._support import short_dir


@pytest.fixture
def base() -> Iterator[Path]:
    """A fresh short directory for state, socket and database; removed afterwards."""
    path = short_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
