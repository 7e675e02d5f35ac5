"""``[safety]``: the kill switch, its automatic triggers and the persistent safety state.

The state file lives in ``daemon.state_dir``; the trading day is counted in
``daemon.timezone``; the daily loss limit is ``risk.daily_loss_limit_pct``.
docs/kill-switch.md explains each key.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

import msgspec

from config.sections._base import NonNegFloat, NonNegInt, PosInt, Seconds, Section

ClockTime: TypeAlias = Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
"""A local time of day, ``HH:MM`` (24-hour)."""
IsoDate: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
]
"""A calendar date, ``YYYY-MM-DD``."""
AutoTrigger: TypeAlias = Literal[
    "daily_loss", "circuit_breaker", "reconciliation", "actor_escalation", "broker_disconnect"
]
"""The automatic kill-switch triggers (the operator chooses ``flatten`` per command)."""


class SafetySettings(Section, frozen=True, kw_only=True):
    """Where the safety state lives and what engages the kill switch on its own."""

    state_file: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]+$")] = "safety.state"
    """File name of the safety state inside ``daemon.state_dir`` (a plain name, no path)."""
    create_state_dir: bool = False
    """Create a missing ``daemon.state_dir``. Off by default: a missing directory usually
    means a volume that is not mounted, and starting fresh there would silently forget an
    engaged kill switch, so the daemon starts killed instead. The paper config turns it on."""
    session_boundary: ClockTime = "00:00"
    """Local time (``daemon.timezone``) at which the trading day rolls over: day P&L,
    trade count and the circuit breaker's loss streak reset; the kill switch does not."""
    kill_cancels: Literal["all", "entries"] = "all"
    """Which working orders engaging the kill switch cancels. ``entries`` keeps resting
    protective exits (stops, targets) working when positions are not flattened."""
    flatten_on: list[AutoTrigger] = msgspec.field(default_factory=lambda: ["daily_loss"])
    """Automatic triggers that also flatten every position (emergency close all)."""
    daily_loss_kill: bool = True
    """Engage when the day's loss reaches ``risk.daily_loss_limit_pct`` of start equity."""
    breaker_max_losses: NonNegInt = 3
    """Consecutive losing trades that trip the circuit breaker (0: no breaker)."""
    breaker_cooldown_s: NonNegFloat = 1800.0
    """How long a tripped breaker holds new entries back (read by the risk gate)."""
    breaker_kill_after_trips: NonNegInt = 0
    """Engage the kill switch when the breaker trips this many times in one trading day
    (0: never; the breaker only cools down)."""
    broker_disconnect_kill_s: NonNegFloat = 60.0
    """Engage when a broker stays disconnected this long while positions are open
    (0: never)."""
    pdt_window_days: PosInt = 5
    """Business days the day-trade ledger remembers (the PDT rule counts 5)."""
    holidays: list[IsoDate] = []
    """Exchange holidays (``YYYY-MM-DD``), skipped when counting business days for PDT."""
    write_retry_s: Seconds = 5.0
    """After a failed write, how often the state is written again until it succeeds."""
    write_in_thread: bool = True
    """Write the state file from a worker thread, so an fsync never stalls the event loop.
    Replays turn it off: their state lives on a throwaway tmpfs directory where the
    write takes microseconds and the thread hand-off (about a millisecond on a busy
    machine, once per trade and per trading day) would cost more than the write."""
