"""The feedback actor on the bus: TradeClosed in, SourceWeights out, state across restarts."""

from __future__ import annotations

import anyio
import msgspec
import pytest

from actors.feedback import DEFINITION
from config.settings import Settings
from daemon.bus import Bus
from daemon.messages import Alert, Severity, SourceWeights
from daemon.registry import select
from tests.pipeline_support import with_settings
from tests.unit.feedback._support import FAIL_AFTER_S, MemoryStore, feedback_settings, harness
from tests.unit.feedback._trades import EXPECTED, trade


def assert_round(ev: SourceWeights, at: int) -> None:
    want = EXPECTED[at]
    for field in ("weights", "sharpe", "win_rate", "payoff"):
        got = getattr(ev, field)
        assert got == pytest.approx(want[field], rel=1e-12, abs=1e-15), (at, field)


async def test_optional_and_off_by_default() -> None:
    assert not DEFINITION.core
    assert DEFINITION not in select([DEFINITION], Settings())
    on = with_settings(Settings(), actors={"enabled": ["feedback"]})
    assert select([DEFINITION], on) == [DEFINITION]


async def test_publishes_hand_computed_weights_every_n_trades() -> None:
    async with harness(MemoryStore()) as h:
        for i in range(1, 16):
            h.clock.advance(1.0)
            await h.close(trade(i))
        with anyio.fail_after(FAIL_AFTER_S):
            pubs = await h.log.wait_kind(SourceWeights, 3)
    assert [round((p.ts - h.clock.now_ns()) / 1e9) for p in pubs] == [-6, -3, 0]
    for ev, at in zip(pubs, (9, 12, 15), strict=True):
        assert_round(ev, at)
    assert pubs[0].trades == {"A": 3, "B": 3, "C": 3}


async def test_state_survives_a_restart() -> None:
    store = MemoryStore()
    async with harness(store) as h:
        await h.close(*(trade(i) for i in range(1, 13)))
        await h.settle()
        assert await h.actor.save()
    assert len(store.trades) == 12
    async with harness(store) as h:
        with anyio.fail_after(FAIL_AFTER_S):
            (first,) = await h.log.wait_kind(SourceWeights)
        assert_round(first, 12)  # the persisted weights, announced at start
        assert h.actor.book.confidence == EXPECTED[12]["confidence"]
        await h.close(*(trade(i) for i in range(13, 16)))
        with anyio.fail_after(FAIL_AFTER_S):
            pubs = await h.log.wait_kind(SourceWeights, 2)
        assert_round(pubs[-1], 15)  # exactly as if the daemon had never stopped
        # A trade credited before the restart and delivered again is not credited twice.
        await h.close(trade(12))
        assert h.actor.duplicates == 1
        assert h.actor.book.total_trades == 15


async def test_duplicates_and_bad_trades_are_counted_not_fatal() -> None:
    async with harness(MemoryStore()) as h:
        await h.close(trade(1), trade(1), msgspec.structs.replace(trade(2), source=""))
        await h.close(*(trade(i) for i in range(2, 10)))
        assert (h.actor.credited, h.actor.duplicates, h.actor.rejected) == (9, 1, 1)
        with anyio.fail_after(FAIL_AFTER_S):
            (ev,) = await h.log.wait_kind(SourceWeights)
        assert_round(ev, 9)


async def test_database_down_at_start_holds_trades_until_it_loads() -> None:
    store = MemoryStore(available=False)
    async with harness(store) as h:
        await h.close(*(trade(i) for i in range(1, 10)), settle=False)
        with anyio.fail_after(FAIL_AFTER_S):
            await h.log.wait_kind(Alert)
        assert not h.actor.loaded.is_set()
        assert h.actor.book.total_trades == 0  # waiting in the subscription, not lost
        (alert,) = h.alerts()
        assert alert.code == "feedback_store_unavailable"
        assert alert.severity is Severity.WARNING
        store.available = True
        await h.attempt(store)
        with anyio.fail_after(FAIL_AFTER_S):
            await h.actor.loaded.wait()
            (ev,) = await h.log.wait_kind(SourceWeights)
        assert_round(ev, 9)
        await h.settle()
        assert h.actor.book.total_trades == 9


async def test_saves_are_retried_until_the_database_is_back() -> None:
    store = MemoryStore()
    async with harness(store) as h:
        store.available = False
        await h.close(*(trade(i) for i in range(1, 10)))
        with anyio.fail_after(FAIL_AFTER_S):
            await h.log.wait_kind(Alert)
        assert len(h.actor._pending) == 9
        for _ in range(3):  # still down: retried on the clock
            await h.attempt(store)
        store.available = True
        await h.attempt(store)
        await h.settle()
        assert not h.actor._pending
        assert not h.actor._dirty
        # One alert per outage, not one per attempt.
        assert [a.code for a in h.alerts()] == ["feedback_store_unavailable"]
    assert sorted(t for _, t in store.trades) == sorted(f"t{i}" for i in range(1, 10))
    assert store.sources[("paper", "A")].weight == EXPECTED[9]["weights"]["A"]
    assert store.sources[("paper", "B")].confidence == 0.5


async def test_without_persistence_it_still_weights() -> None:
    async with harness(None) as h:
        assert not h.actor.cfg.persist
        await h.close(*(trade(i) for i in range(1, 10)))
        with anyio.fail_after(FAIL_AFTER_S):
            (ev,) = await h.log.wait_kind(SourceWeights)
        assert_round(ev, 9)
        assert h.actor.store is None
        assert h.alerts() == []


async def test_a_restarted_actor_takes_over_the_subscription() -> None:
    bus = Bus(default_capacity=64)
    async with harness(MemoryStore(), feedback_settings(), bus) as first:
        sub = first.actor.trades
    async with harness(MemoryStore(), feedback_settings(), bus) as second:
        assert second.actor.trades is sub


async def test_reload_rebounds_windows_and_republishes() -> None:
    async with harness(MemoryStore()) as h:
        await h.close(*(trade(i) for i in range(1, 10)))
        with anyio.fail_after(FAIL_AFTER_S):
            await h.log.wait_kind(SourceWeights)
        new = feedback_settings(window_trades=2, persist=True)
        await h.actor.on_reload(new)
        with anyio.fail_after(FAIL_AFTER_S):
            pubs = await h.log.wait_kind(SourceWeights, 2)
        assert pubs[1].weights == pubs[0].weights  # the same weights, announced again
        assert {s: len(w) for s, w in h.actor.book.windows.items()} == {"A": 2, "B": 2, "C": 2}
        assert h.actor.book.stats["A"].trades == 2
