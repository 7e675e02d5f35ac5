"""Write specifications: which columns the writer fills, in which order, per table.

Each spec's column list is checked against the model at import, so the projection and
the schema cannot drift apart silently: a spec that misses a required column or names
one that does not exist fails the first import (and therefore every test).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import sqlalchemy as sa

from storage import models as m
from storage._copytext import make_formatter, text_fields
from storage._types import ExactDecimal


class WriteMode(enum.Enum):
    """How the writer applies rows of a spec."""

    APPEND = "append"
    """Insert; a conflict means the record is already there."""
    ORDER_STATUS = "order_status"
    """Upsert the order's current state; only a later audit sequence may overwrite it."""


class TableSpec(msgspec.Struct, frozen=True, eq=False, gc=False):
    """The columns one kind of row fills; the first two are account and audit sequence.

    ``gc=False`` (and identity equality): queued rows are ``(spec, tail)`` pairs, and a
    pair must hold only untracked objects for the collector to stop following it.
    """

    table: sa.Table
    columns: tuple[str, ...]
    mode: WriteMode = WriteMode.APPEND
    natural_key: str | None = None
    """A column unique per account besides the audit sequence (e.g. ``fill_id``)."""
    index: int = -1
    """Position in :data:`ALL_SPECS`; queued rows name their spec by it (see Prepared)."""
    row_text: Callable[[Sequence[Any]], str] = text_fields
    """Formats a full row for COPY's text format (generated from the column types)."""
    tail_text: Callable[[Sequence[Any]], str] = text_fields
    """Formats a row without its first two columns (account and sequence)."""

    @property
    def name(self) -> str:
        """The table's name."""
        return self.table.name

    @property
    def natural_key_position(self) -> int | None:
        """Position of :attr:`natural_key` in a full row, if the spec has one."""
        return None if self.natural_key is None else self.columns.index(self.natural_key)

    @property
    def decimal_positions(self) -> tuple[int, ...]:
        """Positions of exact-decimal columns (SQLite receives them as text)."""
        return tuple(
            i for i, c in enumerate(self.columns) if isinstance(self.table.c[c].type, ExactDecimal)
        )


_ALL: list[TableSpec] = []


def _kind(column: sa.Column[Any]) -> tuple[str, bool]:
    kind = column.type
    if isinstance(kind, ExactDecimal):
        name = "num"
    elif isinstance(kind, sa.Integer):
        name = "int"
    elif isinstance(kind, sa.Float):
        name = "float"
    elif isinstance(kind, sa.Boolean):
        name = "bool"
    else:
        name = "text"
    return name, bool(column.nullable)


def _spec(
    model: type[m.Base],
    *tail: str,
    seq: str = "audit_seq",
    mode: WriteMode = WriteMode.APPEND,
    natural_key: str | None = None,
) -> TableSpec:
    table: sa.Table = model.__table__  # type: ignore[assignment]
    columns = ("account", seq, *tail)
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise RuntimeError(f"spec for {table.name} names unknown column(s) {unknown}")
    if len(set(columns)) != len(columns):
        raise RuntimeError(f"spec for {table.name} repeats a column")
    if mode is WriteMode.APPEND:
        missing = [c.name for c in table.columns if c.name not in columns and not c.nullable]
        if missing:
            raise RuntimeError(f"spec for {table.name} leaves required column(s) {missing} empty")
    if natural_key is not None and natural_key not in columns:
        raise RuntimeError(f"spec for {table.name}: natural key {natural_key} not written")
    kinds = [_kind(table.c[c]) for c in columns]
    spec = TableSpec(
        table,
        columns,
        mode,
        natural_key,
        len(_ALL),
        make_formatter(kinds),
        make_formatter(kinds[2:]),
    )
    _ALL.append(spec)
    return spec


def _all_but(model: type[m.Base], *skip: str) -> tuple[str, ...]:
    table: sa.Table = model.__table__  # type: ignore[assignment]
    return tuple(c.name for c in table.columns if c.name not in {"account", "audit_seq", *skip})


SIGNAL_VERDICTS = _spec(m.SignalVerdictRow, *_all_but(m.SignalVerdictRow))
SIGNAL_REJECTIONS = _spec(m.SignalRejectionRow, *_all_but(m.SignalRejectionRow))
SIGNALS = _spec(m.SignalRow, *_all_but(m.SignalRow), natural_key="correlation_id")
FUSION = _spec(m.FusionRow, *_all_but(m.FusionRow), natural_key="correlation_id")
FUSION_COMPONENTS = _spec(m.FusionComponentRow, *_all_but(m.FusionComponentRow))
RISK_DECISIONS = _spec(m.RiskDecisionRow, *_all_but(m.RiskDecisionRow))
RISK_CHECKS = _spec(m.RiskCheckRow, *_all_but(m.RiskCheckRow))
ORDER_INTENTS = _spec(
    m.OrderRow,
    *_all_but(m.OrderRow, "intent_seq"),
    seq="intent_seq",
    natural_key="client_order_id",
)
ORDER_STATUS = _spec(
    m.OrderRow,
    "client_order_id",
    "correlation_id",
    "symbol",
    "side",
    "qty",
    "purpose",
    "reason",
    "status",
    "filled_qty",
    "avg_fill_price",
    "broker_order_id",
    "updated_ns",
    seq="last_seq",
    mode=WriteMode.ORDER_STATUS,
)
ORDER_EVENTS = _spec(m.OrderEventRow, *_all_but(m.OrderEventRow))
FILLS = _spec(m.FillRow, *_all_but(m.FillRow), natural_key="fill_id")
EXECUTIONS = _spec(m.ExecutionRow, *_all_but(m.ExecutionRow))
POSITIONS = _spec(m.PositionRow, *_all_but(m.PositionRow))
TRADES = _spec(m.TradeRow, *_all_but(m.TradeRow), natural_key="trade_id")
ALERTS = _spec(m.AlertRow, *_all_but(m.AlertRow), natural_key="alert_id")
KILL_SWITCH = _spec(m.KillSwitchRow, *_all_but(m.KillSwitchRow))
TRADING_MODE = _spec(m.TradingModeRow, *_all_but(m.TradingModeRow))
RECONCILIATION_RUNS = _spec(
    m.ReconciliationRunRow, *_all_but(m.ReconciliationRunRow), natural_key="run_id"
)
DISCREPANCIES = _spec(m.DiscrepancyRow, *_all_but(m.DiscrepancyRow))
AUDIT = _spec(m.AuditRow, *_all_but(m.AuditRow, "seq"), seq="seq")
ALL_SPECS: tuple[TableSpec, ...] = tuple(_ALL)
"""Every spec, by :attr:`TableSpec.index`."""
DAILY_STATS_COLUMNS: tuple[str, ...] = tuple(c.name for c in m.DailyStatsRow.__table__.columns)

APPEND_SPECS: tuple[TableSpec, ...] = (
    SIGNAL_VERDICTS,
    SIGNAL_REJECTIONS,
    SIGNALS,
    FUSION,
    FUSION_COMPONENTS,
    RISK_DECISIONS,
    RISK_CHECKS,
    ORDER_INTENTS,
    ORDER_EVENTS,
    FILLS,
    EXECUTIONS,
    POSITIONS,
    TRADES,
    ALERTS,
    KILL_SWITCH,
    TRADING_MODE,
    RECONCILIATION_RUNS,
    DISCREPANCIES,
)
"""Every append spec, in the order the writer applies them within a batch.

Intents come before status updates (``ORDER_STATUS`` is applied after all appends), so
an order created and updated in the same batch ends in its latest state.
"""
