"""Trading days: labels by session boundary, daylight saving, business-day windows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from daemon.safety.calendar import CalendarError, SessionCalendar
from tests.unit.safety.support import ns


def test_midnight_boundary_labels_by_local_date() -> None:
    cal = SessionCalendar("America/New_York", "00:00")
    assert cal.trading_day(ns(2024, 3, 1, 23, 59)) == "2024-03-01"
    assert cal.trading_day(ns(2024, 3, 2, 0, 0)) == "2024-03-02"
    # 03:00 UTC on the 2nd is still the evening of the 1st in New York.
    assert cal.trading_day(ns(2024, 3, 2, 3, 0, tz=ZoneInfo("UTC"))) == "2024-03-01"


def test_morning_boundary_starts_the_day_at_the_boundary() -> None:
    cal = SessionCalendar("America/New_York", "04:00")
    assert cal.trading_day(ns(2024, 3, 1, 3, 59)) == "2024-02-29"
    assert cal.trading_day(ns(2024, 3, 1, 4, 0)) == "2024-03-01"


def test_evening_boundary_labels_the_next_day() -> None:
    cal = SessionCalendar("America/New_York", "17:00")
    assert cal.trading_day(ns(2024, 3, 1, 16, 59)) == "2024-03-01"
    assert cal.trading_day(ns(2024, 3, 1, 17, 0)) == "2024-03-02"


def test_next_boundary_is_strictly_later_and_changes_the_day() -> None:
    cal = SessionCalendar("America/New_York", "17:00")
    t = ns(2024, 3, 1, 12)
    b = cal.next_boundary_ns(t)
    assert b == ns(2024, 3, 1, 17)
    assert cal.next_boundary_ns(b) == ns(2024, 3, 2, 17)
    assert cal.trading_day(b - 1) != cal.trading_day(b)


def test_boundaries_follow_local_time_across_daylight_saving() -> None:
    cal = SessionCalendar("America/New_York", "00:00")
    # 2024-03-10: clocks jump from 02:00 to 03:00; the day is 23 hours long.
    b1 = cal.next_boundary_ns(ns(2024, 3, 9, 12))
    b2 = cal.next_boundary_ns(b1)
    assert (b2 - b1) // 3_600_000_000_000 == 23
    # 2024-11-03: 25 hours.
    b3 = cal.next_boundary_ns(ns(2024, 11, 2, 12))
    assert (cal.next_boundary_ns(b3) - b3) // 3_600_000_000_000 == 25


def test_boundary_inside_the_spring_gap_still_rolls_the_day() -> None:
    cal = SessionCalendar("America/New_York", "02:30")
    b = cal.next_boundary_ns(ns(2024, 3, 10, 1))
    assert cal.trading_day(b - 1) == "2024-03-09"
    assert cal.trading_day(b) == "2024-03-10"


def test_window_start_counts_business_days_and_skips_holidays() -> None:
    cal = SessionCalendar("America/New_York", holidays=["2024-02-19"])
    # Fri 2024-02-23 back 5 business days: 23, 22, 21, 20, (19 is a holiday), 16.
    assert cal.window_start("2024-02-23", 5) == "2024-02-16"
    assert cal.window_start("2024-02-23", 1) == "2024-02-23"
    # From a Sunday the window starts on business days only.
    assert cal.window_start("2024-02-25", 1) == "2024-02-23"


def test_bad_zone_and_holiday_are_configuration_errors() -> None:
    with pytest.raises(CalendarError, match=r"daemon\.timezone"):
        SessionCalendar("Mars/Olympus")
    with pytest.raises(CalendarError, match=r"safety\.holidays"):
        SessionCalendar("UTC", holidays=["2024-02-30"])
