"""Regime actor (optional): classifies the market as BULL, BEAR, SIDEWAYS or CRISIS from a
reference index's bars and publishes every change as a ``RegimeUpdate``.
See docs/actors/regime.md.
"""

from actors.regime._actor import RegimeActor as RegimeActor
from actors.regime._detector import RegimeChange as RegimeChange
from actors.regime._detector import RegimeDetector as RegimeDetector
from actors.regime._features import Features as Features
from actors.regime._features import FeatureTracker as FeatureTracker
from actors.regime._history import HistoryBar as HistoryBar
from actors.regime._history import read_bars as read_bars
from actors.regime._rules import RegimeRules as RegimeRules
from actors.regime._rules import Verdict as Verdict
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="regime",
    factory=RegimeActor,
    description="market regime (bull/bear/sideways/crisis) from a reference index",
    core=False,
    enabled_by_default=False,
)

__all__ = (
    "DEFINITION",
    "FeatureTracker",
    "Features",
    "HistoryBar",
    "RegimeActor",
    "RegimeChange",
    "RegimeDetector",
    "RegimeRules",
    "Verdict",
    "read_bars",
)
