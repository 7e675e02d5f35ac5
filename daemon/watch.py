"""``tradingctl watch [PATTERN]``: print the daemon's events live, straight from Redis.

It subscribes to ``<prefix>:<account>:events:<PATTERN>`` (PATTERN is a glob over event
kinds — ``fill``, ``order_*``, ``*`` — or, when it contains ``:``, a whole channel
pattern) and prints one line per event::

    2023-11-14T22:13:20.123456Z fill {"type":"Fill","fill_id":"f-1",...}

With ``raw=True`` each line is the full JSON envelope instead (for ``jq``). The watcher
is a plain Redis subscriber — it needs no admin socket access, only Redis — and it
reconnects by itself when Redis goes away.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import TextIO
from urllib.parse import urlsplit

import anyio
import msgspec
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from daemon.backoff import Backoff
from daemon.redislink import RedisKeys, Subscriber, decode_envelope, describe, is_transient

__all__ = ("format_line", "watch")


def _where(redis_url: str) -> str:
    # Never echo credentials from the URL.
    parts = urlsplit(redis_url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or ''}"


def format_line(data: bytes, raw: bool = False) -> str:
    """One printable line for an envelope (or for a payload that is not one)."""
    if raw:
        return data.decode("utf-8", "replace")
    try:
        env = decode_envelope(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return f"? not a tradingd envelope: {data[:200].decode('utf-8', 'replace')}"
    when = dt.datetime.fromtimestamp(env.published_ns / 1e9, tz=dt.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp} {env.kind} {bytes(env.event).decode('utf-8', 'replace')}"


async def watch(
    redis_url: str,
    prefix: str,
    account: str,
    pattern: str = "*",
    out: TextIO = sys.stdout,
    *,
    raw: bool = False,
    limit: int | None = None,
    err: TextIO = sys.stderr,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Print events until cancelled (or until ``limit`` events); returns an exit code.

    ``on_ready`` is called each time the subscription is (re)established.
    """
    keys = RedisKeys.create(prefix, account)
    channel_pattern = pattern if ":" in pattern else keys.events_pattern(pattern or "*")
    backoff = Backoff(0.2, 5.0, 0.2)
    printed = 0
    while True:
        client = Redis.from_url(redis_url, socket_connect_timeout=5.0, retry=Retry(NoBackoff(), 0))
        try:
            sub = Subscriber(client.pubsub(), idle_s=10.0)
            try:
                await sub.subscribe([channel_pattern])
                backoff.reset()
                if on_ready is not None:
                    on_ready()
                while limit is None or printed < limit:
                    _, data = await sub.receive()
                    out.write(format_line(data, raw) + "\n")
                    out.flush()
                    printed += 1
                return 0
            finally:
                with anyio.CancelScope(shield=True):
                    await sub.aclose()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = backoff.next_delay()
            err.write(
                f"# redis at {_where(redis_url)} unavailable ({describe(exc)}); "
                f"retrying in {delay:.1f}s\n"
            )
            err.flush()
        finally:
            with anyio.CancelScope(shield=True):
                await client.aclose()
        await anyio.sleep(delay)
