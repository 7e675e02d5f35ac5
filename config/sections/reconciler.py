"""``[reconciler]``: when our books are compared with the broker's, what is done about
each kind of discrepancy, and when a mismatch is bad enough to engage the kill switch.

docs/actors/reconciler.md describes every discrepancy kind and action.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from config.sections._base import NonNegFloat, NonNegInt, Seconds, Section

KindName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ReconcilerSettings(Section, frozen=True, kw_only=True):
    """The reconciler: runs at start-up, every ``interval_s``, after a broker reconnect and
    on demand (``tradingctl reconcile``)."""

    interval_s: NonNegFloat = 60.0
    """Seconds between periodic runs (0: no periodic runs; start-up, reconnect and
    on-demand runs still happen)."""
    on_reconnect: bool = True
    """Run when the broker connection comes back after being lost."""
    confirm_delay_s: NonNegFloat = 1.0
    """A discrepancy is acted on only if a second comparison this many seconds later still
    finds it, so fills and acknowledgements in flight are not mistaken for mismatches
    (0: act on the first comparison)."""
    unknown_after_s: NonNegFloat = 10.0
    """An order the broker has not acknowledged is resolved by asking the broker only once
    it is this old (or the orchestrator has marked it unknown); younger ones may still be
    on their way."""
    orphan_positions: Literal["adopt", "report"] = "adopt"
    """A position at the broker that our books do not hold: ``adopt`` it into the books
    (the lifecycle monitor then protects it with the default exits), or only ``report``."""
    unknown_orders: Literal["cancel", "adopt", "report"] = "cancel"
    """An order open at the broker that we never sent: ``cancel`` it, ``adopt`` it (track
    it as ours), or only ``report`` it."""
    restore_from_storage: bool = True
    """When the orchestrator's books are empty (after a restart), first restore the last
    recorded positions and the intents without an outcome from the database, so that
    they are resolved against the broker instead of being taken for orphans."""
    kill_max_discrepancies: NonNegInt = 5
    """Engage the kill switch when a run finds more discrepancies than this (0: never
    on the count)."""
    kill_max_notional: NonNegFloat = 25_000.0
    """Engage the kill switch when the discrepancies of a run add up to more than this
    notional, in account currency (0: never on the notional)."""
    kill_ignore_kinds: tuple[KindName, ...] = ()
    """Discrepancy kinds that do not count towards the kill thresholds (e.g.
    ``["intent_never_sent"]``)."""
    query_timeout_s: Seconds = 10.0
    """How long one comparison may wait for the broker and the orchestrator to answer."""
    startup_timeout_s: Seconds = 120.0
    """How long start-up keeps retrying a reconciliation that cannot run (broker down);
    after that the kill switch is engaged and the daemon starts with trading blocked."""
    retry_s: Seconds = 2.0
    """Interval between start-up attempts while the broker cannot be reached."""
