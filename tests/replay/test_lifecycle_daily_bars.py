"""Replay real SPY daily bars through the lifecycle monitor and check its exits.

The first cases are small enough to verify by hand against the CSV rows quoted in
each comment (Yahoo's SPY file in /work/shared/data/daily, read in place). The last
test replays many entries and compares every exit with an independent plain loop over
the same rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from daemon.clock import NS_PER_S, SimClock
from daemon.messages import Bar, ExitIntent, ExitReason, Side
from tests.pipeline_support import have_data, read_bars
from tests.unit.lifecycle._harness import Harness, lifecycle_settings

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data not present")

NY = ZoneInfo("America/New_York")
Row = tuple[str, float, float, float, float, float]


def close_ns(date: str) -> int:
    """16:00 New York on ``date``: when the daily bar of that date ends."""
    d = dt.date.fromisoformat(date)
    return int(dt.datetime.combine(d, dt.time(16, 0), tzinfo=NY).timestamp()) * NS_PER_S


_ROWS: list[Row] | None = None


def spy() -> list[Row]:
    global _ROWS
    if _ROWS is None:
        _ROWS = read_bars("SPY")
    return _ROWS


async def replay(
    entry_date: str,
    qty: int,
    *,
    stop: float | None = None,
    target: float | None = None,
    **rules: Any,
) -> tuple[ExitIntent, str]:
    """Open at ``entry_date``'s close, feed the following bars; the exit and its date."""
    rows = spy()
    start = next(i for i, r in enumerate(rows) if r[0] == entry_date)
    entry = rows[start][4]
    clock = SimClock(close_ns(entry_date))
    h = Harness(lifecycle_settings(bar_interval_s=86_400, swing=rules), clock)
    async with anyio.create_task_group() as tg:
        await h.start(tg)
        await h.position("SPY", qty, entry, stop=stop, target=target)
        for date, o, hi, lo, c, v in rows[start + 1 :]:
            await h.run_until(close_ns(date))
            await h.publish_market(
                Bar(
                    symbol="SPY",
                    open=o,
                    high=hi,
                    low=lo,
                    close=c,
                    volume=v,
                    interval_s=86_400,
                    ts=close_ns(date),
                )
            )
            out = h.exits()
            if out:
                tg.cancel_scope.cancel()
                assert len(out) == 1
                assert h.actor.rejected == 0  # real bars: nothing refused at the boundary
                return out[0], date
        tg.cancel_scope.cancel()
    raise AssertionError(f"no exit after {entry_date}")


async def test_long_stopped_out_after_lehman() -> None:
    # Entry: 2008-09-12 close 126.089996; stop 5% below = 119.7855.
    # 2008-09-15: low 119.889999 > stop: holds. 2008-09-16: low 117.00 <= stop: out.
    x, date = await replay("2008-09-12", 100, stop=126.089996 * 0.95)
    assert (date, x.reason, x.side) == ("2008-09-16", ExitReason.STOP_LOSS, Side.SELL)
    assert x.trigger_price == pytest.approx(119.7855, abs=1e-4)


async def test_long_target_in_the_march_2009_rally() -> None:
    # Entry: 2009-03-09 close 68.110001; target 10% above = 74.9210.
    # Highs: 03-10 72.37, 03-11 73.75, 03-12 75.75 >= target: out at the target.
    x, date = await replay("2009-03-09", 100, stop=68.110001 * 0.95, target=68.110001 * 1.10)
    assert (date, x.reason) == ("2009-03-12", ExitReason.PROFIT_TARGET)
    assert x.trigger_price == pytest.approx(74.9210, abs=1e-4)


async def test_short_stopped_by_the_october_2008_squeeze() -> None:
    # Short at 2008-10-10 close 88.50; stop 5% above = 92.925, target 5% below = 84.075.
    # 2008-10-13: high 101.349998 >= stop (low 89.95 > target): stopped, a buy to close.
    x, date = await replay("2008-10-10", -100, stop=92.925, target=84.075)
    assert (date, x.reason, x.side) == ("2008-10-13", ExitReason.STOP_LOSS, Side.BUY)
    assert x.trigger_price == pytest.approx(92.925)


async def test_flash_crash_hits_the_stop_not_the_target() -> None:
    # Long at 2010-05-05 close 116.82, stop 3% = 113.3154. 2010-05-06: low 105.00.
    x, date = await replay("2010-05-05", 100, stop=116.82 * 0.97, target=116.82 * 1.03)
    assert (date, x.reason) == ("2010-05-06", ExitReason.STOP_LOSS)


async def test_short_target_in_august_2011() -> None:
    # Short at 2011-08-01 close 128.779999, target 4% below = 123.6288.
    # 2011-08-02: low 125.489998; 2011-08-03: low 123.529999 <= target.
    x, date = await replay("2011-08-01", -100, stop=128.779999 * 1.04, target=128.779999 * 0.96)
    assert (date, x.reason, x.side) == ("2011-08-03", ExitReason.PROFIT_TARGET, Side.BUY)
    assert x.trigger_price == pytest.approx(123.6288, abs=1e-4)


async def test_trailing_stop_rides_the_2009_rally() -> None:
    # Long at 2009-03-09 close 68.11 with only an 8% trailing stop. The best high
    # before the exit is 96.110001, so the stop stands at 96.11·0.92 = 88.4212;
    # 2009-07-07 trades down to 88.00 through it.
    x, date = await replay("2009-03-09", 100, trailing_stop_pct=8.0)
    assert (date, x.reason) == ("2009-07-07", ExitReason.TRAILING_STOP)
    assert x.trigger_price == pytest.approx(96.110001 * 0.92, abs=1e-4)


async def test_time_stop_after_five_bars() -> None:
    # Entry 2012-01-03; the fifth bar held is 2012-01-10.
    x, date = await replay("2012-01-03", 100, max_holding_bars=5)
    assert (date, x.reason, x.trigger_price) == ("2012-01-10", ExitReason.TIME_STOP, 129.130005)


async def test_bars_with_open_outside_the_range_are_used() -> None:
    # Yahoo's SPY file has Open < Low on 2015-03-05 and 2015-03-30; those bars must
    # still mark the position (the replay asserts nothing was rejected).
    x, date = await replay("2015-03-02", 100, max_holding_bars=25)
    assert (date, x.reason) == ("2015-04-07", ExitReason.TIME_STOP)


def scan(start: int, side: int, stop: float, target: float) -> tuple[str, ExitReason]:
    """The plain loop the exits are checked against: first bar through a level, stop first."""
    for date, _o, hi, lo, _c, _v in spy()[start + 1 :]:
        if (lo <= stop) if side > 0 else (hi >= stop):
            return date, ExitReason.STOP_LOSS
        if (hi >= target) if side > 0 else (lo <= target):
            return date, ExitReason.PROFIT_TARGET
    raise AssertionError("no exit in the data")


@pytest.mark.parametrize("k", range(12))
async def test_many_entries_match_a_plain_scan(k: int) -> None:
    rows = spy()
    start = 60 + k * 190  # spread over 2008..2017
    side = 1 if k % 2 == 0 else -1
    entry = rows[start][4]
    stop = entry * (1 - side * 0.04)
    target = entry * (1 + side * 0.06)
    x, date = await replay(rows[start][0], 100 * side, stop=stop, target=target)
    assert (date, x.reason) == scan(start, side, stop, target)
