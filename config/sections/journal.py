"""``[journal]``: the input journal that makes every session replayable.

The journal actor appends every input (market data, signals, operator commands, broker
events, timer firings) and the decisions taken on them to checksummed msgpack frames
under ``daemon.state_dir``; docs/replay.md describes the format and ``tradingd replay``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import PosInt, Seconds, Section

Bytes = Annotated[int, msgspec.Meta(ge=4096, le=1 << 34)]
"""A size in bytes between 4 KiB and 16 GiB."""


class JournalSettings(Section, frozen=True, kw_only=True):
    """Where the journal goes, what it holds and how it is written."""

    dir: str = ""
    """Directory of the journal segments; empty means ``<daemon.state_dir>/journal``."""
    market_data: bool = True
    """Record market data (needed to replay a session; off only for signal-only audits)."""
    decisions: bool = True
    """Also record the decisions (verdicts, orders, fills, exits, trades), so a replay can
    check that it reproduced them."""
    batch_bytes: Bytes = 262_144
    """Frames are written once this much is buffered..."""
    flush_interval_s: Seconds = 0.5
    """...or once the oldest buffered frame has waited this long, whichever comes first."""
    fsync: Literal["batch", "off"] = "batch"
    """``batch``: every write is fsynced before the next one starts (durable to the last
    batch after a power loss); ``off``: leave it to the operating system."""
    max_buffer_bytes: Bytes = 67_108_864
    """Frames held in memory while the disk is slow or failing. Beyond this, frames are
    dropped (never blocking trading), counted, alerted on, and the gap is recorded."""
    retry_s: Seconds = 5.0
    """After a failed write, how often writing is tried again."""
    keep_days: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Delete segments of trading days older than this many days at start and at each
    rotation (0: keep everything)."""
    max_segment_bytes: PosInt = 1_073_741_824
    """A segment that reaches this size is closed and the day continues in a new one."""
