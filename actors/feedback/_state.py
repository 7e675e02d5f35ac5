"""What the feedback actor persists, and the protocol of the store that keeps it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from actors.feedback._stats import TradeOutcome


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One source's persisted state: counts, statistics, confidence and weight."""

    source: str
    trades_total: int
    """Trades ever credited to the source (its ``seq`` counter)."""
    window: int
    """Trades in the current window."""
    win_rate: float
    payoff: float
    sharpe: float
    confidence: float
    weight: float | None
    """The last computed weight (None until the source first qualified)."""
    updated_ns: int


@dataclass(frozen=True, slots=True)
class StoredState:
    """Everything loaded at start: sources, their windows (oldest first), recent ids."""

    sources: Sequence[SourceRecord] = ()
    windows: dict[str, list[TradeOutcome]] = field(default_factory=dict)
    recent_ids: Sequence[str] = ()
    """The account's most recent trade ids (to drop a re-delivered TradeClosed)."""


class FeedbackStore(Protocol):
    """Where the feedback actor's state lives between runs (the database).

    Both methods raise ``storage.StorageUnavailable`` when the database cannot be used
    right now; :meth:`save` is idempotent (trades are keyed by id, sources upserted), so
    the caller simply tries again later with the same records.
    """

    async def load(self, account: str, *, window: int, recent: int) -> StoredState:
        """The account's sources, each source's last ``window`` trades, ``recent`` ids."""
        ...

    async def save(
        self, account: str, trades: Sequence[TradeOutcome], sources: Sequence[SourceRecord]
    ) -> None:
        """Record ``trades`` (ignoring ids already recorded) and upsert ``sources``."""
        ...
