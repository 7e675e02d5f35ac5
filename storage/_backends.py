"""Driver-level primitives of the bulk writer, one class per backend.

The store (``storage.store``) runs the same algorithm on both; these classes only know
how to talk to their driver. PostgreSQL's fast path uses binary ``COPY`` (asyncpg's
``copy_records_to_table``), its safe path ``INSERT ... ON CONFLICT DO NOTHING`` through
asyncpg's pipelined ``executemany``. SQLite uses ``executemany`` for both, inside
``BEGIN IMMEDIATE`` so the writer never waits on a reader mid-transaction.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Any

import anyio
import sqlalchemy as sa

from storage._chain import GENESIS
from storage._copytext import copy_text
from storage._engine import is_sqlite_unique_violation
from storage._tables import DAILY_STATS_COLUMNS, ORDER_STATUS, TableSpec
from storage._types import ExactDecimal

Row = tuple[Any, ...]

_CHUNK = 500
"""Keys per ``IN (...)`` lookup (well under SQLite's bound-parameter limit)."""

_ORDER_STATUS_UPDATE = (
    "correlation_id = CASE WHEN excluded.correlation_id <> '' "
    "THEN excluded.correlation_id ELSE orders.correlation_id END, "
    "status = excluded.status, filled_qty = excluded.filled_qty, "
    "avg_fill_price = excluded.avg_fill_price, "
    "broker_order_id = CASE WHEN excluded.broker_order_id <> '' "
    "THEN excluded.broker_order_id ELSE orders.broker_order_id END, "
    "reason = excluded.reason, updated_ns = excluded.updated_ns, last_seq = excluded.last_seq "
    "WHERE COALESCE(orders.last_seq, orders.intent_seq, -1) < excluded.last_seq"
)


def _pg_array_type(spec: TableSpec, column: str) -> str:
    kind = spec.table.c[column].type
    if isinstance(kind, sa.BigInteger):
        return "bigint[]"
    if isinstance(kind, sa.Boolean):
        return "boolean[]"
    if isinstance(kind, sa.Double):
        return "float8[]"
    # Text, and decimals as text: asyncpg's binary numeric encoder is slow (see insert).
    return "text[]"


def _pg_unnest_upsert(spec: TableSpec, conflict: str, update: str) -> str:
    cols = spec.columns
    params = ", ".join(f"${i}::{_pg_array_type(spec, c)}" for i, c in enumerate(cols, start=1))
    select = ", ".join(
        f"u.{c}::numeric" if isinstance(spec.table.c[c].type, ExactDecimal) else f"u.{c}"
        for c in cols
    )
    return (
        f"INSERT INTO {spec.name} ({', '.join(cols)}) SELECT {select} "
        f"FROM unnest({params}) AS u({', '.join(cols)}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {update}"
    )


_PG_ORDER_STATUS_SQL = _pg_unnest_upsert(
    ORDER_STATUS, "account, client_order_id", _ORDER_STATUS_UPDATE
)
"""Every order's latest status in one statement: column arrays unnested into rows."""

_DAILY_SUMS = ("trades", "wins", "losses", "pnl", "fees", "gross_profit", "gross_loss")
_DAILY_COMBINE = {
    "best_trade": "GREATEST",
    "worst_trade": "LEAST",
    "first_exit_ns": "LEAST",
    "last_exit_ns": "GREATEST",
    "updated_seq": "GREATEST",
}
_PG_ADD_DAILY_SQL = (
    f"INSERT INTO daily_stats ({', '.join(DAILY_STATS_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(DAILY_STATS_COLUMNS) + 1))}) "
    "ON CONFLICT (account, day) DO UPDATE SET "
    + ", ".join(
        [f"{c} = daily_stats.{c} + excluded.{c}" for c in _DAILY_SUMS]
        + [f"{c} = {fn}(daily_stats.{c}, excluded.{c})" for c, fn in _DAILY_COMBINE.items()]
    )
)
"""A batch's per-day totals added to what is stored, in one round trip."""


_COPY_CHUNK = 1 << 18
"""Bytes of a COPY payload sent between two checkpoints (~0.1 ms of copying)."""
_COPY_ROWS = 512
"""Rows asyncpg encodes for binary COPY between two checkpoints (~0.5 ms)."""


async def _chunked(data: bytes) -> AsyncIterator[memoryview]:
    """``data`` in slices, handing the loop back between them.

    An async iterable, because asyncpg takes bytes for a file name and reads file
    objects through a worker thread. Sent whole, a batch's payload (a megabyte or more)
    would hold the event loop for milliseconds; in slices the server starts on the first
    while the rest follows.
    """
    view = memoryview(data)
    for start in range(0, len(view), _COPY_CHUNK):
        if start:
            await anyio.lowlevel.checkpoint()
        yield view[start : start + _COPY_CHUNK]


async def _in_slices(rows: Sequence[Row]) -> AsyncIterator[Row]:
    """``rows`` for asyncpg's binary COPY, handing the loop back every ``_COPY_ROWS``.

    asyncpg encodes a plain list in one go without yielding (~1 µs a row: 5 ms for a
    batch of audit records); from an async iterable it takes what comes.
    """
    for start in range(0, len(rows), _COPY_ROWS):
        if start:
            await anyio.lowlevel.checkpoint()
        for row in rows[start : start + _COPY_ROWS]:
            yield row


class UniqueConflict(Exception):
    """Internal: the fast path hit an existing key; the store retries on the safe path."""


class BulkBackend(ABC):
    """What the store needs from a driver connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @abstractmethod
    async def begin(self) -> None:
        """Start a transaction."""

    @abstractmethod
    async def commit(self) -> None:
        """Commit the transaction."""

    @abstractmethod
    async def rollback(self) -> None:
        """Roll the transaction back."""

    @abstractmethod
    async def insert(self, spec: TableSpec, rows: Sequence[Row], *, fast: bool) -> None:
        """Insert ``rows`` (full rows in ``spec.columns`` order).

        ``fast``: raise :class:`UniqueConflict` on any duplicate key (the caller retries
        safely). Otherwise rows whose keys exist are skipped.
        """

    async def copy_in_text(self, spec: TableSpec, data: bytes) -> None:
        """Insert rows already encoded for COPY's text format (PostgreSQL's fast path).

        Raises :class:`UniqueConflict` on a duplicate key, like ``insert(fast=True)``.
        """
        raise NotImplementedError(f"{type(self).__name__} takes rows, not COPY text")

    @abstractmethod
    async def upsert_order_status(self, rows: Sequence[Row]) -> None:
        """Move orders to their latest status (one row per order, ``ORDER_STATUS`` order)."""

    @abstractmethod
    async def read_head(self, account: str) -> tuple[int, str]:
        """``(seq, hash)`` of the last audit record of ``account`` (``(0, GENESIS)`` if none)."""

    @abstractmethod
    async def existing_audit_keys(
        self, account: str, keys: Sequence[tuple[int, str]]
    ) -> set[tuple[int, str]]:
        """Which ``(ts, event_key)`` pairs are already in the audit log."""

    @abstractmethod
    async def existing_values(
        self, spec: TableSpec, account: str, values: Sequence[str]
    ) -> set[str]:
        """Which values of ``spec.natural_key`` already exist for ``account``."""

    @abstractmethod
    async def add_daily(self, account: str, rows: Sequence[Row]) -> None:
        """Add per-day totals of a batch's trades to ``daily_stats``.

        ``rows`` are full rows in column order, each holding one day's trades of this
        batch only: counts and sums are added, best/worst and first/last exits combined.
        """


def _chunks(items: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _pairs_filter(
    rows: Iterable[tuple[Any, ...]], wanted: set[tuple[int, str]]
) -> set[tuple[int, str]]:
    return {(int(r[0]), str(r[1])) for r in rows} & wanted


class PostgresBackend(BulkBackend):
    """asyncpg: binary COPY on the fast path, pipelined executemany on the safe path."""

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self._tx: Any = None

    async def begin(self) -> None:
        """Start a transaction."""
        self._tx = self.conn.transaction()
        await self._tx.start()

    async def commit(self) -> None:
        """Commit."""
        tx, self._tx = self._tx, None
        await tx.commit()

    async def rollback(self) -> None:
        """Roll back (a no-op when no transaction is open)."""
        tx, self._tx = self._tx, None
        if tx is not None:
            await tx.rollback()

    async def insert(self, spec: TableSpec, rows: Sequence[Row], *, fast: bool) -> None:
        """COPY (fast) or INSERT ... ON CONFLICT DO NOTHING (safe).

        Tables with exact-decimal columns are copied in COPY's text format: asyncpg's
        binary ``numeric`` encoder costs ~1.4 µs per value in Python, the decimal's
        string form ~0.1 µs, and the server parses either as fast.
        """
        if fast:
            try:
                if spec.decimal_positions:
                    await self.conn.copy_to_table(
                        spec.name,
                        source=_chunked(copy_text(rows)),
                        columns=spec.columns,
                        format="text",
                    )
                else:
                    await self.conn.copy_records_to_table(
                        spec.name, records=_in_slices(rows), columns=spec.columns
                    )
            except Exception as exc:
                if getattr(exc, "sqlstate", None) == "23505":
                    raise UniqueConflict(str(exc)) from exc
                raise
            return
        cols = ", ".join(spec.columns)
        params = ", ".join(f"${i}" for i in range(1, len(spec.columns) + 1))
        await self.conn.executemany(
            f"INSERT INTO {spec.name} ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING", rows
        )

    async def copy_in_text(self, spec: TableSpec, data: bytes) -> None:
        """COPY already-encoded text rows (built while the previous batch was in flight)."""
        try:
            await self.conn.copy_to_table(
                spec.name, source=_chunked(data), columns=spec.columns, format="text"
            )
        except Exception as exc:
            if getattr(exc, "sqlstate", None) == "23505":
                raise UniqueConflict(str(exc)) from exc
            raise

    async def upsert_order_status(self, rows: Sequence[Row]) -> None:
        """One statement for all orders (arrays, not a round trip per order)."""
        columns = [list(c) for c in zip(*_decimals_as_text(_STATUS_DECIMALS, rows), strict=True)]
        await self.conn.execute(_PG_ORDER_STATUS_SQL, *columns)

    async def read_head(self, account: str) -> tuple[int, str]:
        """Last ``(seq, hash)`` of the account's chain."""
        row = await self.conn.fetchrow(
            "SELECT seq, hash FROM audit_log WHERE account = $1 ORDER BY seq DESC LIMIT 1",
            account,
        )
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    async def existing_audit_keys(
        self, account: str, keys: Sequence[tuple[int, str]]
    ) -> set[tuple[int, str]]:
        """Pairs already recorded (index range on ``(account, ts)``, exact match in Python)."""
        wanted = set(keys)
        found: set[tuple[int, str]] = set()
        for chunk in _chunks(list(wanted), 5000):
            rows = await self.conn.fetch(
                "SELECT ts, event_key FROM audit_log WHERE account = $1 "
                "AND ts = ANY($2::bigint[]) AND event_key = ANY($3::text[])",
                account,
                list({k[0] for k in chunk}),
                list({k[1] for k in chunk}),
            )
            found |= _pairs_filter(rows, wanted)
        return found

    async def existing_values(
        self, spec: TableSpec, account: str, values: Sequence[str]
    ) -> set[str]:
        """Natural keys already present."""
        rows = await self.conn.fetch(
            f"SELECT {spec.natural_key} FROM {spec.name} "
            f"WHERE account = $1 AND {spec.natural_key} = ANY($2::text[])",
            account,
            list(values),
        )
        return {str(r[0]) for r in rows}

    async def add_daily(self, account: str, rows: Sequence[Row]) -> None:
        """One statement: the totals are added up by the server (no read first)."""
        await self.conn.executemany(_PG_ADD_DAILY_SQL, rows)


