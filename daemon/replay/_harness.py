"""The replay harness: the real daemon, its real actors, a simulated clock, recorded inputs.

:func:`run_replay` builds a :class:`~daemon.runtime.Daemon` from the configuration on a
:class:`~daemon.clock.SimClock` (paper broker, a fresh SQLite database and state
directory under the output directory, no Redis, no alert sinks, no journal, no demo
feed), starts every actor exactly as ``tradingd run`` does, and then, for each input
step in time order:

1. steps the clock through every timer due before the input (one at a time, letting
   the daemon settle after each: broker latencies, acknowledgement timeouts, end of day),
2. moves the clock to the input's time and hands the input over (market data on the
   ``market`` topic, signals on ``guard.in``, operator commands to their owners),
3. waits until the daemon is quiet again (:class:`~daemon.replay._settle.Settler`).

Because nothing runs between steps and asyncio runs ready tasks in a fixed order, the
decisions are a pure function of the inputs and the configuration.

One shortcut keeps long replays fast without changing a decision: while the account is
flat, has no working orders and no signal or timer falls in between, consecutive market
updates are handed over together as one MarketBatch at the time of the last of them.
Nothing in the daemon reacts to a price while it holds nothing and is asked nothing, and
what it does keep (indicators, risk history, marks) sees the same prices in the same
order either way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from actors.broker import PaperBroker
from actors.kernels import HorizonBoard, remember_columns
from actors.lifecycle import HORIZON_NAME as LIFECYCLE
from actors.safety import SafetyWatch
from config.settings import Settings
from daemon import names, registry
from daemon.clock import NS_PER_S, SimClock
from daemon.errors import StartupError
from daemon.journal import Kind
from daemon.messages import (
    CancelAllOrders,
    ControlCommand,
    ExitReason,
    FlattenAll,
    MarketBatch,
    Signal,
)
from daemon.replay._decisions import DECISION_TYPES, DecisionLog
from daemon.replay._inputs import Step
from daemon.replay._settle import Settler
from daemon.replay._stretch import (
    MarketRun,
    loss_horizon,
    orders_horizon,
    spacing_horizon,
)
from daemon.safety import EngageKill, ResetKill, SafetyStore, SetMode
from daemon.sdnotify import SdNotifier

REPLAY_DB = "replay.db"
DECISIONS_FILE = "decisions.jsonl"
OFF_IN_REPLAY = ("journal", "demo_feed", "alert_bridge")
"""Actors a replay never runs: they would write a journal, play the demo or page people."""
_DAY_NS = 86_400 * NS_PER_S


class ReplayError(Exception):
    """Raised when a replay cannot run (no inputs, the daemon did not start...)."""


@dataclass
class Progress:
    """Where a running replay is (for a progress line)."""

    ts: int
    steps: int
    market_events: int
    decisions: int
    wall_s: float


@dataclass
class ReplayConfig:
    """How to run one replay."""

    settings: Settings
    out_dir: Path
    speed: float | None = None
    """Simulated seconds per real second; None: as fast as possible."""
    label: str = ""
    batch_limit: int = 4096
    """Most market updates handed over together while the account is quiet."""
    tail_s: float = 60.0
    """After the last input, timers due within this many simulated seconds still run
    (orders sent on the last bar get their fills)."""
    progress: Callable[[Progress], None] | None = None
    progress_every_s: float = 1.0
    tune_gc: bool = False
    """Freeze the start-up heap and relax the young-generation GC once ready, as
    ``tradingd run`` does (process-wide: for a process of its own, not in tests)."""


@dataclass
class ReplayResult:
    """What a replay did and where it put its outputs."""

    label: str
    out_dir: Path
    settings: Settings
    digest: str
    decisions: int
    by_kind: dict[str, int]
    steps: int = 0
    market_events: int = 0
    signals: int = 0
    commands: int = 0
    deliveries: int = 0
    timer_steps: int = 0
    wall_s: float = 0.0
    """Wall time from the first input to the last one handled (timers included)."""
    stop_s: float = 0.0
    """Wall time of the daemon's stop after that: the storage writer's final flush of
    what it still held, the journal's, the actors' on_stop. Part of the replay's cost."""
    first_ns: int = 0
    last_ns: int = 0
    settles: int = 0
    exit_code: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the replay's database."""
        return f"sqlite+aiosqlite:///{self.out_dir / REPLAY_DB}"

    @property
    def decisions_path(self) -> Path:
        """The normalised decisions, one JSON object per line."""
        return self.out_dir / DECISIONS_FILE

    @property
    def events_per_s(self) -> float:
        """Market events per second of wall time, the final stop (flush) included."""
        total = self.wall_s + self.stop_s
        return self.market_events / total if total > 0 else 0.0


