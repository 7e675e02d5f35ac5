"""Migrations: upgrade from empty, match the models, downgrade cleanly; the start check."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage import Database, SchemaMismatch, migrate
from storage.models import metadata


async def _tables(db: Database) -> set[str]:
    async with db.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    return set(names)


async def test_upgrade_from_empty_creates_every_table(empty_db: Database) -> None:
    status = await migrate.schema_status(empty_db)
    assert status.current == ()
    assert not status.up_to_date
    status = await migrate.upgrade(empty_db)
    assert status.up_to_date
    assert status.current == (migrate.head_revision(),)
    assert set(metadata.tables) <= await _tables(empty_db)


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))

    async with db.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_downgrade_removes_everything_and_upgrade_again_works(db: Database) -> None:
    status = await migrate.downgrade(db, "base")
    assert status.current == ()
    assert await _tables(db) <= {"alembic_version"}
    assert (await migrate.upgrade(db)).up_to_date


async def test_ensure_schema_refuses_an_old_schema_with_the_fix(empty_db: Database) -> None:
    with pytest.raises(SchemaMismatch, match=r"tradingd db upgrade --config"):
        await migrate.ensure_schema(empty_db, auto_migrate=False)
    assert not (await migrate.schema_status(empty_db)).up_to_date


async def test_ensure_schema_migrates_when_allowed(empty_db: Database) -> None:
    status = await migrate.ensure_schema(empty_db, auto_migrate=True)
    assert status.up_to_date
    assert (await migrate.ensure_schema(empty_db, auto_migrate=False)).up_to_date


async def test_schema_from_a_newer_build_is_refused(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'fffffffffff'"))
    status = await migrate.schema_status(db)
    assert not status.known
    with pytest.raises(SchemaMismatch, match="does not know"):
        await migrate.ensure_schema(db, auto_migrate=True)


async def test_sqlite_runs_in_wal_mode_with_the_configured_sync(db: Database) -> None:
    if db.backend != "sqlite":
        pytest.skip("SQLite pragmas only")
    async with db.connect() as conn:
        mode = (await conn.execute(sa.text("PRAGMA journal_mode"))).scalar_one()
        sync = (await conn.execute(sa.text("PRAGMA synchronous"))).scalar_one()
    assert mode == "wal"
    assert sync == 2  # FULL, the default of storage.sqlite_synchronous
