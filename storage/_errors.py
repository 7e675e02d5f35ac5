"""The exceptions the storage layer raises, one root, kept flat.

::

    StorageError
    ├── StorageUnavailable   the database cannot be reached or used right now (retry later)
    ├── StorageRejected      the database refused these records (retrying will not help)
    ├── SchemaMismatch       the schema is not at this build's revision (run a migration)
    ├── SpoolError           the local spool cannot be opened or written
    │   ├── SpoolCorrupt     a spool frame failed its checksum in the middle of a file
    │   └── SpoolUnencodable a record cannot be encoded (e.g. an integer beyond 64 bits)
    └── AuditChainBroken     ``verify`` found a broken link (carries the report)

Driver errors (asyncpg, sqlite3, SQLAlchemy, OS) are mapped to these at the boundary
with ``raise ... from exc``, so the storage writer handles our errors, not a library's.
"""

from __future__ import annotations


class StorageError(Exception):
    """Root of every error the storage layer raises on purpose."""


class StorageUnavailable(StorageError):
    """Raised when the database is unreachable, timed out or not usable; retrying may help."""


class StorageRejected(StorageError):
    """Raised when the database refuses the data itself (constraint, type); retrying won't help."""


class SchemaMismatch(StorageError):
    """Raised when the database schema is behind (or ahead of) the revision this build needs."""


class SpoolError(StorageError):
    """Raised when the spool directory or file cannot be opened, locked or written."""


class SpoolUnencodable(SpoolError):
    """Raised when records cannot be encoded into a spool frame (nothing was written)."""


class SpoolCorrupt(SpoolError):
    """Raised when a spool frame in the middle of a file fails its checks.

    ``offset`` is the byte offset of the bad frame; ``resume_at`` is the offset of the next
    frame that checks out again (or ``None`` when no later frame does).
    """

    def __init__(self, path: str, offset: int, reason: str, resume_at: int | None) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        self.resume_at = resume_at
        where = f"resumes at offset {resume_at}" if resume_at is not None else "nothing after it"
        super().__init__(f"spool {path} corrupt at offset {offset}: {reason} ({where})")


class AuditChainBroken(StorageError):
    """Raised by callers that treat a broken audit chain as an error (the report says where)."""
