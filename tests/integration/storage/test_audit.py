"""The audit chain: verifies when intact; names the first broken link when tampered with."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from storage import Database, EventStore, Projector
from storage._chain import GENESIS, event_key, link_hash
from storage.audit import chain_accounts, verify_chain
from storage.models import AuditRow
from tests.integration.storage.conftest import ACCOUNT
from tests.integration.storage.events import pipeline_events

# The Table itself: the declarative ``__table__`` is typed as any FromClause, which
# INSERT/UPDATE/DELETE do not accept.
A = AuditRow.metadata.tables[AuditRow.__tablename__]


@pytest.fixture
async def chain(db: Database) -> Database:
    """A database holding a 200-odd record chain."""
    p = Projector(ZoneInfo("UTC"))
    await EventStore(db, ACCOUNT).write([p.prepare(e) for e in pipeline_events(16)])
    return db


async def execute(db: Database, stmt: sa.Executable) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(stmt)


async def test_intact_chain_verifies_and_reports_its_head(chain: Database) -> None:
    report = await verify_chain(chain, ACCOUNT, page=37)  # several pages
    assert report.ok, report.describe()
    assert report.records == report.head_seq > 200
    async with chain.connect() as conn:
        last = (
            await conn.execute(sa.select(A.c.hash).order_by(A.c.seq.desc()).limit(1))
        ).scalar_one()
    assert report.head_hash == last
    assert await chain_accounts(chain) == [ACCOUNT]


async def test_empty_chain_is_ok(db: Database) -> None:
    report = await verify_chain(db, "nobody")
    assert report.ok
    assert (report.records, report.head_seq, report.head_hash) == (0, 0, GENESIS)


async def test_edited_payload_is_found_at_its_record(chain: Database) -> None:
    await execute(
        chain,
        sa.update(A)
        .where(A.c.seq == 50)
        .values(payload=sa.func.replace(A.c.payload, '"side":"buy"', '"side":"sell"')),
    )
    async with chain.connect() as conn:
        changed = (await conn.execute(sa.select(A.c.payload).where(A.c.seq == 50))).scalar_one()
    assert '"side":"sell"' in changed  # the edit took effect (record 50 mentions a side)
    report = await verify_chain(chain, ACCOUNT)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (50, "edited")
    assert report.records == 49


async def test_edit_with_recomputed_hash_breaks_the_next_link(chain: Database) -> None:
    # A careful forger re-hashes the record it changed; the next record's prev_hash
    # still names the original.
    async with chain.connect() as conn:
        row = (await conn.execute(sa.select(A).where(A.c.seq == 80))).one()
    payload = (
        row.payload.replace('"qty":"', '"qty":"1', 1)
        if '"qty":"' in row.payload
        else row.payload + " "
    )
    forged = link_hash(ACCOUNT, 80, row.prev_hash, payload.encode())
    await execute(
        chain,
        sa.update(A)
        .where(A.c.seq == 80)
        .values(payload=payload, hash=forged, event_key=event_key(payload.encode())),
    )
    report = await verify_chain(chain, ACCOUNT)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (81, "relinked")


async def test_edited_derived_column_is_found(chain: Database) -> None:
    await execute(chain, sa.update(A).where(A.c.seq == 7).values(kind="Alert"))
    report = await verify_chain(chain, ACCOUNT)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (7, "edited")
    assert "kind" in report.broken.detail


async def test_deleted_records_are_found(chain: Database) -> None:
    await execute(chain, sa.delete(A).where(A.c.seq.between(120, 122)))
    report = await verify_chain(chain, ACCOUNT)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (120, "deleted")
    assert "120..122" in report.broken.detail


async def test_inserted_record_is_found(chain: Database) -> None:
    # Make room at 31 by renumbering everything after it, then insert a well-formed
    # record that links to 30 (as a forger would): record 32 (the old 31) no longer links.
    async with chain.engine.begin() as conn:
        top = (await conn.execute(sa.select(sa.func.max(A.c.seq)))).scalar_one()
        for seq in range(top, 30, -1):
            await conn.execute(sa.update(A).where(A.c.seq == seq).values(seq=seq + 1))
        prev = (await conn.execute(sa.select(A.c.hash).where(A.c.seq == 30))).scalar_one()
        payload = b'{"type":"Alert","ts":1}'
        await conn.execute(
            sa.insert(A).values(
                account=ACCOUNT,
                seq=31,
                ts=1,
                kind="Alert",
                event_key=event_key(payload),
                correlation_id="",
                payload=payload.decode(),
                prev_hash=prev,
                hash=link_hash(ACCOUNT, 31, prev, payload),
            )
        )
    report = await verify_chain(chain, ACCOUNT)
    assert report.broken is not None
    assert (report.broken.seq, report.broken.kind) == (32, "relinked")


async def test_anchor_catches_records_removed_from_the_end(chain: Database) -> None:
    full = await verify_chain(chain, ACCOUNT)
    anchor = (full.head_seq, full.head_hash)
    assert (await verify_chain(chain, ACCOUNT, anchor=anchor)).ok
    await execute(chain, sa.delete(A).where(A.c.seq > full.head_seq - 5))
    assert (await verify_chain(chain, ACCOUNT)).ok  # a shorter chain still verifies...
    report = await verify_chain(chain, ACCOUNT, anchor=anchor)  # ...but not against the anchor
    assert report.broken is not None
    assert report.broken.kind == "anchor"
