"""Market-data files as tradingd messages: Yahoo daily CSV, NinjaTrader minutes, generic CSV.

Every loader returns the file's bars (or ticks) in time order with integer-nanosecond
UTC timestamps, and a :class:`LoadReport` of what it had to repair or skip, so nothing
is silently changed:

* **Yahoo daily** (``Date,Open,High,Low,Close,Adj Close,Volume``): a bar per day,
  stamped at the exchange close (16:00 in ``timezone``), ``interval_s`` 86 400. Rows of
  ``null`` are skipped; a row whose open or close lies outside its high-low range (Yahoo
  serves a few) has its range widened to include them.
* **NinjaTrader minutes** (``yyyyMMdd HHmmss;open;high;low;close;volume``, UTC, no
  header): a bar per row, stamped at its close time, ``interval_s`` 60.
* **generic CSV** with a :class:`ColumnMap`: any header names or column numbers for the
  time and OHLCV (bars) or price/size (ticks), times as epoch seconds, milliseconds,
  nanoseconds or a ``strptime`` format.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import heapq
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TextIO
from zoneinfo import ZoneInfo

from daemon.clock import NS_PER_S
from daemon.messages import Bar, MarketBatch, Tick

MarketItem = Bar | Tick


class DataFileError(ValueError):
    """Raised when a data file cannot be read as the format it claims; names file and line."""


@dataclass
class LoadReport:
    """What a loader read, repaired and skipped."""

    path: str
    symbol: str
    fmt: str
    rows: int = 0
    loaded: int = 0
    skipped: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        parts = [f"{self.path}: {self.loaded} {self.fmt} rows as {self.symbol}"]
        if self.repaired:
            parts.append(f"{len(self.repaired)} repaired (e.g. {self.repaired[0]})")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (e.g. {self.skipped[0]})")
        return "; ".join(parts)


Format = Literal["yahoo", "ninjatrader", "generic"]

_NT_LINE = re.compile(r"^\d{8} \d{6};")
_SKIP_WORDS = frozenset({"yahoofinance", "yahoo", "nt", "minute", "minutes", "daily", "bars"})


def detect_format(path: str | Path) -> Format:
    """Which loader reads ``path``, judged from its first line."""
    first = _first_line(Path(path))
    if first.replace(" ", "").lower().startswith("date,open,high,low,close"):
        return "yahoo"
    if _NT_LINE.match(first):
        return "ninjatrader"
    return "generic"


def symbol_from_path(path: str | Path) -> str:
    """A symbol guessed from a file name: ``yahoofinance-AAPL-...`` → AAPL, ``nvda-1999``
    → NVDA, ``nt-spy-minute-2011`` → SPY (pass ``SYMBOL=path`` to say it outright)."""
    stem = Path(path).name.split(".")[0]
    for token in re.split(r"[^A-Za-z0-9]+", stem):
        if token.isalpha() and 1 <= len(token) <= 6 and token.lower() not in _SKIP_WORDS:
            return token.upper()
    raise DataFileError(f"{path}: cannot tell the symbol from the file name; use SYMBOL=PATH")


def close_time_ns(day: dt.date, tz: ZoneInfo, close: dt.time = dt.time(16, 0)) -> int:
    """The exchange close on ``day`` in ``tz`` as int ns UTC."""
    local = dt.datetime.combine(day, close, tzinfo=tz)
    return int(local.timestamp()) * NS_PER_S


def load_yahoo(
    path: str | Path, symbol: str, *, timezone: str = "America/New_York"
) -> tuple[list[Bar], LoadReport]:
    """Daily bars of a Yahoo Finance CSV (see the module docstring)."""
    p = Path(path)
    with _open_text(p) as fh:
        return _yahoo_rows(fh, str(p), symbol, ZoneInfo(timezone), "%Y-%m-%d")


def load_yahoo_text(
    fh: TextIO, name: str, symbol: str, *, date_format: str, timezone: str = "America/New_York"
) -> tuple[list[Bar], LoadReport]:
    """Daily bars of Yahoo-style CSV text with dates in ``date_format``."""
    return _yahoo_rows(fh, name, symbol, ZoneInfo(timezone), date_format)


def _yahoo_rows(
    fh: TextIO, name: str, symbol: str, tz: ZoneInfo, date_format: str
) -> tuple[list[Bar], LoadReport]:
    report = LoadReport(name, symbol, "daily")
    reader = csv.reader(fh)
    header = [h.strip().lower() for h in next(reader, [])]
    try:
        di, oi, hi, li, ci = (header.index(k) for k in ("date", "open", "high", "low", "close"))
    except ValueError:
        raise DataFileError(f"{name}: header must name Date,Open,High,Low,Close") from None
    vi = header.index("volume") if "volume" in header else -1
    bars: list[Bar] = []
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        report.rows += 1
        try:
            day = dt.datetime.strptime(row[di].strip(), date_format).date()  # noqa: DTZ007
            o, h, lo, c = (float(row[i]) for i in (oi, hi, li, ci))
            v = float(row[vi]) if vi >= 0 and row[vi].strip() else 0.0
        except (ValueError, IndexError):
            report.skipped.append(f"line {lineno}: {','.join(row)[:60]}")
            continue
        bar = _bar(symbol, o, h, lo, c, v, 86_400, close_time_ns(day, tz), report, lineno)
        if bar is not None:
            bars.append(bar)
    bars.sort(key=lambda b: b.ts)
    report.loaded = len(bars)
    return bars, report


def load_ninjatrader(path: str | Path, symbol: str) -> tuple[list[Bar], LoadReport]:
    """Minute bars of a NinjaTrader export (see the module docstring)."""
    p = Path(path)
    report = LoadReport(str(p), symbol, "minute")
    bars: list[Bar] = []
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with _open_text(p) as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            report.rows += 1
            try:
                stamp, o, h, lo, c, v = line.split(";")
                t = dt.datetime(
                    int(stamp[0:4]),
                    int(stamp[4:6]),
                    int(stamp[6:8]),
                    int(stamp[9:11]),
                    int(stamp[11:13]),
                    int(stamp[13:15]),
                    tzinfo=dt.UTC,
                )
                ts = int((t - epoch).total_seconds()) * NS_PER_S
                vals = float(o), float(h), float(lo), float(c), float(v)
            except (ValueError, IndexError):
                report.skipped.append(f"line {lineno}: {line[:60]}")
                continue
            bar = _bar(symbol, *vals, 60, ts, report, lineno)
            if bar is not None:
                bars.append(bar)
    bars.sort(key=lambda b: b.ts)
    report.loaded = len(bars)
    return bars, report


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a generic CSV hold what (header names, or 0-based numbers).

    Bars need ``time`` and ``close`` (``open``/``high``/``low`` default to the close,
    ``volume`` to 0); ticks need ``time`` and ``price`` (``size`` optional). ``time_unit``
    reads numeric times (``s``, ``ms``, ``us``, ``ns``); ``time_format`` reads text times
    with ``strptime`` (naive times are taken in ``timezone``).
    """

    columns: dict[str, str]
    time_unit: Literal["s", "ms", "us", "ns"] = "s"
    time_format: str = ""
    header: bool = True
    delimiter: str = ","
    interval_s: int = 86_400
    timezone: str = "UTC"

    KEYS = frozenset({"time", "open", "high", "low", "close", "volume", "price", "size", "symbol"})

    @classmethod
    def parse(cls, spec: str, **options: object) -> ColumnMap:
        """``time=Date,close=Close,volume=Vol`` (or ``time=0,price=1,size=2``)."""
        cols: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or not value or key not in cls.KEYS:
                raise DataFileError(
                    f"column mapping {part!r}: expected KEY=COLUMN with KEY one of "
                    f"{', '.join(sorted(cls.KEYS))}"
                )
            cols[key] = value.strip()
        if "time" not in cols or not ({"close", "price"} & cols.keys()):
            raise DataFileError("column mapping needs time= and close= (bars) or price= (ticks)")
        return cls(cols, **options)  # type: ignore[arg-type]


