"""Schema migrations: upgrade, downgrade, where a database stands, and the start check.

The migration scripts ship inside the package (``storage/migrations``); nothing needs an
``alembic.ini``. :func:`ensure_schema` is what the daemon runs before any actor starts: a
database whose schema is not at this build's head is refused with the command that fixes
it, unless ``storage.auto_migrate`` is on, in which case it is upgraded first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from config.sections.storage import StorageSettings
from storage._engine import Database
from storage._errmap import map_error
from storage._errors import SchemaMismatch, StorageUnavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
"""Where the Alembic scripts live (shipped as package data)."""

FIX_COMMAND = "tradingd db upgrade --config <your configuration file>"

_log = logging.getLogger("tradingd.storage")


def alembic_config(db: Database | None = None) -> Config:
    """An Alembic configuration for the shipped scripts (and ``db``'s schema)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["schema"] = db.schema if db is not None else ""
    return cfg


def head_revision() -> str:
    """The newest revision this build knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaMismatch("no migration scripts found in the tradingd package")
    return head


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands relative to this build."""

    current: tuple[str, ...]
    """Revisions recorded in the database (empty: never migrated)."""
    head: str
    """This build's newest revision."""
    known: bool
    """False when the database has a revision this build does not know (newer code ran)."""

    @property
    def up_to_date(self) -> bool:
        """The schema is exactly at this build's head."""
        return self.current == (self.head,)

    def describe(self) -> str:
        """One line for operators."""
        cur = ", ".join(self.current) or "empty (never migrated)"
        if self.up_to_date:
            return f"schema at {self.head} (up to date)"
        if not self.known:
            return (
                f"schema at {cur}, which this tradingd does not know (it needs {self.head}); "
                "a newer tradingd migrated this database"
            )
        return f"schema at {cur}, behind this tradingd's {self.head}"


def _status_sync(conn: Connection, schema: str) -> SchemaStatus:
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema or None})
    current = tuple(sorted(ctx.get_current_heads()))
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head() or ""
    known_revs = {r.revision for r in script.walk_revisions()}
    return SchemaStatus(current, head, all(c in known_revs for c in current))


async def schema_status(db: Database) -> SchemaStatus:
    """Read the schema revision of ``db``; raises StorageUnavailable when unreachable."""
    try:
        async with db.connect() as conn:
            status: SchemaStatus = await conn.run_sync(_status_sync, db.schema)
            return status
    except BaseException as exc:
        mapped = map_error(exc, f"reading the schema revision of {db.display_url}")
        if mapped is None:
            raise
        raise mapped from exc


def _command_sync(conn: Connection, db: Database, name: str, revision: str) -> None:
    cfg = alembic_config(db)
    cfg.attributes["connection"] = conn
    fn: Any = getattr(command, name)
    fn(cfg, revision)


async def _run(db: Database, name: str, revision: str) -> None:
    try:
        async with db.engine.begin() as conn:
            if db.backend == "postgresql" and db.schema:
                quoted = conn.dialect.identifier_preparer.quote_schema(db.schema)
                await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            await conn.run_sync(_command_sync, db, name, revision)
    except BaseException as exc:
        mapped = map_error(exc, f"migrating {db.display_url} ({name} {revision})")
        if mapped is None:
            raise
        raise mapped from exc


async def upgrade(db: Database, revision: str = "head") -> SchemaStatus:
    """Upgrade ``db`` to ``revision`` in one transaction; returns the new status."""
    await _run(db, "upgrade", revision)
    return await schema_status(db)


async def downgrade(db: Database, revision: str) -> SchemaStatus:
    """Downgrade ``db`` to ``revision`` (``base`` drops everything); returns the new status."""
    await _run(db, "downgrade", revision)
    return await schema_status(db)


async def ensure_schema(db: Database, *, auto_migrate: bool) -> SchemaStatus:
    """Make sure ``db`` is at this build's head, migrating only if ``auto_migrate``.

    Raises :class:`SchemaMismatch` (with the fix in its text) when the schema is behind
    and migration is off, or when it is ahead of this build; StorageUnavailable when
    the database cannot be reached.
    """
    status = await schema_status(db)
    if status.up_to_date:
        return status
    if not status.known:
        raise SchemaMismatch(
            f"database {db.display_url}: {status.describe()}; run a tradingd at least as new"
        )
    if auto_migrate:
        return await upgrade(db)
    raise SchemaMismatch(
        f"database {db.display_url}: {status.describe()}; run `{FIX_COMMAND}` "
        "(or set storage.auto_migrate = true)"
    )


async def open_checked(settings: StorageSettings) -> Database:
    """Open the database for the daemon, refusing a schema that does not match this build.

    * schema at head: returns the database;
    * schema behind: migrates when ``auto_migrate``, otherwise raises SchemaMismatch
      (whose text names the command that fixes it);
    * schema ahead (a newer tradingd migrated it): raises SchemaMismatch;
    * database unreachable: raises StorageUnavailable when ``require_at_start``,
      otherwise logs a warning and returns the database anyway — the storage writer
      spools until it is back, and checks the schema then (an old schema is an outage).
    """
    db = Database.open(settings)
    try:
        status = await ensure_schema(db, auto_migrate=settings.auto_migrate)
    except StorageUnavailable as exc:
        if settings.require_at_start:
            await db.dispose()
            raise
        _log.warning(
            "database unreachable at start; starting anyway, records are spooled until it is back",
            extra={"event": "storage_unreachable_at_start", "error": str(exc)},
        )
        return db
    except BaseException:
        await db.dispose()
        raise
    _log.info(
        "database ready",
        extra={"event": "storage_ready", "url": db.display_url, "schema": status.describe()},
    )
    return db
