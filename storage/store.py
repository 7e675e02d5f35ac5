"""The event store: one transaction per batch, projections plus the audit chain.

Writing a batch (:meth:`EventStore.write`):

1. **Fast path.** Assign each event the next audit sequence and chain hash, then insert
   the audit records and every projected row in bulk (``COPY`` on PostgreSQL), move
   orders to their latest status, add closed trades to the daily statistics, commit.
2. **Safe path**, only when the fast path hit a key that already exists — a batch
   replayed from the spool after a commit whose acknowledgement was lost, or an event
   published twice. In a fresh transaction: re-read the chain head, drop events whose
   ``(ts, event_key)`` is already in the audit log, keep only the audit record of events
   whose natural key (fill id, trade id...) is already taken, insert with
   ``ON CONFLICT DO NOTHING``, commit.

Either way each distinct event is recorded exactly once, and the chain stays gap-free.
The chain head is cached between batches and re-read after any failure, because after
a failed commit nobody knows whether it happened.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, final
from zoneinfo import ZoneInfo

import anyio
import msgspec

from storage import _tables as t
from storage._backends import BulkBackend, PostgresBackend, Row, SqliteBackend, UniqueConflict
from storage._copytext import json_field, text_value
from storage._engine import Database
from storage._errmap import map_error
from storage._errors import StorageUnavailable
from storage.projection import Prepared, Projector

_TRADE_DAY = t.TRADES.columns.index("day")
_TRADE_PNL = t.TRADES.columns.index("pnl")
_TRADE_FEES = t.TRADES.columns.index("fees")
_TRADE_EXIT = t.TRADES.columns.index("exit_ns")
_ZERO = Decimal(0)
_SLICE = 512
"""Records hashed and grouped between two checkpoints of the event loop."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one :meth:`EventStore.write` did."""

    recorded: int
    """Events newly added to the audit log."""
    duplicates: int = 0
    """Events already in the audit log (skipped)."""
    shadowed: int = 0
    """Events recorded in the audit log whose natural key (fill id...) already had a row."""
    safe_path: bool = False
    """True when the batch went through the duplicate-safe path."""


@dataclass(slots=True)
class _Assigned:
    text: bool
    """Rows encoded for COPY's text format (PostgreSQL's fast path) instead of tuples."""
    head: tuple[int, str]
    audit: list[Row] = field(default_factory=list)
    audit_lines: list[str] = field(default_factory=list)
    appends: dict[t.TableSpec, list[Row]] = field(default_factory=dict)
    lines: dict[t.TableSpec, list[str]] = field(default_factory=dict)
    order_status: dict[str, Row] = field(default_factory=dict)
    trades: list[Row] = field(default_factory=list)


