"""Feedback actor (optional): per-source performance from closed trades, turned into
fusion weights and Kelly statistics (``SourceWeights``), persisted across restarts.
See docs/actors/feedback.md.
"""

from actors.feedback._actor import FeedbackActor as FeedbackActor
from actors.feedback._book import FeedbackBook as FeedbackBook
from actors.feedback._book import Published as Published
from actors.feedback._state import FeedbackStore as FeedbackStore
from actors.feedback._stats import BadTrade as BadTrade
from actors.feedback._stats import WindowStats as WindowStats
from actors.feedback._stats import outcome as outcome
from actors.feedback._stats import window_stats as window_stats
from actors.feedback._weights import WeightResult as WeightResult
from actors.feedback._weights import compute_weights as compute_weights
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="feedback",
    factory=FeedbackActor,
    description="per-source trade performance -> fusion weights and Kelly statistics",
    core=False,
    enabled_by_default=False,
)

__all__ = (
    "DEFINITION",
    "BadTrade",
    "FeedbackActor",
    "FeedbackBook",
    "FeedbackStore",
    "Published",
    "WeightResult",
    "WindowStats",
    "compute_weights",
    "outcome",
    "window_stats",
)
