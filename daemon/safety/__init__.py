"""Persistent safety state: kill switch, trading mode, day figures, circuit breaker, PDT.

:mod:`daemon.safety.gate` fixes the read side every actor uses; the state file and its
single writer live beside it.
"""

from daemon.safety.gate import DayFigures as DayFigures
from daemon.safety.gate import SafetyGate as SafetyGate
from daemon.safety.gate import SafetySnapshot as SafetySnapshot
