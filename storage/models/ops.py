"""Operations: alerts, kill-switch and trading-mode changes, reconciliation runs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base, EventRow


class AlertRow(EventRow, Base):
    """Something a person was told about; ``payload`` is the alert's JSON payload."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("account", "alert_id"),
        sa.Index(None, "account", "ts"),
    )

    alert_id: Mapped[str]
    ts: Mapped[int]
    severity: Mapped[str]
    code: Mapped[str]
    text: Mapped[str]
    payload: Mapped[str]


class KillSwitchRow(EventRow, Base):
    """The kill switch was engaged or reset."""

    __tablename__ = "kill_switch_events"
    __table_args__ = (sa.Index(None, "account", "ts"),)

    ts: Mapped[int]
    engaged: Mapped[bool]
    reason: Mapped[str]
    trigger: Mapped[str]
    initiator: Mapped[str]
    flatten: Mapped[bool]
    forced: Mapped[bool]


class TradingModeRow(EventRow, Base):
    """The trading mode changed (running, paused, stopped)."""

    __tablename__ = "trading_mode_changes"
    __table_args__ = (sa.Index(None, "account", "ts"),)

    ts: Mapped[int]
    mode: Mapped[str]
    previous: Mapped[str]
    reason: Mapped[str]
    initiator: Mapped[str]


class ReconciliationRunRow(EventRow, Base):
    """One reconciliation run and what it checked."""

    __tablename__ = "reconciliation_runs"
    __table_args__ = (
        sa.UniqueConstraint("account", "run_id"),
        sa.Index(None, "account", "ts"),
    )

    run_id: Mapped[str]
    trigger: Mapped[str]
    positions_checked: Mapped[int]
    orders_checked: Mapped[int]
    discrepancies: Mapped[int]
    kill_engaged: Mapped[bool]
    started_ns: Mapped[int]
    ts: Mapped[int]


class DiscrepancyRow(Base):
    """One difference a reconciliation run found, and what was done about it."""

    __tablename__ = "reconciliation_discrepancies"

    account: Mapped[str] = mapped_column(primary_key=True)
    audit_seq: Mapped[int] = mapped_column(primary_key=True)
    """The ``audit_seq`` of the reconciliation run this belongs to."""
    idx: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str]
    symbol: Mapped[str]
    client_order_id: Mapped[str]
    before_value: Mapped[str]
    after_value: Mapped[str]
    notional: Mapped[float]
    action: Mapped[str]
