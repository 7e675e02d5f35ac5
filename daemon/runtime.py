"""The daemon runtime: builds the bus and shared resources, supervises the actors,
handles OS signals, and stops gracefully.

Start-up sequence (each step must succeed before the next):

1. configuration validated (by the caller),
2. shared resources prepared (:meth:`Daemon.prepare`),
3. actors discovered and started in dependency order, each ready before the next,
4. ``ready`` is set (later: READY=1 to systemd).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from config.settings import Settings
from daemon import names, registry
from daemon.actor import ActorDefinition
from daemon.bus import Bus
from daemon.clock import Clock, LiveClock
from daemon.exitcodes import ExitCode
from daemon.messages import Heartbeat
from daemon.supervisor import Supervisor

_log = logging.getLogger("tradingd.daemon")

ReloadLoader = Callable[[], Settings]
"""Re-reads the configuration for SIGHUP; raises ConfigError when it is invalid."""


class Daemon:
    """One tradingd process: bus, resources, supervisor, signals, graceful stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        definitions: Sequence[ActorDefinition] | None = None,
        reload_loader: ReloadLoader | None = None,
        handle_signals: bool = True,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or LiveClock()
        self.bus = Bus(default_capacity=settings.daemon.channel_capacity)
        self.events = self.bus.topic(names.EVENTS)
        self.resources: dict[type[Any], Any] = {}
        self._definitions = definitions
        self._reload_loader = reload_loader
        self._handle_signals = handle_signals
        self.supervisor: Supervisor | None = None
        self.ready = anyio.Event()
        self.started_monotonic = time.monotonic()
        self.exit_code = ExitCode.OK
        self.escalation_hooks: list[Callable[[str, str], Awaitable[None]]] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create the shared resources actors need before any actor starts."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> ExitCode:
        """Run until asked to stop; returns the process exit code."""
        await self.prepare()
        defs = self._definitions
        if defs is None:
            defs = registry.select(registry.discover(), self.settings)
        sup = self.supervisor = Supervisor(
            defs,
            settings=self.settings,
            clock=self.clock,
            bus=self.bus,
            resources=self.resources,
            on_escalate=self._escalate,
            seed=self.settings.broker.seed,
        )
        async with anyio.create_task_group() as tg:
            if self._handle_signals:
                await tg.start(self._signals)
            await tg.start(sup.run)
            tg.start_soon(self._heartbeat)
            self.ready.set()
            _log.info(
                "daemon ready",
                extra={"event": "daemon_ready", "actors": [d.name for d in defs]},
            )
            task_status.started()
            await sup.shutdown_requested.wait()
            _log.info(
                "daemon stopping",
                extra={"event": "daemon_stopping", "reason": sup.shutdown_reason},
            )
            drained = await sup.stop(self.settings.daemon.stop_timeout_s)
            if sup.escalated is not None:
                self.exit_code = ExitCode.ESCALATED
            elif not drained:
                _log.warning(
                    "in-flight work did not drain in time; cancelling",
                    extra={"event": "stop_timeout"},
                )
                self.exit_code = ExitCode.STOP_TIMEOUT
            tg.cancel_scope.cancel()
        self.bus.close()
        _log.info("daemon stopped", extra={"event": "daemon_stopped", "code": int(self.exit_code)})
        return self.exit_code

    def request_stop(self, reason: str) -> None:
        """Begin a graceful stop (as SIGTERM does)."""
        if self.supervisor is not None:
            self.supervisor.request_shutdown(reason)

    async def reload(self) -> bool:
        """Re-read the configuration and hand it to every actor; False if it was invalid."""
        if self._reload_loader is None:
            _log.warning("reload requested but no configuration file to re-read")
            return False
        try:
            new = self._reload_loader()
        except Exception as exc:  # ConfigError and OS errors alike: keep running on the old
            _log.error(
                "configuration reload rejected; keeping the running configuration",
                extra={"event": "reload_rejected", "error": str(exc)},
            )
            return False
        self.settings = new
        if self.supervisor is not None:
            self.supervisor.settings = new
            for rec in self.supervisor.records.values():
                if rec.actor is not None:
                    await rec.actor.on_reload(new)
        _log.info("configuration reloaded", extra={"event": "reloaded"})
        return True

    # -- internals ---------------------------------------------------------------------

    async def _escalate(self, actor: str, reason: str) -> None:
        for hook in self.escalation_hooks:
            await hook(actor, reason)

    async def _signals(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
            task_status.started()
            async for signum in sigs:
                if signum == signal.SIGHUP:
                    _log.info("SIGHUP: reloading configuration", extra={"event": "sighup"})
                    await self.reload()
                else:
                    name = signal.Signals(signum).name
                    _log.info(f"{name}: stopping", extra={"event": "signal", "signal": name})
                    self.request_stop(name)

    async def _heartbeat(self) -> None:
        interval = self.settings.daemon.heartbeat_interval_s
        while True:
            await self.clock.sleep(interval)
            self.events.publish_nowait(
                Heartbeat(
                    uptime_s=round(time.monotonic() - self.started_monotonic, 3),
                    mode="running",
                    killed=False,
                    ts=self.clock.now_ns(),
                )
            )
