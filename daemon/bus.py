"""Typed, bounded channels between actors; topic fan-out; request/reply.

Design for the hot path (DESIGN.md, "Messages and channels"): an awaited send or receive
that goes through the scheduler costs far more than handing a message over in place, so
nothing here yields unless it has to wait:

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

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, final

from anyio import ClosedResourceError, EndOfStream, WouldBlock

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

    Built on a deque and bare asyncio futures rather than an anyio memory stream: a
    memory stream's ``receive`` yields to the event loop once per call even when a
    message is waiting and allocates an event per wait, which on a signal's path through
    five actors was a quarter of its cost. Messages stay in the deque until taken, so
    a receiver cancelled while waiting loses nothing; a woken waiter that is cancelled
    before it runs passes its wake-up on. Waiting is cancellable by anyio cancel scopes
    (anyio cancels asyncio tasks by ``Task.cancel``).
    """

    __slots__ = (
        "_closed",
        "_items",
        "_receivers",
        "_run",
        "_senders",
        "capacity",
        "name",
        "stats",
    )

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"channel {name!r}: capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self.stats = ChannelStats()
        self._items: deque[T] = deque()
        self._receivers: deque[asyncio.Future[None]] = deque()
        self._senders: deque[asyncio.Future[None]] = deque()
        self._closed = False
        # Receives answered at once since the last real wait; see _yield_now.
        self._run = 0

    # -- sending ----------------------------------------------------------------------------

    async def send(self, item: T) -> None:
        """Deliver ``item``; waits only while the channel is full (backpressure)."""
        items = self._items
        if len(items) >= self.capacity and not self._closed:
            self.stats.blocked += 1
            while len(items) >= self.capacity and not self._closed:
                await _wait(self._senders, items, self.capacity)
        self.send_nowait(item)

    def send_nowait(self, item: T) -> None:
        """Deliver ``item`` or raise :class:`anyio.WouldBlock` if the channel is full.

        Raises :class:`anyio.ClosedResourceError` once the channel is closed.
        """
        if self._closed:
            raise ClosedResourceError(f"channel {self.name!r} is closed")
        items = self._items
        if len(items) >= self.capacity:
            raise WouldBlock
        items.append(item)
        self.stats.sent += 1
        if self._receivers:
            _wake_one(self._receivers)

    def try_send(self, item: T) -> bool:
        """Deliver ``item`` if there is room; count it as shed and return False if not."""
        try:
            self.send_nowait(item)
        except WouldBlock:
            self.stats.shed += 1
            return False
        return True

    # -- receiving --------------------------------------------------------------------------

    async def receive(self) -> T:
        """Wait for the next message."""
        if self._items and self._yield_now():
            await asyncio.sleep(0)
        if not self._items:
            await self._wait_for_items()
        return self.receive_nowait()

    def receive_nowait(self) -> T:
        """Take the next message or raise :class:`anyio.WouldBlock`.

        Raises :class:`anyio.EndOfStream` once the channel is closed and drained.
        """
        items = self._items
        if not items:
            if self._closed:
                raise EndOfStream
            raise WouldBlock
        item = items.popleft()
        self.stats.received += 1
        if self._senders:
            _wake_one(self._senders)
        return item

    async def receive_batch(self, max_items: int = 1024) -> list[T]:
        """Wait for at least one message, then take up to ``max_items`` without yielding."""
        items = self._items
        if items and self._yield_now():
            await asyncio.sleep(0)
        if not items:
            await self._wait_for_items()
            if not items:
                raise EndOfStream
        n = len(items)
        if n <= max_items:
            batch = list(items)
            items.clear()
        else:
            n = max_items
            batch = [items.popleft() for _ in range(n)]
        self.stats.received += n
        senders = self._senders
        while senders and n:
            _wake_one(senders)
            n -= 1
        return batch

    async def _wait_for_items(self) -> None:
        self._run = 0
        items = self._items
        while not items and not self._closed:
            await _wait(self._receivers, items, 0)

    def _yield_now(self) -> bool:
        # A receiver that always finds messages waiting never yields, so an actor that
        # feeds itself would starve every other task and never see a cancellation:
        # after a run of immediate answers, one goes through the event loop.
        self._run += 1
        if self._run >= _MAX_RUN:
            self._run = 0
            return True
        return False

    def depth(self) -> int:
        """Messages buffered and not yet received."""
        return len(self._items)

    def close(self) -> None:
        """Close the channel: receivers drain what is left, then see end-of-stream;
        senders (waiting or not) get :class:`anyio.ClosedResourceError`."""
        self._closed = True
        for waiters in (self._receivers, self._senders):
            while waiters:
                _wake_one(waiters)


_MAX_RUN = 64
"""Immediate receives in a row before one yields to the event loop (see _yield_now)."""


def _wake_one(waiters: deque[asyncio.Future[None]]) -> None:
    """Resolve the oldest waiter still waiting (cancelled ones are skipped)."""
    while waiters:
        fut = waiters.popleft()
        if not fut.done():
            fut.set_result(None)
            return


async def _wait(waiters: deque[asyncio.Future[None]], items: deque[Any], room: int) -> None:
    """Park the current task in ``waiters`` until woken.

    ``room`` says what the waiter waits for, so that a wake-up lost to cancellation can
    be passed on: receivers (``room`` 0) wait for items, senders for ``len < room``.
    """
    fut = asyncio.get_running_loop().create_future()
    waiters.append(fut)
    try:
        await fut
    except BaseException:
        if fut.done() and not fut.cancelled():
            # Woken, then cancelled before running: hand the wake-up to the next one
            # if what it was for is still there.
            ready = bool(items) if room == 0 else len(items) < room
            if ready and waiters:
                _wake_one(waiters)
        else:
            with contextlib.suppress(ValueError):  # already skipped by _wake_one
                waiters.remove(fut)
        raise


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
    """One request in flight: the server answers with ``reply`` or ``fail``."""

    __slots__ = ("_done", "_fut", "_result", "request")

    def __init__(self, request: Req) -> None:
        self.request = request
        self._done = False
        self._fut: asyncio.Future[None] | None = None
        self._result: Resp | BaseException | None = None

    def reply(self, response: Resp) -> None:
        """Answer the call."""
        self._settle(response)

    def fail(self, exc: BaseException) -> None:
        """Answer the call with an exception, raised in the caller."""
        self._settle(exc)

    def _settle(self, result: Resp | BaseException) -> None:
        self._result = result
        self._done = True
        fut = self._fut
        # A caller cancelled while waiting has cancelled its future; nobody listens.
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def wait(self) -> Resp | BaseException | None:
        """The answer, once there is one (no future at all if it is already here)."""
        if not self._done:
            fut = self._fut = asyncio.get_running_loop().create_future()
            await fut
        return self._result


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
        result = await c.wait()
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
            out.append(await c.wait())  # type: ignore[arg-type]
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
