"""The one Redis error actors handle, and which Redis failures are worth a retry."""

from __future__ import annotations

import redis.exceptions as rexc

from daemon.errors import TradingdError

# Replies meaning "not now" rather than "never": the server is loading its data, is a
# replica, lost its master, or lost our consumer group (a restart without persistence).
_TRANSIENT_REPLIES = frozenset(
    {"NOGROUP", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "BUSY"}
)


class RedisUnavailable(TradingdError):
    """Raised when Redis cannot be reached or cannot serve us right now (retry later)."""


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or every leaf of an exception group) says "Redis away, retry"."""
    if isinstance(exc, BaseExceptionGroup):
        return all(is_transient(e) for e in exc.exceptions)
    if isinstance(exc, RedisUnavailable | rexc.ConnectionError | rexc.TimeoutError | OSError):
        return True
    if isinstance(exc, rexc.ResponseError):
        return str(exc).split(" ", 1)[0] in _TRANSIENT_REPLIES
    return False


def describe(exc: BaseException) -> str:
    """A one-line description of a (possibly grouped) Redis failure for logs and alerts."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
