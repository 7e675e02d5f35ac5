"""Reads the signal stream's backlog from Redis now and then: length, lag, pending entries.

These are server-side facts (how far the consumer group is behind, how many entries it
holds unacknowledged), so they are asked of Redis with ``XINFO GROUPS`` and ``XLEN`` on
the daemon's clock, every ``metrics.redis_probe_interval_s``, through a
:class:`~daemon.redislink.RedisLink` (reconnects with backoff, outages reported as
``ServiceStatus`` like every other Redis user). A scrape reads the last answer; it never
waits on Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, final

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from config.settings import Settings
from daemon.bus import Topic
from daemon.clock import Clock
from daemon.progress import Progress
from daemon.redislink import RedisKeys, RedisLink, describe


@final
@dataclass(frozen=True, slots=True)
class StreamFigures:
    """One reading of the signal stream and its consumer group."""

    stream: str
    group: str
    length: int
    """Entries in the stream (XLEN)."""
    lag: int | None
    """Entries the group has not been delivered yet (None when Redis cannot say)."""
    pending: int
    """Entries delivered to the group and not yet acknowledged."""
    consumers: int
    ts: int
    """When it was read (daemon clock, ns)."""


@final
class StreamProbe:
    """Keeps :attr:`last` current with the signal stream's figures."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        events: Topic[Any],
        interval_s: float,
        log: logging.LoggerAdapter[logging.Logger],
        seed: int = 0,
    ) -> None:
        self.keys = RedisKeys.from_settings(settings)
        self.clock = clock
        self.interval_s = interval_s
        self.log = log
        self.link = RedisLink(
            settings.redis, clock=clock, events=events, reporter="metrics.probe", log=log, seed=seed
        )
        self.last: StreamFigures | None = None
        """The latest reading (None before the first one)."""
        self.ok = False
        """True when the latest attempt succeeded."""
        self.readings = 0
        self.progress = Progress()
        """Notified after every reading (tests wait on it)."""
        self.last_error = ""
        """Why the probe last failed for a reason other than Redis being away."""

    async def run(self) -> None:
        """Probe until cancelled, reconnecting whenever Redis goes away.

        A failure Redis will not get over by itself (refused credentials, an unknown
        command) is logged and retried at the probe interval, never raised: the stream
        figures are one metric among many, and the endpoints must outlive them.
        """
        while True:
            try:
                await self.link.run(self._body)
                return
            except Exception as exc:
                self.ok = False
                error = describe(exc)
                if error != self.last_error:
                    self.log.warning(
                        "cannot read the signal stream's figures from Redis",
                        extra={"event": "metrics_probe_failed", "error": error},
                    )
                self.last_error = error
            await self.clock.sleep(max(1.0, self.interval_s))

    async def _body(self, client: Redis) -> None:
        self.link.ready()
        try:
            while True:
                await self.read(client)
                await self.clock.sleep(self.interval_s)
        finally:
            self.ok = False

    async def read(self, client: Redis) -> StreamFigures:
        """Read the figures once and remember them."""
        stream, group = self.keys.signal_stream, self.keys.group
        length = int(await client.xlen(stream))
        lag: int | None = None
        pending = consumers = 0
        try:
            groups: list[dict[Any, Any]] = await client.xinfo_groups(stream)
        except ResponseError:
            groups = []  # no such stream yet: nothing read, nothing pending
        for g in groups:
            if _text(g.get("name", g.get(b"name"))) == group:
                pending = int(g.get("pending", g.get(b"pending")) or 0)
                consumers = int(g.get("consumers", g.get(b"consumers")) or 0)
                raw_lag = g.get("lag", g.get(b"lag"))
                lag = int(raw_lag) if raw_lag is not None else None
        if lag is None and length == 0:
            lag = 0  # an empty (or absent) stream: nothing can be behind
        figures = StreamFigures(
            stream=stream,
            group=group,
            length=length,
            lag=lag,
            pending=pending,
            consumers=consumers,
            ts=self.clock.now_ns(),
        )
        self.last = figures
        self.ok = True
        self.readings += 1
        self.progress.notify()
        return figures


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
