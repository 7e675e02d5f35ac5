"""Queries for reports, the admin socket and ``tradingd trace``, checked against the events."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from actors.risk_gate import CHECK_NAMES
from daemon.messages import Event, OrderIntent, OrderStatus, OrderUpdate, Side, TradeClosed
from storage import Database, EventStore, Projector
from storage import queries as q
from storage.projection import trading_day
from tests.integration.storage.conftest import ACCOUNT
from tests.integration.storage.events import START_NS, iter_pipeline_events, pipeline_events

TZ = ZoneInfo("America/New_York")
DAY_NS = 86_400 * 10**9


@pytest.fixture
async def events(db: Database) -> list[Event]:
    """Two trading days of pipeline events, written; plus one order left open."""
    evs = pipeline_events(30)
    evs += iter_pipeline_events(30, start_ns=START_NS + DAY_NS, first=1000, seed=9)
    evs.append(
        OrderIntent(
            client_order_id="open-1",
            correlation_id="c-open",
            symbol="SPY",
            side=Side.BUY,
            qty=Decimal(5),
            ts=START_NS + 2 * DAY_NS,
        )
    )
    evs.append(
        OrderUpdate(
            client_order_id="open-1",
            correlation_id="c-open",
            symbol="SPY",
            side=Side.BUY,
            status=OrderStatus.PARTIALLY_FILLED,
            qty=Decimal(5),
            filled_qty=Decimal(2),
            ts=START_NS + 2 * DAY_NS + 1,
        )
    )
    p = Projector(TZ)
    await EventStore(db, ACCOUNT).write([p.prepare(e) for e in evs])
    return evs


def _trades(events: list[Event]) -> list[TradeClosed]:
    return [e for e in events if isinstance(e, TradeClosed)]


async def test_trades_by_day(db: Database, events: list[Event]) -> None:
    trades = _trades(events)
    days = sorted({trading_day(t.exit_ns, TZ) for t in trades})
    assert len(days) == 2
    for day in days:
        got = await q.trades_by_day(db, ACCOUNT, day)
        want = [t for t in trades if trading_day(t.exit_ns, TZ) == day]
        assert [g.trade_id for g in got] == [t.trade_id for t in want]
        assert [g.pnl for g in got] == [t.pnl for t in want]
        assert all(g.holding_ns == t.exit_ns - t.entry_ns for g, t in zip(got, want, strict=True))
    assert await q.trades_by_day(db, "someone-else", days[0]) == []


@pytest.mark.parametrize("by", ["day", "source", "symbol", "exit_reason"])
async def test_pnl_by(db: Database, events: list[Event], by: q.PnlBy) -> None:
    want: dict[str, list[Decimal]] = defaultdict(list)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for t in _trades(events):
        key = trading_day(t.exit_ns, TZ) if by == "day" else getattr(t, by)
        want[key].append(t.pnl)
        fees[key] += t.fees
    got = await q.pnl_by(db, ACCOUNT, by)
    assert [g.key for g in got] == sorted(want)
    for g in got:
        assert g.pnl == sum(want[g.key], Decimal(0))
        assert g.fees == fees[g.key]
        assert g.trades == len(want[g.key])
        assert g.wins == sum(1 for p in want[g.key] if p > 0)


async def test_pnl_by_day_range_and_daily_stats_agree(db: Database, events: list[Event]) -> None:
    groups = await q.pnl_by(db, ACCOUNT, "day")
    first = groups[0].key
    only_first = await q.pnl_by(db, ACCOUNT, "day", first_day=first, last_day=first)
    assert only_first == [groups[0]]
    stats = await q.daily_stats(db, ACCOUNT)
    assert [(s.day, s.trades, s.pnl, s.fees) for s in stats] == [
        (g.key, g.trades, g.pnl, g.fees) for g in groups
    ]


async def test_pnl_by_rejects_unknown_grouping(db: Database) -> None:
    with pytest.raises(ValueError, match="cannot group"):
        # Deliberately not a PnlBy: what is under test is the check for callers without mypy.
        await q.pnl_by(db, ACCOUNT, "colour")  # type: ignore[arg-type]


async def test_open_orders(db: Database, events: list[Event]) -> None:
    got = await q.open_orders(db, ACCOUNT)
    assert [o.client_order_id for o in got] == ["open-1"]
    assert (got[0].status, got[0].filled_qty) == ("partially_filled", Decimal(2))


async def test_trace_follows_one_correlation_id(db: Database, events: list[Event]) -> None:
    t = await q.trace(db, ACCOUNT, "c-00000001")  # signal 1 is opened and closed
    assert t.found
    assert t.signal is not None
    assert t.signal.signal_id == "s-1"
    assert [v.accepted for v in t.verdicts] == [True]
    assert t.fusion is not None
    assert len(t.fusion.components) == 2
    assert len(t.risk) == 1
    assert tuple(c.name for c in t.risk[0].checks) == CHECK_NAMES  # in the gate's order
    assert all(c.limit > 0 for c in t.risk[0].checks)
    assert [o.client_order_id for o in t.orders] == ["o-00000001", "x-00000001"]
    assert [h.status for h in t.orders[0].history] == ["accepted", "filled"]
    assert t.orders[0].intent_ns is not None
    assert [f.fill_id for f in t.fills] == ["f-1", "fx-1"]
    assert len(t.executions) == 1
    assert [tr.trade_id for tr in t.trades] == ["t-1"]


async def test_trace_of_unknown_id_is_empty(db: Database, events: list[Event]) -> None:
    t = await q.trace(db, ACCOUNT, "no-such-id")
    assert not t.found


async def test_order_lookup_and_positions(db: Database, events: list[Event]) -> None:
    o = await q.order(db, ACCOUNT, "o-00000002")
    assert o is not None
    assert o.status == "filled"
    assert await q.order(db, ACCOUNT, "nope") is None
    positions = await q.latest_positions(db, ACCOUNT)
    assert positions  # even-numbered signals stay open
    assert all(p.qty != 0 for p in positions)
    assert len({p.symbol for p in positions}) == len(positions)
