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
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, final
from zoneinfo import ZoneInfo

import anyio
import msgspec

from storage import _tables as t
from storage._backends import BulkBackend, PostgresBackend, Row, SqliteBackend, UniqueConflict
from storage._copytext import copy_lines, text_value
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
_AHEAD_SLICE = 128
"""Records of the next batch planned per :meth:`EventStore.plan_ahead` call (~0.5 ms)."""


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
    """A batch's rows with their chain positions, grouped by table, ready to apply."""

    text: bool
    """Rows encoded for COPY's text format (PostgreSQL's fast path) instead of tuples."""
    start: tuple[int, str]
    """The chain head this plan continues (``(seq, hash)`` before its first record)."""
    head: tuple[int, str]
    """The chain head after the records planned so far."""
    merge: bool = True
    """Fold each order's last status update into its intent row when both are in the
    batch (fast path only: on the safe path an intent may already exist and be skipped)."""
    records: int = 0
    """Records planned so far."""
    folded: bool = False
    """Statuses folded into intents and intent rows encoded: no records can be added."""
    finished: bool = False
    """Ready to apply (in text mode: every table's payload joined)."""
    to_join: list[t.TableSpec] = field(default_factory=list)
    """Text mode, once folded: tables whose lines are still to be joined, in order."""
    audit: list[Row] = field(default_factory=list)
    appends: dict[t.TableSpec, list[Row]] = field(default_factory=dict)
    lines: dict[t.TableSpec, list[str]] = field(default_factory=dict)
    copy_data: list[tuple[t.TableSpec, bytes]] = field(default_factory=list)
    """Text mode, once finished: each table's COPY payload, in the order applied."""
    intents: list[list[Any]] = field(default_factory=list)
    """Order intent rows (full rows, mutable until :func:`_finish` folds statuses in)."""
    intent_by_id: dict[str, list[Any]] = field(default_factory=dict)
    order_status: dict[str, Row] = field(default_factory=dict)
    trades: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class _Ahead:
    """The plan of the batch expected next, built while the current one is written."""

    plan: _Assigned
    first: Prepared
    """The batch's first record (identity), to recognise the batch when it comes."""
    last: Prepared | None = None
    """The last record planned so far (identity)."""


