"""Position snapshots, closed trades and daily statistics."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base, EventRow


class PositionRow(EventRow, Base):
    """A position as it was after one change (``qty`` signed; 0 means closed)."""

    __tablename__ = "positions"
    __table_args__ = (sa.Index(None, "account", "symbol", "ts"),)

    ts: Mapped[int]
    symbol: Mapped[str]
    qty: Mapped[Decimal]
    avg_price: Mapped[Decimal]
    realized_pnl: Mapped[Decimal]
    unrealized_pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    last_price: Mapped[float | None]
    opened_ns: Mapped[int]
    correlation_id: Mapped[str]
    source: Mapped[str]
    trade_type: Mapped[str]
    stop_price: Mapped[float | None]
    target_price: Mapped[float | None]
    cause: Mapped[str]


class TradeRow(EventRow, Base):
    """A closed round trip: entry to exit, P&L, fees, holding time and why it ended.

    ``day`` is the trading day of the exit (``YYYY-MM-DD`` in ``daemon.timezone``),
    fixed when the trade is written so reports need no time-zone arithmetic in SQL.
    """

    __tablename__ = "trades"
    __table_args__ = (
        sa.UniqueConstraint("account", "trade_id"),
        sa.Index(None, "account", "day"),
        sa.Index(None, "account", "correlation_id"),
    )

    trade_id: Mapped[str]
    correlation_id: Mapped[str]
    day: Mapped[str] = mapped_column(sa.String(10))
    symbol: Mapped[str]
    side: Mapped[str]
    qty: Mapped[Decimal]
    entry_price: Mapped[Decimal]
    exit_price: Mapped[Decimal]
    entry_ns: Mapped[int]
    exit_ns: Mapped[int]
    holding_ns: Mapped[int]
    pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    exit_reason: Mapped[str]
    source: Mapped[str]
    trade_type: Mapped[str]
    ts: Mapped[int]


class DailyStatsRow(Base):
    """Per-account, per-trading-day totals of closed trades, kept as trades are written."""

    __tablename__ = "daily_stats"

    account: Mapped[str] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    trades: Mapped[int]
    wins: Mapped[int]
    losses: Mapped[int]
    pnl: Mapped[Decimal]
    fees: Mapped[Decimal]
    gross_profit: Mapped[Decimal]
    gross_loss: Mapped[Decimal]
    best_trade: Mapped[Decimal]
    worst_trade: Mapped[Decimal]
    first_exit_ns: Mapped[int]
    last_exit_ns: Mapped[int]
    updated_seq: Mapped[int]
    """Audit sequence of the last trade counted in this row."""
