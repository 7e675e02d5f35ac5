"""``[storage]``: the SQL database and the local spool."""

from __future__ import annotations

from config.sections._base import PosInt, Seconds, Section


class StorageSettings(Section, frozen=True, kw_only=True):
    """Database URL and writer behaviour."""

    url: str = "sqlite+aiosqlite:///./var/tradingd.db"
    """SQLAlchemy URL: ``sqlite+aiosqlite:///PATH`` or ``postgresql+asyncpg://...``."""
    pool_size: PosInt = 5
    connect_timeout_s: Seconds = 5.0
    auto_migrate: bool = False
    """Migrate the schema at start instead of refusing to run on an old schema."""
    batch_size: PosInt = 500
    batch_interval_s: Seconds = 0.25
    spool_dir: str = ""
    """Where records go while the database is down; empty means ``<state_dir>/spool``."""
