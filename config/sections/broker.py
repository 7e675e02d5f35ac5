"""``[broker]``: which broker executes orders, and the paper broker's market model.

``[broker.paper]`` describes how the embedded paper broker simulates a venue: latency,
slippage, commission, partial fills by volume participation, tick and lot sizes, an
optional trading session, and a seeded fault mode (``[broker.paper.faults]``) for tests.
docs/broker.md explains each key.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from config.sections._base import NonNegFloat, Percent, PosFloat, PosInt, Section

Rate: TypeAlias = Annotated[float, msgspec.Meta(ge=0, le=1)]
"""A probability in [0, 1]."""
ClockTime: TypeAlias = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
"""A local time of day, ``HH:MM`` (24-hour)."""


class PaperSessionSettings(Section, frozen=True, kw_only=True):
    """When the simulated venue is open.

    Off by default: the paper broker trades around the clock (replays of daily bars have
    timestamps at midnight). When ``enforce`` is on, orders that reach the venue outside
    the session are rejected with ``market_closed`` and DAY orders expire at the close.
    Exchange holidays are not modelled.
    """

    enforce: bool = False
    """Reject orders outside the session and expire DAY orders at the close."""
    timezone: str = "America/New_York"
    """IANA time zone of ``open`` and ``close``."""
    open: ClockTime = "09:30"
    """Local opening time, ``HH:MM``."""
    close: ClockTime = "16:00"
    """Local closing time, ``HH:MM`` (after ``open``)."""
    weekdays: tuple[Annotated[int, msgspec.Meta(ge=0, le=6)], ...] = (0, 1, 2, 3, 4)
    """Trading days, Monday = 0."""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {self.timezone!r}") from exc
        if self.open >= self.close:
            raise ValueError(f"session open {self.open} must be before close {self.close}")


class PaperFaultSettings(Section, frozen=True, kw_only=True):
    """Seeded misbehaviour for tests (off by default).

    Each rate is the probability, drawn per order (per event for duplicates) from a
    generator seeded with ``broker.seed``, that the fault hits.
    """

    enabled: bool = False
    """Nothing below applies unless this is on."""
    reject_rate: Rate = 0.0
    """The venue rejects the order (reason ``fault_reject``)."""
    timeout_rate: Rate = 0.0
    """The acknowledgement is lost: the order works, but no ACCEPTED update is sent."""
    lost_rate: Rate = 0.0
    """The order never reaches the venue: no event at all, and queries do not know it."""
    partial_rate: Rate = 0.0
    """The order fills only in part; the venue cancels the rest (``fault_partial``)."""
    duplicate_rate: Rate = 0.0
    """An order event (update or fill) is delivered twice."""


class PaperBrokerSettings(Section, frozen=True, kw_only=True):
    """The paper broker: the simulated venue's latency, costs, liquidity and faults."""

    ack_latency_ms: NonNegFloat = 5.0
    """Submit to acknowledgement (or rejection); also the delay before a cancel acts."""
    fill_latency_ms: NonNegFloat = 20.0
    """Acknowledgement to execution for marketable orders (price taken at execution)."""
    slippage_bps: NonNegFloat = 1.0
    """Fixed slippage against the order's side, in basis points of the price."""
    slippage_noise_bps: NonNegFloat = 2.0
    """Extra slippage drawn uniformly from [0, this] per fill (seeded), against the side."""
    commission_per_share: NonNegFloat = 0.005
    """Commission per share (unit of quantity) filled."""
    commission_bps: NonNegFloat = 0.0
    """Commission as basis points of the filled notional (added to the per-share part)."""
    commission_min: NonNegFloat = 1.0
    """Minimum commission per order (charged on its first fill)."""
    commission_quantum: PosFloat = 0.01
    """Commissions are rounded half-up to this amount."""
    max_participation_pct: Percent = 10.0
    """Largest share of one bar's or tick's volume our orders may take (unknown volume:
    no limit)."""
    tick_size: PosFloat = 0.01
    """Price grid: limit/stop prices round to the nearest tick, fill prices against the
    order."""
    lot_size: PosFloat = 1.0
    """Quantity grid: order quantities round down to whole lots (0 lots: rejected)."""
    use_quotes: bool = True
    """Buy at the ask and sell at the bid when a tick carries quotes."""
    allow_short: bool = True
    """Orders that would leave a position short are rejected when off."""
    leverage: PosFloat = 1.0
    """Buying power = equity x leverage - gross exposure - exposure reserved by open orders."""
    event_capacity: PosInt = 65_536
    """Order events buffered before the venue waits for the broker actor."""
    max_closed_orders: PosInt = 100_000
    """Finished orders the venue still answers queries about (oldest forgotten first)."""
    session: PaperSessionSettings = PaperSessionSettings()
    faults: PaperFaultSettings = PaperFaultSettings()


class BrokerSettings(Section, frozen=True, kw_only=True):
    """Broker selection; each kind has its own sub-section."""

    kind: Literal["paper"] = "paper"
    """Which venue: ``paper`` (the embedded simulator; real venues come as adapters)."""
    initial_cash: float = 100_000.0
    """Starting cash of the paper account."""
    seed: int = 42
    """Seed of every random draw (paper slippage noise and faults, restart jitter)."""
    paper: PaperBrokerSettings = PaperBrokerSettings()