@final
class EventStore:
    """Writes prepared events of one account to one database."""

    def __init__(self, db: Database, account: str) -> None:
        self.db = db
        self.account = account
        self._head: tuple[int, str] | None = None
        self._backend: Callable[[Any], BulkBackend] = (
            PostgresBackend if db.backend == "postgresql" else SqliteBackend
        )
        self._copy_text = db.backend == "postgresql"

    @property
    def head(self) -> tuple[int, str] | None:
        """The cached ``(seq, hash)`` of the chain head (None until known)."""
        return self._head

    def forget_head(self) -> None:
        """Drop the cached chain head (re-read before the next write)."""
        self._head = None

    async def write(self, batch: Sequence[Prepared]) -> WriteResult:
        """Record ``batch`` in one transaction; raises StorageUnavailable/StorageRejected."""
        if not batch:
            return WriteResult(0)
        if not self._copy_text:
            batch = _as_tuples(batch)
        try:
            async with self.db.driver_connection() as conn:
                be = self._backend(conn)
                if self._head is None:
                    self._head = await be.read_head(self.account)
                try:
                    return await self._write_fast(be, batch, self._head)
                except UniqueConflict:
                    return await self._write_safe(be, batch)
        except BaseException as exc:
            self._head = None
            mapped = map_error(exc, f"writing {len(batch)} records")
            if mapped is None:
                raise
            raise mapped from exc

    async def read_head(self) -> tuple[int, str]:
        """Read the chain head from the database (and cache it)."""
        try:
            async with self.db.driver_connection() as conn:
                self._head = await self._backend(conn).read_head(self.account)
        except BaseException as exc:
            mapped = map_error(exc, "reading the audit chain head")
            if mapped is None:
                raise
            raise mapped from exc
        return self._head

    # -- paths ---------------------------------------------------------------------------

    async def _write_fast(
        self, be: BulkBackend, batch: Sequence[Prepared], head: tuple[int, str]
    ) -> WriteResult:
        plan = await self._plan(batch, head, skip=None, text=self._copy_text)
        await be.begin()
        try:
            await self._apply(be, plan, fast=True)
            await be.commit()
        except BaseException:
            await _quiet_rollback(be)
            raise
        self._head = plan.head
        return WriteResult(len(batch))

    async def _write_safe(self, be: BulkBackend, batch: Sequence[Prepared]) -> WriteResult:
        account = self.account
        batch = _as_tuples(batch)
        await be.begin()
        try:
            head = await be.read_head(account)
            known = await be.existing_audit_keys(account, [(p.ts, p.key) for p in batch])
            fresh: list[Prepared] = []
            for p in batch:
                k = (p.ts, p.key)
                if k not in known:
                    known.add(k)
                    fresh.append(p)
            skip = await self._shadowed(be, fresh)
            plan = await self._plan(fresh, head, skip=skip, text=False)
            await self._apply(be, plan, fast=False)
            await be.commit()
        except UniqueConflict as exc:
            # Every audit record here is new and numbered after the head read in this
            # transaction: a clash means someone else is writing this account's chain.
            await _quiet_rollback(be)
            raise StorageUnavailable(
                f"the audit chain of account {account!r} moved under this writer: another "
                f"process is writing it ({exc}); check that one daemon owns each account"
            ) from exc
        except BaseException:
            await _quiet_rollback(be)
            raise
        self._head = plan.head
        return WriteResult(len(fresh), len(batch) - len(fresh), len(skip), safe_path=True)

    async def _shadowed(self, be: BulkBackend, fresh: Sequence[Prepared]) -> set[int]:
        """Indexes of events whose primary row's natural key is already taken."""
        keys = [_natural_key(p) for p in fresh]
        wanted: dict[t.TableSpec, set[str]] = {}
        for k in keys:
            if k is not None:
                wanted.setdefault(k[0], set()).add(k[1])
        taken = {
            spec: await be.existing_values(spec, self.account, sorted(values))
            for spec, values in wanted.items()
        }
        skip: set[int] = set()
        for i, k in enumerate(keys):
            if k is None:
                continue
            seen = taken[k[0]]
            if k[1] in seen:
                skip.add(i)
            else:
                seen.add(k[1])
        return skip

    # -- building and applying a plan ----------------------------------------------------

    def _assign(
        self,
        batch: Sequence[Prepared],
        head: tuple[int, str],
        skip: set[int] | None,
        *,
        text: bool = False,
    ) -> _Assigned:
        """Give each event its sequence number and chain hash; group rows by table."""
        plan = _Assigned(text, head)
        self._assign_into(plan, batch, 0, len(batch), skip)
        return plan

    async def _plan(
        self,
        batch: Sequence[Prepared],
        head: tuple[int, str],
        skip: set[int] | None,
        *,
        text: bool,
    ) -> _Assigned:
        """:meth:`_assign` in slices, handing the event loop back between them.

        Hashing and grouping a full batch takes milliseconds; trading tasks must not
        wait that long for the loop.
        """
        plan = _Assigned(text, head)
        for start in range(0, len(batch), _SLICE):
            if start:
                await anyio.lowlevel.checkpoint()
            self._assign_into(plan, batch, start, min(start + _SLICE, len(batch)), skip)
        return plan

    def _assign_into(
        self,
        plan: _Assigned,
        batch: Sequence[Prepared],
        start: int,
        stop: int,
        skip: set[int] | None,
    ) -> None:
        """Extend ``plan`` with ``batch[start:stop]`` (the chain continues from plan.head).

        The hash is :func:`storage._chain.link_hash`, inlined: this loop runs for every
        record written. In text mode rows become COPY text lines: tails the projector
        already encoded only get their ``account<TAB>seq<TAB>`` prefix.
        """
        account = self.account
        account_b = account.encode()
        account_t = text_value(account)
        sha256 = hashlib.sha256
        seq, prev = plan.head
        text = plan.text
        add_audit: Callable[[Any], None] = plan.audit_lines.append if text else plan.audit.append
        appends = plan.appends
        lines = plan.lines
        order_status = plan.order_status
        trades = plan.trades
        specs = t.ALL_SPECS
        status_spec = t.ORDER_STATUS
        trade_spec = t.TRADES
        for i in range(start, stop):
            p = batch[i]
            seq += 1
            payload = p.payload
            h = sha256(b"%b\n%d\n%b\n%b" % (account_b, seq, prev.encode(), payload)).hexdigest()
            if text:
                add_audit(
                    f"{account_t}\t{seq}\t{p.ts}\t{p.kind}\t{p.key}\t"
                    f"{text_value(p.correlation_id)}\t{json_field(payload.decode())}\t{prev}\t{h}"
                )
            else:
                add_audit(
                    (account, seq, p.ts, p.kind, p.key, p.correlation_id, payload.decode(), prev, h)
                )
            prev = h
            if not p.rows or (skip is not None and i in skip):
                continue
            prefix = (account, seq)
            for spec_index, tail in p.rows:
                spec = specs[spec_index]
                if isinstance(tail, str):
                    # Only a COPY-text projector makes these, and only for text plans.
                    bucket_l = lines.get(spec)
                    if bucket_l is None:
                        bucket_l = lines[spec] = []
                    bucket_l.append(f"{account_t}\t{seq}\t{tail}")
                    continue
                row = prefix + tail
                if spec is status_spec:
                    # Later updates of the same order in this batch supersede earlier ones.
                    order_status[str(row[2])] = row
                    continue
                if spec is trade_spec:
                    trades.append(row)
                if text:
                    lines.setdefault(spec, []).append(spec.row_text(row))
                    continue
                bucket = appends.get(spec)
                if bucket is None:
                    bucket = appends[spec] = []
                bucket.append(row)
        plan.head = (seq, prev)

    async def _apply(self, be: BulkBackend, plan: _Assigned, *, fast: bool) -> None:
        if plan.text:
            await be.insert_lines(t.AUDIT, plan.audit_lines)
        else:
            # Never "ignore conflicts" for the chain: on the safe path every record is new,
            # so a clash must stop the batch rather than leave a hole in the chain.
            await be.insert(t.AUDIT, plan.audit, fast=True)
        for spec in t.APPEND_SPECS:
            lines = plan.lines.get(spec)
            if lines:
                await be.insert_lines(spec, lines)
            rows = plan.appends.get(spec)
            if rows:
                await be.insert(spec, rows, fast=fast)
        if plan.order_status:
            await be.upsert_order_status(list(plan.order_status.values()))
        if plan.trades:
            await self._add_daily(be, plan.trades)

    async def _add_daily(self, be: BulkBackend, trades: Sequence[Row]) -> None:
        days = sorted({str(r[_TRADE_DAY]) for r in trades})
        current = await be.read_daily(self.account, days)
        for r in trades:
            day = str(r[_TRADE_DAY])
            pnl: Decimal = r[_TRADE_PNL]
            fees: Decimal = r[_TRADE_FEES]
            exit_ns: int = r[_TRADE_EXIT]
            row = current.get(day)
            if row is None:
                # account, day, trades, wins, losses, pnl, fees, gross_profit, gross_loss,
                # best_trade, worst_trade, first_exit_ns, last_exit_ns, updated_seq
                row = [self.account, day, 0, 0, 0, _ZERO, _ZERO, _ZERO, _ZERO, pnl, pnl]
                row += [exit_ns, exit_ns, 0]
                current[day] = row
            row[2] += 1
            if pnl > 0:
                row[3] += 1
                row[7] += pnl
            elif pnl < 0:
                row[4] += 1
                row[8] += pnl
            row[5] += pnl
            row[6] += fees
            row[9] = max(row[9], pnl)
            row[10] = min(row[10], pnl)
            row[11] = min(row[11], exit_ns)
            row[12] = max(row[12], exit_ns)
            row[13] = max(row[13], r[1])
        await be.upsert_daily([tuple(current[d]) for d in days])


