"""The feedback actor's state: per-source performance, confidence and weights, and the
trades each source was credited with (its rolling window is the latest of them)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base


class FeedbackSourceRow(Base):
    """One signal source's statistics over its recent trades, confidence and fusion weight.

    Upserted by the feedback actor after the trades that changed it; loaded at start.
    """

    __tablename__ = "feedback_sources"

    account: Mapped[str] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(primary_key=True)
    trades_total: Mapped[int]
    """Trades ever credited to the source (the last ``seq`` given out)."""
    window_trades: Mapped[int]
    """Trades the statistics cover (at most ``feedback.window_trades``)."""
    win_rate: Mapped[float]
    payoff: Mapped[float]
    sharpe: Mapped[float]
    confidence: Mapped[float]
    weight: Mapped[float | None]
    """The last computed fusion weight; NULL until the source first qualified."""
    updated_ns: Mapped[int]


class FeedbackTradeRow(Base):
    """A closed trade as credited to its source: its return on the entry notional."""

    __tablename__ = "feedback_trades"
    __table_args__ = (
        sa.Index(None, "account", "source", "seq"),
        sa.Index(None, "account", "exit_ns"),
    )

    account: Mapped[str] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(primary_key=True)
    source: Mapped[str]
    seq: Mapped[int]
    """The trade's number within its source (1, 2, ...): the window's order."""
    ret: Mapped[float]
    """Net P&L over entry notional."""
    pnl: Mapped[Decimal]
    exit_ns: Mapped[int]