def _decimals_as_text(spec_decimals: tuple[int, ...], rows: Sequence[Row]) -> Sequence[Row]:
    if not spec_decimals:
        return rows
    out: list[Row] = []
    for r in rows:
        lst = list(r)
        for i in spec_decimals:
            v = lst[i]
            if v is not None:
                lst[i] = str(v)
        out.append(tuple(lst))
    return out


_STATUS_DECIMALS = ORDER_STATUS.decimal_positions


def _combine_daily(current: list[Any] | None, delta: Row) -> Row:
    """A stored ``daily_stats`` row plus a batch's totals for the same day."""
    if current is None:
        return delta
    row = list(current)
    for i in range(2, 9):  # trades, wins, losses, pnl, fees, gross_profit, gross_loss
        row[i] += delta[i]
    row[9] = max(row[9], delta[9])
    row[10] = min(row[10], delta[10])
    row[11] = min(row[11], delta[11])
    row[12] = max(row[12], delta[12])
    row[13] = max(row[13], delta[13])
    return tuple(row)


_DAILY_DECIMALS = tuple(
    i
    for i, c in enumerate(DAILY_STATS_COLUMNS)
    if c in {"pnl", "fees", "gross_profit", "gross_loss", "best_trade", "worst_trade"}
)


class SqliteBackend(BulkBackend):
    """aiosqlite: executemany inside ``BEGIN IMMEDIATE``; decimals travel as text."""

    async def begin(self) -> None:
        """Start a write transaction (takes the write lock now, not at the first insert)."""
        await self.conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        """Commit."""
        await self.conn.commit()

    async def rollback(self) -> None:
        """Roll back."""
        await self.conn.rollback()

    async def insert(self, spec: TableSpec, rows: Sequence[Row], *, fast: bool) -> None:
        """Plain INSERT (fast: duplicates raise) or INSERT ... ON CONFLICT DO NOTHING."""
        cols = ", ".join(spec.columns)
        params = ", ".join("?" * len(spec.columns))
        tail = "" if fast else " ON CONFLICT DO NOTHING"
        try:
            await self.conn.executemany(
                f"INSERT INTO {spec.name} ({cols}) VALUES ({params}){tail}",
                _decimals_as_text(spec.decimal_positions, rows),
            )
        except sqlite3.IntegrityError as exc:
            if fast and is_sqlite_unique_violation(exc):
                raise UniqueConflict(str(exc)) from exc
            raise

    async def upsert_order_status(self, rows: Sequence[Row]) -> None:
        """One upsert per order; older updates never overwrite newer ones."""
        cols = ", ".join(ORDER_STATUS.columns)
        params = ", ".join("?" * len(ORDER_STATUS.columns))
        await self.conn.executemany(
            f"INSERT INTO orders ({cols}) VALUES ({params}) "
            f"ON CONFLICT (account, client_order_id) DO UPDATE SET {_ORDER_STATUS_UPDATE}",
            _decimals_as_text(ORDER_STATUS.decimal_positions, rows),
        )

    async def read_head(self, account: str) -> tuple[int, str]:
        """Last ``(seq, hash)`` of the account's chain."""
        async with self.conn.execute(
            "SELECT seq, hash FROM audit_log WHERE account = ? ORDER BY seq DESC LIMIT 1",
            (account,),
        ) as cur:
            row = await cur.fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    async def existing_audit_keys(
        self, account: str, keys: Sequence[tuple[int, str]]
    ) -> set[tuple[int, str]]:
        """Pairs already recorded."""
        wanted = set(keys)
        found: set[tuple[int, str]] = set()
        for chunk in _chunks(list(wanted), 400):
            ts_list = sorted({k[0] for k in chunk})
            key_list = sorted({k[1] for k in chunk})
            sql = (
                "SELECT ts, event_key FROM audit_log WHERE account = ? "
                f"AND ts IN ({', '.join('?' * len(ts_list))}) "
                f"AND event_key IN ({', '.join('?' * len(key_list))})"
            )
            async with self.conn.execute(sql, (account, *ts_list, *key_list)) as cur:
                found |= _pairs_filter(await cur.fetchall(), wanted)
        return found

    async def existing_values(
        self, spec: TableSpec, account: str, values: Sequence[str]
    ) -> set[str]:
        """Natural keys already present."""
        found: set[str] = set()
        for chunk in _chunks(list(values)):
            sql = (
                f"SELECT {spec.natural_key} FROM {spec.name} WHERE account = ? "
                f"AND {spec.natural_key} IN ({', '.join('?' * len(chunk))})"
            )
            async with self.conn.execute(sql, (account, *chunk)) as cur:
                found |= {str(r[0]) for r in await cur.fetchall()}
        return found

    async def add_daily(self, account: str, rows: Sequence[Row]) -> None:
        """Read the days' rows, combine in Python (decimals are text here: SQL arithmetic
        on them would be binary floating point), write them back."""
        current = await self._read_daily(account, [str(r[1]) for r in rows])
        merged = [_combine_daily(current.get(str(r[1])), r) for r in rows]
        await self._upsert_daily(merged)

    async def _read_daily(self, account: str, days: Sequence[str]) -> dict[str, list[Any]]:
        """Daily rows for ``days`` (decimal text turned back into ``Decimal``)."""
        out: dict[str, list[Any]] = {}
        sql = (
            f"SELECT {', '.join(DAILY_STATS_COLUMNS)} FROM daily_stats WHERE account = ? "
            f"AND day IN ({', '.join('?' * len(days))})"
        )
        async with self.conn.execute(sql, (account, *days)) as cur:
            for r in await cur.fetchall():
                row = list(r)
                for i in _DAILY_DECIMALS:
                    row[i] = Decimal(row[i])
                out[str(row[1])] = row
        return out

    async def _upsert_daily(self, rows: Sequence[Row]) -> None:
        """Replace daily rows."""
        cols = ", ".join(DAILY_STATS_COLUMNS)
        params = ", ".join("?" * len(DAILY_STATS_COLUMNS))
        sets = ", ".join(f"{c} = excluded.{c}" for c in DAILY_STATS_COLUMNS[2:])
        await self.conn.executemany(
            f"INSERT INTO daily_stats ({cols}) VALUES ({params}) "
            f"ON CONFLICT (account, day) DO UPDATE SET {sets}",
            _decimals_as_text(_DAILY_DECIMALS, rows),
        )
