"""``[storage]``: the SQL database, its engine, the storage writer and the local spool."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec

from config.sections._base import NonNegFloat, PosInt, Seconds, Section

SchemaName = Annotated[str, msgspec.Meta(pattern=r"^([a-z_][a-z0-9_]{0,62})?$")]
"""A PostgreSQL schema name (lower case, digits, underscores), or empty for the default."""

_URL_RE = re.compile(r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://")


class StorageSettings(Section, frozen=True, kw_only=True):
    """Database URL, engine settings, writer batching, outage retries and the spool."""

    url: str = "sqlite+aiosqlite:///./var/tradingd.db"
    """SQLAlchemy URL: ``sqlite+aiosqlite:///PATH`` or ``postgresql+asyncpg://...``.
    Put the password in the environment (``TRADINGD_STORAGE__URL``), not in the file."""
    db_schema: SchemaName = ""
    """PostgreSQL schema holding tradingd's tables (created by ``tradingd db upgrade``);
    empty means the server's default (``public``). Ignored for SQLite."""
    pool_size: PosInt = 5
    """Connections kept open to the database (the writer uses one at a time)."""
    max_overflow: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Connections allowed beyond ``pool_size`` under burst (reports, admin queries)."""
    connect_timeout_s: Seconds = 5.0
    """Giving up on opening a connection (and on waiting for a pooled one)."""
    statement_timeout_s: Seconds = 30.0
    """Longest any one statement may run before it is treated as an outage."""
    pool_recycle_s: Seconds = 1800.0
    """Connections older than this are replaced (survives server-side idle timeouts)."""
    sqlite_synchronous: Literal["full", "normal"] = "full"
    """SQLite ``PRAGMA synchronous`` under WAL: ``full`` survives power loss per commit."""
    auto_migrate: bool = False
    """Migrate the schema at start instead of refusing to run on an old schema."""
    require_at_start: bool = False
    """Refuse to start when the database is unreachable; otherwise start and spool."""
    batch_size: PosInt = 5000
    """Most records written in one transaction (a batch is written when full...)."""
    batch_interval_s: Seconds = 0.25
    """...or when its oldest record has waited this long, whichever comes first."""
    max_buffered: PosInt = 200_000
    """Records held in memory while the database is slow; beyond this they are spooled."""
    retry_initial_s: Seconds = 0.5
    """First retry after the database became unreachable (then doubling)."""
    retry_max_s: Seconds = 30.0
    """Longest wait between two retries while the database stays unreachable."""
    retry_jitter: NonNegFloat = 0.2
    """Fraction of each retry delay added at random (seeded), to spread reconnects."""
    spool_dir: str = ""
    """Where records go while the database is down; empty means ``<state_dir>/spool``."""

    def __post_init__(self) -> None:
        if not _URL_RE.match(self.url):
            raise ValueError(
                "storage.url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("storage.retry_max_s must be >= storage.retry_initial_s")
