"""Signal ingest from Redis: a Stream read through a consumer group, and a pub/sub channel.

Stream entries are at-least-once. An entry is acknowledged (XACK) only once the signal's
final outcome has been published on ``events`` — the recorded decision: the guard's
rejection, or, for a signal the guard accepted, the orchestrator's own outcome (a
rejection verdict of one of its stages, or the write-ahead OrderIntent of the order the
signal caused), found by the signal's correlation id. A crash before that leaves the
entry pending, and the next start takes it back: first this consumer's own pending
entries (XREADGROUP from id 0), then entries left pending by dead consumers (XAUTOCLAIM
after ``claim_idle_s``, also repeated while running). Redelivery is harmless: the guard
rejects a signal it still remembers as a duplicate, and a signal that reaches the
orchestrator again maps onto the order it already caused (order ids derive from it).

Pub/sub signals are fire-and-forget: whatever arrives while connected is forwarded.

A payload that does not decode into a Signal goes to the dead-letter stream with the
validation error and the original bytes, is acknowledged in the same transaction,
counted, and reported as a :class:`SignalRejected` event. Nothing a producer sends can
crash the actor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, final

import anyio
import msgspec
from anyio.abc import TaskGroup, TaskStatus
from redis.asyncio import Redis

from actors.orchestrator import correlation_id
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.clock import NS_PER_S
from daemon.messages import (
    MessageDecodeError,
    OrderIntent,
    Signal,
    SignalRejected,
    SignalVerdict,
)
from daemon.progress import ClockTimeout, Progress, run_within
from daemon.redislink import (
    RedisKeys,
    RedisLink,
    StreamEntry,
    Subscriber,
    claimed_entries,
    decode_signal,
    fields_as_json,
    read_entries,
    write_dead_letter,
)

_ACK_CHUNK = 1000
_EVENT_RAW_CHARS = 4096


@final
class _InFlight:
    """A forwarded stream entry, from the guard's verdict to its final outcome.

    ``cid`` is empty while the guard has not judged it, and the signal's correlation id
    once the guard accepted it (the orchestrator's outcome is looked up by it).
    ``since_ns`` is when it last moved on (forwarded, or accepted by the guard): an
    entry stuck at one step for ``claim_idle_s`` is sent again. ``decided`` means its
    outcome is recorded and only the XACK is left.
    """

    __slots__ = ("cid", "decided", "key", "since_ns")

    def __init__(self, key: tuple[str, str], since_ns: int) -> None:
        self.key = key
        self.since_ns = since_ns
        self.cid = ""
        self.decided = False


@dataclass
class SignalIngestStats:
    """Counters of the signal ingest actor (exported as metrics, waited on by tests)."""

    read: int = 0
    """Stream entries read, reclaimed ones included."""
    reclaimed: int = 0
    """Entries taken back from this consumer's or dead consumers' pending lists."""
    forwarded: int = 0
    """Signals sent to the signal guard (stream and pub/sub)."""
    accepted: int = 0
    """Stream entries the guard accepted (then waiting for the orchestrator's outcome)."""
    acked: int = 0
    """Stream entries acknowledged after their final outcome was published."""
    dead_lettered: int = 0
    """Malformed payloads written to the dead-letter stream."""
    pubsub_received: int = 0
    """Messages received on the pub/sub signal channel."""


@final
class RedisSignalIngest(Actor):
    """Feeds signals from Redis to the signal guard; acks stream entries after their outcome."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        redis = ctx.settings.redis
        self.cfg = redis.signals
        self.keys = RedisKeys.from_settings(ctx.settings)
        self.guard = self.bus.channel(names.SIGNALS_IN)
        self.events = self.bus.topic(names.EVENTS)
        self.stats = SignalIngestStats()
        self.progress = Progress()
        seed = ctx.settings.broker.seed
        self.stream_link = RedisLink(
            redis,
            clock=self.clock,
            events=self.events,
            reporter=f"{ctx.name}.stream",
            log=self.log,
            seed=seed,
        )
        self.pubsub_link = RedisLink(
            redis,
            clock=self.clock,
            events=self.events,
            reporter=f"{ctx.name}.pubsub",
            log=self.log,
            seed=seed + 1,
        )
        # Stream entries forwarded and not yet acknowledged, and which event settles them:
        # the guard's verdict, looked up by (source, signal_id), then, once the guard has
        # accepted, the orchestrator's outcome, looked up by correlation id. Every key of
        # both indexes belongs to an entry of _inflight, so they are bounded with it.
        self._inflight: dict[bytes, _InFlight] = {}
        self._awaiting: dict[tuple[str, str], deque[bytes]] = {}
        self._by_cid: dict[str, deque[bytes]] = {}
        self._to_ack: list[bytes] = []
        self._changed = Progress()
        # XREADGROUP's BLOCK must end well before the socket timeout declares Redis dead.
        self._block_ms = max(1, min(self.cfg.block_ms, int(redis.socket_timeout_s * 500)))
        self._idle_s = redis.socket_timeout_s

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Read the stream and the channel until cancelled; ready after the first attempts."""
        sub = self.events.subscribe(
            f"{self.ctx.name}.outcomes",
            types=(SignalVerdict, OrderIntent),
            lossless=True,
            capacity=max(1024, 2 * self.cfg.max_in_flight),
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._outcomes, sub)
                if self.cfg.stream_enabled:
                    await _start_link(tg, self.stream_link, self._stream_body)
                if self.cfg.pubsub_enabled:
                    await _start_link(tg, self.pubsub_link, self._pubsub_body)
                self.log.info(
                    "signal ingest running",
                    extra={
                        "event": "redis_signals_ready",
                        "stream": self.keys.signal_stream if self.cfg.stream_enabled else "",
                        "channel": self.keys.signal_channel if self.cfg.pubsub_enabled else "",
                        "group": self.keys.group,
                        "consumer": self.keys.consumer,
                    },
                )
                task_status.started()
        finally:
            self.events.unsubscribe(sub)

    async def on_stop(self) -> None:
        """Acknowledge what has been decided (bounded by half the stop timeout).

        The supervisor calls this once the pipeline has drained, so every signal read
        has its outcome by now. Whatever is left unacknowledged is redelivered on the
        next start (and rejected as a duplicate, or decided then if it never was).
        """
        if not self._to_ack:
            return
        timeout = self.ctx.settings.daemon.stop_timeout_s / 2
        try:
            await run_within(
                self.clock, timeout, lambda: self._changed.wait_for(lambda: not self._to_ack)
            )
        except ClockTimeout:
            self.log.warning(
                "stopping with unacknowledged stream entries; they will be redelivered",
                extra={"event": "redis_signals_unacked", "count": len(self._to_ack)},
            )

    # -- stream ------------------------------------------------------------------------

    async def _stream_body(self, client: Redis) -> None:
        await self._ensure_group(client)
        self.stream_link.ready()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._acker, client)
            await self._reclaim_own(client)
            await self._autoclaim(client)
            await self._read_new(client)

    async def _ensure_group(self, client: Redis) -> None:
        try:
            await client.xgroup_create(
                self.keys.signal_stream, self.keys.group, id=self.cfg.group_start_id, mkstream=True
            )
        except Exception as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
        else:
            self.log.info(
                "created consumer group",
                extra={"event": "redis_group_created", "stream": self.keys.signal_stream},
            )

    async def _reclaim_own(self, client: Redis) -> None:
        """Re-read this consumer's pending entries (left by a previous run or connection)."""
        last: bytes | str = "0-0"
        while True:
            resp = await client.xreadgroup(
                self.keys.group,
                self.keys.consumer,
                {self.keys.signal_stream: last},
                count=self.cfg.read_count,
            )
            entries = read_entries(resp)
            if not entries:
                return
            fresh = [e for e in entries if e[0] not in self._inflight]
            self.stats.reclaimed += len(fresh)
            await self._handle_entries(client, fresh)
            last = entries[-1][0]

    async def _autoclaim(self, client: Redis) -> None:
        """Take over entries that other (dead) consumers left pending for too long."""
        start: bytes | str = "0-0"
        min_idle = int(self.cfg.claim_idle_s * 1000)
        while True:
            resp = await client.xautoclaim(
                self.keys.signal_stream,
                self.keys.group,
                self.keys.consumer,
                min_idle_time=min_idle,
                start_id=start,
                count=self.cfg.read_count,
            )
            start, entries = claimed_entries(resp)
            fresh = [e for e in entries if e[0] not in self._inflight]
            if fresh:
                self.stats.reclaimed += len(fresh)
                self.log.info(
                    "claimed pending signal entries",
                    extra={"event": "redis_signals_claimed", "count": len(fresh)},
                )
                await self._handle_entries(client, fresh)
            if start == b"0-0":
                return

    async def _read_new(self, client: Redis) -> None:
        cfg = self.cfg
        claim_every = int(cfg.claim_interval_s * NS_PER_S)
        next_claim = self.clock.now_ns() + claim_every
        while not self.stop_requested.is_set():
            await self._changed.wait_for(lambda: len(self._inflight) < cfg.max_in_flight)
            room = cfg.max_in_flight - len(self._inflight)
            resp = await client.xreadgroup(
                self.keys.group,
                self.keys.consumer,
                {self.keys.signal_stream: ">"},
                count=min(cfg.read_count, room),
                block=self._block_ms,
            )
            await self._handle_entries(client, read_entries(resp))
            if self.clock.now_ns() >= next_claim:
                next_claim = self.clock.now_ns() + claim_every
                if self._release_undecided():
                    await self._reclaim_own(client)
                await self._autoclaim(client)

    def _release_undecided(self) -> int:
        """Forget entries stuck for ``claim_idle_s`` so they are read and sent again.

        A verdict can go missing if the guard crashed with the signal in hand, and an
        outcome if the orchestrator did (or handled the signal without publishing one).
        The entry is still pending in Redis, so re-reading it re-sends the signal: a
        guard that still remembers it rejects it as a duplicate, which settles the
        entry; one that does not passes it on, and the orchestrator decides it again
        (an order it already caused is recognised by its client order id).
        """
        cutoff = self.clock.now_ns() - int(self.cfg.claim_idle_s * NS_PER_S)
        stale = [
            (eid, f) for eid, f in self._inflight.items() if not f.decided and f.since_ns < cutoff
        ]
        no_outcome = 0
        for eid, f in stale:
            del self._inflight[eid]
            if f.cid:
                no_outcome += 1
                _discard(self._by_cid, f.cid, eid)
            else:
                _discard(self._awaiting, f.key, eid)
        if stale:
            self.log.warning(
                "no verdict or outcome for stream entries; sending them again",
                extra={
                    "event": "redis_signals_resend",
                    "count": len(stale),
                    "no_verdict": len(stale) - no_outcome,
                    "no_outcome": no_outcome,
                },
            )
        return len(stale)

    async def _handle_entries(self, client: Redis, entries: list[StreamEntry]) -> None:
        if not entries:
            return
        self.health.busy(len(entries))
        try:
            await self._handle(client, entries)
        finally:
            self.health.idle()
            self.progress.notify()

    async def _handle(self, client: Redis, entries: list[StreamEntry]) -> None:
        now = self.clock.now_ns()
        stream = self.keys.signal_stream
        for eid, fields in entries:
            self.stats.read += 1
            if not fields:
                # Deleted from the stream while pending: nothing to decide, just release it.
                await client.xack(stream, self.keys.group, eid)
                continue
            raw = fields.get(b"data")
            origin = f"stream {stream} {eid.decode()}"
            if raw is None:
                error = "stream entry has no `data` field"
                await self._dead_letter(client, origin, error, fields_as_json(fields), now, eid)
                continue
            try:
                sig = decode_signal(raw)
            except MessageDecodeError as exc:
                await self._dead_letter(client, origin, str(exc), raw, now, eid)
                continue
            key = (sig.source, sig.signal_id)
            self._awaiting.setdefault(key, deque()).append(eid)
            self._inflight[eid] = _InFlight(key, now)
            await self._forward(msgspec.structs.replace(sig, received_ns=now))

    async def _acker(self, client: Redis) -> None:
        stream, group = self.keys.signal_stream, self.keys.group
        while True:
            await self._changed.wait_for(lambda: bool(self._to_ack))
            ids, self._to_ack = self._to_ack[:_ACK_CHUNK], self._to_ack[_ACK_CHUNK:]
            try:
                await client.xack(stream, group, *ids)
            except BaseException:
                # Keep them for the next connection; they stay pending in Redis meanwhile.
                self._to_ack[:0] = ids
                raise
            inflight = self._inflight
            for eid in ids:
                inflight.pop(eid, None)
            self.stats.acked += len(ids)
            self._changed.notify()
            self.progress.notify()

    async def _outcomes(self, sub: Any) -> None:
        """Turn recorded outcomes into acknowledgements of the entries they settle.

        The guard publishes its verdict before the accepted signal reaches the
        orchestrator, and this subscription sees events in publication order, so an
        entry is always in the correlation-id index before its outcome arrives.
        """
        while True:
            batch: list[SignalVerdict | OrderIntent] = await sub.receive_batch()
            freed = False
            for ev in batch:
                if isinstance(ev, OrderIntent):
                    # The write-ahead intent of the order an accepted signal caused.
                    freed |= self._settle(ev.correlation_id)
                elif ev.stage != "guard":
                    # An orchestrator stage turned the accepted signal down.
                    freed |= self._settle(ev.correlation_id)
                elif not ev.correlation_id:
                    freed |= self._on_guard_verdict(ev)
                # else: the orchestrator's record of a guard rejection; the guard's own
                # verdict has settled that entry already.
            if freed:
                self._changed.notify()

    def _on_guard_verdict(self, verdict: SignalVerdict) -> bool:
        """A rejection settles its entry; an acceptance hands it to the orchestrator."""
        sig = verdict.signal
        key = (sig.source, sig.signal_id)
        queue = self._awaiting.get(key)
        if not queue:
            return False  # not one of ours (pub/sub, admin socket), or released
        eid = queue.popleft()
        if not queue:
            del self._awaiting[key]
        entry = self._inflight.get(eid)
        if entry is None:
            return False
        if not verdict.accepted:
            self._decide(eid, entry)
            return True
        entry.cid = cid = correlation_id(sig.source, sig.signal_id)
        entry.since_ns = self.clock.now_ns()
        self._by_cid.setdefault(cid, deque()).append(eid)
        self.stats.accepted += 1
        self.progress.notify()
        return False

    def _settle(self, cid: str) -> bool:
        """The orchestrator's outcome for ``cid``: its oldest waiting entry is decided."""
        queue = self._by_cid.get(cid)
        if not queue:
            return False  # an exit's or an adopted order's intent, or not one of ours
        eid = queue.popleft()
        if not queue:
            del self._by_cid[cid]
        entry = self._inflight.get(eid)
        if entry is None:
            return False
        self._decide(eid, entry)
        return True

    def _decide(self, eid: bytes, entry: _InFlight) -> None:
        entry.decided = True
        self._to_ack.append(eid)

    # -- pub/sub -----------------------------------------------------------------------

    async def _pubsub_body(self, client: Redis) -> None:
        sub = Subscriber(client.pubsub(), self._idle_s)
        try:
            await sub.subscribe([self.keys.signal_channel])
            self.pubsub_link.ready()
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_when_set, self.stop_requested, tg.cancel_scope)
                while True:
                    channel, raw = await sub.receive()
                    self.stats.pubsub_received += 1
                    self.health.busy()
                    try:
                        await self._handle_published(client, channel, raw)
                    finally:
                        self.health.idle()
                        self.progress.notify()
        finally:
            with anyio.CancelScope(shield=True):
                await sub.aclose()

    async def _handle_published(self, client: Redis, channel: bytes, raw: bytes) -> None:
        now = self.clock.now_ns()
        try:
            sig = decode_signal(raw)
        except MessageDecodeError as exc:
            origin = f"pubsub {channel.decode('utf-8', 'replace')}"
            await self._dead_letter(client, origin, str(exc), raw, now, None)
        else:
            await self._forward(msgspec.structs.replace(sig, received_ns=now))

    # -- shared ------------------------------------------------------------------------

    async def _forward(self, sig: Signal) -> None:
        # Never dropped: a full guard channel holds the reader back (backpressure).
        guard = self.guard
        try:
            guard.send_nowait(sig)
        except anyio.WouldBlock:
            await guard.send(sig)
        self.stats.forwarded += 1

    async def _dead_letter(
        self, client: Redis, origin: str, error: str, raw: bytes, now: int, eid: bytes | None
    ) -> None:
        ack = (self.keys.signal_stream, self.keys.group, eid) if eid is not None else None
        await write_dead_letter(
            client,
            self.keys.dead_letter,
            maxlen=self.ctx.settings.redis.dead_letter_maxlen,
            origin=origin,
            error=error,
            raw=raw,
            now_ns=now,
            ack=ack,
        )
        self.stats.dead_lettered += 1
        self.log.warning(
            "malformed signal dead-lettered",
            extra={"event": "signal_dead_lettered", "origin": origin, "error": error},
        )
        await self.events.publish(
            SignalRejected(
                origin=origin,
                error=error,
                raw=raw[:_EVENT_RAW_CHARS].decode("utf-8", "replace"),
                ts=now,
            )
        )


async def _start_link(
    tg: TaskGroup, link: RedisLink, body: Callable[[Redis], Awaitable[None]]
) -> None:
    tg.start_soon(link.run, body)
    await link.settled.wait()


def _discard(index: dict[Any, deque[bytes]], key: Any, eid: bytes) -> None:
    queue = index.get(key)
    if queue is not None and eid in queue:
        queue.remove(eid)
        if not queue:
            del index[key]


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
