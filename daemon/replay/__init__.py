"""Deterministic replay: the real daemon on a simulated clock, fed recorded inputs.

* :mod:`daemon.replay._bars` — market-data files (Yahoo daily, NinjaTrader minutes,
  generic CSV) as messages; :mod:`daemon.replay._arch` — the demo's real index data;
* :mod:`daemon.replay._signals` — built-in example signal sources (``ema-cross``,
  ``breakout``, ``mean-reversion``);
* :mod:`daemon.replay._inputs` — input steps from bars or from a journal;
* :mod:`daemon.replay._harness` — :func:`run_replay`;
* :mod:`daemon.replay._decisions` — the decision stream, its digest and comparisons.

``tradingd replay`` (``daemon/commands/replay.py``) drives it; docs/replay.md explains it.
"""

from daemon.replay._arch import SERIES as SERIES
from daemon.replay._arch import arch_available as arch_available
from daemon.replay._arch import load_arch_series as load_arch_series
from daemon.replay._bars import ColumnMap as ColumnMap
from daemon.replay._bars import DataFileError as DataFileError
from daemon.replay._bars import LoadReport as LoadReport
from daemon.replay._bars import MarketItem as MarketItem
from daemon.replay._bars import as_message as as_message
from daemon.replay._bars import detect_format as detect_format
from daemon.replay._bars import load_generic as load_generic
from daemon.replay._bars import load_ninjatrader as load_ninjatrader
from daemon.replay._bars import load_yahoo as load_yahoo
from daemon.replay._bars import merge as merge
from daemon.replay._bars import symbol_from_path as symbol_from_path
from daemon.replay._decisions import DECISION_TYPES as DECISION_TYPES
from daemon.replay._decisions import DecisionLog as DecisionLog
from daemon.replay._decisions import compare as compare
from daemon.replay._decisions import normalise as normalise
from daemon.replay._decisions import outcomes as outcomes
from daemon.replay._decisions import read_normalised as read_normalised
from daemon.replay._harness import Progress as Progress
from daemon.replay._harness import ReplayConfig as ReplayConfig
from daemon.replay._harness import ReplayError as ReplayError
from daemon.replay._harness import ReplayResult as ReplayResult
from daemon.replay._harness import replay_settings as replay_settings
from daemon.replay._harness import run_replay as run_replay
from daemon.replay._inputs import JournalContents as JournalContents
from daemon.replay._inputs import Step as Step
from daemon.replay._inputs import bar_steps as bar_steps
from daemon.replay._inputs import journal_steps as journal_steps
from daemon.replay._settle import Settler as Settler
from daemon.replay._signals import SOURCES as SOURCES
from daemon.replay._signals import SignalSource as SignalSource
from daemon.replay._signals import SignalSpecError as SignalSpecError
from daemon.replay._signals import parse_signals as parse_signals

__all__ = (
    "DECISION_TYPES",
    "SERIES",
    "SOURCES",
    "ColumnMap",
    "DataFileError",
    "DecisionLog",
    "JournalContents",
    "LoadReport",
    "MarketItem",
    "Progress",
    "ReplayConfig",
    "ReplayError",
    "ReplayResult",
    "Settler",
    "SignalSource",
    "SignalSpecError",
    "Step",
    "arch_available",
    "as_message",
    "bar_steps",
    "compare",
    "detect_format",
    "journal_steps",
    "load_arch_series",
    "load_generic",
    "load_ninjatrader",
    "load_yahoo",
    "merge",
    "normalise",
    "outcomes",
    "parse_signals",
    "read_normalised",
    "replay_settings",
    "run_replay",
)
