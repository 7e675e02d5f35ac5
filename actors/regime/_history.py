"""Daily bar files for the regime actor's warm start (Yahoo CSV: ``Date,Open,High,Low,Close``).

A bar dated D is stamped at the end of D (00:00 UTC of D+1): a live daily bar for the
same session, which ends at the close on D, is then not newer than the preloaded one and
is not applied twice, while the next session's bar is.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from actors.kernels import KernelInputError, check_bar
from daemon.clock import NS_PER_S

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).date()


@dataclass(frozen=True, slots=True)
class HistoryBar:
    """One daily bar from a file: ``ts`` is the end of its day, in ns."""

    ts: int
    high: float
    low: float
    close: float


def day_end_ns(day: date) -> int:
    """00:00 UTC of the day after ``day``, in nanoseconds since the epoch."""
    return ((day - _EPOCH) + timedelta(days=1)).days * 86_400 * NS_PER_S


def read_bars(path: str | Path) -> list[HistoryBar]:
    """Every bar of a Yahoo-format daily CSV, oldest first.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` naming the file
    and line of the first malformed row (bad date or number, inconsistent bar, dates
    out of order), for the caller to report.
    """
    out: list[HistoryBar] = []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        need = ("Date", "High", "Low", "Close")
        if header is None or any(col not in header for col in need):
            raise ValueError(f"{path}: expected a header with {', '.join(need)} columns")
        di, hi, li, ci = (header.index(col) for col in need)
        last = -1
        for lineno, row in enumerate(rows, start=2):
            if not row:
                continue
            try:
                ts = day_end_ns(date.fromisoformat(row[di]))
                high, low, close = float(row[hi]), float(row[li]), float(row[ci])
                check_bar(high, low, close)
            except (ValueError, IndexError, KernelInputError) as exc:
                raise ValueError(f"{path}:{lineno}: {exc}") from exc
            if ts <= last:
                raise ValueError(f"{path}:{lineno}: date {row[di]} is not after the previous row")
            last = ts
            out.append(HistoryBar(ts, high, low, close))
    return out
