"""``[lifecycle]``: the exit rules protecting every open position, per trade type.

Stops and targets carried by the position (from its entry signal) win over the
defaults here; every other rule comes from ``[lifecycle.intraday]`` or
``[lifecycle.swing]`` according to the position's trade type. docs/actors/lifecycle.md
explains each rule.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec

from config.sections._base import (
    NonNegFloat,
    NonNegInt,
    NonNegPercent,
    PosInt,
    Seconds,
    Section,
)

ClockTime: TypeAlias = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
"""A local time of day, ``HH:MM`` (24-hour)."""
Fraction: TypeAlias = Annotated[float, msgspec.Meta(gt=0, lt=1)]
"""A number strictly between 0 and 1."""


class ScaleOutLevel(Section, frozen=True, kw_only=True):
    """One partial target: close part of the position on the way to the full target."""

    at_target_fraction: Fraction
    """Where: this fraction of the way from the entry to the target (0.5 = halfway)."""
    qty_fraction: Fraction
    """How much: this fraction of the quantity held when the position opened."""


class ExitRules(Section, frozen=True, kw_only=True):
    """The exit rules of one trade type; a value of 0 turns a rule off.

    The trade types' own defaults are set by :class:`IntradayExitRules` and
    :class:`SwingExitRules`.
    """

    stop_loss_pct: NonNegPercent = 2.0
    """Stop loss this % below (long) / above (short) the entry when the signal gave none."""
    profit_target_pct: NonNegPercent = 4.0
    """Profit target this % above (long) / below (short) the entry when the signal gave none."""
    trailing_stop_pct: NonNegPercent = 0.0
    """Trailing stop this % behind the best price since entry (ratchets, never loosens)."""
    trailing_atr_multiple: NonNegFloat = 0.0
    """Trailing stop this many ATRs behind the best price since entry; with both trailing
    keys set, the tighter level applies."""
    volatility_stop_atr: NonNegFloat = 0.0
    """Volatility stop: exit when price moves this many (current) ATRs against the entry."""
    pattern_band_pct: NonNegPercent = 0.0
    """Pattern stop: exit when a bar closes through the fast EMA by more than this % against
    the position (below it for a long, above it for a short)."""
    max_holding_s: NonNegFloat = 0.0
    """Time stop: close after holding this many seconds."""
    max_holding_bars: NonNegInt = 0
    """Time stop: close after this many bars of ``lifecycle.bar_interval_s`` have closed."""
    scale_out: list[ScaleOutLevel] = []
    """Partial targets, e.g. ``[{at_target_fraction = 0.5, qty_fraction = 0.5}]`` (needs a
    target; a level whose share rounds to no quantity is skipped)."""


class IntradayExitRules(ExitRules, frozen=True, kw_only=True):
    """The exit rules of intraday trades (also flattened at ``eod_flatten_time``)."""

    stop_loss_pct: NonNegPercent = 1.0
    """Stop loss this % below (long) / above (short) the entry when the signal gave none."""
    profit_target_pct: NonNegPercent = 2.0
    """Profit target this % above (long) / below (short) the entry when the signal gave none."""
    volatility_stop_atr: NonNegFloat = 3.0
    """Volatility stop: exit when price moves this many (current) ATRs against the entry."""


class SwingExitRules(ExitRules, frozen=True, kw_only=True):
    """The exit rules of swing trades."""

    stop_loss_pct: NonNegPercent = 5.0
    """Stop loss this % below (long) / above (short) the entry when the signal gave none."""
    profit_target_pct: NonNegPercent = 10.0
    """Profit target this % above (long) / below (short) the entry when the signal gave none."""


class LifecycleSettings(Section, frozen=True, kw_only=True):
    """The lifecycle monitor: exit rules, indicators, end-of-day flatten and retries."""

    intraday: IntradayExitRules = IntradayExitRules()
    """Rules for intraday trades (also flattened at ``eod_flatten_time``)."""
    swing: SwingExitRules = SwingExitRules()
    """Rules for swing trades."""
    bar_interval_s: PosInt = 60
    """Bars of this interval feed the EMA and ATR and count as bars held; others only mark
    prices."""
    ema_fast_period: PosInt = 9
    """Period of the fast EMA the pattern stop watches."""
    atr_period: PosInt = 14
    """Period of the Wilder ATR used by the ATR trailing and volatility stops."""
    eod_flatten: bool = True
    """Close every intraday position at ``eod_flatten_time``."""
    eod_flatten_time: ClockTime = "15:55"
    """Local time (``daemon.timezone``) of the end-of-day flatten."""
    exit_on_opposite_signal: bool = True
    """An accepted signal on the other side from the position's own source closes it."""
    exit_on_flagged_signal: bool = False
    """Also act on accepted ``is_exit`` signals. Off by default: the orchestrator already
    turns those into exits itself, and one decision should have one owner."""
    exit_retry_s: Seconds = 30.0
    """An exit whose position is still open this long after it was sent is sent again
    (with a new exit id) and an alert is raised."""
    adopt_on_start: bool = True
    """On start, adopt the broker's open positions (with the default rules) so nothing is
    unprotected after a restart; the orchestrator's position updates then refine them."""
    adopt_timeout_s: Seconds = 5.0
    """How long start-up waits for the broker's positions before going on without them."""
    capacity: PosInt = 1024
    """Positions the preallocated arrays hold before they grow (doubling)."""
    offload_positions: PosInt = 20_000
    """With at least this many positions, exit evaluation runs in a worker thread so the
    event loop stays responsive (the kernel releases the GIL)."""
    max_batch: PosInt = 4096
    """Market updates taken in one go before exits are evaluated."""