@final
class EventStore:
    """Writes prepared events of one account to one database."""

    def __init__(
        self, db: Database, account: str, *, on_planned: Callable[[], None] | None = None
    ) -> None:
        """``on_planned`` is called when a batch's plan is built and its round trips
        begin: from then on the next batch can be planned (:meth:`plan_ahead`)."""
        self.db = db
        self.account = account
        self._on_planned = on_planned
        self._head: tuple[int, str] | None = None
        self._backend: Callable[[Any], BulkBackend] = (
            PostgresBackend if db.backend == "postgresql" else SqliteBackend
        )
        self._copy_text = db.backend == "postgresql"
        self._writing = False
        self._writing_head: tuple[int, str] | None = None
        """The head after the batch being written (known once its plan is built)."""
        self._ahead: _Ahead | None = None

    @property
    def head(self) -> tuple[int, str] | None:
        """The cached ``(seq, hash)`` of the chain head (None until known)."""
        return self._head

    def forget_head(self) -> None:
        """Drop the cached chain head (re-read before the next write)."""
        self._head = None
        self._ahead = None

    async def write(self, batch: Sequence[Prepared]) -> WriteResult:
        """Record ``batch`` in one transaction; raises StorageUnavailable/StorageRejected."""
        if not batch:
            return WriteResult(0)
        if not self._copy_text:
            batch = _as_tuples(batch)
        self._writing = True
        self._writing_head = None
        try:
            async with self.db.driver_connection() as conn:
                be = self._backend(conn)
                if self._head is None:
                    self._head = await be.read_head(self.account)
                try:
                    return await self._write_fast(be, batch, self._head)
                except UniqueConflict:
                    self._writing_head = None
                    return await self._write_safe(be, batch)
        except BaseException as exc:
            self._head = None
            self._ahead = None
            mapped = map_error(exc, f"writing {len(batch)} records")
            if mapped is None:
                raise
            raise mapped from exc
        finally:
            self._writing = False
            self._writing_head = None

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

    def plan_ahead(
        self, upcoming: Sequence[Prepared], size: int, limit: int = _AHEAD_SLICE
    ) -> bool:
        """Plan up to ``limit`` more records of the batch expected next; True if more remain.

        ``upcoming`` is the writer's queue, oldest first: the next batch will be its first
        ``size`` records. The chain continues from the batch being written (its plan is
        built before its first round trip), so hashing and encoding the next batch
        overlaps the database's work on this one. :meth:`write` uses the plan only if the
        batch it is given starts with exactly these records and the chain head is the
        one assumed; otherwise it is dropped and the batch planned afresh.
        """
        start = self._writing_head if self._writing else self._head
        if start is None or not upcoming:
            return False
        ahead = self._ahead
        if ahead is not None and not _ahead_matches(ahead, upcoming, start):
            ahead = None
        if ahead is None:
            plan = _Assigned(self._copy_text, start, start)
            ahead = self._ahead = _Ahead(plan, upcoming[0])
        plan = ahead.plan
        if plan.records >= size:
            # A full batch: finish it too (a step at a time), so the flusher only sends.
            if plan.finished:
                return False
            _finish_step(plan)
            return not plan.finished
        stop = min(len(upcoming), size, plan.records + limit)
        if plan.records >= stop:
            return False
        records = list(itertools.islice(upcoming, plan.records, stop))
        self._assign_into(plan, records, plan.records, None)
        ahead.last = records[-1]
        return stop < len(upcoming) or stop == size

    def _take_ahead(self, batch: Sequence[Prepared], head: tuple[int, str]) -> _Assigned | None:
        """The plan built ahead for ``batch`` (possibly partial), if it is still valid."""
        ahead, self._ahead = self._ahead, None
        if (
            ahead is None
            or ahead.plan.text != self._copy_text
            or (ahead.plan.folded and ahead.plan.records != len(batch))
            or not _ahead_matches(ahead, batch, head)
        ):
            return None
        return ahead.plan

    # -- paths ---------------------------------------------------------------------------

    async def _write_fast(
        self, be: BulkBackend, batch: Sequence[Prepared], head: tuple[int, str]
    ) -> WriteResult:
        plan = self._take_ahead(batch, head)
        if plan is None:
            plan = _Assigned(self._copy_text, head, head)
        await self._plan_rest(plan, batch, skip=None)
        self._writing_head = plan.head
        if self._on_planned is not None:
            self._on_planned()
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
        self._ahead = None
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
            plan = _Assigned(False, head, head, merge=False)
            await self._plan_rest(plan, fresh, skip=skip)
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
        plan = _Assigned(text, head, head, merge=skip is None)
        self._assign_into(plan, batch, 0, skip)
        _finish(plan)
        return plan

    async def _plan_rest(
        self, plan: _Assigned, batch: Sequence[Prepared], skip: set[int] | None
    ) -> None:
        """Plan ``batch`` from record ``plan.records`` on, in slices, then finish the plan.

        Hashing and grouping a full batch takes milliseconds; trading tasks must not
        wait that long for the loop, so it is handed back between slices.
        """
        for start in range(plan.records, len(batch), _SLICE):
            if start > plan.records:
                await anyio.lowlevel.checkpoint()
            stop = min(start + _SLICE, len(batch))
            self._assign_into(plan, batch[start:stop], start, skip)
        _finish(plan)

    def _assign_into(
        self,
        plan: _Assigned,
        records: Sequence[Prepared],
        offset: int,
        skip: set[int] | None,
    ) -> None:
        """Extend ``plan`` with ``records`` (batch positions ``offset`` on; the chain
        continues from plan.head).

        The hash is :func:`storage._chain.link_hash`, inlined: this loop runs for every
        record written. In text mode rows become COPY text lines: tails the projector
        already encoded only get their ``account<TAB>seq<TAB>`` prefix. Audit records stay
        tuples in both modes: they go through binary COPY, which the server takes
        noticeably faster than text for their long JSON payloads (see _apply).
        """
        account = self.account
        account_b = account.encode()
        account_t = text_value(account)
        sha256 = hashlib.sha256
        seq, prev = plan.head
        text = plan.text
        add_audit = plan.audit.append
        appends = plan.appends
        lines = plan.lines
        order_status = plan.order_status
        trades = plan.trades
        intents = plan.intents
        intent_by_id = plan.intent_by_id
        specs = t.ALL_SPECS
        status_spec = t.ORDER_STATUS
        trade_spec = t.TRADES
        intent_spec = t.ORDER_INTENTS
        i = offset - 1
        for p in records:
            i += 1
            seq += 1
            payload = p.payload
            h = sha256(b"%b\n%d\n%b\n%b" % (account_b, seq, prev.encode(), payload)).hexdigest()
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
                if spec is intent_spec:
                    # Kept as values until the plan is finished: statuses may fold in.
                    intent = list(row)
                    intents.append(intent)
                    intent_by_id.setdefault(str(row[2]), intent)
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
        plan.records = offset + len(records)

    async def _apply(self, be: BulkBackend, plan: _Assigned, *, fast: bool) -> None:
        # Never "ignore conflicts" for the chain: on the safe path every record is new, so
        # a clash must stop the batch rather than leave a hole in the chain. (Binary COPY
        # on PostgreSQL's fast path: ~20% less server time than text for these rows.)
        await be.insert(t.AUDIT, plan.audit, fast=True)
        if plan.text:
            for spec, data in plan.copy_data:
                await be.copy_in_text(spec, data)
        else:
            for spec in t.APPEND_SPECS:
                rows = plan.appends.get(spec)
                if rows:
                    await be.insert(spec, rows, fast=fast)
        if plan.order_status:
            await be.upsert_order_status(list(plan.order_status.values()))
        if plan.trades:
            await be.add_daily(self.account, _daily_deltas(self.account, plan.trades))


