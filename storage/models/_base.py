"""Declarative base, constraint naming and the columns every event row shares."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage._types import ExactDecimal

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can name what they drop."""


class Base(DeclarativeBase):
    """Root of every tradingd table; ``Base.metadata`` is what Alembic migrates."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: sa.BigInteger(),
        str: sa.Text(),
        float: sa.Double(),
        bool: sa.Boolean(),
        Decimal: ExactDecimal(),
    }


class EventRow:
    """Columns of every row projected from one event.

    ``account`` is the trading account that owns the row (several daemons may share one
    database, one account each); ``audit_seq`` is the sequence number of the event's
    record in the audit log, so every projected row points at the hash-chained original.
    """

    account: Mapped[str] = mapped_column(primary_key=True, sort_order=-20)
    audit_seq: Mapped[int] = mapped_column(primary_key=True, sort_order=-19)
