"""Every domain event out to Redis, for subscribers in any language.

Each event on the ``events`` topic is published on ``<prefix>:<account>:events:<kind>``
(``kind`` is the message name in snake case: ``fill``, ``signal_verdict``...) as a JSON
envelope with a schema version (see :mod:`daemon.redislink` and docs/redis.md), one
pipelined round trip per batch. With ``redis.events.stream_maxlen`` set, the same
envelopes are also appended to the capped stream ``<prefix>:<account>:events``.

This is best-effort fan-out and must never slow trading: the actor's subscription sheds
(and counts) events when it is full. While Redis is away the subscription is the buffer
— up to ``redis.events.buffer`` events — and publishing resumes from it on reconnect,
the batch in hand first, with its original sequence numbers. Stopping while Redis is
away drops what is buffered (counted) instead of holding the daemon's shutdown hostage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

import anyio
from anyio.abc import TaskStatus
from redis.asyncio import Redis

from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.progress import Progress
from daemon.redislink import EnvelopeWriter, RedisKeys, RedisLink, kind_of


@dataclass
class PublisherStats:
    """Counters of the event publisher."""

    published: int = 0
    """Events published on Redis."""
    batches: int = 0
    """Pipelined round trips."""
    retried_batches: int = 0
    """Batches that failed with Redis away and were sent again after reconnecting."""
    dropped_at_stop: int = 0
    """Events dropped because the daemon stopped while Redis was away."""
    excluded: int = 0
    """Events not published because their kind is in ``redis.events.exclude``."""


@final
class RedisPublisher(Actor):
    """Publishes every event on its Redis channel as a versioned JSON envelope."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        redis = ctx.settings.redis
        self.cfg = redis.events
        self.keys = RedisKeys.from_settings(ctx.settings)
        self.events = self.bus.topic(names.EVENTS)
        self.writer = EnvelopeWriter(ctx.settings.daemon.account, boot=self.clock.now_ns())
        self.link = RedisLink(
            redis,
            clock=self.clock,
            events=self.events,
            reporter=ctx.name,
            log=self.log,
            seed=ctx.settings.broker.seed + 4,
        )
        self.stats = PublisherStats()
        self.progress = Progress()
        self.sub: Subscription[Any] | None = None
        self._exclude = frozenset(self.cfg.exclude)
        self._channels: dict[type[Any], str | None] = {}
        self._carry: list[tuple[str, bytes]] = []
        self._shed_seen = 0

    @property
    def shed(self) -> int:
        """Events shed because the buffer was full (Redis slow or away)."""
        return self.sub.shed if self.sub is not None else 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Publish until cancelled; ready after the first connection attempt."""
        self.sub = sub = self.events.subscribe(
            self.ctx.name, lossless=False, capacity=self.cfg.buffer
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self.link.run, self._body)
                tg.start_soon(self._drop_when_stopping_offline, sub)
                await self.link.settled.wait()
                task_status.started()
        finally:
            self.events.unsubscribe(sub)

    def channel_for(self, cls: type[Any]) -> str | None:
        """The Redis channel of events of class ``cls`` (None when excluded)."""
        try:
            return self._channels[cls]
        except KeyError:
            kind = kind_of(cls)
            channel = None if kind in self._exclude else self.keys.event_channel(kind)
            self._channels[cls] = channel
            return channel

    async def _body(self, client: Redis) -> None:
        assert self.sub is not None
        sub = self.sub
        self.link.ready()
        if self._shed_seen != sub.shed:
            self.log.warning(
                "events were shed while Redis was slow or away",
                extra={"event": "redis_events_shed", "count": sub.shed - self._shed_seen},
            )
            self._shed_seen = sub.shed
        if self._carry:
            self.stats.retried_batches += 1
            await self._send(client, self._carry)
        while True:
            batch = await self.next_batch(sub)
            now = self.clock.now_ns()
            out: list[tuple[str, bytes]] = []
            for event in batch:
                channel = self.channel_for(type(event))
                if channel is None:
                    self.stats.excluded += 1
                    continue
                out.append((channel, self.writer.encode(event, now)))
            self._carry = out
            await self._send(client, out)

    async def _send(self, client: Redis, out: list[tuple[str, bytes]]) -> None:
        try:
            if out:
                pipe = client.pipeline(transaction=False)
                maxlen = self.cfg.stream_maxlen
                stream = self.keys.events_stream
                for channel, payload in out:
                    pipe.publish(channel, payload)
                    if maxlen:
                        pipe.xadd(stream, {"data": payload}, maxlen=maxlen, approximate=True)
                await pipe.execute()
                self.stats.published += len(out)
                self.stats.batches += 1
            self._carry = []
        finally:
            # Waiting for Redis is not being stuck: the health check must not flag it.
            self.health.idle()
            self.progress.notify()

    async def _drop_when_stopping_offline(self, sub: Subscription[Any]) -> None:
        """At shutdown, with Redis away, discard the buffer so the bus can drain."""
        await self.stop_requested.wait()
        while True:
            if self.link.healthy is False:
                dropped = len(self._carry)
                self._carry = []
                try:
                    while True:
                        sub.channel.receive_nowait()
                        dropped += 1
                except anyio.WouldBlock:
                    pass
                if dropped:
                    self.stats.dropped_at_stop += dropped
                    self.log.warning(
                        "stopping with Redis away: events not published",
                        extra={"event": "redis_events_dropped", "count": dropped},
                    )
            await self.link.progress.wait()
