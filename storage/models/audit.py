"""The append-only, SHA-256 hash-chained audit log (see docs/audit.md)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from storage.models._base import Base


class AuditRow(Base):
    """One event, exactly as published, linked to the one before it.

    ``payload`` is the event's canonical JSON (sorted keys, decimals as strings);
    ``event_key`` is the first 32 hex digits of its SHA-256 and, with ``ts``, makes the
    record idempotent; ``hash`` covers ``account``, ``seq``, ``prev_hash`` and the
    payload, so editing, deleting or inserting a row breaks the chain.
    """

    __tablename__ = "audit_log"
    __table_args__ = (sa.UniqueConstraint("account", "ts", "event_key"),)

    account: Mapped[str] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ts: Mapped[int]
    kind: Mapped[str]
    event_key: Mapped[str] = mapped_column(sa.String(32))
    correlation_id: Mapped[str]
    payload: Mapped[str]
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
