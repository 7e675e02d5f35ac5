"""``[demo]``: the demo feed that makes ``make run`` trade real history out of the box.

The optional ``demo_feed`` actor plays real daily bars (the S&P 500 and NASDAQ Composite
series shipped inside the ``arch`` package, 1999–2018) on the market topic at an
accelerated pace, runs a built-in signal source over them, and prints a status line.
Enable it with ``[actors] enabled = ["demo_feed"]``; it needs the ``demo`` extra.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import PosFloat, Section

IsoDate = Annotated[str, msgspec.Meta(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
"""A calendar date ``YYYY-MM-DD`` (or empty)."""


class DemoSettings(Section, frozen=True, kw_only=True):
    """What the demo feed plays, how fast, and which built-in signal source trades it."""

    series: list[Literal["sp500", "nasdaq"]] = msgspec.field(
        default_factory=lambda: ["sp500", "nasdaq"]
    )
    """Daily series to play, by their name in the ``arch`` package."""
    symbols: dict[str, str] = msgspec.field(
        default_factory=lambda: {"sp500": "SPX", "nasdaq": "COMP"}
    )
    """Symbol each series trades under."""
    start: IsoDate = ""
    """First day to play (empty: the start of the data, 1999-01-04)."""
    end: IsoDate = ""
    """Last day to play (empty: the end of the data, 2018-12-31)."""
    bars_per_second: PosFloat = 8.0
    """Trading days played per second of real time."""
    signals: str = "ema-cross:fast=10,slow=30"
    """Built-in signal source and its parameters (see docs/replay.md, "Signal sources")."""
    warmup_bars: Annotated[int, msgspec.Meta(ge=0)] = 30
    """Days played before the first one is traded on, so indicators and risk history are
    warm."""
    status_interval_s: PosFloat = 2.0
    """Seconds of real time between two status lines."""
