"""The decision pipeline: guard verdicts, rejections, signals, fusion and risk decisions."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base, EventRow


class SignalVerdictRow(EventRow, Base):
    """Every verdict on a signal (guard or orchestrator stage), accepted or not."""

    __tablename__ = "signal_verdicts"
    # Looked up by signal (source, id) or correlation id, never by time (migration 0003).
    __table_args__ = (sa.Index(None, "account", "source", "signal_id"),)

    ts: Mapped[int]
    accepted: Mapped[bool]
    reason: Mapped[str]
    detail: Mapped[str]
    stage: Mapped[str]
    correlation_id: Mapped[str]
    signal_id: Mapped[str]
    source: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    trade_type: Mapped[str]
    conviction: Mapped[int]
    entry_price: Mapped[float | None]
    stop_price: Mapped[float | None]
    target_price: Mapped[float | None]
    created_ns: Mapped[int]
    received_ns: Mapped[int]
    is_exit: Mapped[bool]
    note: Mapped[str]


class SignalRejectionRow(EventRow, Base):
    """An inbound payload that could not be decoded into a signal (the dead letter)."""

    __tablename__ = "signal_rejections"
    __table_args__ = (sa.Index(None, "account", "ts"),)

    ts: Mapped[int]
    origin: Mapped[str]
    error: Mapped[str]
    raw: Mapped[str]


class SignalRow(EventRow, Base):
    """First link of the decision chain: an accepted signal under its correlation id."""

    __tablename__ = "signals"
    __table_args__ = (sa.UniqueConstraint("account", "correlation_id"),)

    correlation_id: Mapped[str]
    ts: Mapped[int]
    signal_id: Mapped[str]
    source: Mapped[str]
    symbol: Mapped[str]
    side: Mapped[str]
    trade_type: Mapped[str]
    conviction: Mapped[int]
    entry_price: Mapped[float | None]
    stop_price: Mapped[float | None]
    target_price: Mapped[float | None]
    created_ns: Mapped[int]
    received_ns: Mapped[int]
    is_exit: Mapped[bool]
    note: Mapped[str]


class FusionRow(EventRow, Base):
    """Second link: how recent signals on a symbol were combined into one decision."""

    __tablename__ = "fusion_records"
    __table_args__ = (sa.UniqueConstraint("account", "correlation_id"),)

    correlation_id: Mapped[str]
    ts: Mapped[int]
    symbol: Mapped[str]
    side: Mapped[str]
    conviction: Mapped[float]
    regime: Mapped[str]
    strategy: Mapped[str]


class FusionComponentRow(Base):
    """One signal's contribution to a fused decision (child of ``fusion_records``)."""

    __tablename__ = "fusion_components"

    account: Mapped[str] = mapped_column(primary_key=True)
    audit_seq: Mapped[int] = mapped_column(primary_key=True)
    """The ``audit_seq`` of the fusion record this belongs to."""
    idx: Mapped[int] = mapped_column(primary_key=True)
    signal_id: Mapped[str]
    source: Mapped[str]
    side: Mapped[str]
    conviction: Mapped[int]
    weight: Mapped[float]
    age_s: Mapped[float]


class RiskDecisionRow(EventRow, Base):
    """Third link: the risk gate's decision (its checks are in ``risk_checks``)."""

    __tablename__ = "risk_decisions"
    __table_args__ = (sa.Index(None, "account", "correlation_id"),)

    correlation_id: Mapped[str]
    ts: Mapped[int]
    symbol: Mapped[str]
    approved: Mapped[bool]
    reason: Mapped[str]


class RiskCheckRow(Base):
    """One risk check as measured: value, limit and whether it passed."""

    __tablename__ = "risk_checks"

    account: Mapped[str] = mapped_column(primary_key=True)
    audit_seq: Mapped[int] = mapped_column(primary_key=True)
    """The ``audit_seq`` of the risk decision this check belongs to."""
    idx: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    value: Mapped[float]
    limit_value: Mapped[float]
    passed: Mapped[bool]
    detail: Mapped[str]