_UNIT_NS = {"s": NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}


def load_generic(
    path: str | Path, symbol: str, mapping: ColumnMap
) -> tuple[list[MarketItem], LoadReport]:
    """Bars or ticks of any CSV described by ``mapping``."""
    p = Path(path)
    ticks = "price" in mapping.columns
    report = LoadReport(str(p), symbol, "tick" if ticks else "bar")
    tz = ZoneInfo(mapping.timezone)
    items: list[MarketItem] = []
    with _open_text(p) as fh:
        reader = csv.reader(fh, delimiter=mapping.delimiter)
        header = next(reader, []) if mapping.header else []
        idx = _indices(mapping, [h.strip() for h in header], str(p))
        for lineno, row in enumerate(reader, start=2 if mapping.header else 1):
            if not row:
                continue
            report.rows += 1
            try:
                ts = _time(row[idx["time"]].strip(), mapping, tz)
                sym = row[idx["symbol"]].strip() if "symbol" in idx else symbol
                if ticks:
                    price = float(row[idx["price"]])
                    size = float(row[idx["size"]]) if "size" in idx else 0.0
                    if not price > 0.0:
                        raise ValueError("price must be positive")
                    items.append(Tick(symbol=sym, price=price, size=size, ts=ts))
                    continue
                c = float(row[idx["close"]])
                o = float(row[idx["open"]]) if "open" in idx else c
                h = float(row[idx["high"]]) if "high" in idx else max(o, c)
                lo = float(row[idx["low"]]) if "low" in idx else min(o, c)
                v = float(row[idx["volume"]]) if "volume" in idx else 0.0
            except (ValueError, IndexError) as exc:
                report.skipped.append(f"line {lineno}: {exc}")
                continue
            bar = _bar(sym, o, h, lo, c, v, mapping.interval_s, ts, report, lineno)
            if bar is not None:
                items.append(bar)
    items.sort(key=lambda b: b.ts)
    report.loaded = len(items)
    return items, report


