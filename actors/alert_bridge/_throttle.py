"""Throttling and deduplication of alerts, on the injected clock, in bounded memory.

Two rules, applied in order:

* **Deduplication.** The same alert — same code, same subject — within ``window_s`` of
  the last one delivered is suppressed and counted.
* **Rate limit.** At most ``rate_per_minute`` alerts of one code are delivered in any
  60 seconds; critical alerts are exempt (a person must hear about every kill).

Suppressed alerts are not lost without a trace: the next delivered alert of the same
code and subject (or, for the rate limit, of the same code) says how many were held back.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import final

from daemon.clock import NS_PER_S, Clock
from daemon.messages import Severity

_MINUTE_NS = 60 * NS_PER_S


@final
class _Seen:
    __slots__ = ("last_ns", "suppressed")

    def __init__(self, last_ns: int) -> None:
        self.last_ns = last_ns
        self.suppressed = 0


@final
class Throttle:
    """Decides whether an alert goes out, and how many like it were held back."""

    def __init__(
        self, clock: Clock, *, window_s: float, rate_per_minute: int, max_tracked: int
    ) -> None:
        self.clock = clock
        self.window_ns = int(window_s * NS_PER_S)
        self.rate_per_minute = rate_per_minute
        self.max_tracked = max_tracked
        self._seen: OrderedDict[tuple[str, str], _Seen] = OrderedDict()
        self._sent: OrderedDict[str, deque[int]] = OrderedDict()
        self._rate_held: dict[str, int] = {}
        self.suppressed = 0
        """Alerts held back in total (both rules)."""

    def admit(self, code: str, subject: str, severity: Severity) -> int | None:
        """None to suppress the alert; else how many similar ones were held back before it."""
        now = self.clock.now_ns()
        key = (code, subject)
        seen = self._seen.get(key)
        if seen is not None and self.window_ns and now - seen.last_ns < self.window_ns:
            seen.suppressed += 1
            self.suppressed += 1
            return None
        sent = self._sent.get(code)
        if sent is None:
            sent = self._sent[code] = deque()
            self._trim(self._sent)
        else:
            self._sent.move_to_end(code)
        while sent and now - sent[0] >= _MINUTE_NS:
            sent.popleft()
        if severity is not Severity.CRITICAL and len(sent) >= self.rate_per_minute:
            self._rate_held[code] = self._rate_held.get(code, 0) + 1
            self.suppressed += 1
            return None
        sent.append(now)
        held = self._rate_held.pop(code, 0)
        if seen is not None:
            held += seen.suppressed
            seen.suppressed = 0
            seen.last_ns = now
            self._seen.move_to_end(key)
        else:
            self._seen[key] = _Seen(now)
            self._trim(self._seen)
        return held

    def _trim(
        self, table: OrderedDict[str, deque[int]] | OrderedDict[tuple[str, str], _Seen]
    ) -> None:
        # Forget the least recently alerted first: memory stays bounded for months.
        while len(table) > self.max_tracked:
            table.popitem(last=False)
