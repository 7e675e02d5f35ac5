"""Kill switch, trading mode and exit intents."""

from __future__ import annotations

import enum
from decimal import Decimal

from daemon.messages._base import Message, Nanos, Side, Symbol


class TradingMode(enum.StrEnum):
    """What the daemon may do. ``PAUSED`` is reduce-only: exits, cancels and flattening."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class KillSwitchEvent(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """The kill switch was engaged or reset (every change emits one)."""

    engaged: bool
    reason: str
    trigger: str
    by: str = ""
    flatten: bool = False
    forced: bool = False
    ts: Nanos


class TradingModeChanged(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """The trading mode changed (by an operator or by the daemon)."""

    mode: TradingMode
    previous: TradingMode
    reason: str = ""
    by: str = ""
    ts: Nanos


class ExitReason(enum.StrEnum):
    """Why a position is being closed."""

    PROFIT_TARGET = "profit_target"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    TIME_STOP = "time_stop"
    VOLATILITY_STOP = "volatility_stop"
    PATTERN_STOP = "pattern_stop"
    EXIT_SIGNAL = "exit_signal"
    END_OF_DAY = "end_of_day"
    SCALE_OUT = "scale_out"
    EMERGENCY = "emergency"
    OPERATOR = "operator"
    RECONCILIATION = "reconciliation"


class ExitIntent(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Close all (``qty`` None) or part of a position; never passes entry risk checks.

    ``exit_id`` is unique per exit decision and seeds the client order id.
    """

    exit_id: str
    symbol: Symbol
    side: Side
    qty: Decimal | None = None
    reason: ExitReason
    trigger_price: float | None = None
    correlation_id: str = ""
    ts: Nanos


class CancelAllOrders(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Cancel working orders (all, or only entries); sent by the kill switch or an operator."""

    reason: str
    entries_only: bool = False
    symbol: str = ""
    """Only this symbol's orders when set."""
    ts: Nanos


class FlattenAll(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Close every open position (or one symbol's) at market: emergency close all.

    Goes to the lifecycle monitor, which emits an ExitIntent (reason ``emergency`` or
    ``operator``) per position; allowed while killed.
    """

    reason: str
    symbol: str = ""
    exit_reason: ExitReason = ExitReason.EMERGENCY
    ts: Nanos
