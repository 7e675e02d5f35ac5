"""The metrics actor: domain events in, Prometheus exposition and health endpoints out.

Events
    A **best-effort** subscription to ``events`` with a large buffer (``metrics.buffer``):
    publishers never wait for the metrics actor, so a slow or stuck metrics actor can
    never slow trading (DESIGN.md: only best-effort fan-out may shed, and it counts what
    it shed). The alternative, a lossless subscription, would make every publisher —
    the orchestrator included — wait whenever the metrics actor fell a buffer behind.
    With 65,536 slots and a per-event cost of about a microsecond, shedding takes a
    metrics actor starved for a long time; if it happens, ``tradingd_metrics_events_shed_total``
    says by how much the counters undercount (and ``tradingd_channel_shed_total`` too).

    The actor takes events at most every ``metrics.flush_interval_s``, so a burst is
    counted in one pass instead of waking the actor between every two pipeline steps
    (each wake-up is an event-loop task switch on the trading path's loop). Every scrape
    first takes whatever is buffered, so what is served is always current.

State
    Read at scrape time by custom collectors (:mod:`actors.metrics._collectors`): the bus,
    the supervisor's actor records, the safety gate, the storage writer, Redis links.

Serving
    ``metrics.listen`` serves ``/metrics``, ``/healthz`` and ``/readyz`` from this
    actor's task group on the event loop; the ``metrics`` admin-socket command returns the
    same exposition.
"""

from __future__ import annotations

import contextlib
from typing import Any, final

import anyio
import msgspec
from anyio import WouldBlock
from anyio.abc import TaskStatus
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import CollectorRegistry

from actors.metrics._collectors import (
    EventCollector,
    JournalCollector,
    RedisCollector,
    RuntimeCollector,
    StorageCollector,
)
from actors.metrics._recorder import EventRecorder
from actors.metrics._redis_probe import StreamProbe
from config.sections.metrics import parse_listen
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.control import ControlRegistry
from daemon.metrics import (
    HealthProbe,
    HttpServer,
    Request,
    Response,
    bind_metrics_command,
    exposition,
    unbind_metrics_command,
)
from daemon.progress import ClockTimeout, Progress, run_within
from daemon.safety import SafetyGate, SafetySnapshot

_TEXT = "text/plain; charset=utf-8"
CHUNK = 32
"""Events recorded between two yields to the event loop while the backlog is small
(tens of microseconds of work)."""