def _ahead_matches(ahead: _Ahead, records: Sequence[Prepared], start: tuple[int, str]) -> bool:
    """Whether ``records`` still begins with what ``ahead`` planned, from chain head ``start``.

    The writer's queue only loses records from its front, so the same first and last
    planned records (by identity) mean the same run of records in between.
    """
    n = ahead.plan.records
    return (
        ahead.plan.start == start
        and len(records) >= n
        and records[0] is ahead.first
        and (n == 0 or records[n - 1] is ahead.last)
    )


_I_SEQ = t.ORDER_INTENTS.columns.index("intent_seq")
_FOLD = tuple(
    (t.ORDER_STATUS.columns.index(c), t.ORDER_INTENTS.columns.index(c))
    for c in ("status", "filled_qty", "avg_fill_price", "reason", "updated_ns", "last_seq")
)
"""Status columns an update always sets (see ``_ORDER_STATUS_UPDATE`` in _backends)."""
_FOLD_NONEMPTY = tuple(
    (t.ORDER_STATUS.columns.index(c), t.ORDER_INTENTS.columns.index(c))
    for c in ("correlation_id", "broker_order_id")
)
"""Status columns an update sets only when it has a value."""


def _finish(plan: _Assigned) -> None:
    """Make ``plan`` ready to apply (see :func:`_finish_step`)."""
    while not plan.finished:
        _finish_step(plan)


def _finish_step(plan: _Assigned) -> None:
    """One step of finishing a plan (each well under a millisecond for a full batch).

    First fold statuses into intents of the same batch and encode the intent rows:
    inserting an order already in its latest state is what inserting its intent and
    then upserting its status would leave (the status applies only if it is later in the
    audit order than the intent), one statement and one index update fewer per order.
    Then, in text mode, join one table's lines into its COPY payload per step.
    """
    if not plan.folded:
        plan.folded = True
        _fold_statuses(plan)
        spec = t.ORDER_INTENTS
        if plan.intents:
            if plan.text:
                fmt = spec.row_text
                plan.lines[spec] = [fmt(r) for r in plan.intents]
            else:
                plan.appends[spec] = [tuple(r) for r in plan.intents]
        if plan.text:
            plan.to_join = [s for s in t.APPEND_SPECS if plan.lines.get(s)]
        plan.finished = not plan.to_join
        return
    spec = plan.to_join.pop(0)
    # Each payload replaces its lines: do not hold every row twice.
    plan.copy_data.append((spec, copy_lines(plan.lines.pop(spec))))
    plan.finished = not plan.to_join


def _fold_statuses(plan: _Assigned) -> None:
    if not (plan.merge and plan.intent_by_id and plan.order_status):
        return
    status = plan.order_status
    for coid, intent in plan.intent_by_id.items():
        update = status.pop(coid, None)
        if update is None or update[1] <= intent[_I_SEQ]:
            continue
        for src, dst in _FOLD:
            intent[dst] = update[src]
        for src, dst in _FOLD_NONEMPTY:
            if update[src]:
                intent[dst] = update[src]


def _daily_deltas(account: str, trades: Sequence[Row]) -> list[Row]:
    """One ``daily_stats`` row per day for ``trades`` alone (the backend adds them up)."""
    by_day: dict[str, list[Any]] = {}
    for r in trades:
        day = str(r[_TRADE_DAY])
        pnl: Decimal = r[_TRADE_PNL]
        fees: Decimal = r[_TRADE_FEES]
        exit_ns: int = r[_TRADE_EXIT]
        row = by_day.get(day)
        if row is None:
            # account, day, trades, wins, losses, pnl, fees, gross_profit, gross_loss,
            # best_trade, worst_trade, first_exit_ns, last_exit_ns, updated_seq
            row = [account, day, 0, 0, 0, _ZERO, _ZERO, _ZERO, _ZERO, pnl, pnl]
            row += [exit_ns, exit_ns, 0]
            by_day[day] = row
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
    return [tuple(by_day[d]) for d in sorted(by_day)]


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
