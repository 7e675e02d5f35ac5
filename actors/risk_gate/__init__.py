"""Risk gate: request/reply (``risk``) checks on every entry, each reported with its
measured value, its limit and pass/fail. See docs/actors/risk_gate.md.
"""

from actors.risk_gate._actor import RiskGate as RiskGate
from actors.risk_gate._engine import CHECK_NAMES as CHECK_NAMES
from actors.risk_gate._engine import RiskEngine as RiskEngine
from actors.risk_gate._history import MarketHistory as MarketHistory
from actors.risk_gate._history import Series as Series
from actors.risk_gate._portfolio import Portfolio as Portfolio
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="risk_gate",
    factory=RiskGate,
    description="per-entry risk checks (PDT, buying power, limits, correlation, VaR...)",
    core=True,
)

__all__ = (
    "CHECK_NAMES",
    "DEFINITION",
    "MarketHistory",
    "Portfolio",
    "RiskEngine",
    "RiskGate",
    "Series",
)
