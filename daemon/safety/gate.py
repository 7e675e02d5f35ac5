"""The read side of the safety state, as every actor sees it.

The orchestrator calls :meth:`SafetyGate.may_submit` synchronously at the last point
before an order leaves the process; the risk gate reads :meth:`SafetyGate.snapshot` for
the daily loss limit, circuit breaker and day-trade checks. Only the safety state's
single writer changes what these return.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import msgspec

from daemon.messages import OrderPurpose, TradingMode


class DayFigures(msgspec.Struct, frozen=True, kw_only=True):
    """The current trading day's figures (reset at the session boundary)."""

    trading_day: str = ""
    """ISO date of the trading day in the exchange time zone."""
    start_equity: str = "0"
    """Start-of-day equity (decimal as text, exact)."""
    realized_pnl: str = "0"
    trade_count: int = 0


class SafetySnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """An immutable view of the safety state at one moment."""

    killed: bool = False
    kill_reason: str = ""
    kill_trigger: str = ""
    kill_by: str = ""
    kill_ns: int = 0
    mode: TradingMode = TradingMode.RUNNING
    day: DayFigures = DayFigures()
    consecutive_losses: int = 0
    breaker_until_ns: int = 0
    day_trades: tuple[str, ...] = ()
    """ISO dates of recent day trades (the PDT ledger), oldest first."""
    writable: bool = True
    """False after a failed write: new risk is halted until a write succeeds."""
    write_error: str = ""
    """Why the last write failed (empty while writable)."""
    mode_reason: str = ""
    breaker_trips: int = 0
    """Times the circuit breaker tripped in the current trading day."""
    seq: int = 0
    """Sequence number of the state this snapshot shows (grows with every change)."""


@runtime_checkable
class SafetyGate(Protocol):
    """What actors may ask of the safety state (the kill switch's read side)."""

    def may_submit(self, purpose: OrderPurpose) -> str | None:
        """``None`` if an order of ``purpose`` may leave now, else the reason it may not.

        While killed, paused or stopped, or when the state cannot be persisted, entries
        are refused; exits, flattening and cancels are always allowed.
        """
        ...

    def snapshot(self) -> SafetySnapshot:
        """The current state (cheap; never blocks)."""
        ...
