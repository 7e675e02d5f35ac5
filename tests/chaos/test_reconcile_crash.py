"""Crash test: the daemon dies between recording an intent and sending its order, or
between sending it and hearing back; after the restart, reconciliation leaves exactly one
order per intent that reached the broker, marks the one that did not as failed, and
never sends anything twice.

The daemon runs in-process (real actors, SQLite storage, the safety state file) and is
torn down hard: its task group is cancelled mid-flight, nothing is flushed or stopped
gracefully. The paper broker — the venue — outlives it, as a real venue outlives our
process; the events it had sent on the dead connection are lost with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from actors import (
    broker,
    lifecycle,
    orchestrator,
    reconciler,
    risk_gate,
    safety,
    signal_guard,
    storage_writer,
)
from actors.broker import BrokerActor, OrderEvent, PaperBroker
from actors.reconciler import Reconciler
from actors.storage_writer import StorageWriter
from config import Settings
from daemon import names
from daemon.actor import Actor, ActorContext, ActorDefinition
from daemon.clock import SimClock
from daemon.messages import (
    AccountSnapshot,
    Bar,
    BrokerOrder,
    MarketBatch,
    OrderIntent,
    OrderStatus,
    PositionSnapshot,
    Side,
    Signal,
    Tick,
)
from daemon.progress import Progress
from daemon.runtime import Daemon
from daemon.safety import SafetyStore
from storage import Database
from storage.queries import order as recorded_order
from tests.pipeline_support import data_path, have_data, read_bars, with_settings

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

ACCOUNT = "crash"
QTY = Decimal(40)


class CrashPoint:
    """The paper broker behind a connection that dies at a chosen point of one submit.

    ``before_send``: the submit never reaches the venue. ``after_send``: it does, and
    every event the venue sends from then on is lost with the connection.
    """

    def __init__(self, paper: PaperBroker, mode: str) -> None:
        self.paper = paper
        self.mode = mode
        self.reached = anyio.Event()
        self.deaf = False
        self.lost: list[OrderEvent] = []
        self.progress = Progress()

    @property
    def name(self) -> str:
        return self.paper.name

    @property
    def connected(self) -> bool:
        return self.paper.connected

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await self.paper.run(task_status=task_status)

    async def connect(self) -> None:
        await self.paper.connect()

    async def close(self) -> None:
        await self.paper.close()

    async def submit(self, intent: OrderIntent) -> BrokerOrder:
        if self.mode == "after_send":
            self.deaf = True
            await self.paper.submit(intent)
        self.reached.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def cancel(self, client_order_id: str) -> BrokerOrder | None:
        return await self.paper.cancel(client_order_id)

    async def get_order(self, client_order_id: str) -> BrokerOrder | None:
        return await self.paper.get_order(client_order_id)

    async def open_orders(self) -> tuple[BrokerOrder, ...]:
        return await self.paper.open_orders()

    async def positions(self) -> tuple[PositionSnapshot, ...]:
        return await self.paper.positions()

    async def account(self) -> AccountSnapshot:
        return await self.paper.account()

    async def next_events(self, max_items: int = 1024) -> list[OrderEvent]:
        while True:
            batch = await self.paper.next_events(max_items)
            if not self.deaf:
                return batch
            self.lost.extend(batch)
            self.progress.notify()

    async def on_market(self, item: Tick | Bar | MarketBatch) -> None:
        await self.paper.on_market(item)


def crashing_broker(point: CrashPoint) -> ActorDefinition:
    """The broker actor, talking to the venue through ``point``."""

    def factory(ctx: ActorContext) -> Actor:
        actor = BrokerActor(ctx)
        actor.broker = point
        return actor

    return dataclasses.replace(broker.DEFINITION, factory=factory)


def definitions(broker_def: ActorDefinition) -> list[ActorDefinition]:
    return [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker_def,
        lifecycle.DEFINITION,
        safety.DEFINITION,
        storage_writer.DEFINITION,
        reconciler.DEFINITION,
        signal_guard.DEFINITION,
    ]


def crash_settings(tmp_path: Path) -> Settings:
    return with_settings(
        Settings(),
        daemon={"state_dir": str(tmp_path / "state"), "account": ACCOUNT},
        safety={"create_state_dir": True},
        storage={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", "auto_migrate": True},
        guard={"sources": ["alpha"], "cooldown_s": 0.0},
        sizing={"method": "fixed_shares", "fixed_shares": 40.0},
        risk={"history_files": {"AAPL": str(data_path("AAPL"))}},
        orchestrator={"initial_regime": "bull"},
        reconciler={"interval_s": 0.0, "confirm_delay_s": 0.0},
        lifecycle={"adopt_on_start": False},
    )


async def run_daemon(
    daemon: Daemon, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Run ``daemon`` until cancelled; started once it is ready (READY=1)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.ready.wait()
        task_status.started()


def actor_of(daemon: Daemon, name: str) -> Any:
    assert daemon.supervisor is not None
    return daemon.supervisor.records[name].actor


async def wait(progress: Progress, pred: Callable[[], bool]) -> None:
    with anyio.fail_after(30):
        await progress.wait_for(pred)


@pytest.mark.parametrize("mode", ["before_send", "after_send"])
async def test_crash_then_restart_leaves_one_order_per_intent(tmp_path: Path, mode: str) -> None:
    settings = crash_settings(tmp_path)
    clock = SimClock()
    paper = PaperBroker(settings.broker, clock)
    point = CrashPoint(paper, mode)
    px = read_bars("AAPL", 1)[0][4]
    # Generous: two daemon starts, each with migrations and the kernels' warm-up (a
    # recompile when the numba cache is cold takes tens of seconds on a busy machine).
    with anyio.fail_after(240):
        async with anyio.create_task_group() as outer:
            await outer.start(clock.autojump)

            # -- first life: an intent is recorded, then the process dies -------------
            first = Daemon(
                settings,
                clock=clock,
                definitions=definitions(crashing_broker(point)),
                handle_signals=False,
            )
            first.resources[PaperBroker] = paper
            async with anyio.create_task_group() as life:
                await life.start(run_daemon, first)
                await first.bus.topic(names.MARKET).publish(
                    Tick(symbol="AAPL", price=px, size=1e6, ts=clock.now_ns())
                )
                await first.bus.channel(names.SIGNALS_IN).send(
                    Signal(
                        signal_id="crash-1",
                        source="alpha",
                        symbol="AAPL",
                        side=Side.BUY,
                        conviction=70,
                        entry_price=px,
                        stop_price=round(px * 0.95, 2),
                        target_price=round(px * 1.1, 2),
                        created_ns=clock.now_ns(),
                    )
                )
                await point.reached.wait()
                if mode == "after_send":
                    # The venue filled it; we heard nothing of it.
                    await wait(
                        point.progress,
                        lambda: any(
                            getattr(e, "status", None) is OrderStatus.FILLED for e in point.lost
                        ),
                    )
                writer = actor_of(first, "storage_writer")
                assert isinstance(writer, StorageWriter)
                await wait(
                    writer.progress,
                    lambda: writer.stats.pending == 0 and writer.sub.channel.depth() == 0,
                )
                (coid,) = actor_of(first, "orchestrator").execution.orders.working
                intent = await recorded_order(first.resources[Database], ACCOUNT, coid)
                assert intent is not None  # the write-ahead intent is on disk
                assert intent.status in ("intent", "unknown")
                life.cancel_scope.cancel()  # killed: nothing stops gracefully
            # What the OS would do for a dead process: locks and sockets go away.
            first.resources[SafetyStore].close()
            await first.resources[Database].dispose()
            while True:  # the events in flight on the dead connection are gone
                try:
                    point.lost.extend(paper.next_events_nowait())
                except anyio.WouldBlock:
                    break

            # -- second life: reconciliation at start-up ------------------------------
            second = Daemon(
                settings,
                clock=clock,
                definitions=definitions(broker.DEFINITION),
                handle_signals=False,
            )
            second.resources[PaperBroker] = paper
            intents: list[Any] = []
            sub = second.events.subscribe("crash-test", types=(OrderIntent,), lossless=False)
            async with anyio.create_task_group() as life:
                await life.start(run_daemon, second)
                rec = actor_of(second, "reconciler")
                assert isinstance(rec, Reconciler)
                (report,) = rec.reports
                books = actor_of(second, "orchestrator").execution
                held = books.books.qty("AAPL")
                working = books.orders.get(coid)
                await clock.run_until(clock.now_ns() + 60 * 10**9)
                while True:
                    try:
                        intents.append(sub.channel.receive_nowait())
                    except anyio.WouldBlock:
                        break
                writer2 = actor_of(second, "storage_writer")
                await wait(
                    writer2.progress,
                    lambda: writer2.stats.pending == 0 and writer2.sub.channel.depth() == 0,
                )
                final = await recorded_order(second.resources[Database], ACCOUNT, coid)
                life.cancel_scope.cancel()
            second.resources[SafetyStore].close()
            await second.resources[Database].dispose()
            outer.cancel_scope.cancel()

    assert report.trigger == "startup"
    assert intents == []  # nothing was sent again
    assert working is None  # resolved, not left pending
    at_venue = await paper.get_order(coid)
    kinds = sorted(d.kind for d in report.discrepancies)
    assert final is not None
    if mode == "before_send":
        assert at_venue is None
        assert await paper.positions() == ()
        assert held == 0
        assert kinds == ["intent_never_sent"]
        assert final.status == "rejected"
    else:
        assert at_venue is not None
        assert at_venue.status is OrderStatus.FILLED
        (pos,) = await paper.positions()
        assert pos.qty == QTY  # one order, filled once: never two
        assert held == QTY  # and not lost: our books hold it
        assert kinds == ["intent_submitted", "missed_fill"]
        assert final.status == "filled"
        assert final.filled_qty == QTY