def replay_settings(base: Settings, out_dir: Path, state_dir: Path | None = None) -> Settings:
    """``base`` with the replay's own places and without outside effects.

    Decision-relevant settings are kept as they are; only where things are written,
    what talks to the outside world, and periodic liveness work (a heartbeat every 5
    simulated seconds over ten years of bars is 60 million steps of nothing) change.
    docs/replay.md lists every override.
    """
    raw: dict[str, Any] = msgspec.to_builtins(base)
    d = raw["daemon"]
    state = state_dir or out_dir / "state"
    d["state_dir"] = str(state)
    d["socket_path"] = str(state / "replay.sock")
    d["heartbeat_interval_s"] = 30 * 86_400.0
    # Liveness, not decisions: simulated time jumps a day between two daily bars, which
    # is not an actor being stuck.
    d["stall_timeout_s"] = 1e9
    s = raw["storage"]
    s["url"] = f"sqlite+aiosqlite:///{out_dir / REPLAY_DB}"
    s["auto_migrate"] = True
    s["spool_dir"] = ""
    s["db_schema"] = ""
    s["sqlite_synchronous"] = "normal"
    # Simulated time runs minutes or days per step: flush by size, not every 0.25
    # simulated seconds (a transaction per bar would dominate the replay's cost), and
    # not daily either: over twenty years of daily bars that is 7,000 flush timers.
    s["batch_interval_s"] = 30 * 86_400.0
    raw["redis"]["url"] = ""
    if "reconciler" in raw:
        # The periodic comparison with the venue guards against an outside broker; the
        # paper broker of a replay is in-process and deterministic. Once a simulated
        # minute over ten years of daily bars is five million runs of nothing. The
        # start-up run still happens.
        raw["reconciler"]["interval_s"] = 0.0
    raw["safety"]["create_state_dir"] = True
    # The same atomic write (temporary file, fsync, rename, directory fsync) on the loop
    # thread: the state directory is a throwaway tmpfs one, and handing every write to a
    # worker thread cost more than the write (twenty years of daily rollovers).
    raw["safety"]["write_in_thread"] = False
    acts = raw["actors"]
    known = {d.name for d in registry.discover()}
    off = {a for a in OFF_IN_REPLAY if a in known}
    acts["enabled"] = [a for a in acts["enabled"] if a not in off]
    acts["disabled"] = sorted(set(acts["disabled"]) | off)
    return msgspec.convert(raw, Settings)


class _Peek:
    """An iterator with one step of look-ahead."""

    __slots__ = ("_it", "_next")

    def __init__(self, it: Iterator[Step]) -> None:
        self._it = it
        self._next: Step | None = next(it, None)

    def peek(self) -> Step | None:
        return self._next

    def pop(self) -> Step:
        step = self._next
        assert step is not None
        self._next = next(self._it, None)
        return step


