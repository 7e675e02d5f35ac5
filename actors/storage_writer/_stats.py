"""Counters of the storage writer (status, metrics and tests synchronise on them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class WriterStats:
    """What the storage writer has done since it started (this incarnation)."""

    received: int = 0
    """Events taken from the ``events`` topic."""
    recorded: int = 0
    """Events newly written to the database (audit log plus projections)."""
    duplicates: int = 0
    """Events found already recorded (spool replays after an uncertain commit)."""
    batches: int = 0
    """Transactions committed."""
    spooled: int = 0
    """Events written to the local spool."""
    replayed: int = 0
    """Spooled events taken out of the spool after reaching the database."""
    rejected: int = 0
    """Events the database refused (moved to the dead-letter spool, alert raised)."""
    unpreparable: int = 0
    """Events that could not be turned into rows (logged, alert raised)."""
    outages: int = 0
    """Times the database became unreachable."""
    pending: int = 0
    """Events in memory and not yet recorded or spooled (including a batch being written):
    0 means everything received so far is in the database or in the spool."""
    backlog_frames: int = 0
    """Spool frames waiting to be replayed right now."""
    outage: str = ""
    """Why the database is considered down (empty when it is up)."""
    write_seconds: float = 0.0
    """Time spent in committed batch writes, on the daemon's clock (batch-latency metric)."""
    last_write_s: float = 0.0
    """How long the latest committed batch write took."""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the admin socket and logs."""
        return asdict(self)
