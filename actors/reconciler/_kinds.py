"""The names a reconciliation report uses: discrepancy kinds and the actions taken.

They are stable strings (subscribers, alerts and the database route on them); see
docs/actors/reconciler.md for what each means and which configuration key decides it.
"""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """What differed between our books and the broker's."""

    GHOST_POSITION = "ghost_position"
    """Open in our books, flat at the broker."""
    ORPHAN_POSITION = "orphan_position"
    """Open at the broker, flat in our books."""
    QUANTITY_MISMATCH = "quantity_mismatch"
    """Both hold the symbol on the same side, in different quantities."""
    SIDE_MISMATCH = "side_mismatch"
    """Long on one side, short on the other."""
    MISSED_FILL = "missed_fill"
    """The broker filled more of one of our orders than we heard of."""
    EXCESS_FILL = "excess_fill"
    """We booked more fills for an order than the broker reports."""
    INTENT_SUBMITTED = "intent_submitted"
    """An order whose outcome we did not know turned out to be at the broker."""
    INTENT_NEVER_SENT = "intent_never_sent"
    """An order whose outcome we did not know never reached the broker."""
    ORDER_STATUS = "order_status"
    """The broker finished an order (cancelled, expired, filled...) without telling us."""
    ORDER_LOST = "order_lost"
    """An order the broker had acknowledged is unknown to it now."""
    UNKNOWN_ORDER = "unknown_order"
    """An order open at the broker that we never sent."""


class Action(enum.StrEnum):
    """What the reconciler did about a discrepancy (the report adds detail after a colon)."""

    CLOSED_LOCALLY = "closed_locally"
    ADOPTED = "adopted"
    REPORTED = "reported"
    SET_TO_BROKER = "set_to_broker"
    BOOKED_FILL = "booked_fill"
    TRACKED = "tracked"
    MARKED_FAILED = "marked_failed"
    STATUS_UPDATED = "status_updated"
    CANCELLED = "cancel_requested"
    ADOPTED_ORDER = "adopted_order"
    SKIPPED = "skipped"
    """The correction was not applied: the books had moved on (it is looked at again
    on the next run)."""
