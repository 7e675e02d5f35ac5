"""A bounded set whose members expire: the guard's duplicate and cooldown memory.

Every member gets an expiry time when added. Since the clock never goes backwards and
every member of one set lives equally long, expiries are added in order, so a deque in
insertion order is also a deque in expiry order: expiring is popping from the left, and
no operation ever scans the set. ``capacity`` bounds memory even under a flood of
distinct keys inside one window (the oldest are forgotten first).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import final


@final
class ExpiringSet:
    """Keys remembered for ``ttl_ns`` after their last :meth:`add`, at most ``capacity``."""

    __slots__ = ("_expiry", "_order", "capacity", "ttl_ns")

    def __init__(self, ttl_ns: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.ttl_ns = ttl_ns
        self.capacity = capacity
        self._expiry: dict[Hashable, int] = {}
        self._order: deque[tuple[int, Hashable]] = deque()

    def __len__(self) -> int:
        return len(self._expiry)

    def contains(self, key: Hashable, now_ns: int) -> bool:
        """True if ``key`` was added less than ``ttl_ns`` before ``now_ns``."""
        exp = self._expiry.get(key)
        return exp is not None and exp > now_ns

    def expires_at(self, key: Hashable) -> int | None:
        """When ``key`` is forgotten (``None`` if it is not remembered)."""
        return self._expiry.get(key)

    def add(self, key: Hashable, now_ns: int) -> None:
        """Remember ``key`` until ``now_ns + ttl_ns`` (re-adding extends it)."""
        self.expire(now_ns)
        exp = now_ns + self.ttl_ns
        self._expiry[key] = exp
        self._order.append((exp, key))
        if len(self._order) > self.capacity:
            self._pop_oldest()

    def expire(self, now_ns: int) -> None:
        """Forget every key whose time is up."""
        order = self._order
        while order and order[0][0] <= now_ns:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        exp, key = self._order.popleft()
        # A re-added key has a later expiry in the dict; only its newest entry removes it.
        if self._expiry.get(key) == exp:
            del self._expiry[key]