_REPROJECT = Projector(ZoneInfo("UTC"))


def _as_tuples(batch: Sequence[Prepared]) -> Sequence[Prepared]:
    """``batch`` with every COPY-text tail turned back into its tuple (for SQLite and the
    safe path). Rows kept as tuples (trades, with their trading day) are left as they are,
    so the time zone used here does not matter."""
    if not any(p.copy_text for p in batch):
        return batch
    out: list[Prepared] = []
    for p in batch:
        if not p.copy_text:
            out.append(p)
            continue
        fresh = _REPROJECT.prepare(p.event)
        rows = tuple(
            [
                (index, new if isinstance(old, str) else old)
                for (index, old), (_, new) in zip(p.rows, fresh.rows, strict=True)
            ]
        )
        out.append(msgspec.structs.replace(p, rows=rows, copy_text=False))
    return out


def _natural_key(p: Prepared) -> tuple[t.TableSpec, str] | None:
    """The natural key of an event's primary row, when its table has one."""
    if not p.rows:
        return None
    spec_index, tail = p.rows[0]
    spec = t.ALL_SPECS[spec_index]
    pos = spec.natural_key_position
    return None if pos is None else (spec, str(tail[pos - 2]))


async def _quiet_rollback(be: BulkBackend) -> None:
    # The error that got us here is the one worth reporting; a rollback on a dead
    # connection fails too, and the pool discards that connection anyway.
    with contextlib.suppress(Exception):
        await be.rollback()
