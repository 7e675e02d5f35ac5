"""Every domain event out to Redis, for subscribers in any language.

Each event on the ``events`` topic is published on ``<prefix>:<account>:events:<kind>``
(``kind`` is the message name in snake case: ``fill``, ``signal_verdict``...) as a JSON
envelope with a schema version (see :mod:`daemon.redislink` and docs/redis.md): one
write per batch, pipelined across batches on one connection, so order is kept. With
``redis.events.stream_maxlen`` set, the same envelopes are also appended to the capped
stream ``<prefix>:<account>:events``.

This is best-effort fan-out and must never slow trading: the actor's subscription sheds
(and counts) events when it is full. While Redis is away the subscription is the buffer
— up to ``redis.events.buffer`` events — and publishing resumes from it on reconnect:
first the batches written but not confirmed before the connection dropped (at least
once: a subscriber may see one again, with the same ``seq``), then the rest. Stopping
while Redis is away drops what is buffered (counted) instead of holding the daemon's
shutdown hostage.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, final

import anyio
from anyio.abc import TaskStatus
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.progress import Progress
from daemon.redislink import EnvelopeWriter, RedisKeys, RedisLink, RedisUnavailable, kind_of

_BURST_TURNS = 8
"""Loop turns a write may wait for the rest of a burst of events (see _gather_burst)."""


@dataclass
class PublisherStats:
    """Counters of the event publisher."""

    published: int = 0
    """Events published on Redis."""
    batches: int = 0
    """Batches written (each one write of all its commands)."""
    retried_batches: int = 0
    """Batches written but not confirmed when Redis went away, sent again on reconnect."""
    refused: int = 0
    """Commands the server answered with an error (logged; the rest go on)."""
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
        self._inflight: deque[tuple[list[tuple[str, bytes]], int]] = deque()
        self._unconfirmed = 0
        self._changed = Progress()
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
        # One connection, written and read by two tasks: each batch goes out as soon as
        # it is encoded, without waiting for the previous batch's replies (a pipeline
        # that spans batches), so a fill never queues behind a round trip. Order is
        # kept because there is one connection and one writer.
        pool = client.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            self.link.ready()
            if self._shed_seen != sub.shed:
                self.log.warning(
                    "events were shed while Redis was slow or away",
                    extra={"event": "redis_events_shed", "count": sub.shed - self._shed_seen},
                )
                self._shed_seen = sub.shed
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._confirm, conn)
                # Written but unconfirmed when the last connection dropped: send again
                # (subscribers may see a repeat; ``seq`` tells them).
                resend = [batch for batch, _ in self._inflight]
                self._inflight.clear()
                if resend:
                    self.stats.retried_batches += len(resend)
                for batch in resend:
                    await self._write(conn, batch)
                while True:
                    events = await self.next_batch(sub)
                    await self._gather_burst(sub, events)
                    now = self.clock.now_ns()
                    out: list[tuple[str, bytes]] = []
                    for event in events:
                        channel = self.channel_for(type(event))
                        if channel is None:
                            self.stats.excluded += 1
                            continue
                        out.append((channel, self.writer.encode(event, now)))
                    await self._write(conn, out)
                    # Waiting for events or for Redis is not being stuck.
                    self.health.idle()
        finally:
            self.health.idle()
            with anyio.CancelScope(shield=True):
                await pool.release(conn)

    async def _gather_burst(self, sub: Subscription[Any], events: list[Any]) -> None:
        """Add to ``events`` what the rest of this burst publishes in the next loop turns.

        A traded signal's events are published over several turns of the event loop,
        one actor step at a time; written as they came, that was a socket write per
        turn, each costing more than encoding all of them. A few turns more gather the
        burst into one write; the first turn that brings nothing ends it, and a burst
        never waits more than ``_BURST_TURNS`` turns.
        """
        ch = sub.channel
        for _ in range(_BURST_TURNS):
            await anyio.lowlevel.checkpoint()
            if not ch.depth():
                return
            events.extend(await ch.receive_batch())

    async def _write(self, conn: Any, out: list[tuple[str, bytes]]) -> None:
        if not out:
            return
        limit = self.cfg.buffer
        await self._changed.wait_for(lambda: self._unconfirmed < limit)
        maxlen = self.cfg.stream_maxlen
        stream = self.keys.events_stream
        commands: list[tuple[Any, ...]] = []
        for channel, payload in out:
            commands.append(("PUBLISH", channel, payload))
            if maxlen:
                commands.append(("XADD", stream, "MAXLEN", "~", maxlen, "*", "data", payload))
        self._inflight.append((out, len(commands)))
        self._unconfirmed += len(out)
        self._changed.notify()
        # The reply reader closes the connection when it fails; never let the library
        # reconnect it under us (the replies owed on the old one would never come).
        if not conn.is_connected:
            raise RedisUnavailable("publisher connection closed")
        try:
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except AttributeError as exc:  # closed by the reader while this write was under way
            raise RedisUnavailable("publisher connection closed while writing") from exc
        self.stats.batches += 1

    async def _confirm(self, conn: Any) -> None:
        """Read the replies of written batches; a batch is published once all arrived."""
        inflight = self._inflight
        while True:
            await self._changed.wait_for(lambda: bool(inflight))
            batch, replies = inflight[0]
            for _ in range(replies):
                try:
                    await conn.read_response()
                except ResponseError as exc:
                    # The server refused one command (e.g. the events key holds another
                    # type): the connection is fine, the rest of the batch went out.
                    self.stats.refused += 1
                    self.log.error(
                        "redis refused an event command",
                        extra={"event": "redis_event_refused", "error": str(exc)},
                    )
            inflight.popleft()
            self._unconfirmed -= len(batch)
            self.stats.published += len(batch)
            self._changed.notify()
            self.progress.notify()

    async def _drop_when_stopping_offline(self, sub: Subscription[Any]) -> None:
        """At shutdown, with Redis away, discard the buffer so the bus can drain."""
        await self.stop_requested.wait()
        while True:
            if self.link.healthy is False:
                dropped = self._unconfirmed
                self._inflight.clear()
                self._unconfirmed = 0
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
