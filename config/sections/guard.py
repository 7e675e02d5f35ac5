"""``[guard]``: the signal guard's validity, freshness, duplicate and cooldown rules."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import NonNegFloat, PosFloat, PosInt, Section

Conviction = Annotated[int, msgspec.Meta(ge=0, le=100)]
"""A conviction score in [0, 100]."""


class GuardSettings(Section, frozen=True, kw_only=True):
    """What an inbound signal must satisfy before the orchestrator sees it.

    Reason codes for every rejection are listed in docs/actors/signal_guard.md.
    """

    sources: list[str] = []
    """Signal sources accepted; a signal from any other source is ``unknown_source``.
    Empty means no source is known, so every signal is rejected (fail closed)."""
    symbols: list[str] = []
    """If not empty, the only symbols accepted (others are ``unknown_symbol``)."""
    max_age_intraday_s: PosFloat = 30.0
    """An intraday signal older than this (by ``created_ns``) is ``stale``."""
    max_age_swing_s: PosFloat = 300.0
    """A swing signal older than this is ``stale``."""
    max_future_s: NonNegFloat = 5.0
    """Clock skew tolerated for a ``created_ns`` ahead of our clock (else ``from_future``)."""
    min_conviction: Conviction = 0
    """Signals with a lower conviction are ``low_conviction``."""
    max_price: PosFloat = 1_000_000.0
    """Prices above this are ``bad_price`` (fat-finger guard)."""
    max_stop_distance_pct: PosFloat = 50.0
    """A stop further than this % from the entry is ``bad_stop``."""
    dedup_window_s: PosFloat = 600.0
    """Same ``signal_id`` or the same content within this window is ``duplicate``."""
    dedup_capacity: PosInt = 100_000
    """Most remembered signals per dedup index (oldest forgotten first): bounded memory."""
    cooldown_s: NonNegFloat = 60.0
    """After an accepted entry signal, further entries on the key are ``cooldown`` (0: off)."""
    cooldown_key: Literal["symbol", "source_symbol"] = "symbol"
    """Cooldown per symbol, or per (source, symbol) so distinct sources can be fused."""
