"""A reconnecting Redis connection for one actor loop, with outage reporting.

:meth:`RedisLink.run` connects, runs the caller's body with the client, and when Redis
goes away (connection refused or reset, timeouts, the server loading or read-only)
reports the outage once, waits a jittered backoff on the actor's clock and tries again,
for as long as the actor lives. Anything else the body raises is a bug and propagates to
the supervisor. The library's own retries are turned off so that every wait is ours.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, final

import anyio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from config.sections.redis import RedisSettings
from daemon.backoff import Backoff
from daemon.bus import Topic
from daemon.clock import Clock
from daemon.messages import ServiceStatus
from daemon.progress import Progress
from daemon.redislink._errors import describe, is_transient

_log = logging.getLogger("tradingd.redis")


def create_client(settings: RedisSettings) -> Redis:
    """A client for ``settings.url`` with our timeouts and no hidden retries."""
    return Redis.from_url(
        settings.url,
        socket_connect_timeout=settings.connect_timeout_s,
        socket_timeout=settings.socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


@final
class RedisLink:
    """Keeps one loop of an actor connected to Redis and says when it is not.

    ``healthy`` is None before the first attempt, then tracks the last outcome; each
    change publishes a :class:`ServiceStatus` (``service="redis"``) on ``events``.
    """

    def __init__(
        self,
        settings: RedisSettings,
        *,
        clock: Clock,
        events: Topic[Any],
        reporter: str,
        log: logging.LoggerAdapter[logging.Logger] | None = None,
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.events = events
        self.reporter = reporter
        self.log: logging.LoggerAdapter[logging.Logger] | logging.Logger = log or _log
        self.backoff = Backoff(
            settings.reconnect_initial_s,
            max(settings.reconnect_initial_s, settings.reconnect_max_s),
            settings.reconnect_jitter,
            seed=seed,
        )
        self.healthy: bool | None = None
        self.settled = anyio.Event()
        """Set once the first attempt is over: the body called :meth:`ready`, or it failed."""
        self.connects = 0
        self.failures = 0
        self.last_error = ""
        self.progress = Progress()

    def ready(self) -> None:
        """Called by the body once it is set up (subscribed, group created...)."""
        self.settled.set()

    async def run(self, body: Callable[[Redis], Awaitable[None]]) -> None:
        """Run ``body(client)`` until it returns, reconnecting whenever Redis goes away.

        The body calls :meth:`ready` once set up; :attr:`settled` is then set, or as soon
        as the first attempt fails, so an actor can report itself ready without waiting
        for Redis to come back.
        """
        while True:
            client = create_client(self.settings)
            error = ""
            try:
                await client.ping()
                self.connects += 1
                self.backoff.reset()
                await self._report(True, "")
                await body(client)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                error = describe(exc)
            finally:
                # Shielded so that a cancelled loop still releases its sockets.
                with anyio.CancelScope(shield=True):
                    await _close_quietly(client)
            self.failures += 1
            await self._report(False, error)
            self.settled.set()
            await self.clock.sleep(self.backoff.next_delay())

    async def _report(self, healthy: bool, error: str) -> None:
        self.last_error = error
        changed = self.healthy is not healthy
        self.healthy = healthy
        self.progress.notify()
        if not changed:
            self.log.debug(
                "redis still unavailable",
                extra={"event": "redis_retry", "reporter": self.reporter, "error": error},
            )
            return
        if healthy:
            self.log.info(
                "redis connected", extra={"event": "redis_connected", "reporter": self.reporter}
            )
        else:
            self.log.warning(
                "redis unavailable; retrying with backoff",
                extra={"event": "redis_unavailable", "reporter": self.reporter, "error": error},
            )
        await self.events.publish(
            ServiceStatus(
                service="redis",
                healthy=healthy,
                detail=error,
                reporter=self.reporter,
                ts=self.clock.now_ns(),
            )
        )


async def _close_quietly(client: Redis) -> None:
    try:
        await client.aclose()
    except Exception as exc:  # closing a dead connection may fail; it is gone either way
        _log.debug("error closing redis client", extra={"error": describe(exc)})
