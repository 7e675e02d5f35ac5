"""A pub/sub subscription that notices a dead connection.

A subscribed connection only ever reads, so a peer that vanished without closing the
socket (a network partition, a frozen server) would leave it waiting forever. While no
message arrives for ``idle_s`` the subscriber sends a PING; if nothing at all (not even
the pong) arrives within ``idle_s`` more, it raises :class:`RedisUnavailable` and the
caller's :class:`~daemon.redislink.RedisLink` reconnects.
"""

from __future__ import annotations

from collections import deque
from typing import Any, final

from redis.asyncio.client import PubSub

from daemon.redislink._errors import RedisUnavailable
from daemon.redislink._keys import is_pattern

_DATA_TYPES = frozenset({"message", "pmessage"})
_CONFIRMATIONS = frozenset({"subscribe", "psubscribe"})


@final
class Subscriber:
    """Channels and patterns on one connection; yields ``(channel, data)`` pairs."""

    __slots__ = ("_awaiting_pong", "_early", "_ps", "idle_s")

    def __init__(self, ps: PubSub, idle_s: float) -> None:
        self._ps = ps
        self.idle_s = idle_s
        self._awaiting_pong = False
        self._early: deque[tuple[bytes, bytes]] = deque()

    async def subscribe(self, names: tuple[str, ...] | list[str]) -> None:
        """Subscribe to each name (glob characters make a pattern) and wait until the
        server confirms, so that anything published from then on is received."""
        channels = [n for n in names if not is_pattern(n)]
        patterns = [n for n in names if is_pattern(n)]
        if channels:
            await self._ps.subscribe(*channels)
        if patterns:
            await self._ps.psubscribe(*patterns)
        unconfirmed = len(channels) + len(patterns)
        while unconfirmed:
            msg = await self._ps.get_message(timeout=self.idle_s)
            if msg is None:
                raise RedisUnavailable(f"subscription not confirmed within {self.idle_s:g}s")
            if msg.get("type") in _CONFIRMATIONS:
                unconfirmed -= 1
                continue
            item = _data(msg)
            if item is not None:
                self._early.append(item)

    async def receive(self) -> tuple[bytes, bytes]:
        """Wait for the next published message."""
        if self._early:
            return self._early.popleft()
        while True:
            msg = await self._ps.get_message(timeout=self.idle_s)
            if msg is None:
                if self._awaiting_pong:
                    raise RedisUnavailable(
                        f"pub/sub connection silent for {2 * self.idle_s:g}s, PING unanswered"
                    )
                await self._ps.ping()
                self._awaiting_pong = True
                continue
            self._awaiting_pong = False
            item = _data(msg)
            if item is not None:
                return item

    async def receive_ready(self, max_items: int) -> list[tuple[bytes, bytes]]:
        """Messages already received, without waiting (up to ``max_items``)."""
        out: list[tuple[bytes, bytes]] = []
        while self._early and len(out) < max_items:
            out.append(self._early.popleft())
        while len(out) < max_items:
            msg = await self._ps.get_message(timeout=0)
            if msg is None:
                break
            self._awaiting_pong = False
            item = _data(msg)
            if item is not None:
                out.append(item)
        return out

    async def aclose(self) -> None:
        """Drop the subscription and its connection."""
        await self._ps.aclose()  # type: ignore[no-untyped-call]


def _data(msg: dict[str, Any]) -> tuple[bytes, bytes] | None:
    if msg.get("type") not in _DATA_TYPES:
        return None  # subscribe confirmations and pongs
    data = msg["data"]
    channel = msg["channel"]
    return (
        channel if isinstance(channel, bytes) else str(channel).encode(),
        data if isinstance(data, bytes) else str(data).encode(),
    )
