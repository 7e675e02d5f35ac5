"""Typed, bounded channels between actors; topic fan-out; request/reply.

Design for the hot path (DESIGN.md, "Messages and channels"): an awaited ``send`` on an
anyio memory stream costs a scheduler round trip per message, while ``send_nowait`` into
a stream whose receiver drains in batches costs a fraction of that. So:

* :meth:`Channel.send` tries ``send_nowait`` first and only awaits when the buffer is
  full — that await *is* the backpressure; trading messages are never dropped.
* :meth:`Channel.receive_batch` waits for one message, then drains whatever else is
  already buffered without yielding, so a busy actor handles messages in batches.
* :class:`Topic` fans events out to subscribers. A ``lossless`` subscriber (storage,
  journal) applies backpressure like a channel; a best-effort one (alerts to a slow
  sink) sheds when full and counts what it shed.
* :class:`Service` is request/reply (the risk gate): one call, one answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, final

import anyio
from anyio import WouldBlock
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

__all__ = ("Bus", "Channel", "ChannelStats", "Service", "Subscription", "Topic")


@dataclass
class ChannelStats:
    """Counters for one channel or subscription (exported as metrics)."""

    sent: int = 0
    received: int = 0
    blocked: int = 0
    shed: int = 0


@final
class Channel(Generic[T]):
    """A bounded point-to-point channel: many producers, one consuming actor.

    The channel outlives the actors at its ends, so a restarted actor picks up
    where its predecessor stopped, with the buffered messages intact.
    """

    __slots__ = ("_recv", "_send", "capacity", "name", "stats")

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"channel {name!r}: capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self.stats = ChannelStats()
        self._send: MemoryObjectSendStream[T]
        self._recv: MemoryObjectReceiveStream[T]
        self._send, self._recv = anyio.create_memory_object_stream[T](capacity)

    async def send(self, item: T) -> None:
        """Deliver ``item``; waits only while the channel is full (backpressure)."""
        try:
            self._send.send_nowait(item)
        except WouldBlock:
            self.stats.blocked += 1
            await self._send.send(item)
        self.stats.sent += 1

    def send_nowait(self, item: T) -> None:
        """Deliver ``item`` or raise :class:`anyio.WouldBlock` if the channel is full."""
        self._send.send_nowait(item)
        self.stats.sent += 1

    def try_send(self, item: T) -> bool:
        """Deliver ``item`` if there is room; count it as shed and return False if not."""
        try:
            self._send.send_nowait(item)
        except WouldBlock:
            self.stats.shed += 1
            return False
        self.stats.sent += 1
        return True

    async def receive(self) -> T:
        """Wait for the next message."""
        item = await self._recv.receive()
        self.stats.received += 1
        return item

    def receive_nowait(self) -> T:
        """Take the next message or raise :class:`anyio.WouldBlock`."""
        item = self._recv.receive_nowait()
        self.stats.received += 1
        return item

    async def receive_batch(self, max_items: int = 1024) -> list[T]:
        """Wait for at least one message, then take up to ``max_items`` without yielding."""
        recv = self._recv
        batch = [await recv.receive()]
        try:
            while len(batch) < max_items:
                batch.append(recv.receive_nowait())
        except WouldBlock:
            pass
        self.stats.received += len(batch)
        return batch

    def depth(self) -> int:
        """Messages buffered and not yet received."""
        return self._recv.statistics().current_buffer_used

    def close(self) -> None:
        """Close both ends: receivers drain what is left, then see end-of-stream."""
        self._send.close()
        self._recv.close()


@final
class Subscription(Generic[T]):
    """One subscriber's view of a :class:`Topic`: a channel plus a type filter."""

    __slots__ = ("channel", "lossless", "types")

    def __init__(
        self, channel: Channel[T], types: tuple[type[Any], ...] | None, lossless: bool
    ) -> None:
        self.channel = channel
        self.types = types
        self.lossless = lossless

    async def receive_batch(self, max_items: int = 1024) -> list[T]:
        """Wait for the next events; see :meth:`Channel.receive_batch`."""
        return await self.channel.receive_batch(max_items)

    async def receive(self) -> T:
        """Wait for the next event."""
        return await self.channel.receive()

    @property
    def shed(self) -> int:
        """Events dropped because this best-effort subscriber was full."""
        return self.channel.stats.shed


