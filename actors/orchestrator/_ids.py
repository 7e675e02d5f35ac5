"""Deterministic identifiers: the same signal (or exit) always yields the same ids.

A re-delivered signal therefore maps onto the order it already caused, and after a
crash an intent can be matched to the broker's order by its client order id.
"""

from __future__ import annotations

from hashlib import blake2b

_SEP = "\x1f"


def _digest(*parts: str) -> str:
    return blake2b(_SEP.join(parts).encode(), digest_size=10).hexdigest()


def correlation_id(source: str, signal_id: str) -> str:
    """Correlation id of everything a signal causes (20 hex digits, prefixed ``c``)."""
    return "c" + _digest("signal", source, signal_id)


def entry_order_id(account: str, source: str, signal_id: str) -> str:
    """Client order id of the entry a signal causes (prefixed ``e``)."""
    return "e" + _digest("entry", account, source, signal_id)


def exit_order_id(account: str, exit_id: str) -> str:
    """Client order id of the order an exit intent causes (prefixed ``x``)."""
    return "x" + _digest("exit", account, exit_id)


def exit_correlation_id(exit_id: str) -> str:
    """Correlation id for an exit that carries none of its own."""
    return "c" + _digest("exit", exit_id)
