"""The trading day: which day an instant belongs to, and when the next one starts.

A trading day runs from one session boundary (``safety.session_boundary``, local time in
``daemon.timezone``) to the next. It is labelled with the calendar date on which most of
it falls: with a boundary at or before noon (e.g. ``00:00`` or ``04:00``) the session
that starts on date D is day D; with a boundary after noon (e.g. ``17:00``, the futures
convention) the session that starts on the evening of D-1 is day D. Wall-clock
arithmetic is done in the exchange's zone with :mod:`zoneinfo`, so a daylight-saving
change moves the boundary with local time, as an exchange does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon.clock import NS_PER_S

__all__ = ("CalendarError", "SessionCalendar")

_DAY = dt.timedelta(days=1)
_NOON = dt.timedelta(hours=12)


class CalendarError(ValueError):
    """Raised when the time zone or a holiday is not valid; the text names the key."""


@final
class SessionCalendar:
    """Maps instants (int ns, UTC) to trading days and business-day windows."""

    __slots__ = ("_boundary", "_boundary_time", "_holidays", "_shift", "tz")

    def __init__(self, timezone: str, boundary: str = "00:00", holidays: Iterable[str] = ()):
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"daemon.timezone: unknown time zone {timezone!r}") from exc
        hh, mm = (int(p) for p in boundary.split(":"))
        self._boundary_time = dt.time(hh, mm)
        self._boundary = dt.timedelta(hours=hh, minutes=mm)
        # Shift local wall time so that the boundary lands on midnight of the label date.
        self._shift = -self._boundary if self._boundary <= _NOON else _DAY - self._boundary
        days: set[dt.date] = set()
        for d in holidays:
            try:
                days.add(dt.date.fromisoformat(d))
            except ValueError as exc:
                raise CalendarError(f"safety.holidays: {d!r} is not a calendar date") from exc
        self._holidays = frozenset(days)

    def local(self, t_ns: int) -> dt.datetime:
        """``t_ns`` as an aware datetime in the exchange's zone (microsecond precision)."""
        secs, rem = divmod(t_ns, NS_PER_S)
        utc = dt.datetime.fromtimestamp(secs, dt.UTC) + dt.timedelta(microseconds=rem // 1000)
        return utc.astimezone(self.tz)

    def trading_day(self, t_ns: int) -> str:
        """ISO date of the trading day ``t_ns`` belongs to."""
        wall = self.local(t_ns).replace(tzinfo=None)
        return (wall + self._shift).date().isoformat()

    def next_boundary_ns(self, t_ns: int) -> int:
        """The first session boundary strictly after ``t_ns``."""
        today = self.local(t_ns).date()
        for offset in range(-1, 3):
            ns = self._boundary_on(today + dt.timedelta(days=offset))
            if ns > t_ns:
                return ns
        raise AssertionError("unreachable: a boundary falls within any three days")

    def _boundary_on(self, day: dt.date) -> int:
        wall = dt.datetime.combine(day, self._boundary_time, tzinfo=self.tz)
        first = _to_ns(wall)  # fold=0: the earlier reading of an ambiguous wall time
        second = _to_ns(wall.replace(fold=1))
        if first <= second:
            # Normal, or a boundary in the repeated hour of a fall-back: the day starts
            # at the first time the clock shows the boundary.
            return first
        # The boundary falls in a spring-forward gap: the clock never shows it, and the
        # day starts at the jump, somewhere in (second, first]. Find it to the microsecond.
        before = self.trading_day(second)
        lo, hi = second, first
        while hi - lo > 1000:
            mid = (lo + hi) // 2
            if self.trading_day(mid) == before:
                lo = mid
            else:
                hi = mid
        return hi

    def is_business_day(self, day: dt.date) -> bool:
        """Monday to Friday and not a configured holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def window_start(self, day: str, business_days: int) -> str:
        """The earliest date of the ``business_days``-long window that ends on ``day``.

        ``day`` counts as the first business day of the window when it is one.
        """
        d = dt.date.fromisoformat(day)
        counted = 0
        while True:
            if self.is_business_day(d):
                counted += 1
                if counted >= business_days:
                    return d.isoformat()
            d -= _DAY


def _to_ns(t: dt.datetime) -> int:
    delta = t.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1000