@final
class Topic(Generic[T]):
    """Fan-out of events to subscribers, each with its own bounded buffer."""

    def __init__(self, name: str, default_capacity: int = 65_536) -> None:
        self.name = name
        self.default_capacity = default_capacity
        self._subs: list[Subscription[T]] = []
        self._by_name: dict[str, Subscription[T]] = {}
        # The subscribers each event class goes to, worked out on the first event of
        # that class: publish() is on every hop of the hot path, and testing each
        # subscriber's filter per event cost an isinstance per subscriber per event.
        # Filters are classes (message types), so a match depends on the class alone.
        # Replaced (not mutated) on (un)subscribe, like ``_subs``.
        self._routes: dict[type[Any], tuple[Subscription[T], ...]] = {}

    def subscribe(
        self,
        name: str,
        *,
        types: tuple[type[Any], ...] | None = None,
        lossless: bool = True,
        capacity: int | None = None,
    ) -> Subscription[T]:
        """The subscription called ``name``: events of ``types`` (all when None).

        ``lossless`` subscribers slow publishers down when full; the others shed.
        Subscriptions are keyed by ``name``: asking again for an existing name returns
        the same subscription, so an actor restarted by the supervisor takes over its
        predecessor's buffer instead of adding a second subscription (which would lose
        the buffered events and leave the first to fill up and block every publisher).
        """
        existing = self._by_name.get(name)
        if existing is not None:
            if existing.types != types or existing.lossless != lossless:
                raise ValueError(
                    f"topic {self.name!r}: subscription {name!r} already exists with "
                    f"different types or loss policy"
                )
            return existing
        ch: Channel[T] = Channel(f"{self.name}->{name}", capacity or self.default_capacity)
        sub = Subscription(ch, types, lossless)
        self._subs.append(sub)
        self._by_name[name] = sub
        self._routes = {}
        return sub

    def unsubscribe(self, sub: Subscription[T]) -> None:
        """Stop delivering to ``sub`` (e.g. a disconnected ``watch`` client)."""
        if sub in self._subs:
            # Copy on write: a publish() waiting on a full lossless subscriber is still
            # iterating the old list, and removing in place would make it skip the
            # subscriber after the one removed.
            self._subs = [s for s in self._subs if s is not sub]
            self._by_name = {n: x for n, x in self._by_name.items() if x is not sub}
            self._routes = {}
            sub.channel.close()

    @property
    def subscriptions(self) -> tuple[Subscription[T], ...]:
        """Current subscribers, for metrics and status."""
        return tuple(self._subs)

    def _route(self, cls: type[Any]) -> tuple[Subscription[T], ...]:
        """The subscribers whose filter takes events of class ``cls`` (cached)."""
        routes = self._routes
        subs = tuple(s for s in self._subs if s.types is None or issubclass(cls, s.types))
        routes[cls] = subs
        return subs

    async def publish(self, event: T) -> None:
        """Deliver ``event`` to every matching subscriber (awaits only lossless ones)."""
        subs = self._routes.get(type(event))
        if subs is None:
            subs = self._route(type(event))
        for sub in subs:
            ch = sub.channel
            try:
                ch.send_nowait(event)
            except WouldBlock:
                if sub.lossless:
                    await ch.send(event)
                else:
                    ch.stats.shed += 1

    def publish_nowait(self, event: T) -> bool:
        """Deliver without waiting; returns False if a lossless subscriber was full.

        For callers that cannot await (synchronous hooks). Lossless subscribers that are
        full make this return False so the caller can fall back to :meth:`publish`.
        """
        ok = True
        subs = self._routes.get(type(event))
        if subs is None:
            subs = self._route(type(event))
        for sub in subs:
            if not sub.channel.try_send(event) and sub.lossless:
                sub.channel.stats.shed -= 1
                ok = False
        return ok


