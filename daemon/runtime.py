"""The daemon runtime: builds the bus and shared resources, supervises the actors,
handles OS signals, and stops gracefully.

Start-up sequence (each step must succeed before the next):

1. configuration validated (by the caller),
2. shared resources prepared (:meth:`Daemon.prepare`),
3. actors discovered and started in dependency order, each ready before the next,
4. every ready gate passes (``Daemon.ready_gates``: reconciliation, kernel warm-up),
5. ``ready`` is set and systemd is told READY=1; the watchdog pings begin.

The admin socket is bound before step 2, so a second daemon on the same socket stops
before touching anything (see docs/control.md).
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
from daemon.control import (
    ControlRegistry,
    ControlServer,
    ControlSocketError,
    install_commands,
    open_control,
    summary_line,
)
from daemon.errors import StartupError
from daemon.exitcodes import ExitCode
from daemon.gctune import tune_after_startup
from daemon.logs import hide_secrets
from daemon.messages import Heartbeat
from daemon.metrics import HealthProbe, declare_metrics_command
from daemon.redaction import configured_secrets
from daemon.safety import SafetyGate, SafetyStore
from daemon.sdnotify import SdNotifier, run_watchdog
from daemon.supervisor import Supervisor
from storage import Database, StorageError
from storage.migrate import open_checked

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
        serve_control: bool = False,
        notifier: SdNotifier | None = None,
        tune_gc: bool = False,
    ) -> None:
        self.settings = settings
        hide_secrets(configured_secrets(settings))
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
        self.ready_gates: list[Callable[[], Awaitable[None]]] = []
        """Awaited in order after every core actor is ready and before READY=1 (hook for
        start-up reconciliation and kernel warm-up)."""
        self.notifier = notifier or SdNotifier(None)
        self.reload_error = ""
        self.resources[ControlRegistry] = ControlRegistry()
        self.resources[HealthProbe] = HealthProbe(self)
        declare_metrics_command(self.resources[ControlRegistry])
        self._serve_control = serve_control
        self._tune_gc = tune_gc
        """Freeze the start-up heap and raise gen-0's threshold once ready: process-wide,
        so only the real daemon process turns it on (in-process tests and replays do not,
        or every daemon a test session starts would pin its heap)."""
        self.control_server: ControlServer | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create the shared resources actors need before any actor starts."""
        # The safety state comes first: a damaged state file must have engaged the kill
        # switch before any actor can submit an order (docs/kill-switch.md).
        safety = await SafetyStore.open(self.settings, clock=self.clock, bus=self.bus)
        self.resources[SafetyStore] = safety
        self.resources[SafetyGate] = safety
        self.escalation_hooks.append(safety.on_escalation)
        self.ready_gates.append(safety.announce)
        defs = self._definitions
        if defs is None or any(d.name == "storage_writer" for d in defs):
            # The schema must match this build before anything is recorded; the storage
            # writer shares this engine (docs/storage.md).
            try:
                self.resources[Database] = await open_checked(self.settings.storage)
            except StorageError as exc:
                raise StartupError(str(exc)) from exc

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> ExitCode:
        """Run until asked to stop; returns the process exit code."""
        if self._serve_control:
            try:
                self.control_server = open_control(self)
            except ControlSocketError as exc:
                _log.critical(str(exc), extra={"event": "control_socket_failed"})
                return ExitCode.STARTUP_FAILED
        try:
            await self.prepare()
        except BaseException:
            if self.control_server is not None:
                self.control_server.close()  # no stale socket left behind
            raise
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
        install_commands(self)
        async with anyio.create_task_group() as tg:
            if self._handle_signals:
                await tg.start(self._signals)
            if self.control_server is not None:
                await tg.start(self.control_server.serve)
            await tg.start(sup.run)
            tg.start_soon(self._heartbeat)
            for gate in self.ready_gates:
                await gate()
            # Start-up's long-lived heap is frozen out of the collector and gen-0 passes
            # made rarer: the hot path's garbage is short-lived (daemon/gctune.py).
            if self._tune_gc:
                tune_after_startup()
            self.ready.set()
            self.notifier.ready(summary_line(self))
            tg.start_soon(run_watchdog, self.notifier, sup.core_healthy, self._summary, self.clock)
            _log.info(
                "daemon ready",
                extra={"event": "daemon_ready", "actors": [d.name for d in defs]},
            )
            task_status.started()
            await sup.shutdown_requested.wait()
            self.notifier.stopping(f"stopping: {sup.shutdown_reason}")
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
        if (safety := self.resources.get(SafetyStore)) is not None:
            safety.close()
        if (db := self.resources.get(Database)) is not None:
            await db.dispose()
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
            self.reload_error = "the daemon was started without a configuration file"
            return False
        self.notifier.reloading()
        try:
            new = self._reload_loader()
        except Exception as exc:  # ConfigError and OS errors alike: keep running on the old
            _log.error(
                "configuration reload rejected; keeping the running configuration",
                extra={"event": "reload_rejected", "error": str(exc)},
            )
            self.reload_error = str(exc)
            self.notifier.ready(summary_line(self))
            return False
        self.reload_error = ""
        self.settings = new
        hide_secrets(configured_secrets(new))
        if self.supervisor is not None:
            self.supervisor.settings = new
            for rec in self.supervisor.records.values():
                if rec.actor is not None:
                    await rec.actor.on_reload(new)
        _log.info("configuration reloaded", extra={"event": "reloaded"})
        self.notifier.ready(summary_line(self))
        return True

    # -- internals ---------------------------------------------------------------------

    def _summary(self) -> str:
        return summary_line(self)

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
            gate: SafetyGate | None = self.resources.get(SafetyGate)
            safe = gate.snapshot() if gate is not None else None
            self.events.publish_nowait(
                Heartbeat(
                    uptime_s=round(time.monotonic() - self.started_monotonic, 3),
                    mode=str(safe.mode) if safe is not None else "running",
                    killed=safe.killed if safe is not None else False,
                    ts=self.clock.now_ns(),
                )
            )
