"""Initial schema: decision pipeline, orders, books, operations and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Exact decimals: NUMERIC on PostgreSQL; decimal text on SQLite, whose NUMERIC affinity
# would round to 15 significant digits (see storage/_types.py). Spelled out here so the
# migration keeps meaning the same thing whatever later code does.
DECIMAL = sa.Numeric(asdecimal=True).with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    """Create every table and index."""
    op.create_table(
        "alerts",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_alerts")),
        sa.UniqueConstraint("account", "alert_id", name=op.f("uq_alerts_account_alert_id")),
    )
    op.create_index(op.f("ix_alerts_account_ts"), "alerts", ["account", "ts"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("event_key", sa.String(length=32), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("account", "seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint(
            "account", "ts", "event_key", name=op.f("uq_audit_log_account_ts_event_key")
        ),
    )
    op.create_table(
        "daily_stats",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("trades", sa.BigInteger(), nullable=False),
        sa.Column("wins", sa.BigInteger(), nullable=False),
        sa.Column("losses", sa.BigInteger(), nullable=False),
        sa.Column("pnl", DECIMAL, nullable=False),
        sa.Column("fees", DECIMAL, nullable=False),
        sa.Column("gross_profit", DECIMAL, nullable=False),
        sa.Column("gross_loss", DECIMAL, nullable=False),
        sa.Column("best_trade", DECIMAL, nullable=False),
        sa.Column("worst_trade", DECIMAL, nullable=False),
        sa.Column("first_exit_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_exit_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "day", name=op.f("pk_daily_stats")),
    )
    op.create_table(
        "executions",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("filled_qty", DECIMAL, nullable=False),
        sa.Column("avg_fill_price", DECIMAL, nullable=True),
        sa.Column("expected_price", sa.Double(), nullable=True),
        sa.Column("slippage_bps", sa.Double(), nullable=False),
        sa.Column("fees", DECIMAL, nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_executions")),
    )
    op.create_index(
        op.f("ix_executions_account_correlation_id"),
        "executions",
        ["account", "correlation_id"],
        unique=False,
    )
    op.create_table(
        "fills",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("fill_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("broker_order_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("price", DECIMAL, nullable=False),
        sa.Column("commission", DECIMAL, nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_fills")),
        sa.UniqueConstraint("account", "fill_id", name=op.f("uq_fills_account_fill_id")),
    )
    op.create_index(
        op.f("ix_fills_account_client_order_id"),
        "fills",
        ["account", "client_order_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_fills_account_correlation_id"),
        "fills",
        ["account", "correlation_id"],
        unique=False,
    )
    op.create_table(
        "fusion_components",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("signal_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("conviction", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("age_s", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", "idx", name=op.f("pk_fusion_components")),
    )
    op.create_table(
        "fusion_records",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("conviction", sa.Double(), nullable=False),
        sa.Column("regime", sa.Text(), nullable=False),
        sa.Column("strategy", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_fusion_records")),
        sa.UniqueConstraint(
            "account", "correlation_id", name=op.f("uq_fusion_records_account_correlation_id")
        ),
    )
    op.create_table(
        "kill_switch_events",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("initiator", sa.Text(), nullable=False),
        sa.Column("flatten", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_kill_switch_events")),
    )
    op.create_index(
        op.f("ix_kill_switch_events_account_ts"),
        "kill_switch_events",
        ["account", "ts"],
        unique=False,
    )
    op.create_table(
        "order_events",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("broker_order_id", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("filled_qty", DECIMAL, nullable=False),
        sa.Column("avg_fill_price", DECIMAL, nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_order_events")),
    )
    op.create_index(
        op.f("ix_order_events_account_client_order_id"),
        "order_events",
        ["account", "client_order_id"],
        unique=False,
    )
    op.create_table(
        "orders",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("intent_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("order_type", sa.Text(), nullable=True),
        sa.Column("limit_price", DECIMAL, nullable=True),
        sa.Column("stop_price", DECIMAL, nullable=True),
        sa.Column("tif", sa.Text(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("intent_ns", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("filled_qty", DECIMAL, nullable=False),
        sa.Column("avg_fill_price", DECIMAL, nullable=True),
        sa.Column("broker_order_id", sa.Text(), nullable=False),
        sa.Column("updated_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "client_order_id", name=op.f("pk_orders")),
    )
    op.create_index(
        op.f("ix_orders_account_correlation_id"),
        "orders",
        ["account", "correlation_id"],
        unique=False,
    )
    op.create_index(op.f("ix_orders_account_status"), "orders", ["account", "status"], unique=False)
    op.create_table(
        "positions",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("avg_price", DECIMAL, nullable=False),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("unrealized_pnl", DECIMAL, nullable=False),
        sa.Column("fees", DECIMAL, nullable=False),
        sa.Column("last_price", sa.Double(), nullable=True),
        sa.Column("opened_ns", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("trade_type", sa.Text(), nullable=False),
        sa.Column("stop_price", sa.Double(), nullable=True),
        sa.Column("target_price", sa.Double(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_positions")),
    )
    op.create_index(
        op.f("ix_positions_account_symbol_ts"),
        "positions",
        ["account", "symbol", "ts"],
        unique=False,
    )
    op.create_table(
        "reconciliation_discrepancies",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("before_value", sa.Text(), nullable=False),
        sa.Column("after_value", sa.Text(), nullable=False),
        sa.Column("notional", sa.Double(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account", "audit_seq", "idx", name=op.f("pk_reconciliation_discrepancies")
        ),
    )
    op.create_table(
        "reconciliation_runs",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("positions_checked", sa.BigInteger(), nullable=False),
        sa.Column("orders_checked", sa.BigInteger(), nullable=False),
        sa.Column("discrepancies", sa.BigInteger(), nullable=False),
        sa.Column("kill_engaged", sa.Boolean(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint(
            "account", "run_id", name=op.f("uq_reconciliation_runs_account_run_id")
        ),
    )
    op.create_index(
        op.f("ix_reconciliation_runs_account_ts"),
        "reconciliation_runs",
        ["account", "ts"],
        unique=False,
    )
    op.create_table(
        "risk_checks",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("limit_value", sa.Double(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", "idx", name=op.f("pk_risk_checks")),
    )
    op.create_table(
        "risk_decisions",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_risk_decisions")),
    )
    op.create_index(
        op.f("ix_risk_decisions_account_correlation_id"),
        "risk_decisions",
        ["account", "correlation_id"],
        unique=False,
    )
    op.create_table(
        "signal_rejections",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_signal_rejections")),
    )
    op.create_index(
        op.f("ix_signal_rejections_account_ts"),
        "signal_rejections",
        ["account", "ts"],
        unique=False,
    )
    op.create_table(
        "signal_verdicts",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("signal_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("trade_type", sa.Text(), nullable=False),
        sa.Column("conviction", sa.BigInteger(), nullable=False),
        sa.Column("entry_price", sa.Double(), nullable=True),
        sa.Column("stop_price", sa.Double(), nullable=True),
        sa.Column("target_price", sa.Double(), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("received_ns", sa.BigInteger(), nullable=False),
        sa.Column("is_exit", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_signal_verdicts")),
    )
    op.create_index(
        op.f("ix_signal_verdicts_account_source_signal_id"),
        "signal_verdicts",
        ["account", "source", "signal_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_signal_verdicts_account_ts"), "signal_verdicts", ["account", "ts"], unique=False
    )
    op.create_table(
        "signals",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("signal_id", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("trade_type", sa.Text(), nullable=False),
        sa.Column("conviction", sa.BigInteger(), nullable=False),
        sa.Column("entry_price", sa.Double(), nullable=True),
        sa.Column("stop_price", sa.Double(), nullable=True),
        sa.Column("target_price", sa.Double(), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("received_ns", sa.BigInteger(), nullable=False),
        sa.Column("is_exit", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_signals")),
        sa.UniqueConstraint(
            "account", "correlation_id", name=op.f("uq_signals_account_correlation_id")
        ),
    )
    op.create_table(
        "trades",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("trade_id", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.Text(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("entry_price", DECIMAL, nullable=False),
        sa.Column("exit_price", DECIMAL, nullable=False),
        sa.Column("entry_ns", sa.BigInteger(), nullable=False),
        sa.Column("exit_ns", sa.BigInteger(), nullable=False),
        sa.Column("holding_ns", sa.BigInteger(), nullable=False),
        sa.Column("pnl", DECIMAL, nullable=False),
        sa.Column("fees", DECIMAL, nullable=False),
        sa.Column("exit_reason", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("trade_type", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_trades")),
        sa.UniqueConstraint("account", "trade_id", name=op.f("uq_trades_account_trade_id")),
    )
    op.create_index(
        op.f("ix_trades_account_correlation_id"),
        "trades",
        ["account", "correlation_id"],
        unique=False,
    )
    op.create_index(op.f("ix_trades_account_day"), "trades", ["account", "day"], unique=False)
    op.create_table(
        "trading_mode_changes",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("previous", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("initiator", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account", "audit_seq", name=op.f("pk_trading_mode_changes")),
    )
    op.create_index(
        op.f("ix_trading_mode_changes_account_ts"),
        "trading_mode_changes",
        ["account", "ts"],
        unique=False,
    )


def downgrade() -> None:
    """Drop everything this revision created."""
    op.drop_index(op.f("ix_trading_mode_changes_account_ts"), table_name="trading_mode_changes")
    op.drop_table("trading_mode_changes")
    op.drop_index(op.f("ix_trades_account_day"), table_name="trades")
    op.drop_index(op.f("ix_trades_account_correlation_id"), table_name="trades")
    op.drop_table("trades")
    op.drop_table("signals")
    op.drop_index(op.f("ix_signal_verdicts_account_ts"), table_name="signal_verdicts")
    op.drop_index(op.f("ix_signal_verdicts_account_source_signal_id"), table_name="signal_verdicts")
    op.drop_table("signal_verdicts")
    op.drop_index(op.f("ix_signal_rejections_account_ts"), table_name="signal_rejections")
    op.drop_table("signal_rejections")
    op.drop_index(op.f("ix_risk_decisions_account_correlation_id"), table_name="risk_decisions")
    op.drop_table("risk_decisions")
    op.drop_table("risk_checks")
    op.drop_index(op.f("ix_reconciliation_runs_account_ts"), table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    op.drop_table("reconciliation_discrepancies")
    op.drop_index(op.f("ix_positions_account_symbol_ts"), table_name="positions")
    op.drop_table("positions")
    op.drop_index(op.f("ix_orders_account_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_account_correlation_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_order_events_account_client_order_id"), table_name="order_events")
    op.drop_table("order_events")
    op.drop_index(op.f("ix_kill_switch_events_account_ts"), table_name="kill_switch_events")
    op.drop_table("kill_switch_events")
    op.drop_table("fusion_records")
    op.drop_table("fusion_components")
    op.drop_index(op.f("ix_fills_account_correlation_id"), table_name="fills")
    op.drop_index(op.f("ix_fills_account_client_order_id"), table_name="fills")
    op.drop_table("fills")
    op.drop_index(op.f("ix_executions_account_correlation_id"), table_name="executions")
    op.drop_table("executions")
    op.drop_table("daily_stats")
    op.drop_table("audit_log")
    op.drop_index(op.f("ix_alerts_account_ts"), table_name="alerts")
    op.drop_table("alerts")
