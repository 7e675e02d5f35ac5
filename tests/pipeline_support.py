"""Helpers for the trading-pipeline tests: signals, a safety gate, actor contexts, event logs.

:class:`MemorySafety` is a real (in-memory) implementation of the
:class:`daemon.safety.SafetyGate` protocol with the semantics the protocol documents,
so the pipeline can be tested without the state file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec

from config.settings import Settings
from daemon.actor import Actor, ActorContext, ActorDefinition, Health
from daemon.bus import Bus, Subscription
from daemon.clock import NS_PER_S, Clock
from daemon.logs import actor_logger
from daemon.messages import Bar, OrderPurpose, Side, Signal, TradeType, TradingMode
from daemon.safety import SafetyGate, SafetySnapshot

T = TypeVar("T")

DATA = Path("/work/shared/data/daily")
"""Real daily bars (read in place, never copied)."""

SYMBOL_FILES = {
    "AAPL": "yahoofinance-AAPL-20040819-20180120.csv",
    "GOOG": "yahoofinance-GOOG-20040819-20180120.csv",
    "SPY": "yahoofinance-SPY-20080101-20180101.csv",
    "NVDA": "nvda-1999-2014.txt",
    "ORCL": "orcl-1995-2014.txt",
    "YHOO": "yhoo-1996-2014.txt",
}


def data_path(symbol: str) -> Path:
    """Path of the real daily-bar file for ``symbol``."""
    return DATA / SYMBOL_FILES[symbol]


def have_data() -> bool:
    """True when the shared real market data is present."""
    return all((DATA / f).is_file() for f in SYMBOL_FILES.values())


def read_bars(
    symbol: str, last: int | None = None
) -> list[tuple[str, float, float, float, float, float]]:
    """(date, open, high, low, close, volume) rows of the real file, oldest first."""
    with open(data_path(symbol), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = [
        (
            r["Date"],
            float(r["Open"]),
            float(r["High"]),
            float(r["Low"]),
            float(r["Close"]),
            float(r["Volume"]),
        )
        for r in rows
    ]
    return out[-last:] if last else out


@dataclass
class MemorySafety:
    """In-memory :class:`SafetyGate`: entries need RUNNING and no kill; exits always go."""

    killed: bool = False
    kill_reason: str = ""
    mode: TradingMode = TradingMode.RUNNING
    extra: dict[str, Any] = field(default_factory=dict)
    checks: int = 0

    def may_submit(self, purpose: OrderPurpose) -> str | None:
        """Refuse entries while killed, paused or stopped; allow everything else."""
        self.checks += 1
        if not purpose.opens_risk:
            return None
        if self.killed:
            return f"kill switch engaged: {self.kill_reason}"
        if self.mode is not TradingMode.RUNNING:
            return f"trading mode is {self.mode}"
        return None

    def snapshot(self) -> SafetySnapshot:
        """The current state."""
        return SafetySnapshot(
            killed=self.killed, kill_reason=self.kill_reason, mode=self.mode, **self.extra
        )


def _is_gate(x: SafetyGate) -> SafetyGate:
    return x


_is_gate(MemorySafety())  # mypy/protocol check: MemorySafety implements SafetyGate


def signal(clock: Clock, sid: str = "s1", **kw: Any) -> Signal:
    """A valid swing buy of AAPL from source ``alpha`` created now."""
    base: dict[str, Any] = {
        "signal_id": sid,
        "source": "alpha",
        "symbol": "AAPL",
        "side": Side.BUY,
        "trade_type": TradeType.SWING,
        "conviction": 70,
        "entry_price": 100.0,
        "stop_price": 95.0,
        "target_price": 110.0,
        "created_ns": clock.now_ns(),
    }
    base.update(kw)
    return Signal(**base)


def context(
    name: str,
    settings: Settings,
    clock: Clock,
    bus: Bus,
    resources: dict[type[Any], Any] | None = None,
) -> ActorContext:
    """An actor context like the supervisor builds."""
    return ActorContext(
        name=name,
        settings=settings,
        clock=clock,
        bus=bus,
        log=actor_logger(name),
        health=Health(clock),
        resources=resources if resources is not None else {},
    )


async def start_actors(
    tg: anyio.abc.TaskGroup,
    definitions: Sequence[ActorDefinition],
    settings: Settings,
    clock: Clock,
    bus: Bus,
    resources: dict[type[Any], Any],
) -> dict[str, Actor]:
    """Build and start each actor in order, each ready before the next."""
    actors: dict[str, Actor] = {}
    for d in definitions:
        actor = d.factory(context(d.name, settings, clock, bus, resources))
        await tg.start(actor.run)
        actors[d.name] = actor
    return actors


class EventLog:
    """Collects everything published on a topic; waits for events without sleeping."""

    def __init__(self, sub: Subscription[Any]) -> None:
        self.sub = sub
        self.items: list[Any] = []
        self._changed = anyio.Event()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Collect until cancelled."""
        task_status.started()
        while True:
            self.items.extend(await self.sub.receive_batch())
            self._changed.set()
            self._changed = anyio.Event()

    def of(self, kind: type[T]) -> list[T]:
        """Every collected event of ``kind``."""
        return [x for x in self.items if isinstance(x, kind)]

    async def wait_for(self, pred: Callable[[list[Any]], bool]) -> None:
        """Wait until ``pred(items)`` holds (wrap in ``fail_after`` in tests)."""
        while not pred(self.items):
            await self._changed.wait()

    async def wait_kind(
        self, kind: type[T], n: int = 1, where: Callable[[T], bool] | None = None
    ) -> list[T]:
        """Wait for at least ``n`` events of ``kind`` (matching ``where``) and return them."""

        def found() -> list[T]:
            return [x for x in self.of(kind) if where is None or where(x)]

        await self.wait_for(lambda _: len(found()) >= n)
        return found()


def with_settings(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with some keys of some sections replaced (validated like a file)."""
    raw = msgspec.to_builtins(settings)
    for name, values in sections.items():
        node = raw.setdefault(name, {})
        _merge(node, values)
    return msgspec.convert(raw, Settings)


def _merge(node: dict[str, Any], values: dict[str, Any]) -> None:
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(node.get(k), dict):
            _merge(node[k], v)
        else:
            node[k] = v


def daily_bar(symbol: str, day_index: int, close: float, volume: float = 5_000_000.0) -> Bar:
    """A daily bar ending on day ``day_index`` since the epoch (UTC)."""
    return Bar(
        symbol=symbol,
        open=close,
        high=close * 1.01,
        low=close * 0.99,
        close=close,
        volume=volume,
        interval_s=86_400,
        ts=day_index * 86_400 * NS_PER_S,
    )
