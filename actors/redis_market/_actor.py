"""Market data from Redis: ticks and bars from pub/sub channels and/or a stream.

Whatever has already arrived is taken in one go and published on the ``market`` topic
as a single :class:`MarketBatch` (one Tick or Bar alone is published as is), so a burst
of prices costs the subscribers one message. The topic is lossless: when the lifecycle
monitor falls behind, reading slows down rather than dropping prices.

Market data is not acknowledged: the stream is read with XREAD from the last id seen,
so every daemon sees every price and a reconnect resumes where it left off. Malformed
payloads go to the dead-letter stream and are counted.

When no market data arrives for ``stale_after_s`` the actor reports the feed stale
(:class:`ServiceStatus` ``market_data``, which the alert bridge turns into an alert) and
reports it healthy again with the next price. Exits keep working on the last prices.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, final

import anyio
from anyio.abc import TaskGroup, TaskStatus
from redis.asyncio import Redis

from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.clock import NS_PER_S
from daemon.messages import Bar, MarketBatch, MessageDecodeError, ServiceStatus, Tick
from daemon.progress import Progress
from daemon.redislink import (
    RedisKeys,
    RedisLink,
    Subscriber,
    decode_market,
    fields_as_json,
    read_entries,
    write_dead_letter,
)


@dataclass
class MarketIngestStats:
    """Counters of the market ingest actor."""

    messages: int = 0
    """Payloads received (pub/sub messages and stream entries)."""
    updates: int = 0
    """Ticks and bars published on the ``market`` topic."""
    batches: int = 0
    """Publications on the topic (a batch or a single update)."""
    dead_lettered: int = 0
    stale_reports: int = 0
    """Times the feed was reported stale."""


@final
class RedisMarketIngest(Actor):
    """Publishes ticks and bars received on Redis on the ``market`` topic, batched."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        redis = ctx.settings.redis
        self.cfg = redis.market
        self.keys = RedisKeys.from_settings(ctx.settings)
        self.market = self.bus.topic(names.MARKET)
        self.events = self.bus.topic(names.EVENTS)
        self.stats = MarketIngestStats()
        self.progress = Progress()
        seed = ctx.settings.broker.seed
        self.pubsub_link = RedisLink(
            redis,
            clock=self.clock,
            events=self.events,
            reporter=f"{ctx.name}.pubsub",
            log=self.log,
            seed=seed + 2,
        )
        self.stream_link = RedisLink(
            redis,
            clock=self.clock,
            events=self.events,
            reporter=f"{ctx.name}.stream",
            log=self.log,
            seed=seed + 3,
        )
        self.last_update_ns = self.clock.now_ns()
        self.stale = False
        self._stream_last_id: bytes | None = None
        self._idle_s = redis.socket_timeout_s
        self._block_ms = max(1, min(self.cfg.block_ms, int(redis.socket_timeout_s * 500)))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Read the configured sources until cancelled; ready after the first attempts."""
        async with anyio.create_task_group() as tg:
            if self.cfg.pubsub_enabled:
                await _start_link(tg, self.pubsub_link, self._pubsub_body)
            if self.cfg.stream:
                await _start_link(tg, self.stream_link, self._stream_body)
            if self.cfg.stale_after_s > 0:
                tg.start_soon(self._watch_staleness)
            self.log.info(
                "market ingest running",
                extra={
                    "event": "redis_market_ready",
                    "channels": list(self.keys.market_channels),
                    "stream": self.keys.market_stream,
                },
            )
            task_status.started()

    # -- sources -----------------------------------------------------------------------

    async def _pubsub_body(self, client: Redis) -> None:
        sub = Subscriber(client.pubsub(), self._idle_s)
        batch_max = self.cfg.batch_max
        try:
            await sub.subscribe(list(self.keys.market_channels))
            self.pubsub_link.ready()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_when_set, self.stop_requested, tg.cancel_scope)
                while True:
                    first = await sub.receive()
                    more = await sub.receive_ready(batch_max - 1)
                    await self._ingest(client, [first, *more], "pubsub")
        finally:
            with anyio.CancelScope(shield=True):
                await sub.aclose()

    async def _stream_body(self, client: Redis) -> None:
        stream = self.keys.market_stream
        if self._stream_last_id is None:
            # Start after the newest entry; from then on resume from the last id seen,
            # so a reconnect misses nothing that was added meanwhile.
            newest: Any = await client.xrevrange(stream, count=1)
            self._stream_last_id = newest[0][0] if newest else b"0-0"
        self.stream_link.ready()
        while not self.stop_requested.is_set():
            resp = await client.xread(
                {stream: self._stream_last_id}, count=self.cfg.batch_max, block=self._block_ms
            )
            entries = read_entries(resp)
            if not entries:
                continue
            items: list[tuple[bytes, bytes]] = []
            for eid, fields in entries:
                raw = fields.get(b"data")
                if raw is not None:
                    items.append((eid, raw))
                    continue
                origin = f"stream {stream} {eid.decode()}"
                error = "stream entry has no `data` field"
                await self._dead_letter(client, origin, error, fields_as_json(fields))
            await self._ingest(client, items, "stream")
            self._stream_last_id = entries[-1][0]

    # -- publishing --------------------------------------------------------------------

    async def _ingest(self, client: Redis, messages: list[tuple[bytes, bytes]], kind: str) -> None:
        """Decode ``(channel or entry id, payload)`` pairs and publish the good ones."""
        if not messages:
            return
        self.health.busy(len(messages))
        try:
            updates: list[Tick | Bar] = []
            for where, raw in messages:
                self.stats.messages += 1
                try:
                    updates.extend(decode_market(raw))
                except MessageDecodeError as exc:
                    origin = f"{kind} {self._origin(where, kind)}"
                    await self._dead_letter(client, origin, str(exc), raw)
            if updates:
                await self._publish(updates)
        finally:
            self.health.idle()
            self.progress.notify()

    def _origin(self, where: bytes, kind: str) -> str:
        text = where.decode("utf-8", "replace")
        return f"{self.keys.market_stream} {text}" if kind == "stream" else text

    async def _publish(self, updates: list[Tick | Bar]) -> None:
        now = self.clock.now_ns()
        batch_max = self.cfg.batch_max
        for i in range(0, len(updates), batch_max):
            chunk = updates[i : i + batch_max]
            msg = chunk[0] if len(chunk) == 1 else MarketBatch(items=tuple(chunk), ts=now)
            await self.market.publish(msg)
            self.stats.batches += 1
        self.stats.updates += len(updates)
        self.last_update_ns = now
        if self.stale:
            await self._report_stale(False, "market data flowing again")

    async def _dead_letter(self, client: Redis, origin: str, error: str, raw: bytes) -> None:
        await write_dead_letter(
            client,
            self.keys.dead_letter,
            maxlen=self.ctx.settings.redis.dead_letter_maxlen,
            origin=origin,
            error=error,
            raw=raw,
            now_ns=self.clock.now_ns(),
        )
        self.stats.dead_lettered += 1
        self.log.warning(
            "malformed market data dead-lettered",
            extra={"event": "market_dead_lettered", "origin": origin, "error": error},
        )

    # -- staleness ---------------------------------------------------------------------

    async def _watch_staleness(self) -> None:
        limit_ns = int(self.cfg.stale_after_s * NS_PER_S)
        while True:
            if self.stale:
                # The next price reports the recovery itself.
                await self.progress.wait_for(lambda: not self.stale)
                continue
            deadline = self.last_update_ns + limit_ns
            if self.clock.now_ns() < deadline:
                await self.clock.sleep_until(deadline)
                continue
            silent_s = (self.clock.now_ns() - self.last_update_ns) / NS_PER_S
            await self._report_stale(True, f"no market data for {silent_s:.0f}s")

    async def _report_stale(self, stale: bool, detail: str) -> None:
        self.stale = stale
        if stale:
            self.stats.stale_reports += 1
            self.log.warning("market data stale", extra={"event": "market_stale", "detail": detail})
        else:
            self.log.info("market data resumed", extra={"event": "market_resumed"})
        await self.events.publish(
            ServiceStatus(
                service="market_data",
                healthy=not stale,
                detail=detail,
                reporter=self.ctx.name,
                ts=self.clock.now_ns(),
            )
        )
        self.progress.notify()


async def _start_link(
    tg: TaskGroup, link: RedisLink, body: Callable[[Redis], Awaitable[None]]
) -> None:
    tg.start_soon(link.run, body)
    await link.settled.wait()


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