def _indices(mapping: ColumnMap, header: list[str], name: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, col in mapping.columns.items():
        if col.isdigit():
            out[key] = int(col)
        elif col in header:
            out[key] = header.index(col)
        else:
            raise DataFileError(f"{name}: no column {col!r} (have: {', '.join(header) or 'none'})")
    return out


def _time(text: str, mapping: ColumnMap, tz: ZoneInfo) -> int:
    if mapping.time_format:
        t = dt.datetime.strptime(text, mapping.time_format)  # noqa: DTZ007
        if t.tzinfo is None:
            t = t.replace(tzinfo=tz)
        return int(t.timestamp() * 1_000_000) * 1_000
    unit = _UNIT_NS[mapping.time_unit]
    # Integers stay exact; only fractional text goes through a float.
    return round(float(text) * unit) if "." in text else int(text) * unit


def _bar(
    symbol: str,
    o: float,
    h: float,
    lo: float,
    c: float,
    v: float,
    interval_s: int,
    ts: int,
    report: LoadReport,
    lineno: int,
) -> Bar | None:
    if not all(x > 0.0 for x in (o, h, lo, c)) or v < 0.0:
        report.skipped.append(f"line {lineno}: non-positive price or negative volume")
        return None
    if h < lo:
        report.skipped.append(f"line {lineno}: high {h} below low {lo}")
        return None
    hi2, lo2 = max(h, o, c), min(lo, o, c)
    if hi2 != h or lo2 != lo:
        report.repaired.append(f"line {lineno}: range widened to include open/close")
    return Bar(
        symbol=symbol, open=o, high=hi2, low=lo2, close=c, volume=v, interval_s=interval_s, ts=ts
    )


def _first_line(p: Path) -> str:
    with _open_text(p) as fh:
        return fh.readline().strip()


def _open_text(p: Path) -> TextIO:
    try:
        if p.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
        return open(p, encoding="utf-8", newline="")
    except OSError as exc:
        raise DataFileError(f"{p}: {exc.strerror or exc}") from exc


def merge(series: Iterable[Sequence[MarketItem]]) -> Iterator[list[MarketItem]]:
    """Items of several time-ordered series, grouped by timestamp, in time order.

    Ties keep the order of the series as given, so the grouping is deterministic.
    """
    ordered = heapq.merge(*(_keyed(i, s) for i, s in enumerate(series)))
    group: list[MarketItem] = []
    ts = None
    for (t, _, _), item in ordered:
        if group and t != ts:
            yield group
            group = []
        ts = t
        group.append(item)
    if group:
        yield group


def _keyed(
    i: int, items: Sequence[MarketItem]
) -> Iterator[tuple[tuple[int, int, int], MarketItem]]:
    # A function, not a nested generator expression: ``i`` must be bound per series.
    for j, item in enumerate(items):
        yield (item.ts, i, j), item


def as_message(group: Sequence[MarketItem]) -> MarketItem | MarketBatch:
    """One item as itself, several (same time) as a MarketBatch."""
    if len(group) == 1:
        return group[0]
    return MarketBatch(items=tuple(group), ts=group[0].ts)
