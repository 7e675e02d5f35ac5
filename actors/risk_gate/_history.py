"""Per-symbol daily price and volume history for the risk gate, in bounded arrays.

Each symbol keeps at most ``length`` bars in numpy arrays of twice that capacity; when
full, the newest ``length − 1`` bars are moved to the front, so appends cost O(1)
amortised and the history is always one contiguous, time-ordered slice. Bars are keyed
by period (``ts // interval``): a second bar for the current period replaces it (an
update of today's bar), an older one is ignored.

Derived arrays (returns, aligned return matrices) are cached against each series'
``version``, so a risk request on an unchanged history costs dict lookups; and
:attr:`MarketHistory.version` moves with any change to any of its series, so a cache
over several series can tell in one comparison that none of them changed.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path
from typing import final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_EPOCH = date(1970, 1, 1)


@final
class Series:
    """One symbol's bars: period keys, closes and volumes, oldest first."""

    __slots__ = (
        "_adv",
        "_cap",
        "_changes",
        "_closes",
        "_keys",
        "_len",
        "_ret",
        "_vols",
        "length",
        "n",
        "version",
    )

    def __init__(self, length: int, changes: list[int] | None = None) -> None:
        self.length = length
        # A counter shared with the owning history (one cell, bumped with ``version``).
        self._changes = changes if changes is not None else [0]
        self._cap = 2 * length
        self._keys: I64 = np.zeros(self._cap, dtype=np.int64)
        self._closes: F64 = np.zeros(self._cap, dtype=np.float64)
        self._vols: F64 = np.zeros(self._cap, dtype=np.float64)
        self._len = 0
        self.n = 0
        self.version = 0
        self._ret: tuple[int, I64, F64] | None = None
        self._adv: tuple[int, int, float] = (-1, 0, math.nan)

    def append(self, period: int, close: float, volume: float) -> None:
        """Add (or replace) the bar of ``period``; bars older than the last are ignored."""
        if not (math.isfinite(close) and close > 0.0):
            return
        i = self._len
        if i and period <= self._keys[i - 1]:
            if period == self._keys[i - 1]:
                self._closes[i - 1] = close
                self._vols[i - 1] = volume
                self.version += 1
                self._changes[0] += 1
            return
        if i == self._cap:
            keep = self.length - 1
            self._keys[:keep] = self._keys[i - keep : i]
            self._closes[:keep] = self._closes[i - keep : i]
            self._vols[:keep] = self._vols[i - keep : i]
            i = keep
        self._keys[i] = period
        self._closes[i] = close
        self._vols[i] = volume if math.isfinite(volume) and volume >= 0.0 else 0.0
        self._len = i + 1
        self.n = min(self._len, self.length)
        self.version += 1
        self._changes[0] += 1

    @property
    def last_close(self) -> float:
        """The latest close (NaN when empty)."""
        return float(self._closes[self._len - 1]) if self._len else math.nan

    def adv(self, window: int) -> float:
        """Average volume over the last ``window`` bars (NaN when there are fewer)."""
        version, w, value = self._adv
        if version == self.version and w == window:
            return value
        value = (
            math.nan
            if self.n < window
            else float(self._vols[self._len - window : self._len].mean())
        )
        self._adv = (self.version, window, value)
        return value

    def returns(self) -> tuple[I64, F64]:
        """Simple returns of the kept bars, keyed by the period they end in."""
        cached = self._ret
        if cached is not None and cached[0] == self.version:
            return cached[1], cached[2]
        lo = self._len - self.n
        closes = self._closes[lo : self._len]
        keys = self._keys[lo + 1 : self._len].copy()
        rets = closes[1:] / closes[:-1] - 1.0
        self._ret = (self.version, keys, rets)
        return keys, rets


@final
class MarketHistory:
    """Every symbol's :class:`Series`, plus aligned return matrices for VaR/correlation."""

    __slots__ = ("_aligned", "_changes", "length", "series")

    def __init__(self, length: int) -> None:
        self.length = length
        self.series: dict[str, Series] = {}
        self._changes = [0]
        self._aligned: dict[tuple[tuple[str, int], ...], tuple[I64, F64]] = {}

    @property
    def version(self) -> int:
        """Moves whenever a series is added or any series changes."""
        return self._changes[0]

    def get(self, symbol: str) -> Series | None:
        """The symbol's series, if it has one."""
        return self.series.get(symbol)

    def add_bar(self, symbol: str, period: int, close: float, volume: float) -> None:
        """Record one bar."""
        s = self.series.get(symbol)
        if s is None:
            s = self.series[symbol] = Series(self.length, self._changes)
            self._changes[0] += 1
        s.append(period, close, volume)

    def returns_count(self, symbol: str) -> int:
        """How many returns the symbol has (0 when unknown)."""
        s = self.series.get(symbol)
        return 0 if s is None else max(0, s.n - 1)

    def aligned(self, symbols: tuple[str, ...], window: int) -> tuple[I64, F64]:
        """Returns of ``symbols`` on their common periods, the last ``window`` of them.

        The matrix is ``[period, symbol]`` in the order given; symbols without history
        must be left out by the caller.
        """
        key = (*((s, self.series[s].version) for s in symbols), ("", window))
        hit = self._aligned.get(key)
        if hit is not None:
            return hit
        keys, first = self.series[symbols[0]].returns()
        cols = [first]
        for s in symbols[1:]:
            k2, r2 = self.series[s].returns()
            keys, i1, i2 = np.intersect1d(keys, k2, assume_unique=True, return_indices=True)
            cols = [c[i1] for c in cols]
            cols.append(r2[i2])
        mat = np.column_stack(cols)[-window:] if keys.size else np.zeros((0, len(symbols)))
        out = (keys[-window:], np.ascontiguousarray(mat, dtype=np.float64))
        if len(self._aligned) >= 4096:
            # Keys embed versions, so old entries are dead weight: start over.
            self._aligned.clear()
        self._aligned[key] = out
        return out

    def load_csv(self, symbol: str, path: str | Path) -> int:
        """Preload daily bars from a Yahoo-format CSV (Date,Open,High,Low,Close,...,Volume).

        Returns the number of bars read. Raises ``OSError``/``ValueError`` with the
        file and line on a bad file, for the caller to report.
        """
        n = 0
        with open(path, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header is None or "Close" not in header or "Date" not in header:
                raise ValueError(f"{path}: expected a header with Date and Close columns")
            di, ci = header.index("Date"), header.index("Close")
            vi = header.index("Volume") if "Volume" in header else -1
            for lineno, row in enumerate(rows, start=2):
                if not row:
                    continue
                try:
                    day = (date.fromisoformat(row[di]) - _EPOCH).days
                    close = float(row[ci])
                    vol = float(row[vi]) if vi >= 0 else 0.0
                except (ValueError, IndexError) as exc:
                    raise ValueError(f"{path}:{lineno}: {exc}") from exc
                self.add_bar(symbol, day, close, vol)
                n += 1
        return n
