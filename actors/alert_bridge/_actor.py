"""The alert bridge: events in, alerts out to people, without ever slowing trading.

It reads the ``events`` topic through a best-effort subscription (a full buffer sheds
and counts; the bus never waits for it), runs each event through the seven handlers
(:mod:`actors.alert_bridge._handlers`), throttles and deduplicates the resulting alerts
(:mod:`actors.alert_bridge._throttle`), publishes each alert that passes on ``events`` —
so the storage writer keeps it — and offers it to every sink whose severity threshold it
meets. Alerts that other actors publish themselves (the supervisor, the safety actor)
are throttled and routed to the sinks the same way, but not published again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from actors.alert_bridge._handlers import AlertDraft, Handler, default_handlers
from actors.alert_bridge._sinks import LogSink, RedisSink, Sink
from actors.alert_bridge._throttle import Throttle
from actors.alert_bridge._webhook import WebhookSink
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.messages import Alert
from daemon.progress import ClockTimeout, Progress, run_within
from daemon.redislink import RedisKeys


@dataclass
class BridgeStats:
    """Counters of the alert bridge."""

    events: int = 0
    """Events read from the topic."""
    raised: int = 0
    """Alerts raised by the handlers and delivered (after throttling)."""
    forwarded: int = 0
    """Alerts published by other actors and routed to the sinks."""
    suppressed: int = 0
    """Alerts held back by deduplication or the rate limit."""
    handler_errors: int = 0
    """Events a handler failed on (logged; the bridge goes on)."""


@final
class AlertBridge(Actor):
    """Turns events into alerts and routes them to the log, Redis and a webhook."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        settings = ctx.settings
        cfg = self.cfg = settings.alerts
        self.events = self.bus.topic(names.EVENTS)
        self.handlers: list[Handler] = default_handlers()
        self._by_type: dict[type[Any], list[Handler]] = {}
        for h in self.handlers:
            for t in h.types:
                self._by_type.setdefault(t, []).append(h)
        self.throttle = Throttle(
            self.clock,
            window_s=cfg.dedup_window_s,
            rate_per_minute=cfg.rate_per_minute,
            max_tracked=cfg.max_tracked,
        )
        self.sinks: list[Sink] = [LogSink(self.log, cfg.log_min_severity, cfg.sink_buffer)]
        seed = settings.broker.seed
        if settings.redis.url:
            self.sinks.append(
                RedisSink(
                    settings.redis,
                    RedisKeys.from_settings(settings),
                    clock=self.clock,
                    events=self.events,
                    reporter=f"{ctx.name}.redis",
                    min_severity=cfg.redis_min_severity,
                    capacity=cfg.sink_buffer,
                    log=self.log,
                    seed=seed + 5,
                )
            )
        if cfg.webhook.url:
            self.sinks.append(
                WebhookSink(
                    cfg.webhook,
                    account=settings.daemon.account,
                    clock=self.clock,
                    log=self.log,
                    seed=seed + 6,
                )
            )
        self.stats = BridgeStats()
        self.progress = Progress()
        self.sub: Subscription[Any] | None = None
        self._disabled = frozenset(cfg.disabled_codes)
        self._id_prefix = f"{ctx.name}:"
        self._seq = 0

    def sink(self, name: str) -> Sink:
        """The sink called ``name`` (``log``, ``redis``, ``webhook``)."""
        for s in self.sinks:
            if s.name == name:
                return s
        raise KeyError(name)

    @property
    def shed(self) -> int:
        """Events the bridge's subscription dropped because it was full."""
        return self.sub.shed if self.sub is not None else 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Handle events until cancelled."""
        types: tuple[type[Any], ...] = (Alert, *self._by_type)
        self.sub = sub = self.events.subscribe(
            self.ctx.name, types=types, lossless=False, capacity=self.cfg.buffer
        )
        try:
            async with anyio.create_task_group() as tg:
                for s in self.sinks:
                    tg.start_soon(s.run)
                task_status.started()
                while True:
                    for event in await self.next_batch(sub):
                        await self._on_event(event)
                    self.progress.notify()
        finally:
            self.events.unsubscribe(sub)

    async def on_stop(self) -> None:
        """Give the sinks ``alerts.flush_timeout_s`` to send what they hold."""
        if all(s.idle for s in self.sinks):
            return

        async def drained() -> None:
            for s in self.sinks:
                await _wait_idle(s)

        try:
            await run_within(self.clock, self.cfg.flush_timeout_s, drained)
        except ClockTimeout:
            left = {s.name: s.inbox.depth() for s in self.sinks if not s.idle}
            self.log.warning(
                "stopping with alerts not delivered", extra={"event": "alerts_unsent", **left}
            )

    async def _on_event(self, event: Any) -> None:
        self.stats.events += 1
        if isinstance(event, Alert):
            if not event.alert_id.startswith(self._id_prefix):
                await self._forward(event)
            return
        for handler in self._by_type.get(type(event), ()):
            try:
                drafts = list(handler.handle(event))
            except Exception as exc:  # a handler bug must not silence every other alert
                self.stats.handler_errors += 1
                self.log.error(
                    "alert handler failed",
                    exc_info=exc,
                    extra={"event": "alert_handler_failed", "handler": type(handler).__name__},
                )
                continue
            for draft in drafts:
                await self._raise(draft)

    async def _raise(self, draft: AlertDraft) -> None:
        if draft.code in self._disabled:
            return
        held = self.throttle.admit(draft.code, draft.subject, draft.severity)
        if held is None:
            self.stats.suppressed += 1
            return
        now = self.clock.now_ns()
        self._seq += 1
        payload = dict(draft.payload)
        text = draft.text
        if held:
            payload["suppressed"] = held
            text += f" ({held} similar suppressed)"
        alert = Alert(
            alert_id=f"{self._id_prefix}{draft.code}:{now}:{self._seq}",
            severity=draft.severity,
            code=draft.code,
            text=text,
            payload=payload,
            ts=now,
        )
        self.stats.raised += 1
        await self.events.publish(alert)
        self._route(alert)

    async def _forward(self, alert: Alert) -> None:
        if alert.code in self._disabled:
            return
        p = alert.payload
        subject = str(p.get("actor") or p.get("service") or p.get("symbol") or alert.text)
        held = self.throttle.admit(alert.code, subject, alert.severity)
        if held is None:
            self.stats.suppressed += 1
            return
        self.stats.forwarded += 1
        self._route(alert)

    def _route(self, alert: Alert) -> None:
        for s in self.sinks:
            s.offer(alert)


async def _wait_idle(sink: Sink) -> None:
    await sink.progress.wait_for(lambda: sink.idle)