def _slice(backlog: int) -> int:
    """How many events to take in one turn of the event loop.

    ``CHUNK`` while the backlog is small, so a signal in flight waits for at most one
    small slice; a quarter of the backlog when it is large, so that when the loop is
    flooded — each turn long, the producers adding many events per turn — the actor
    still takes its fair share and catches up instead of falling behind and shedding.
    """
    return max(CHUNK, backlog // 4)


@final
class MetricsActor(Actor):
    """Counts what happens, reads what is, and serves both; see the module docstring."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        self.cfg = cfg = settings.metrics
        self.events = self.bus.topic(names.EVENTS)
        self.recorder = EventRecorder(cfg, settings.guard.sources)
        self.probe = ctx.maybe_resource(HealthProbe)
        self.sub: Subscription[Any] | None = None
        self.progress = Progress()
        """Notified after every batch of events is recorded (tests wait on it)."""
        self.stream_probe: StreamProbe | None = None
        redis = settings.redis
        if redis.url and redis.signals.stream_enabled and cfg.redis_probe_interval_s > 0:
            self.stream_probe = StreamProbe(
                settings,
                clock=self.clock,
                events=self.events,
                interval_s=cfg.redis_probe_interval_s,
                log=self.log,
                seed=settings.broker.seed + 11,
            )
        self.registry = CollectorRegistry()
        self.registry.register(EventCollector(self.recorder, lambda: self.sub))
        self.registry.register(
            RuntimeCollector(
                bus=self.bus,
                clock=self.clock,
                settings=lambda: self.ctx.settings,
                probe=self.probe,
                safety=self._safety,
                recorder=self.recorder,
            )
        )
        self.registry.register(StorageCollector(self.probe))
        self.registry.register(JournalCollector(self.probe))
        self.registry.register(RedisCollector(self.probe, lambda: self.stream_probe))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http: HttpServer | None = None
        if cfg.listen:
            host, port = parse_listen(cfg.listen)
            self.http = HttpServer(
                host,
                port,
                {"/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz},
                max_connections=cfg.max_connections,
                timeout_s=cfg.request_timeout_s,
            )

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Subscribe, serve, and record events until cancelled."""
        # Every event, unfiltered: a type filter costs the *publisher* an isinstance test
        # against each listed type on every publish, more than handing the event over
        # and letting the recorder skip the few kinds it does not count.
        self.sub = sub = self.events.subscribe(
            self.ctx.name, lossless=False, capacity=self.cfg.buffer
        )
        control = self.ctx.maybe_resource(ControlRegistry)
        try:
            async with anyio.create_task_group() as tg:
                if self.http is not None:
                    await self._listen(tg)
                if self.stream_probe is not None:
                    tg.start_soon(self.stream_probe.run)
                if control is not None:
                    bind_metrics_command(control, self.render)
                task_status.started()
                await self._consume(sub)
        finally:
            if control is not None:
                unbind_metrics_command(control)
            self.events.unsubscribe(sub)

    async def on_reload(self, settings: Settings) -> None:
        """Take the new source list; the address and buffers take effect at the next start."""
        await super().on_reload(settings)
        self.recorder.known_sources = frozenset(settings.guard.sources)
        if settings.metrics.listen != self.cfg.listen or settings.metrics.buffer != self.cfg.buffer:
            self.log.warning(
                "metrics.listen and metrics.buffer take effect at the next start",
                extra={"event": "metrics_reload_partial"},
            )

    # -- events ------------------------------------------------------------------------

    async def _consume(self, sub: Subscription[Any]) -> None:
        channel = sub.channel
        while True:
            batch = await self.next_batch(sub, _slice(channel.depth()))
            self._record(batch)
            self.health.idle()
            if channel.depth() >= CHUNK:
                # More is waiting: let whatever else is ready run first, so that a
                # backlog is taken in slices between the pipeline's steps.
                await anyio.lowlevel.checkpoint()
                continue
            await self._linger()

    async def _linger(self) -> None:
        """Let events gather for ``flush_interval_s`` (cut short when stopping)."""
        interval = self.cfg.flush_interval_s
        if interval <= 0 or self.stop_requested.is_set():
            return
        with contextlib.suppress(ClockTimeout):
            await run_within(self.clock, interval, self.stop_requested.wait)

    def _record(self, batch: list[Any]) -> None:
        failed = self.recorder.record_all(batch)
        if failed:
            self.log.error(
                "events could not be recorded as metrics",
                extra={"event": "metrics_record_failed", "count": failed},
            )
        self.progress.notify()

    def flush(self, limit: int | None = None) -> int:
        """Record events already buffered (all, or at most ``limit``) without waiting."""
        sub = self.sub
        if sub is None:
            return 0
        ch = sub.channel
        batch: list[Any] = []
        try:
            while limit is None or len(batch) < limit:
                batch.append(ch.receive_nowait())
        except (WouldBlock, anyio.ClosedResourceError, anyio.EndOfStream):
            pass
        if batch:
            self._record(batch)
        return len(batch)

    async def catch_up(self) -> None:
        """Record what is buffered now, ``CHUNK`` events at a time with yields between."""
        sub = self.sub
        if sub is None:
            return
        left = sub.channel.depth()
        step = _slice(left)
        while left > 0:
            taken = self.flush(min(left, step))
            if not taken:
                return
            left -= taken
            await anyio.lowlevel.checkpoint()

    # -- serving -----------------------------------------------------------------------

    async def render(self, accept: str = "") -> bytes:
        """The current exposition (events buffered so far included), text format."""
        await self.catch_up()
        body, _ = exposition(self.registry, accept)
        return body

    async def _listen(self, tg: anyio.abc.TaskGroup) -> None:
        http = self.http
        assert http is not None
        try:
            await tg.start(http.serve)
        except OSError as exc:
            self.log.error(
                f"cannot serve metrics on {self.cfg.listen}: {exc.strerror or exc}",
                extra={"event": "metrics_bind_failed", "listen": self.cfg.listen},
            )
            raise
        self.log.info(
            f"metrics and health endpoints on http://{http.address}/",
            extra={"event": "metrics_listening", "address": http.address},
        )

    async def _metrics(self, request: Request) -> Response:
        await self.catch_up()
        body, content_type = exposition(self.registry, request.headers.get("accept", ""))
        return Response(200, body, content_type)

    async def _healthz(self, request: Request) -> Response:
        up = self.probe.uptime_s() if self.probe is not None else 0.0
        return Response(200, f"ok\nuptime_s {up:.3f}\n".encode(), _TEXT)

    async def _readyz(self, request: Request) -> Response:
        if self.probe is None:
            return Response(503, b"not ready\nno health probe in this process\n", _TEXT)
        readiness = self.probe.readiness()
        status = 200 if readiness.ready else 503
        if request.query.get("format") == ["json"]:
            return Response(status, msgspec.json.encode(readiness.as_dict()), "application/json")
        return Response(status, readiness.text().encode(), _TEXT)

    def _safety(self) -> SafetySnapshot | None:
        if self.probe is not None:
            return self.probe.safety()
        gate = self.ctx.maybe_resource(SafetyGate)  # type: ignore[type-abstract]
        return gate.snapshot() if gate is not None else None