async def run_replay(cfg: ReplayConfig, steps: Iterable[Step]) -> ReplayResult:
    """Replay ``steps`` through a fresh daemon; see the module docstring."""
    from storage import Database
    from storage.migrate import ensure_schema

    out = cfg.out_dir
    _fresh(out)
    inputs = _Peek(iter(steps))
    first = inputs.peek()
    if first is None:
        raise ReplayError("nothing to replay: the source holds no inputs")
    with _state_dir(out) as state:
        settings = replay_settings(cfg.settings, out, state)
        clock = SimClock(first.ts - NS_PER_S)
        db = Database.open(settings.storage)
        try:
            await ensure_schema(db, auto_migrate=True)
            runner = _Runner(cfg, settings, clock, db)
            return await runner.run(inputs)
        finally:
            await db.dispose()


@contextmanager
def _state_dir(out: Path) -> Iterator[Path]:
    """Where the replay's safety state and spool live: in memory (``/dev/shm``) when
    there is one, since the safety store fsyncs every change and a replay makes
    thousands of them that nobody needs after the run; else under ``out``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="tradingd-replay-", dir=shm) as tmp:
            yield Path(tmp)
    else:
        yield out / "state"


class _Runner:
    def __init__(self, cfg: ReplayConfig, settings: Settings, clock: SimClock, db: Any) -> None:
        from daemon.runtime import Daemon
        from storage import Database

        self.cfg = cfg
        self.clock = clock
        # A watchdog interval of months: status refreshes are liveness, not decisions.
        notifier = SdNotifier(None, watchdog_usec=60 * 86_400 * 1_000_000)
        self.daemon = Daemon(
            settings,
            clock=clock,
            handle_signals=False,
            serve_control=False,
            notifier=notifier,
            tune_gc=cfg.tune_gc,
        )
        self.daemon.resources[Database] = db
        bus = self.daemon.bus
        self.market = bus.topic(names.MARKET)
        self.signals = bus.channel(names.SIGNALS_IN)
        self.sub = bus.topic(names.EVENTS).subscribe(
            "replay.decisions", types=DECISION_TYPES, lossless=True
        )
        self.log = DecisionLog(cfg.out_dir / DECISIONS_FILE)
        self.result = ReplayResult(
            label=cfg.label,
            out_dir=cfg.out_dir,
            settings=settings,
            digest="",
            decisions=0,
            by_kind={},
        )
        self._done = anyio.Event()
        self._pending: MarketRun | None = None
        self._settler: Settler | None = None
        self._wall0 = 0.0
        self._next_progress = 0.0

    async def run(self, inputs: _Peek) -> ReplayResult:
        try:
            return await self._run(inputs)
        except BaseExceptionGroup as group:
            # One failure (a corrupt journal, a bad input file) is reported as itself.
            if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
                raise group.exceptions[0] from None
            raise

    async def _run(self, inputs: _Peek) -> ReplayResult:
        res = self.result
        async with anyio.create_task_group() as tg:
            try:
                with anyio.fail_after(120):
                    await tg.start(self._daemon)
            except TimeoutError:
                raise StartupError("the daemon did not become ready within 120 s") from None
            settler = self._settler = Settler()
            await self._settle()
            self._wall0 = time.perf_counter()
            first = inputs.peek()
            res.first_ns = first.ts if first is not None else 0
            try:
                await self._feed(inputs)
                await self._run_timers(self.clock.now_ns() + int(self.cfg.tail_s * NS_PER_S))
            finally:
                res.wall_s = time.perf_counter() - self._wall0
                res.settles = settler.settles
                self._drain()
                self.daemon.request_stop("replay finished")
                stopping = time.perf_counter()
                async with self.clock.autojumping():
                    await self._done.wait()
                res.stop_s = time.perf_counter() - stopping
                self.log.close()
        res.digest = self.log.digest
        res.decisions = self.log.count
        res.by_kind = dict(self.log.by_kind)
        res.exit_code = int(self.daemon.exit_code)
        return res

    async def _daemon(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await self.daemon.run(task_status=task_status)
        finally:
            self._done.set()

    # -- feeding -------------------------------------------------------------------------

    async def _feed(self, inputs: _Peek) -> None:
        res = self.result
        while True:
            run = self._pending
            if run is not None and run.left:
                await self._market(inputs)
                continue
            step = inputs.peek()
            if step is None:
                break
            if step.kind is Kind.MARKET:
                await self._market(inputs)
                continue
            inputs.pop()
            res.steps += 1
            await self._advance(step.ts)
            if step.kind is Kind.SIGNAL and isinstance(step.event, Signal):
                res.signals += 1
                await self.signals.send(step.event)
            elif step.kind is Kind.CONTROL:
                res.commands += 1
                if isinstance(step.event, ControlCommand):
                    await self._command(step.event)
                elif isinstance(step.event, (SetMode, EngageKill, ResetKill)):
                    await self.daemon.bus.service(names.SAFETY).call(step.event)
            await self._settle()
            res.last_ns = max(res.last_ns, step.ts)

    async def _market(self, inputs: _Peek) -> None:
        """Deliver the next market step, or a stretch of them as one batch."""
        run = self._pending
        if run is None or run.left == 0:
            run = self._pending = self._pull(inputs)
        a = run.pos
        if await self._quiet():
            # Timers due inside the stretch still fire at their own times, before it is
            # handed over (see _advance); while quiet, none of them looks at prices.
            await self._deliver(run, len(run.events))
            return
        b = a + 1
        if run.left > 1 and a != run.trigger and self.cfg.batch_limit > 1:
            # Timers due by the first step fire first, as they would before it alone;
            # the stretch then ends before the next one.
            await self._run_timers(run.ts[a])
            broker = self.daemon.resources.get(PaperBroker)
            due = self.clock.next_deadline
            if isinstance(broker, PaperBroker) and broker.next_timer_ns is not None:
                due = broker.next_timer_ns if due is None else min(due, broker.next_timer_ns)
            end = run.before(a, due)
            if end - a >= 2:
                h = await self._horizon(run, a, end)
                if h < end - a:
                    run.trigger = a + h
                b = a + max(h, 1)
        await self._deliver(run, b)

    def _pull(self, inputs: _Peek) -> MarketRun:
        """The next run of consecutive market steps (at least one, at most batch_limit)."""
        ts: list[int] = []
        events: list[Any] = []
        limit = max(1, self.cfg.batch_limit)
        while len(events) < limit:
            nxt = inputs.peek()
            if nxt is None or nxt.kind is not Kind.MARKET:
                break
            inputs.pop()
            ts.append(nxt.ts)
            events.append(nxt.event)
        return MarketRun(ts, events)

    async def _horizon(self, run: MarketRun, a: int, b: int) -> int:
        """How many steps from ``a`` (of ``a..b-1``) can go as one batch (module docstring
        of :mod:`daemon.replay._stretch`); 0 when it cannot be told."""
        res = self.daemon.resources
        board = res.get(HorizonBoard)
        broker = res.get(PaperBroker)
        if not isinstance(board, HorizonBoard) or LIFECYCLE not in board:
            return 0
        if not isinstance(broker, PaperBroker) or not broker.connected:
            return 0
        stretch = run.stretch(a, b)
        if stretch is None:
            return 0
        h = stretch.steps
        orders = await broker.open_orders()
        if orders:
            h = min(h, orders_horizon(stretch, {o.symbol for o in orders}))
        positions = broker.books.positions()
        if positions:
            settings = self.daemon.settings
            gap = int(settings.orchestrator.snapshot_interval_s * NS_PER_S)
            h = min(h, spacing_horizon(stretch, gap))
            store = res.get(SafetyStore)
            if settings.safety.daily_loss_kill and h > 0:
                if not isinstance(store, SafetyStore):
                    return 0
                watch = res.get(SafetyWatch)
                h = min(
                    h,
                    loss_horizon(
                        stretch,
                        positions,
                        equity=watch.equity if isinstance(watch, SafetyWatch) else None,
                        start_equity=store.state.day.start_equity,
                        limit_pct=settings.risk.daily_loss_limit_pct,
                    ),
                )
        if h > 0:
            h = min(h, board.horizon(stretch))
        return h

    async def _quiet(self) -> bool:
        broker = self.daemon.resources.get(PaperBroker)
        if not isinstance(broker, PaperBroker) or broker.books.open_positions:
            return False
        if broker.next_timer_ns is not None:
            return False
        return not (broker.connected and await broker.open_orders())

    async def _deliver(self, run: MarketRun, b: int) -> None:
        """Hand steps ``run.pos..b-1`` over (one message) and settle."""
        res = self.result
        a = run.pos
        run.pos = b
        ts = run.ts[b - 1]
        await self._advance(ts)
        if b - a == 1:
            msg = run.events[a]
        else:
            msg = MarketBatch(items=tuple(run.items(a, b)), ts=ts)
            cols = run.view(a, b)
            if cols is not None:
                remember_columns(msg, cols)
        self.market.publish_nowait(msg)
        res.steps += b - a
        res.market_events += run.count(a, b)
        res.deliveries += 1
        res.last_ns = max(res.last_ns, ts)
        await self._settle()

    async def _advance(self, ts: int) -> None:
        """Run every timer due before ``ts``, then set the clock to ``ts``."""
        if ts > self.clock.now_ns():
            await self._run_timers(ts)
            self.clock.advance_to(ts)
        speed = self.cfg.speed
        if speed is not None:
            first = self.result.first_ns
            due = self._wall0 + (ts - first) / NS_PER_S / speed
            wait = due - time.perf_counter()
            if wait > 0:
                await anyio.sleep(wait)
        self._report()

    async def _run_timers(self, until: int) -> None:
        clock = self.clock
        while (due := clock.next_deadline) is not None and due <= until:
            clock.advance_to(due)
            self.result.timer_steps += 1
            await self._settle()

    async def _command(self, cmd: ControlCommand) -> None:
        """Do what an operator's command did live, through the same owners."""
        bus = self.daemon.bus
        args = cmd.args
        # The admin socket's own wording, so the records match the live ones.
        default = (
            "cancel via the admin socket"
            if cmd.cmd == "cancel"
            else f"{cmd.cmd} via the admin socket"
        )
        reason = f"{args.get('reason') or default} (by ctl:uid={cmd.peer_uid})"
        now = self.clock.now_ns()
        if cmd.cmd in ("flatten", "close"):
            symbol = str(args.get("symbol", ""))
            await bus.channel(names.LIFECYCLE_CONTROL).send(
                FlattenAll(
                    reason=reason,
                    symbol="" if symbol.lower() == "all" else symbol,
                    exit_reason=ExitReason.OPERATOR,
                    ts=now,
                )
            )
        elif cmd.cmd == "cancel" and str(args.get("order", "")).lower() == "all":
            await bus.channel(names.ORCHESTRATOR_CONTROL).send(
                CancelAllOrders(
                    reason=reason,
                    entries_only=bool(args.get("entries_only", False)),
                    symbol=str(args.get("symbol", "")),
                    ts=now,
                )
            )

    # -- settling and recording ----------------------------------------------------------

    async def _settle(self) -> None:
        assert self._settler is not None
        await self._settler.settle()
        self._drain()

    def _drain(self) -> None:
        ch = self.sub.channel
        add = self.log.add
        try:
            while True:
                add(ch.receive_nowait())
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.EndOfStream):
            # Closed: the daemon has stopped and closed its bus (drained before that).
            pass

    def _report(self) -> None:
        cb = self.cfg.progress
        if cb is None:
            return
        now = time.perf_counter()
        if now < self._next_progress:
            return
        self._next_progress = now + self.cfg.progress_every_s
        r = self.result
        cb(
            Progress(
                self.clock.now_ns(), r.steps, r.market_events, self.log.count, now - self._wall0
            )
        )


def _fresh(out: Path) -> None:
    """An empty output directory for one replay (its own database and state)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (REPLAY_DB, f"{REPLAY_DB}-wal", f"{REPLAY_DB}-shm", DECISIONS_FILE):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "state", ignore_errors=True)
