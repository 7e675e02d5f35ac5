"""Feedback state in the real databases: the SQL store, and the actor across a restart.

Runs against SQLite and against the PostgreSQL server in DATABASE_URL (each test in a
schema of its own, dropped afterwards).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import anyio
import asyncpg
import pytest

from daemon.messages import Alert, SourceWeights
from storage import Database, migrate
from storage.feedback import FeedbackSource, FeedbackTrade, SqlFeedbackStore
from tests.conftest import DATABASE_URL
from tests.integration.storage.conftest import drop_schema, storage_settings
from tests.unit.feedback._support import FAIL_AFTER_S, harness
from tests.unit.feedback._trades import EXPECTED, trade

ACCOUNT = "paper"


async def _postgres_unreachable() -> str:
    try:
        conn = await asyncpg.connect(
            DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=3
        )
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL at DATABASE_URL unreachable: {exc}"
    await conn.close()
    return ""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh database of each backend, not yet migrated."""
    backend = str(request.param)
    if backend == "postgres":
        why = await _postgres_unreachable()
        if why:
            pytest.skip(why)
    db = Database.open(storage_settings(backend, tmp_path))
    try:
        yield db
    finally:
        await drop_schema(db)
        await db.dispose()


@pytest.fixture
async def db(empty_db: Database) -> Database:
    await migrate.upgrade(empty_db)
    return empty_db


def ft(i: int, source: str, seq: int, ret: float, pnl: str = "1.5") -> FeedbackTrade:
    return FeedbackTrade(
        trade_id=f"t{i}", source=source, ret=ret, pnl=Decimal(pnl), exit_ns=1000 + i, seq=seq
    )


def src(name: str, total: int, weight: float | None, confidence: float = 1.0) -> FeedbackSource:
    return FeedbackSource(
        source=name,
        trades_total=total,
        window=min(total, 3),
        win_rate=0.5,
        payoff=1.25,
        sharpe=-0.125,
        confidence=confidence,
        weight=weight,
        updated_ns=77,
    )


async def test_store_round_trip(db: Database) -> None:
    store = SqlFeedbackStore(db)
    empty = await store.load(ACCOUNT, window=3, recent=10)
    assert (list(empty.sources), empty.windows, list(empty.recent_ids)) == ([], {}, [])
    trades = [ft(i, "A" if i % 2 else "B", (i + 1) // 2, i / 100) for i in range(1, 10)]
    trades[4] = ft(5, "A", 3, 0.05, pnl="0.000000012345678901")  # exact decimals survive
    await store.save(ACCOUNT, trades[:6], [src("A", 3, None)])
    # A retry of the same trades plus new ones: nothing doubles, sources are upserted.
    await store.save(ACCOUNT, trades, [src("A", 5, 1.5, 0.5), src("B", 4, 0.2)])
    await store.save("other", [ft(1, "A", 1, 9.0)], [src("A", 1, 3.0)])

    state = await store.load(ACCOUNT, window=3, recent=4)
    assert [s.source for s in state.sources] == ["A", "B"]
    assert state.sources[0] == src("A", 5, 1.5, 0.5)
    assert state.sources[1].weight == 0.2
    assert [t.trade_id for t in state.windows["A"]] == ["t5", "t7", "t9"]  # last 3 by seq
    assert [t.seq for t in state.windows["B"]] == [2, 3, 4]
    assert state.windows["A"][0].pnl == Decimal("0.000000012345678901")
    assert state.windows["A"][0] == trades[4]
    assert list(state.recent_ids) == ["t6", "t7", "t8", "t9"]  # oldest first
    unset = await store.load(ACCOUNT, window=10, recent=100)
    assert sum(len(w) for w in unset.windows.values()) == 9


async def test_actor_state_survives_a_restart(db: Database) -> None:
    resources = {Database: db}
    async with harness(None, resources=resources) as h:
        await h.close(*(trade(i) for i in range(1, 13)))
        with anyio.fail_after(FAIL_AFTER_S):
            await h.log.wait_kind(SourceWeights, 2)
        await h.flush()

    async with harness(None, resources=resources) as h:
        with anyio.fail_after(FAIL_AFTER_S):
            (first,) = await h.log.wait_kind(SourceWeights)
        for field in ("weights", "sharpe", "win_rate", "payoff"):
            assert getattr(first, field) == pytest.approx(EXPECTED[12][field], rel=1e-12)
        assert h.actor.book.confidence == pytest.approx(EXPECTED[12]["confidence"])
        await h.close(*(trade(i) for i in range(12, 16)))  # t12 again: a re-delivery
        with anyio.fail_after(FAIL_AFTER_S):
            pubs = await h.log.wait_kind(SourceWeights, 2)
        last = pubs[-1]
        for field in ("weights", "sharpe", "win_rate", "payoff"):
            assert getattr(last, field) == pytest.approx(EXPECTED[15][field], rel=1e-12)
        assert h.actor.duplicates == 1
        await h.flush()

    state = await SqlFeedbackStore(db).load(ACCOUNT, window=4, recent=100)
    assert len(state.recent_ids) == 15
    assert {s.source: s.confidence for s in state.sources} == EXPECTED[15]["confidence"]
    assert {s.source: s.trades_total for s in state.sources} == {"A": 5, "B": 5, "C": 5}


async def test_actor_waits_for_the_schema_and_then_loads(empty_db: Database) -> None:
    async with harness(None, resources={Database: empty_db}) as h:
        await h.close(*(trade(i) for i in range(1, 10)), settle=False)
        with anyio.fail_after(FAIL_AFTER_S):
            (alert,) = await h.log.wait_kind(Alert)
        assert alert.code == "feedback_store_unavailable"
        assert "feedback_sources" in alert.text  # the missing table, named
        assert not h.actor.loaded.is_set()
        await migrate.upgrade(empty_db)
        h.clock.advance(h.actor.cfg.retry_s)
        with anyio.fail_after(FAIL_AFTER_S):
            await h.actor.loaded.wait()
            (ev,) = await h.log.wait_kind(SourceWeights)
        assert ev.weights == pytest.approx(EXPECTED[9]["weights"], rel=1e-12)
        await h.flush()
    state = await SqlFeedbackStore(empty_db).load(ACCOUNT, window=4, recent=100)
    assert len(state.recent_ids) == 9
