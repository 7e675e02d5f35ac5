"""Persistent safety state: kill switch, trading mode, day figures, circuit breaker, PDT.

:mod:`daemon.safety.gate` fixes the read side every actor uses (:class:`SafetyGate`);
:class:`SafetyStore` is the single writer of the state file and implements the gate;
:mod:`daemon.safety.api` holds the command requests and reply the admin socket sends
over the ``safety`` service. docs/kill-switch.md is the operator's guide.
"""

from daemon.safety.api import EngageKill as EngageKill
from daemon.safety.api import GetSafety as GetSafety
from daemon.safety.api import KillTrigger as KillTrigger
from daemon.safety.api import ReplyCode as ReplyCode
from daemon.safety.api import ResetKill as ResetKill
from daemon.safety.api import SafetyReply as SafetyReply
from daemon.safety.api import SafetyRequest as SafetyRequest
from daemon.safety.api import SetMode as SetMode
from daemon.safety.calendar import SessionCalendar as SessionCalendar
from daemon.safety.fileops import FileOps as FileOps
from daemon.safety.fileops import OsFileOps as OsFileOps
from daemon.safety.gate import DayFigures as DayFigures
from daemon.safety.gate import SafetyGate as SafetyGate
from daemon.safety.gate import SafetySnapshot as SafetySnapshot
from daemon.safety.state import SafetyState as SafetyState
from daemon.safety.state import StateDamage as StateDamage
from daemon.safety.state import StateFileError as StateFileError
from daemon.safety.store import SafetyStore as SafetyStore

__all__ = (
    "DayFigures",
    "EngageKill",
    "FileOps",
    "GetSafety",
    "KillTrigger",
    "OsFileOps",
    "ReplyCode",
    "ResetKill",
    "SafetyGate",
    "SafetyReply",
    "SafetyRequest",
    "SafetySnapshot",
    "SafetyState",
    "SafetyStore",
    "SessionCalendar",
    "SetMode",
    "StateDamage",
    "StateFileError",
)
