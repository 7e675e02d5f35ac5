"""Positions, closed trades and account figures."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from daemon.messages._base import ZERO, Message, Nanos, Side, Symbol, TradeType


class PositionSnapshot(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A position at one moment. ``qty`` is signed: positive long, negative short."""

    symbol: Symbol
    qty: Decimal
    avg_price: Decimal
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    last_price: float | None = None
    opened_ns: Nanos = 0
    correlation_id: str = ""
    source: str = ""
    trade_type: TradeType = TradeType.SWING
    stop_price: float | None = None
    target_price: float | None = None

    @property
    def side(self) -> Side:
        """Long positions are on the buy side, shorts on the sell side."""
        return Side.BUY if self.qty >= 0 else Side.SELL


class PositionUpdate(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """A position changed (opened, grown, reduced or closed: ``qty == 0``)."""

    position: PositionSnapshot
    cause: str = ""
    ts: Nanos


class TradeClosed(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """A finished round trip: entry to exit, with its P&L and why it ended."""

    trade_id: str
    correlation_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ns: Nanos
    exit_ns: Nanos
    pnl: Decimal
    fees: Decimal = ZERO
    exit_reason: str = ""
    source: str = ""
    trade_type: TradeType = TradeType.SWING
    ts: Nanos


class AccountSnapshot(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Cash, equity and buying power, from the books or from the broker."""

    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    realized_pnl: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    ts: Nanos
