"""The database handle: an async SQLAlchemy engine configured from ``[storage]``.

PostgreSQL goes through asyncpg (pool size, connect and statement timeouts, optional
schema via ``search_path``, pre-ping so a restarted server is noticed at checkout).
SQLite goes through aiosqlite in WAL mode, so readers (reports, the admin socket) never
block the writer, with ``synchronous`` as configured and a busy timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from config.sections.storage import StorageSettings

Backend = Literal["postgresql", "sqlite"]


@final
class Database:
    """One database: the engine, which backend it is, and the schema tradingd uses.

    Build it with :meth:`open`; close it with :meth:`dispose`.
    """

    __slots__ = ("backend", "engine", "schema", "settings")

    def __init__(
        self, engine: AsyncEngine, *, backend: Backend, schema: str, settings: StorageSettings
    ) -> None:
        self.engine = engine
        self.backend: Backend = backend
        self.schema = schema
        self.settings = settings

    @classmethod
    def open(cls, settings: StorageSettings) -> Database:
        """An engine for ``settings.url`` (no connection is made until first use)."""
        url = sa.make_url(settings.url)
        pool: dict[str, Any] = {
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_timeout": settings.connect_timeout_s,
            "pool_recycle": settings.pool_recycle_s,
            "pool_pre_ping": True,
        }
        if url.get_backend_name() == "sqlite":
            path = url.database or ""
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(
                url, connect_args={"timeout": settings.connect_timeout_s}, **pool
            )
            _install_sqlite_pragmas(engine, settings)
            return cls(engine, backend="sqlite", schema="", settings=settings)
        server_settings = {"application_name": "tradingd"}
        if settings.db_schema:
            server_settings["search_path"] = settings.db_schema
        engine = create_async_engine(
            url,
            connect_args={
                "timeout": settings.connect_timeout_s,
                "command_timeout": settings.statement_timeout_s,
                "server_settings": server_settings,
            },
            **pool,
        )
        return cls(engine, backend="postgresql", schema=settings.db_schema, settings=settings)

    @property
    def display_url(self) -> str:
        """The URL with any password hidden (for logs and messages)."""
        return self.engine.url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A pooled SQLAlchemy connection (for queries and migrations)."""
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def driver_connection(self) -> AsyncIterator[Any]:
        """The driver's own connection (asyncpg or aiosqlite) from the pool, for bulk writes.

        A connection that failed at the transport level is invalidated, so the pool
        never hands it out again.
        """
        async with self.engine.connect() as conn:
            fairy = await conn.get_raw_connection()
            try:
                yield fairy.driver_connection
            except BaseException as exc:
                if is_disconnect(exc):
                    await conn.invalidate()
                raise

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _install_sqlite_pragmas(engine: AsyncEngine, settings: StorageSettings) -> None:
    busy_ms = int(settings.connect_timeout_s * 1000)
    sync = settings.sqlite_synchronous.upper()

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute(f"PRAGMA busy_timeout={busy_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()


_DISCONNECT_NAMES = frozenset(
    {
        "PostgresConnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "ConnectionRejectionError",
        "InterfaceError",
        "InternalClientError",
    }
)


def is_disconnect(exc: BaseException) -> bool:
    """True when ``exc`` means the connection itself is gone (not the statement)."""
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return any(type(e).__name__ in _DISCONNECT_NAMES for e in _chain(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 8:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def is_sqlite_unique_violation(exc: BaseException) -> bool:
    """True for SQLite's ``UNIQUE constraint failed`` (a duplicate, not bad data)."""
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(exc)
