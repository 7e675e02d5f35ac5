"""Map driver errors to the storage errors the writer acts on (see ``_errors``).

PostgreSQL errors are classified by SQLSTATE class: connection trouble, operator
intervention, resource exhaustion, schema or privilege problems mean *unavailable* (an
operator or time fixes them; the records are fine and will be retried); data exceptions
and integrity violations mean *rejected* (these records will never go in as they are).
Errors that are neither — bugs — are not mapped, so they crash the actor loudly.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

from storage._errors import StorageError, StorageRejected, StorageUnavailable

_UNAVAILABLE_CLASSES = frozenset({"08", "28", "3D", "3F", "40", "42", "53", "55", "57", "58", "XX"})
_REJECTED_CLASSES = frozenset({"22", "23"})


def _root(exc: BaseException) -> BaseException:
    # SQLAlchemy wraps the driver's error; asyncpg's adapter wraps it once more.
    seen = 0
    while seen < 8:
        seen += 1
        inner: BaseException | None = None
        if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
            inner = exc.orig
        elif exc.__cause__ is not None and type(exc).__module__.startswith("sqlalchemy"):
            inner = exc.__cause__
        if inner is None:
            break
        exc = inner
    return exc


def map_error(exc: BaseException, what: str) -> StorageError | None:
    """The storage error for ``exc`` (raised while doing ``what``), or None if it is a bug."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, sa.exc.TimeoutError):
        return StorageUnavailable(f"{what}: no database connection available in time")
    root = _root(exc)
    text = f"{what}: {type(root).__name__}: {root}".strip()
    if isinstance(root, (OSError, TimeoutError, ConnectionError)):
        return StorageUnavailable(text)
    if isinstance(root, OverflowError):
        # sqlite3 refuses integers beyond 64 bits with a plain OverflowError.
        return StorageRejected(text)
    if isinstance(root, sqlite3.Error):
        if isinstance(root, sqlite3.OperationalError):
            return StorageUnavailable(text)
        return StorageRejected(text)
    mod = type(root).__module__
    if mod.startswith("asyncpg"):
        sqlstate = getattr(root, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            cls = sqlstate[:2]
            if cls in _REJECTED_CLASSES:
                return StorageRejected(text)
            if cls in _UNAVAILABLE_CLASSES:
                return StorageUnavailable(text)
            return StorageUnavailable(text)
        # Client-side: argument encoding problems are the data's fault; anything else
        # (closed connection, protocol state) is the connection's.
        if isinstance(root, ValueError) or type(root).__name__ == "DataError":
            return StorageRejected(text)
        return StorageUnavailable(text)
    if isinstance(exc, sa.exc.DBAPIError):
        return StorageUnavailable(text)
    return None
