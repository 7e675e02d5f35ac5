"""Market-data loaders on the real shared files and on small hand-made ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.messages import Bar, MarketBatch, Tick
from daemon.replay import (
    ColumnMap,
    DataFileError,
    as_message,
    detect_format,
    load_generic,
    load_ninjatrader,
    load_yahoo,
    merge,
    symbol_from_path,
)

DATA = Path("/work/shared/data")
SPY_DAILY = DATA / "daily" / "yahoofinance-SPY-20080101-20180101.csv"
SPY_MIN = DATA / "intraday" / "pyalgotrade" / "nt-spy-minute-2011.csv"
BTC = DATA / "crypto" / "bitstampUSD.csv"
NY = ZoneInfo("America/New_York")
needs_data = pytest.mark.skipif(
    not all(p.is_file() for p in (SPY_DAILY, SPY_MIN, BTC)), reason="shared data absent"
)


@needs_data
def test_yahoo_daily_bars_end_at_the_close_and_quirky_rows_are_repaired() -> None:
    bars, rep = load_yahoo(SPY_DAILY, "SPY")
    assert rep.loaded == len(bars) == 2519
    first = dt.datetime.fromtimestamp(bars[0].ts / 1e9, NY)
    assert (first.date().isoformat(), first.hour) == ("2007-12-31", 16)
    assert all(b.interval_s == 86_400 for b in bars)
    # SOURCES.md: two rows have Open < Low; their range is widened, and said so.
    assert len(rep.repaired) == 2
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert [b.ts for b in bars] == sorted(b.ts for b in bars)


@needs_data
def test_ninjatrader_minute_bars_are_utc_close_times() -> None:
    bars, rep = load_ninjatrader(SPY_MIN, "SPY")
    assert len(bars) == 14_180
    assert not rep.skipped
    assert bars[0].ts == int(dt.datetime(2011, 1, 3, 9, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    assert bars[0].interval_s == 60
    assert (bars[0].open, bars[0].close) == (126.35, 126.39)


@needs_data
def test_generic_ticks_keep_repeated_prints() -> None:
    items, _ = load_generic(BTC, "BTCUSD", ColumnMap.parse("time=0,price=1,size=2", header=False))
    assert len(items) == 9_999
    assert all(isinstance(t, Tick) for t in items)
    ticks = [t for t in items if isinstance(t, Tick)]  # all of them, typed as ticks
    seen = {(t.ts, t.price, t.size) for t in ticks}
    assert len(ticks) - len(seen) == 1_695  # exact repeats are real fills, not errors
    assert ticks[-1].price == 5.1


def test_generic_bars_by_header_name_and_time_format(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text(
        "when;px;vol;sym\n"
        "2024-01-02 10:00;10.5;100;AAA\n"
        "2024-01-02 10:01;oops;100;AAA\n"
        "2024-01-02 10:02;10.7;0;BBB\n"
    )
    m = ColumnMap.parse(
        "time=when,close=px,volume=vol,symbol=sym",
        time_format="%Y-%m-%d %H:%M",
        delimiter=";",
        interval_s=60,
        timezone="America/New_York",
    )
    items, rep = load_generic(p, "IGNORED", m)
    assert all(isinstance(b, Bar) for b in items)  # a tick here would have no close
    bars = [b for b in items if isinstance(b, Bar)]  # all of them, typed as bars
    assert [(b.symbol, b.close) for b in bars] == [("AAA", 10.5), ("BBB", 10.7)]
    assert isinstance(bars[0], Bar)
    assert bars[0].ts == int(dt.datetime(2024, 1, 2, 15, 0, tzinfo=dt.UTC).timestamp()) * 10**9
    assert len(rep.skipped) == 1
    assert "line 3" in rep.skipped[0]


def test_column_map_errors_say_what_is_expected() -> None:
    with pytest.raises(DataFileError, match="needs time="):
        ColumnMap.parse("close=Close")
    with pytest.raises(DataFileError, match="KEY=COLUMN"):
        ColumnMap.parse("time=Date,bogus=3")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    p = tmp_path / "y.csv"
    p.write_text("Date,Close\n2024-01-02,1\n")
    with pytest.raises(DataFileError, match="no column 'Vol'"):
        load_generic(p, "X", ColumnMap.parse("time=Date,close=Close,volume=Vol"))


@needs_data
def test_formats_and_symbols_are_recognised() -> None:
    assert detect_format(SPY_DAILY) == "yahoo"
    assert detect_format(SPY_MIN) == "ninjatrader"
    assert detect_format(BTC) == "generic"
    assert symbol_from_path(SPY_DAILY) == "SPY"
    assert symbol_from_path(SPY_MIN) == "SPY"
    assert symbol_from_path(DATA / "daily" / "nvda-1999-2014.txt") == "NVDA"


def _bar(sym: str, ts: int) -> Bar:
    return Bar(symbol=sym, open=1, high=1, low=1, close=1, ts=ts)


def test_merge_groups_by_time_in_series_order() -> None:
    a = [_bar("A", 1), _bar("A", 3)]
    b = [_bar("B", 1), _bar("B", 2), _bar("B", 3)]
    groups = [[(x.symbol, x.ts) for x in g] for g in merge([a, b])]
    assert groups == [[("A", 1), ("B", 1)], [("B", 2)], [("A", 3), ("B", 3)]]
    msg = as_message(next(iter(merge([a, b]))))
    assert isinstance(msg, MarketBatch)
    assert len(msg.items) == 2
