"""Every Redis key and channel tradingd uses, derived from ``<prefix>:<account>``.

This is the one place names are built; docs/redis.md documents the same layout for
subscribers written in other languages.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from config.settings import Settings

_GLOB = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """True when ``name`` is a pub/sub pattern (has ``*``, ``?`` or ``[``)."""
    return any(c in _GLOB for c in name)


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The Redis layout of one account under one prefix."""

    prefix: str
    account: str
    signal_stream: str
    """STREAM: signals in, read by the consumer group :attr:`group`."""
    group: str
    consumer: str
    signal_channel: str
    """PUB/SUB: fire-and-forget signals in."""
    dead_letter: str
    """STREAM: payloads that could not be decoded, with the error and the original bytes."""
    market_channels: tuple[str, ...]
    """PUB/SUB channels and patterns carrying market data in."""
    market_stream: str
    """STREAM: market data in (empty when off)."""
    events_stream: str
    """STREAM: every event out, capped (only written when enabled)."""

    @property
    def base(self) -> str:
        """``<prefix>:<account>``, the root of every name."""
        return f"{self.prefix}:{self.account}"

    def event_channel(self, kind: str) -> str:
        """PUB/SUB channel of one event kind: ``<prefix>:<account>:events:<kind>``."""
        return f"{self.base}:events:{kind}"

    def events_pattern(self, kinds: str = "*") -> str:
        """Pattern matching the event channels whose kind matches the glob ``kinds``."""
        return f"{self.base}:events:{kinds}"

    def alert_channel(self, severity: str) -> str:
        """PUB/SUB channel of routed alerts: ``<prefix>:<account>:alerts:<severity>``."""
        return f"{self.base}:alerts:{severity}"

    @classmethod
    def create(
        cls,
        prefix: str,
        account: str,
        *,
        signal_stream: str = "",
        group: str = "tradingd",
        consumer: str = "",
        signal_channel: str = "",
        market_channels: tuple[str, ...] = (),
        market_stream: str = "",
    ) -> RedisKeys:
        """The layout under ``prefix`` and ``account``; empty names take their defaults."""
        base = f"{prefix}:{account}"
        return cls(
            prefix=prefix,
            account=account,
            signal_stream=signal_stream or f"{base}:signals",
            group=group,
            consumer=consumer or f"{account}@{socket.gethostname()}",
            signal_channel=signal_channel or f"{base}:signals",
            dead_letter=f"{base}:deadletter",
            market_channels=market_channels or (f"{base}:market", f"{base}:market:*"),
            market_stream=market_stream,
            events_stream=f"{base}:events",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisKeys:
        """The layout configured in ``[redis]`` for ``daemon.account``."""
        r = settings.redis
        return cls.create(
            r.prefix,
            settings.daemon.account,
            signal_stream=r.signals.stream,
            group=r.signals.group,
            consumer=r.signals.consumer,
            signal_channel=r.signals.pubsub_channel,
            market_channels=tuple(r.market.channels),
            market_stream=r.market.stream,
        )
