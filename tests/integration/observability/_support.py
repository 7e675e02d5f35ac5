"""A real daemon for the observability tests: real actors, a simulated clock, metrics on.

Time is a :class:`SimClock`. Trading runs under autojump; scrapes and readiness checks
run with the clock standing still (autojump would otherwise move trading time whenever
the loop waits on the HTTP socket), so what a scrape sees is exactly what happened.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import msgspec
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import MetricsActor
from config import Settings, settings_from_mapping
from daemon import names, registry
from daemon.actor import ActorDefinition
from daemon.clock import SimClock
from daemon.exitcodes import ExitCode
from daemon.messages import Side, Signal, Tick
from daemon.runtime import Daemon
from tests.pipeline_support import EventLog, data_path, read_bars

SYMBOLS = ("AAPL", "GOOG", "SPY")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
"""Scraped samples: (sample name, labels) -> value."""


def obs_settings(base: Path, **sections: dict[str, Any]) -> Settings:
    """State, socket and SQLite under ``base``; 40-share entries; metrics on an ephemeral port."""
    raw: dict[str, Any] = {
        "daemon": {
            "state_dir": str(base / "state"),
            "socket_path": str(base / "ctl.sock"),
            "stop_timeout_s": 5.0,
        },
        "safety": {"create_state_dir": True},
        "storage": {"url": f"sqlite+aiosqlite:///{base / 'tradingd.db'}", "auto_migrate": True},
        "guard": {"sources": ["alpha", "beta"], "cooldown_s": 0.0},
        "sizing": {"method": "fixed_shares", "fixed_shares": 40.0},
        "risk": {"history_files": {s: str(data_path(s)) for s in SYMBOLS}},
        "orchestrator": {"initial_regime": "bull"},
        "metrics": {"enabled": True, "listen": "127.0.0.1:0"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return settings_from_mapping(raw)


def short_dir() -> Path:
    """A fresh directory with a short path (Unix socket paths are limited to 107 bytes)."""
    return Path(tempfile.mkdtemp(prefix="tdobs-", dir="/tmp"))


def last_close(symbol: str) -> float:
    """The last close of the real daily file (the price the tests trade at)."""
    return read_bars(symbol, 1)[0][4]


@dataclass
class Running:
    """Handles on a running daemon."""

    daemon: Daemon
    clock: SimClock
    events: EventLog

    @property
    def metrics(self) -> MetricsActor:
        """The metrics actor."""
        sup = self.daemon.supervisor
        assert sup is not None
        actor = sup.records["metrics"].actor
        assert isinstance(actor, MetricsActor)
        return actor

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the metrics endpoints."""
        http = self.metrics.http
        assert http is not None
        return f"http://{http.address}"

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET ``path`` from the metrics endpoints."""
        async with httpx.AsyncClient() as client:
            return await client.get(self.base_url + path, **kw)

    async def scrape(self) -> Samples:
        """Scrape ``/metrics`` and parse it with prometheus_client's own parser."""
        resp = await self.get("/metrics")
        assert resp.status_code == 200, resp.text
        return parse(resp.text)

    async def tick(self, symbol: str, price: float) -> None:
        """Publish a trade print at the current simulated time."""
        await self.daemon.bus.topic(names.MARKET).publish(
            Tick(symbol=symbol, price=price, size=1_000_000.0, ts=self.clock.now_ns())
        )

    async def signal(self, sid: str, symbol: str, **kw: Any) -> None:
        """Send a buy signal (5% stop, 10% target at the last close) to the guard."""
        px = last_close(symbol)
        base: dict[str, Any] = {
            "signal_id": sid,
            "source": "alpha",
            "symbol": symbol,
            "side": Side.BUY,
            "conviction": 70,
            "entry_price": px,
            "stop_price": round(px * 0.95, 2),
            "target_price": round(px * 1.10, 2),
            "created_ns": self.clock.now_ns(),
        }
        base.update(kw)
        await self.daemon.bus.channel(names.SIGNALS_IN).send(msgspec.convert(base, Signal))


def parse(text: str) -> Samples:
    """Samples of an exposition, keyed by sample name and label set."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as Prometheus treats a missing counter)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def discovered(settings: Settings) -> list[ActorDefinition]:
    """Every shipped actor that ``settings`` enables, in start order (as ``tradingd run``)."""
    return registry.select(registry.discover(), settings)


@asynccontextmanager
async def running_daemon(
    settings: Settings,
    definitions: list[ActorDefinition] | None = None,
    *,
    serve_control: bool = False,
) -> AsyncIterator[Running]:
    """Run a daemon until the block ends; then stop it and check it stopped cleanly."""
    clock = SimClock()
    daemon = Daemon(
        settings,
        clock=clock,
        definitions=definitions if definitions is not None else discovered(settings),
        handle_signals=False,
        serve_control=serve_control,
    )
    log = EventLog(daemon.events.subscribe("test"))
    code: list[ExitCode] = []
    done = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def main() -> None:
            code.append(await daemon.run())
            done.set()

        tg.start_soon(main)
        # The test's own log stops before the daemon closes the bus at exit.
        async with anyio.create_task_group() as log_tg:
            await log_tg.start(log.run)
            async with clock.autojumping():
                with anyio.fail_after(30):
                    await daemon.ready.wait()
            try:
                yield Running(daemon, clock, log)
            finally:
                log_tg.cancel_scope.cancel()
        async with clock.autojumping():
            daemon.request_stop("test over")
            with anyio.fail_after(30):
                await done.wait()
    assert code == [ExitCode.OK]
