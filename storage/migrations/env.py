"""Alembic environment for tradingd (async).

Two ways in:

* from tradingd (``tradingd db upgrade``, ``storage.migrate``): the caller opens an async
  connection and hands its synchronous face in ``config.attributes["connection"]``;
* from the ``alembic`` command line (developers): ``alembic -c storage/alembic.ini
  -x url=postgresql+asyncpg://... upgrade head``, run here on an async engine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage.models import metadata

config = context.config


def _configure(connection: Connection) -> None:
    schema: str | None = config.attributes.get("schema") or None
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_sync)
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("tradingd migrations run online only (no --sql mode)")
    given: Any = config.attributes.get("connection")
    if given is not None:
        _run_sync(given)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database with -x url=... (an async SQLAlchemy URL)")
    asyncio.run(_run_async(url))


_main()
