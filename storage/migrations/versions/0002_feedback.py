"""Feedback actor state: per-source statistics and weights, and credited trades.

Revision ID: 0002_feedback
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_feedback"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Exact decimals, spelled out as in 0001 (NUMERIC; decimal text on SQLite).
DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    """Create ``feedback_sources`` and ``feedback_trades``."""
    op.create_table(
        "feedback_sources",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("trades_total", sa.BigInteger(), nullable=False),
        sa.Column("window_trades", sa.BigInteger(), nullable=False),
        sa.Column("win_rate", sa.Double(), nullable=False),
        sa.Column("payoff", sa.Double(), nullable=False),
        sa.Column("sharpe", sa.Double(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=True),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "source", name=op.f("pk_feedback_sources")),
    )
    op.create_table(
        "feedback_trades",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("trade_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ret", sa.Double(), nullable=False),
        sa.Column("pnl", DECIMAL, nullable=False),
        sa.Column("exit_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "trade_id", name=op.f("pk_feedback_trades")),
    )
    op.create_index(
        op.f("ix_feedback_trades_account_source_seq"),
        "feedback_trades",
        ["account", "source", "seq"],
        unique=False,
    )
    op.create_index(
        op.f("ix_feedback_trades_account_exit_ns"),
        "feedback_trades",
        ["account", "exit_ns"],
        unique=False,
    )


def downgrade() -> None:
    """Undo: drop the feedback tables."""
    op.drop_index(op.f("ix_feedback_trades_account_exit_ns"), table_name="feedback_trades")
    op.drop_index(op.f("ix_feedback_trades_account_source_seq"), table_name="feedback_trades")
    op.drop_table("feedback_trades")
    op.drop_table("feedback_sources")
