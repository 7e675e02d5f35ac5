"""The protocol of the store that keeps the feedback actor's state between runs.

The records themselves (:class:`~storage.feedback.FeedbackTrade`,
:class:`~storage.feedback.FeedbackSource`, :class:`~storage.feedback.FeedbackState`)
are defined by the storage layer, which maps them to its tables;
:class:`storage.feedback.SqlFeedbackStore` is the production implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from storage.feedback import FeedbackSource, FeedbackState, FeedbackTrade


class FeedbackStore(Protocol):
    """Where the feedback actor's state lives between runs (the database).

    Both methods raise ``storage.StorageUnavailable`` when the database cannot be used
    right now (the actor retries) and ``storage.StorageRejected`` when it refuses the
    rows; :meth:`save` is idempotent (trades are keyed by id, sources upserted).
    """

    async def load(self, account: str, *, window: int, recent: int) -> FeedbackState:
        """The account's sources, each source's last ``window`` trades, ``recent`` ids."""
        ...

    async def save(
        self, account: str, trades: Sequence[FeedbackTrade], sources: Sequence[FeedbackSource]
    ) -> None:
        """Record ``trades`` (ignoring ids already recorded) and upsert ``sources``."""
        ...
