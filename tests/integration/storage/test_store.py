"""The event store on both backends: projections, exactness, idempotency, order status."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa

from actors.risk_gate import CHECK_NAMES
from daemon.messages import (
    Alert,
    Event,
    Fill,
    OrderStatus,
    OrderUpdate,
    Severity,
    Side,
    TradeClosed,
)
from storage import Database, EventStore, Prepared, Projector
from storage import models as m
from storage.audit import verify_chain
from tests.integration.storage.conftest import ACCOUNT
from tests.integration.storage.events import START_NS, pipeline_events

TZ = ZoneInfo("America/New_York")

# Which table each event type projects into (the primary row) and how many rows.
_PRIMARY = {
    "SignalVerdict": "signal_verdicts",
    "SignalRejected": "signal_rejections",
    "SignalRecord": "signals",
    "FusionRecord": "fusion_records",
    "RiskDecision": "risk_decisions",
    "OrderIntent": "orders",
    "OrderUpdate": "order_events",
    "Fill": "fills",
    "ExecutionRecord": "executions",
    "PositionUpdate": "positions",
    "TradeClosed": "trades",
    "Alert": "alerts",
    "KillSwitchEvent": "kill_switch_events",
    "TradingModeChanged": "trading_mode_changes",
    "ReconciliationReport": "reconciliation_runs",
}


async def count(db: Database, table: str, **where: object) -> int:
    t = m.metadata.tables[table]
    q = sa.select(sa.func.count()).select_from(t)
    for k, v in where.items():
        q = q.where(t.c[k] == v)
    async with db.connect() as conn:
        return int((await conn.execute(q)).scalar_one())


def prepare(events: Sequence[Event]) -> list[Prepared]:
    p = Projector(TZ)
    return [p.prepare(e) for e in events]


async def write_all(store: EventStore, prepared: list[Prepared], size: int = 500) -> None:
    for i in range(0, len(prepared), size):
        await store.write(prepared[i : i + size])


async def test_every_event_lands_in_its_table_once(db: Database) -> None:
    events = pipeline_events(120)
    store = EventStore(db, ACCOUNT)
    await write_all(store, prepare(events))

    kinds = Counter(type(e).__name__ for e in events)
    assert await count(db, "audit_log") == len(events)
    for kind, table in _PRIMARY.items():
        if table == "orders":
            continue
        assert await count(db, table) == kinds[kind], (kind, table)
    assert await count(db, "orders") == kinds["OrderIntent"]
    assert await count(db, "risk_checks") == len(CHECK_NAMES) * kinds["RiskDecision"]
    assert await count(db, "fusion_components") == 2 * kinds["FusionRecord"]
    report = await verify_chain(db, ACCOUNT)
    assert report.ok, report.describe()
    assert report.records == len(events)


async def test_decimals_round_trip_exactly(db: Database) -> None:
    store = EventStore(db, ACCOUNT)
    price = Decimal("12345.678901234567890123")
    qty = Decimal("0.000000012345678901")
    fill = Fill(
        fill_id="f-exact",
        client_order_id="o-1",
        symbol="BTCUSD",
        side=Side.BUY,
        qty=qty,
        price=price,
        commission=Decimal("0.1"),
        ts=START_NS,
    )
    await store.write(prepare([fill]))
    f = m.FillRow.__table__
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(f.c.qty, f.c.price, f.c.commission))).one()
    assert (row.qty, row.price, row.commission) == (qty, price, Decimal("0.1"))
    assert all(isinstance(v, Decimal) for v in row)


async def test_replaying_a_written_batch_adds_nothing(db: Database) -> None:
    events = pipeline_events(40)
    prepared = prepare(events)
    store = EventStore(db, ACCOUNT)
    await write_all(store, prepared)
    before = {t: await count(db, t) for t in m.metadata.tables}

    again = await store.write(prepared[100:400])
    assert (again.recorded, again.duplicates, again.safe_path) == (0, 300, True)
    # A fresh store (a restarted daemon) must recognise them too.
    again = await EventStore(db, ACCOUNT).write(prepared[:50])
    assert again.duplicates == 50

    after = {t: await count(db, t) for t in m.metadata.tables}
    assert after == before
    assert (await verify_chain(db, ACCOUNT)).ok


async def test_overlapping_batch_records_only_the_new_part(db: Database) -> None:
    prepared = prepare(pipeline_events(40))
    store = EventStore(db, ACCOUNT)
    await store.write(prepared[:300])
    result = await store.write(prepared[200:450])
    assert (result.recorded, result.duplicates) == (150, 100)
    assert await count(db, "audit_log") == 450
    report = await verify_chain(db, ACCOUNT)
    assert report.ok
    assert report.records == 450


async def test_same_natural_key_different_event_is_audited_not_projected(db: Database) -> None:
    store = EventStore(db, ACCOUNT)
    fill = Fill(
        fill_id="f-1",
        client_order_id="o-1",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(1),
        price=Decimal(100),
        ts=START_NS,
    )
    resent = _with_ts(fill, START_NS + 5)
    await store.write(prepare([fill]))
    result = await store.write(prepare([resent]))
    assert (result.recorded, result.shadowed) == (1, 1)
    assert await count(db, "fills") == 1
    assert await count(db, "audit_log") == 2
    assert (await verify_chain(db, ACCOUNT)).ok


def _with_ts(fill: Fill, ts: int) -> Fill:
    return msgspec.structs.replace(fill, ts=ts)


async def test_duplicate_inside_one_batch_is_recorded_once(db: Database) -> None:
    store = EventStore(db, ACCOUNT)
    prepared = prepare(pipeline_events(3))
    result = await store.write([*prepared, prepared[0], prepared[5]])
    assert (result.recorded, result.duplicates) == (len(prepared), 2)
    assert await count(db, "audit_log") == len(prepared)


async def test_order_keeps_its_latest_status_even_if_updates_arrive_late(db: Database) -> None:
    store = EventStore(db, ACCOUNT)
    events = pipeline_events(1)  # intent, accepted, fill, filled, ...
    await store.write(prepare(events))
    o = m.OrderRow.__table__
    async with db.connect() as conn:
        status = (
            await conn.execute(sa.select(o.c.status).where(o.c.client_order_id == "o-00000000"))
        ).scalar_one()
    assert status == OrderStatus.FILLED

    # An older status arriving after (a broker re-sending) is kept in the history only.
    late = OrderUpdate(
        client_order_id="o-00000000",
        symbol="AAPL",
        side=Side.SELL,
        status=OrderStatus.ACCEPTED,
        qty=Decimal(1),
        ts=START_NS + 10**9,
    )
    await store.write(prepare([late]))
    async with db.connect() as conn:
        row = (
            await conn.execute(
                sa.select(o.c.status, o.c.last_seq).where(o.c.client_order_id == "o-00000000")
            )
        ).one()
    # Later in the audit sequence wins: the late update is the newest record.
    assert row.status == OrderStatus.ACCEPTED
    assert await count(db, "order_events", client_order_id="o-00000000") == 3


async def test_daily_stats_are_exact_and_idempotent(db: Database) -> None:
    events = pipeline_events(60)
    prepared = prepare(events)
    store = EventStore(db, ACCOUNT)
    await write_all(store, prepared, size=97)
    await store.write(prepared[:300])  # replay: must not double count

    trades = [e for e in events if isinstance(e, TradeClosed)]
    d = m.DailyStatsRow.__table__
    async with db.connect() as conn:
        rows = (await conn.execute(sa.select(d))).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.trades == len(trades)
    assert row.pnl == sum((t.pnl for t in trades), Decimal(0))
    assert row.fees == sum((t.fees for t in trades), Decimal(0))
    assert row.wins == sum(1 for t in trades if t.pnl > 0)
    assert row.losses == sum(1 for t in trades if t.pnl < 0)
    assert row.best_trade == max(t.pnl for t in trades)
    assert row.worst_trade == min(t.pnl for t in trades)
    assert row.gross_profit + row.gross_loss == row.pnl


async def test_accounts_have_separate_chains(db: Database) -> None:
    prepared = prepare(pipeline_events(5))
    await EventStore(db, "a").write(prepared)
    await EventStore(db, "b").write(prepared)
    for acct in ("a", "b"):
        report = await verify_chain(db, acct)
        assert report.ok
        assert report.records == len(prepared)
    assert await count(db, "fills", account="a") == await count(db, "fills", account="b")


async def test_awkward_text_survives_both_copy_formats(db: Database) -> None:
    # Fills go through COPY's text format on PostgreSQL (they have decimal columns),
    # alerts through the binary one; both must keep every character.
    awkward = "tab\there\\back\nline\rcr\u00e9\U0001f600 ' \" , ;"
    fill = Fill(
        fill_id=awkward,
        client_order_id="\\N",
        symbol="X",
        side=Side.BUY,
        qty=Decimal("1E+3"),
        price=Decimal("-0.000001"),
        ts=START_NS,
    )
    alert = Alert(
        alert_id="a-1",
        severity=Severity.INFO,
        code="c",
        text=awkward,
        payload={"k": awkward},
        ts=START_NS,
    )
    await EventStore(db, ACCOUNT).write(prepare([fill, alert]))
    f = m.FillRow.__table__
    a = m.AlertRow.__table__
    async with db.connect() as conn:
        row = (
            await conn.execute(sa.select(f.c.fill_id, f.c.client_order_id, f.c.qty, f.c.price))
        ).one()
        text = (await conn.execute(sa.select(a.c.text))).scalar_one()
    assert (row.fill_id, row.client_order_id) == (awkward, "\\N")
    assert (row.qty, row.price) == (Decimal("1E+3"), Decimal("-0.000001"))
    assert text == awkward
    assert (await verify_chain(db, ACCOUNT)).ok


async def _dump(db: Database, account: str) -> dict[str, list[tuple[object, ...]]]:
    out: dict[str, list[tuple[object, ...]]] = {}
    async with db.connect() as conn:
        for name, table in m.metadata.tables.items():
            if "account" not in table.c or name.startswith("feedback"):
                continue
            cols = [c for c in table.c if c.name not in ("account", "hash", "prev_hash")]
            rows = await conn.execute(
                sa.select(*cols).where(table.c.account == account).order_by(*table.primary_key)
            )
            out[name] = [tuple(r) for r in rows]
    return out


async def test_copy_text_rows_equal_tuple_rows(db: Database) -> None:
    """The PostgreSQL writer encodes rows for COPY while draining; the database must end
    up exactly as with plain tuples (and SQLite, given such rows, converts them back)."""
    events = pipeline_events(30)
    plain = [Projector(TZ).prepare(e) for e in events]
    text = [Projector(TZ, copy_text=True).prepare(e) for e in events]
    assert any(isinstance(tail, str) for p in text for _, tail in p.rows)
    await write_all(EventStore(db, "plain"), plain, size=111)
    texted = EventStore(db, "text")
    await write_all(texted, text, size=111)
    # Replays of COPY-text records take the safe path (tuples again) and add nothing.
    again = await texted.write(text[50:150])
    assert (again.recorded, again.duplicates) == (0, 100)
    assert await _dump(db, "plain") == await _dump(db, "text")
    assert (await verify_chain(db, "text")).ok


async def test_a_stale_head_is_corrected_not_forked(db: Database) -> None:
    """Two stores on one account (a restarted writer while the old one still had a
    cached head): the second's first write clashes on the sequence, takes the safe path,
    re-reads the head and continues the one chain."""
    prepared = prepare(pipeline_events(12))
    first, second = EventStore(db, ACCOUNT), EventStore(db, ACCOUNT)
    await first.write(prepared[:50])
    await second.write(prepared[50:80])  # learns the head (50) on its first write
    result = await first.write(prepared[80:120])  # first still believes the head is 50
    assert (result.recorded, result.safe_path) == (40, True)
    await second.write(prepared[120:])
    report = await verify_chain(db, ACCOUNT)
    assert report.ok, report.describe()
    assert report.records == len(prepared)


async def test_folding_statuses_into_intents_changes_nothing(db: Database) -> None:
    """An order whose intent and updates share a batch is inserted in its final state;
    the tables must equal those written one event per batch (intent, then upserts)."""
    events = pipeline_events(20)
    text = Projector(TZ, copy_text=db.backend == "postgresql")
    await EventStore(db, "whole").write([text.prepare(e) for e in events])
    await write_all(EventStore(db, "single"), prepare(events), size=1)
    whole = await _dump(db, "whole")
    assert whole["orders"]
    assert whole == await _dump(db, "single")


async def test_a_status_older_than_its_intent_in_one_batch_is_not_folded(db: Database) -> None:
    events = pipeline_events(1)
    intent, update = events[4], events[5]  # OrderIntent, then its first OrderUpdate
    assert type(intent).__name__ == "OrderIntent"
    assert type(update).__name__ == "OrderUpdate"
    await EventStore(db, ACCOUNT).write(prepare([update, intent]))
    o = m.OrderRow.__table__
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(o.c.status, o.c.last_seq, o.c.intent_seq))).one()
    # The update came first in audit order: the intent (seq 2) is the newest record.
    assert (row.status, row.last_seq, row.intent_seq) == (OrderStatus.INTENT, None, 2)


async def test_the_next_batch_planned_ahead_is_used_only_when_still_valid(db: Database) -> None:
    prepared = prepare(pipeline_events(30))
    store = EventStore(db, ACCOUNT)
    await store.write(prepared[:100])
    queue = prepared[100:]
    while store.plan_ahead(queue, 150, limit=40):
        pass
    assert store._ahead is not None
    assert store._ahead.plan.records == 150
    planned = store._ahead.plan
    await store.write(queue[:150])  # the plan built ahead is the one written
    assert store._ahead is None
    assert planned.finished
    # A plan built for records that are not the batch written is dropped, not applied
    # (applied, it would write record 150 here and the dumps below would differ).
    while store.plan_ahead(queue[150:], 50):
        pass
    assert store._ahead is not None
    assert store._ahead.plan.copy_data or db.backend == "sqlite"  # full batch: encoded
    await store.write(queue[151:200])
    await store.write([queue[150], *queue[200:]])
    report = await verify_chain(db, ACCOUNT)
    assert report.ok, report.describe()
    assert report.records == len(prepared)
    single = EventStore(db, "single")
    await write_all(single, [*prepared[:250], *prepared[251:300], prepared[250], *prepared[300:]])
    assert await _dump(db, ACCOUNT) == await _dump(db, "single")


async def test_a_plan_ahead_from_a_head_that_moved_is_dropped(db: Database) -> None:
    prepared = prepare(pipeline_events(12))
    first, other = EventStore(db, ACCOUNT), EventStore(db, ACCOUNT)
    await first.write(prepared[:40])
    first.plan_ahead(prepared[60:], 40, limit=40)  # assumes the head is still 40
    await other.write(prepared[40:60])  # ...but another writer moved it
    result = await first.write(prepared[60:100])
    assert result.safe_path
    report = await verify_chain(db, ACCOUNT)
    assert report.ok, report.describe()
    assert report.records == 100
