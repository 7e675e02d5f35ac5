"""``[redis]``: signal ingest, market data and event publishing.

Every key and channel lives under ``<prefix>:<account>:`` (``account`` is
``daemon.account``); docs/redis.md lists them all with their payloads. An empty ``url``
runs the daemon without Redis: the Redis actors are then not started at all.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.sections._base import NonNegFloat, NonNegInt, PosInt, Seconds, Section

KeyPart = Annotated[str, msgspec.Meta(pattern=r"^[^\s*?\[\]]*$", max_length=200)]
"""A key or channel name (or part of one): no whitespace and no glob characters."""


class RedisSignalSettings(Section, frozen=True, kw_only=True):
    """``[redis.signals]``: the signal stream (consumer group) and pub/sub channel."""

    stream_enabled: bool = True
    """Read signals from the stream through a consumer group (at-least-once)."""
    stream: KeyPart = ""
    """Stream key; empty means ``<prefix>:<account>:signals``."""
    group: KeyPart = "tradingd"
    """Consumer group shared by every daemon that trades this account's signals."""
    consumer: KeyPart = ""
    """This daemon's consumer name in the group; empty means ``<account>@<hostname>``.
    Keep it stable across restarts: pending entries are reclaimed by name on start."""
    group_start_id: Annotated[str, msgspec.Meta(pattern=r"^(\$|0|\d+(-\d+)?)$")] = "$"
    """Where a newly created group starts: ``$`` (new entries only) or ``0`` (all)."""
    read_count: PosInt = 256
    """Most entries taken by one XREADGROUP."""
    block_ms: PosInt = 500
    """How long one XREADGROUP waits on the server for new entries."""
    max_in_flight: PosInt = 4096
    """Most entries read but not yet acknowledged; reading pauses at this bound."""
    claim_idle_s: Seconds = 60.0
    """Entries pending this long on another (dead) consumer are claimed with XAUTOCLAIM."""
    claim_interval_s: Seconds = 30.0
    """How often to look for such entries while running (also done once on start)."""
    pubsub_enabled: bool = True
    """Also take fire-and-forget signals published on the pub/sub channel."""
    pubsub_channel: KeyPart = ""
    """Pub/sub channel; empty means ``<prefix>:<account>:signals`` (the channel namespace
    is separate from keys, so it can share the stream's name)."""


class RedisMarketSettings(Section, frozen=True, kw_only=True):
    """``[redis.market]``: ticks and bars from pub/sub channels and/or a stream."""

    enabled: bool = True
    pubsub_enabled: bool = True
    """Subscribe to ``channels``; turn off to read only the stream."""
    channels: list[str] = []
    """Channels to subscribe; entries with ``*``, ``?`` or ``[`` are patterns. Empty means
    ``<prefix>:<account>:market`` and ``<prefix>:<account>:market:*``."""
    stream: KeyPart = ""
    """Also read this stream with XREAD (every daemon sees every price); empty: off."""
    batch_max: PosInt = 1024
    """Most updates delivered in one MarketBatch."""
    block_ms: PosInt = 500
    """How long one XREAD on the market stream waits on the server."""
    stale_after_s: NonNegFloat = 30.0
    """No market data for this long reports the feed stale (an alert); 0 turns it off."""


class RedisEventSettings(Section, frozen=True, kw_only=True):
    """``[redis.events]``: every domain event published for subscribers."""

    enabled: bool = True
    buffer: PosInt = 65_536
    """Events held while Redis is slow or away; beyond this they are shed and counted."""
    exclude: list[str] = []
    """Event kinds not published (e.g. ``["heartbeat"]``); kinds are listed in docs/redis.md."""
    stream_maxlen: NonNegInt = 0
    """Also append every event to the stream ``<prefix>:<account>:events`` trimmed to
    about this many entries, so late subscribers can catch up; 0 turns it off."""


class RedisSettings(Section, frozen=True, kw_only=True):
    """Redis connection; an empty ``url`` runs the daemon without Redis."""

    url: str = ""
    """``redis://[user:password@]host:port/db`` or ``rediss://`` for TLS."""
    prefix: KeyPart = "tradingd"
    """Channel/stream prefix; the account name is appended: ``<prefix>:<account>:...``."""
    connect_timeout_s: Seconds = 2.0
    socket_timeout_s: Seconds = 5.0
    """A command without an answer for this long counts as Redis being away."""
    reconnect_initial_s: Seconds = 0.1
    reconnect_max_s: Seconds = 5.0
    reconnect_jitter: NonNegFloat = 0.2
    """Fraction of each reconnect delay added at random, so daemons do not retry in step."""
    dead_letter_maxlen: PosInt = 100_000
    """The dead-letter stream is trimmed to about this many entries."""
    signals: RedisSignalSettings = RedisSignalSettings()
    market: RedisMarketSettings = RedisMarketSettings()
    events: RedisEventSettings = RedisEventSettings()
