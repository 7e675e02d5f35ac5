"""The journal actor: every input and decision on disk, in order, per trading day."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio

from actors.journal import JournalActor, JournalStats, event_kind, redact
from daemon import names
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.journal import JournalHeader, Kind, list_segments, read_journal
from daemon.messages import (
    Bar,
    ControlCommand,
    Fill,
    Heartbeat,
    OrderIntent,
    Side,
    Signal,
    SignalVerdict,
    Tick,
)
from tests.conftest import tmp_settings
from tests.pipeline_support import context

# 2024-01-02 15:00 America/New_York
T0 = 1_704_225_600 * NS_PER_S


def _sig(i: int) -> Signal:
    return Signal(signal_id=f"s{i}", source="alpha", symbol="SPY", side=Side.BUY, created_ns=T0)


async def _run(tmp_path: Path, feed: Any, **journal: Any) -> JournalStats:
    settings = tmp_settings(tmp_path, journal=journal)
    clock = SimClock(T0)
    bus = Bus()
    actor = JournalActor(context("journal", settings, clock, bus))
    async with anyio.create_task_group() as tg:
        await tg.start(actor.run)
        await feed(bus, clock)
        await actor.on_stop()
        tg.cancel_scope.cancel()
    return actor.stats


async def test_inputs_and_decisions_are_journalled_in_order(tmp_path: Path) -> None:
    async def feed(bus: Bus, clock: SimClock) -> None:
        market, events = bus.topic(names.MARKET), bus.topic(names.EVENTS)
        await market.publish(Tick(symbol="SPY", price=470.0, ts=clock.now_ns()))
        await anyio.wait_all_tasks_blocked()
        clock.advance(1)
        await events.publish(SignalVerdict(signal=_sig(1), accepted=True, ts=clock.now_ns()))
        await anyio.wait_all_tasks_blocked()
        clock.advance(1)
        await events.publish(ControlCommand(request_id="1", cmd="pause", ts=clock.now_ns()))
        await events.publish(Heartbeat(uptime_s=1.0, mode="running", killed=False, ts=0))
        await market.publish(Bar(symbol="SPY", open=1, high=2, low=1, close=2, ts=clock.now_ns()))

    stats = await _run(tmp_path, feed)
    recs = list(read_journal(tmp_path / "state" / "journal"))
    kinds = [r.kind for r in recs]
    assert kinds[0] is Kind.HEADER
    assert sorted(kinds[1:]) == sorted(
        [Kind.MARKET, Kind.SIGNAL, Kind.CONTROL, Kind.TIMER, Kind.MARKET]
    )
    assert [r.seq for r in recs[1:]] == [0, 1, 2, 3, 4]
    times = [r.ts for r in recs[1:]]
    assert times == sorted(times)
    assert times[0] == T0
    assert stats.frames == 5
    assert stats.written_frames == 5
    header = recs[0].event
    assert isinstance(header, JournalHeader)
    assert header.settings["journal"]["fsync"] == "batch"


async def test_a_new_trading_day_starts_a_new_segment(tmp_path: Path) -> None:
    async def feed(bus: Bus, clock: SimClock) -> None:
        market = bus.topic(names.MARKET)
        await market.publish(Tick(symbol="SPY", price=1.0, ts=0))
        await anyio.wait_all_tasks_blocked()
        clock.advance(10 * 3600)  # past midnight in New York
        await anyio.wait_all_tasks_blocked()
        await market.publish(Tick(symbol="SPY", price=2.0, ts=0))

    await _run(tmp_path, feed)
    segs = [p.name for p in list_segments(tmp_path / "state" / "journal")]
    assert segs == ["journal-2024-01-02-0001.tdj", "journal-2024-01-03-0001.tdj"]


async def test_batches_are_written_when_the_oldest_frame_is_due(tmp_path: Path) -> None:
    written: list[int] = []

    async def feed(bus: Bus, clock: SimClock) -> None:
        await bus.topic(names.MARKET).publish(Tick(symbol="SPY", price=1.0, ts=0))
        await anyio.wait_all_tasks_blocked()
        seg_dir = tmp_path / "state" / "journal"
        # Nothing on disk before the flush interval has passed (only the batch waits).
        assert not list_segments(seg_dir) if seg_dir.exists() else True
        clock.advance(0.6)
        await anyio.wait_all_tasks_blocked()
        with anyio.fail_after(5):
            while not list_segments(seg_dir):
                await anyio.wait_all_tasks_blocked()
        written.append(len(list(read_journal(seg_dir))))

    await _run(tmp_path, feed, flush_interval_s=0.5)
    assert written == [2]  # header + the tick


async def test_a_full_buffer_drops_new_frames_and_records_the_gap(tmp_path: Path) -> None:
    async def feed(bus: Bus, clock: SimClock) -> None:
        market = bus.topic(names.MARKET)
        for i in range(400):
            await market.publish(Tick(symbol="SPY", price=1.0 + i, ts=i))
        await anyio.wait_all_tasks_blocked()

    # A tiny buffer and a batch size it never reaches: everything past 4 KiB is dropped.
    stats = await _run(tmp_path, feed, max_buffer_bytes=4096, batch_bytes=1 << 20)
    assert stats.dropped > 0
    recs = list(read_journal(tmp_path / "state" / "journal"))
    assert stats.frames + 1 == len(recs)  # the header
    assert stats.frames + stats.dropped == 400


def test_kinds_of_events() -> None:
    sig = _sig(1)
    assert event_kind(SignalVerdict(signal=sig, accepted=True, ts=0)) is Kind.SIGNAL
    v = SignalVerdict(signal=sig, accepted=False, ts=0, stage="risk")
    assert event_kind(v) is Kind.DECISION
    assert event_kind(Heartbeat(uptime_s=0, mode="running", killed=False, ts=0)) is Kind.TIMER
    fill = Fill(
        fill_id="f",
        client_order_id="c",
        symbol="X",
        side=Side.BUY,
        qty=Decimal(1),
        price=Decimal(1),
        ts=0,
    )
    assert event_kind(fill) is Kind.BROKER
    intent = OrderIntent(
        client_order_id="c", correlation_id="k", symbol="X", side=Side.BUY, qty=Decimal(1), ts=0
    )
    assert event_kind(intent) is Kind.DECISION


def test_secrets_are_redacted_from_the_header() -> None:
    doc = {
        "storage": {"url": "postgresql+asyncpg://trader:s3cret@db:5432/x"},
        "alerts": {"webhook": {"token": "abc", "url": "https://h/x"}},
        "redis": {"password": ""},
    }
    out = redact(doc)
    assert out["storage"]["url"] == "postgresql+asyncpg://trader:***@db:5432/x"
    assert out["alerts"]["webhook"]["token"] == "***"
    assert out["alerts"]["webhook"]["url"] == "https://h/x"
    assert out["redis"]["password"] == ""


def test_configured_credentials_never_reach_the_journal_header(tmp_path: Path) -> None:
    # The header keeps the settings for replay; credentials that the key/URL rules alone
    # missed (a Redis URL with an empty user, a token in a webhook's path) must not leak.
    settings = tmp_settings(
        tmp_path,
        redis={"url": "redis://:r3dis-pass-123@127.0.0.1:6379/0"},
        alerts={"webhook": {"url": "https://hooks.example/services/T0K3N-abcdefgh-XYZ"}},
    )
    actor = JournalActor(context("journal", settings, SimClock(T0), Bus()))
    text = repr(actor._settings_doc)
    assert "r3dis-pass-123" not in text
    assert "T0K3N-abcdefgh-XYZ" not in text
    assert "***" in text
