"""Real daily index data shipped inside the ``arch`` package (the ``demo`` extra).

The ``arch`` wheel carries Yahoo Finance downloads of the S&P 500 (``sp500``) and the
NASDAQ Composite (``nasdaq``), 1999-01-04 to 2018-12-31, as gzipped CSV files with
``M/D/YYYY`` dates. They are read in place from the installed package, never copied.
"""

from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import io

from daemon.messages import Bar
from daemon.replay._bars import DataFileError, LoadReport, load_yahoo_text

SERIES = ("sp500", "nasdaq")
"""Daily OHLCV series the demo can play."""


def arch_available() -> bool:
    """True when the ``arch`` package (the ``demo`` extra) is installed."""
    return importlib.util.find_spec("arch") is not None


def load_arch_series(
    series: str, symbol: str, *, timezone: str = "America/New_York"
) -> tuple[list[Bar], LoadReport]:
    """The daily bars of ``series`` (one of :data:`SERIES`) traded as ``symbol``.

    Raises :class:`DataFileError` when ``arch`` is missing or has no such series.
    """
    if series not in SERIES:
        raise DataFileError(f"unknown demo series {series!r}; known: {', '.join(SERIES)}")
    if not arch_available():
        raise DataFileError(
            "the demo needs the `arch` package (real S&P 500 / NASDAQ prices ship inside "
            "it): pip install 'tradingd[demo]' (make run installs it)"
        )
    res = importlib.resources.files("arch.data").joinpath(series, f"{series}.csv.gz")
    try:
        raw = res.read_bytes()
    except OSError as exc:
        raise DataFileError(f"arch.data/{series}/{series}.csv.gz: {exc}") from exc
    text = io.TextIOWrapper(io.BytesIO(gzip.decompress(raw)), encoding="utf-8", newline="")
    return load_yahoo_text(
        text, f"arch.data/{series}", symbol, date_format="%m/%d/%Y", timezone=timezone
    )
