"""Lifecycle monitor: every open position protected by exit rules from fill to close.

Seven exit rules (profit target, stop loss, trailing stop, time stop, volatility stop,
pattern stop, exit signal), end-of-day flatten for intraday trades, optional scale-out
at partial targets and emergency close-all, evaluated for all positions at once by the
compiled kernel in :mod:`actors.kernels`. See docs/actors/lifecycle.md.
"""

from actors.lifecycle._actor import HORIZON_NAME as HORIZON_NAME
from actors.lifecycle._actor import LifecycleMonitor as LifecycleMonitor
from actors.lifecycle._book import PositionBook as PositionBook
from actors.lifecycle._book import RowMeta as RowMeta
from actors.lifecycle._eod import DailyTime as DailyTime
from actors.lifecycle._rules import Levels as Levels
from actors.lifecycle._rules import levels_for as levels_for
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="lifecycle",
    factory=LifecycleMonitor,
    description="exit rules for every open position (numba batch kernel), end-of-day "
    "flatten, scale-out, emergency close-all",
    core=True,
    requires=("broker", "orchestrator"),
)

__all__ = (
    "DEFINITION",
    "HORIZON_NAME",
    "DailyTime",
    "Levels",
    "LifecycleMonitor",
    "PositionBook",
    "RowMeta",
    "levels_for",
)
