"""``[redis]``: signal ingest, market data and event publishing."""

from __future__ import annotations

from config.sections._base import Section


class RedisSettings(Section, frozen=True, kw_only=True):
    """Redis connection; an empty ``url`` runs the daemon without Redis."""

    url: str = ""
    prefix: str = "tradingd"
    """Channel/stream prefix; the account name is appended: ``<prefix>:<account>:...``."""
