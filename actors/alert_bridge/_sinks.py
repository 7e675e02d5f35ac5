"""Where alerts go: the log and Redis pub/sub here, the webhook in ``_webhook``.

Every sink has its own bounded inbox and its own task, so a slow or dead sink only ever
fills its own inbox: :meth:`Sink.offer` never waits, and what does not fit is shed and
counted. Each sink takes alerts at or above its ``min_severity`` (quiet routing: trade
notices to the log and Redis, problems to the webhook).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, final

from redis.asyncio import Redis

from config.sections.redis import RedisSettings
from daemon.bus import Channel, Topic
from daemon.clock import Clock
from daemon.messages import Alert, Severity
from daemon.progress import Progress
from daemon.redislink import EnvelopeWriter, RedisKeys, RedisLink

SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}
"""Severities in increasing order (info < warning < error < critical)."""

_LOG_LEVEL = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}


@dataclass
class SinkStats:
    """What one sink did with the alerts offered to it."""

    delivered: int = 0
    failed: int = 0
    """Given up on (retries exhausted, or refused by the receiver)."""
    shed: int = 0
    """Not taken because the sink's inbox was full."""
    retries: int = 0
    errors: int = 0
    """Attempts that failed (each retry follows one)."""


class Sink(ABC):
    """A destination for alerts with a bounded inbox drained by :meth:`run`."""

    def __init__(self, name: str, min_severity: Severity | str, capacity: int) -> None:
        self.name = name
        self.min_rank = SEVERITY_RANK[Severity(min_severity)]
        self.inbox: Channel[Alert] = Channel(f"alerts->{name}", capacity)
        self.stats = SinkStats()
        self.progress = Progress()
        self.busy = False

    def offer(self, alert: Alert) -> bool:
        """Queue ``alert`` if this sink takes its severity and has room; never waits."""
        if SEVERITY_RANK[alert.severity] < self.min_rank:
            return False
        if self.inbox.try_send(alert):
            return True
        self.stats.shed += 1
        self.progress.notify()
        return False

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being delivered."""
        return not self.busy and self.inbox.depth() == 0

    def _done(self, delivered: bool) -> None:
        if delivered:
            self.stats.delivered += 1
        else:
            self.stats.failed += 1
        self.busy = False
        self.progress.notify()

    @abstractmethod
    async def run(self) -> None:
        """Deliver queued alerts until cancelled."""


@final
class LogSink(Sink):
    """Writes each alert to the daemon's log at the level matching its severity."""

    def __init__(
        self, log: logging.LoggerAdapter[logging.Logger], min_severity: str, capacity: int
    ) -> None:
        super().__init__("log", min_severity, capacity)
        self.log = log

    async def run(self) -> None:
        """Log alerts as they come."""
        while True:
            alert = await self.inbox.receive()
            self.busy = True
            self.log.log(
                _LOG_LEVEL[alert.severity],
                f"ALERT {alert.code}: {alert.text}",
                extra={
                    "event": "alert",
                    "alert_id": alert.alert_id,
                    "severity": str(alert.severity),
                    "code": alert.code,
                    "alert_payload": alert.payload,
                },
            )
            self._done(True)


@final
class RedisSink(Sink):
    """Publishes alerts on ``<prefix>:<account>:alerts:<severity>`` as JSON envelopes.

    While Redis is away the inbox holds alerts (shedding beyond its capacity) and the
    one in hand is sent first after reconnecting.
    """

    def __init__(
        self,
        settings: RedisSettings,
        keys: RedisKeys,
        *,
        clock: Clock,
        events: Topic[Any],
        reporter: str,
        min_severity: str,
        capacity: int,
        log: logging.LoggerAdapter[logging.Logger] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__("redis", min_severity, capacity)
        self.keys = keys
        self.clock = clock
        self.writer = EnvelopeWriter(keys.account, boot=clock.now_ns())
        self.link = RedisLink(
            settings, clock=clock, events=events, reporter=reporter, log=log, seed=seed
        )
        self._channels = {s: keys.alert_channel(s) for s in Severity}
        self._carry: Alert | None = None

    async def run(self) -> None:
        """Publish alerts, reconnecting when Redis goes away."""
        await self.link.run(self._body)

    async def _body(self, client: Redis) -> None:
        self.link.ready()
        while True:
            if self._carry is None:
                self._carry = await self.inbox.receive()
            alert = self._carry
            self.busy = True
            await client.publish(
                self._channels[alert.severity], self.writer.encode(alert, self.clock.now_ns())
            )
            self._carry = None
            self._done(True)

    @property
    def idle(self) -> bool:
        """Nothing queued, in hand or being delivered."""
        return self._carry is None and super().idle
