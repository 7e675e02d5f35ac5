"""Verifying the audit log's hash chain (``tradingd audit verify``; see docs/audit.md).

:func:`verify_chain` walks one account's records in sequence order and stops at the
first broken link, saying what kind of tampering it points to:

* ``deleted`` — a sequence number is missing (records removed);
* ``relinked`` — a record's ``prev_hash`` is not the hash of the record before it (a
  record was inserted, or records were removed and the rest renumbered, or the earlier
  record's hash was rewritten);
* ``edited`` — a record's contents no longer produce its hash, or its columns disagree
  with its payload (payload, key, kind or time changed).

The chain proves everything up to its head; removing records *at the end* leaves a
shorter chain that still verifies. Record the head (the writer logs it at every stop,
``tradingd audit verify`` prints it) and pass it back as an ``anchor`` to catch that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import sqlalchemy as sa

from storage._chain import GENESIS, event_key, link_hash
from storage._engine import Database
from storage._errmap import map_error
from storage.models import AuditRow

BreakKind = Literal["deleted", "relinked", "edited", "anchor"]


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken link found."""

    seq: int
    """Sequence number of the record where the chain breaks."""
    kind: BreakKind
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of verifying one account's chain."""

    account: str
    records: int
    """Records checked (up to the break, if any)."""
    head_seq: int
    head_hash: str
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        """True when every link checked out."""
        return self.broken is None

    def describe(self) -> str:
        """One paragraph for operators."""
        if self.broken is None:
            return (
                f"audit chain of account {self.account!r}: ok, {self.records} records, "
                f"head seq {self.head_seq} hash {self.head_hash}"
            )
        b = self.broken
        return (
            f"audit chain of account {self.account!r}: BROKEN at seq {b.seq} ({b.kind}): "
            f"{b.detail}; {self.records} records verified before it"
        )


_payload_decoder = msgspec.json.Decoder(dict[str, Any])


def _check_columns(row: Any) -> str:
    """Why the derived columns disagree with the payload ('' when they agree)."""
    payload = row.payload.encode()
    if event_key(payload) != row.event_key:
        return "event_key does not match the payload"
    try:
        body = _payload_decoder.decode(payload)
    except msgspec.DecodeError:
        return "payload is not valid JSON"
    if body.get("type") != row.kind:
        return f"kind {row.kind!r} does not match the payload's type {body.get('type')!r}"
    if body.get("ts") != row.ts:
        return f"ts {row.ts} does not match the payload's ts {body.get('ts')}"
    return ""


async def verify_chain(
    db: Database,
    account: str,
    *,
    page: int = 5000,
    anchor: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk ``account``'s chain from the first record; report the first broken link.

    ``anchor`` is a ``(seq, hash)`` recorded earlier: the chain must still contain that
    record with that hash. Raises StorageUnavailable when the database is unreachable.
    """
    t = AuditRow.__table__
    query = (
        sa.select(t.c.seq, t.c.ts, t.c.kind, t.c.event_key, t.c.payload, t.c.prev_hash, t.c.hash)
        .where(t.c.account == account, t.c.seq > sa.bindparam("after"))
        .order_by(t.c.seq)
        .limit(page)
    )
    expected, prev, records = 1, GENESIS, 0
    anchor_seen = anchor is None
    try:
        async with db.connect() as conn:
            while True:
                rows = (await conn.execute(query, {"after": expected - 1})).all()
                for row in rows:
                    brk = _check(row, expected, prev, account)
                    if brk is not None:
                        return ChainReport(account, records, expected - 1, prev, brk)
                    if anchor is not None and row.seq == anchor[0]:
                        if row.hash != anchor[1]:
                            brk = ChainBreak(
                                row.seq,
                                "anchor",
                                f"hash {row.hash} differs from the anchor {anchor[1]}",
                            )
                            return ChainReport(account, records, expected - 1, prev, brk)
                        anchor_seen = True
                    prev = row.hash
                    expected = row.seq + 1
                    records += 1
                if len(rows) < page:
                    break
    except BaseException as exc:
        mapped = map_error(exc, "reading the audit log")
        if mapped is None:
            raise
        raise mapped from exc
    if not anchor_seen and anchor is not None:
        brk = ChainBreak(
            anchor[0],
            "anchor",
            f"the chain ends at seq {expected - 1}, before the anchor: records were removed "
            "from its end",
        )
        return ChainReport(account, records, expected - 1, prev, brk)
    return ChainReport(account, records, expected - 1, prev)


def _check(row: Any, expected: int, prev: str, account: str) -> ChainBreak | None:
    if row.seq != expected:
        missing = (
            f"record {expected} is missing"
            if row.seq == expected + 1
            else f"records {expected}..{row.seq - 1} are missing"
        )
        return ChainBreak(expected, "deleted", missing)
    if row.prev_hash != prev:
        return ChainBreak(
            row.seq,
            "relinked",
            "prev_hash is not the hash of the record before it: a record was inserted or "
            "renumbered here, or the previous record's hash was rewritten",
        )
    if link_hash(account, row.seq, row.prev_hash, row.payload.encode()) != row.hash:
        return ChainBreak(row.seq, "edited", "the record no longer matches its hash")
    why = _check_columns(row)
    if why:
        return ChainBreak(row.seq, "edited", why)
    return None


async def chain_accounts(db: Database) -> list[str]:
    """Accounts with an audit chain in ``db``."""
    t = AuditRow.__table__
    try:
        async with db.connect() as conn:
            result = await conn.execute(sa.select(t.c.account).distinct().order_by(t.c.account))
            return [str(r[0]) for r in result]
    except BaseException as exc:
        mapped = map_error(exc, "reading the audit log")
        if mapped is None:
            raise
        raise mapped from exc
