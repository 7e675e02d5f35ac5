"""When the next end-of-day flatten is due: a local time of day in the exchange's zone."""

from __future__ import annotations

import datetime as dt
from typing import final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon.clock import NS_PER_S


class ScheduleError(ValueError):
    """Raised when the time zone or the time of day cannot be used; names the key."""


@final
class DailyTime:
    """A wall-clock time of day (``HH:MM``) in a time zone, as instants in int ns UTC.

    Wall-clock arithmetic happens in the zone, so the instant moves with daylight
    saving as the exchange's close does. A time skipped by a spring-forward gap maps
    to the instant just after the gap; a repeated one to its first occurrence.
    """

    __slots__ = ("_time", "tz")

    def __init__(self, timezone: str, hhmm: str) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ScheduleError(f"daemon.timezone: unknown time zone {timezone!r}") from exc
        try:
            hh, mm = (int(p) for p in hhmm.split(":"))
            self._time = dt.time(hh, mm)
        except ValueError as exc:
            raise ScheduleError(f"lifecycle.eod_flatten_time: {hhmm!r} is not HH:MM") from exc

    def on(self, day: dt.date) -> int:
        """The instant of this time of day on local date ``day``."""
        wall = dt.datetime.combine(day, self._time, tzinfo=self.tz)
        utc = wall.astimezone(dt.UTC)
        # A wall time inside a spring-forward gap does not exist; zoneinfo reads it with
        # the offset before the gap, which lands after the gap once normalised.
        return int(utc.timestamp()) * NS_PER_S

    def next_after(self, t_ns: int) -> int:
        """The first occurrence strictly after ``t_ns``."""
        secs = t_ns // NS_PER_S
        today = dt.datetime.fromtimestamp(secs, dt.UTC).astimezone(self.tz).date()
        for offset in range(-1, 3):
            ns = self.on(today + dt.timedelta(days=offset))
            if ns > t_ns:
                return ns
        raise AssertionError("unreachable: the time of day occurs within any three days")