class _Call(Generic[Req, Resp]):
    __slots__ = ("_done", "_result", "request")

    def __init__(self, request: Req) -> None:
        self.request = request
        self._done = anyio.Event()
        self._result: Resp | BaseException | None = None

    def reply(self, response: Resp) -> None:
        self._result = response
        self._done.set()

    def fail(self, exc: BaseException) -> None:
        self._result = exc
        self._done.set()


@final
class Service(Generic[Req, Resp]):
    """Request/reply over a bounded channel: ``await call(req)`` → the server's answer."""

    def __init__(self, name: str, capacity: int = 4096) -> None:
        self.name = name
        self._calls: Channel[_Call[Req, Resp]] = Channel(name, capacity)

    async def call(self, request: Req) -> Resp:
        """Send ``request`` and wait for its reply; raises what the server failed with.

        There is no timeout here on purpose: a server that stops answering is a stuck
        actor, which the supervisor's health check reports (wrap in ``fail_after`` if a
        caller needs a bound).
        """
        c: _Call[Req, Resp] = _Call(request)
        await self._calls.send(c)
        await c._done.wait()
        result = c._result
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[return-value]

    async def call_many(self, requests: Sequence[Req]) -> list[Resp | BaseException]:
        """Send every request, then wait for all the replies, in order.

        One round trip for a batch and no task per call (the risk gate answers a burst
        of signals this way). A request the server failed gives its exception in its
        place in the result, so one bad request does not hide the others' answers.
        """
        calls: list[_Call[Req, Resp]] = [_Call(r) for r in requests]
        for c in calls:
            await self._calls.send(c)
        out: list[Resp | BaseException] = []
        for c in calls:
            if not c._done.is_set():
                await c._done.wait()
            out.append(c._result)  # type: ignore[arg-type]
        return out

    async def next_calls(self, max_items: int = 256) -> list[_Call[Req, Resp]]:
        """Server side: wait for requests; answer each with ``reply`` or ``fail``."""
        return await self._calls.receive_batch(max_items)

    def depth(self) -> int:
        """Requests waiting for the server."""
        return self._calls.depth()


@dataclass
class Bus:
    """All the channels, topics and services of one daemon, created by name on first use.

    Actors look up their endpoints here at construction; the bus outlives restarts.
    """

    default_capacity: int = 65_536
    channels: dict[str, Channel[Any]] = field(default_factory=dict)
    topics: dict[str, Topic[Any]] = field(default_factory=dict)
    services: dict[str, Service[Any, Any]] = field(default_factory=dict)

    def channel(self, name: str, capacity: int | None = None) -> Channel[Any]:
        """The channel called ``name`` (created on first use)."""
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(name, capacity or self.default_capacity)
        return ch

    def topic(self, name: str) -> Topic[Any]:
        """The topic called ``name`` (created on first use)."""
        t = self.topics.get(name)
        if t is None:
            t = self.topics[name] = Topic(name, self.default_capacity)
        return t

    def service(self, name: str, capacity: int = 4096) -> Service[Any, Any]:
        """The request/reply service called ``name`` (created on first use)."""
        s = self.services.get(name)
        if s is None:
            s = self.services[name] = Service(name, capacity)
        return s

    def close(self) -> None:
        """Close every channel (at daemon exit, after the actors have stopped)."""
        for ch in self.channels.values():
            ch.close()
        for topic in self.topics.values():
            for sub in topic.subscriptions:
                sub.channel.close()
        for svc in self.services.values():
            svc._calls.close()

    def depths(self) -> dict[str, int]:
        """Buffered messages per channel and subscription, for health and metrics."""
        out = {name: ch.depth() for name, ch in self.channels.items()}
        for topic in self.topics.values():
            for sub in topic.subscriptions:
                out[sub.channel.name] = sub.channel.depth()
        for name, svc in self.services.items():
            out[name] = svc.depth()
        return out

    def shed_counts(self) -> dict[str, int]:
        """Events shed per best-effort subscription."""
        return {
            sub.channel.name: sub.shed
            for topic in self.topics.values()
            for sub in topic.subscriptions
            if not sub.lossless
        }
