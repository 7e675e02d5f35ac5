"""Drop two secondary indexes no query uses (cheaper writes of the busiest tables).

``signal_verdicts (account, ts)``: verdicts are looked up by ``(account, source,
signal_id)`` or correlation id (``tradingd trace``), never by time.
``fills (account, client_order_id)``: fills are read by correlation id (``trace``); an
order's fills are never listed by client order id.

Every signal writes a verdict and every order one or more fills, so each of these cost
an index insertion per event.

Revision ID: 0003_fewer_indexes
Revises: 0002_feedback
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003_fewer_indexes"
down_revision: str | None = "0002_feedback"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Drop the unused indexes."""
    op.drop_index(op.f("ix_signal_verdicts_account_ts"), table_name="signal_verdicts")
    op.drop_index(op.f("ix_fills_account_client_order_id"), table_name="fills")


def downgrade() -> None:
    """Create them again, as 0001 did."""
    op.create_index(
        op.f("ix_fills_account_client_order_id"),
        "fills",
        ["account", "client_order_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_signal_verdicts_account_ts"), "signal_verdicts", ["account", "ts"], unique=False
    )
