"""Journal actor (optional, on by default): every input and decision appended to a
checksummed, per-trading-day journal under ``daemon.state_dir`` so ``tradingd replay``
can run the session again. See docs/replay.md.
"""

from actors.journal._actor import DECISION_TYPES as DECISION_TYPES
from actors.journal._actor import INPUT_EVENT_TYPES as INPUT_EVENT_TYPES
from actors.journal._actor import MARKET_TYPES as MARKET_TYPES
from actors.journal._actor import JournalActor as JournalActor
from actors.journal._actor import JournalStats as JournalStats
from actors.journal._actor import event_kind as event_kind
from actors.journal._actor import journal_dir as journal_dir
from actors.journal._actor import redact as redact
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="journal",
    factory=JournalActor,
    description="appends every input and decision to the replay journal (off the hot path)",
    core=False,
    enabled_by_default=True,
)

__all__ = (
    "DECISION_TYPES",
    "DEFINITION",
    "INPUT_EVENT_TYPES",
    "MARKET_TYPES",
    "JournalActor",
    "JournalStats",
    "event_kind",
    "journal_dir",
    "redact",
)
