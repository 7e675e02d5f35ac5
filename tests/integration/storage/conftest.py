"""Fixtures for storage tests: the same suite on SQLite and on PostgreSQL.

PostgreSQL tests run in a schema of their own (``t_<pid>_<random>``), created by the
migration and dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from config.sections.storage import StorageSettings
from storage import Database, migrate
from tests.conftest import DATABASE_URL

ACCOUNT = "acct-test"


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _postgres_reachable() -> str:
    try:
        conn = await asyncpg.connect(_dsn(DATABASE_URL), timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at DATABASE_URL unreachable: {exc}"
    await conn.close()
    return ""


def storage_settings(backend: str, tmp_path: Path) -> StorageSettings:
    """Settings for a fresh, isolated database of ``backend``."""
    if backend == "sqlite":
        return StorageSettings(url=f"sqlite+aiosqlite:///{tmp_path}/tradingd.db")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    return StorageSettings(url=DATABASE_URL, db_schema=schema)


async def drop_schema(db: Database) -> None:
    """Remove a PostgreSQL test schema and everything in it."""
    if db.backend == "postgresql" and db.schema:
        async with db.engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs against."""
    return str(request.param)


@pytest.fixture
async def empty_db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema yet."""
    if backend == "postgres":
        why = await _postgres_reachable()
        if why:
            pytest.skip(why)
    db = Database.open(storage_settings(backend, tmp_path))
    try:
        yield db
    finally:
        await drop_schema(db)
        await db.dispose()


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A database migrated to this build's head."""
    await migrate.upgrade(empty_db)
    return empty_db
