"""Risk requests, per-check results and decisions (the third link of the audit chain)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from daemon.messages._base import Message, Nanos, Regime, Side, Symbol, TradeType


class RiskCheck(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One risk check as measured: its value, its limit and whether it passed."""

    name: str
    value: float
    limit: float
    passed: bool
    detail: str = ""


class RiskRequest(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Ask the risk gate whether an entry of ``qty`` at ``price`` may open risk."""

    correlation_id: str
    symbol: Symbol
    side: Side
    qty: Decimal
    price: float
    stop_price: float | None = None
    trade_type: TradeType = TradeType.SWING
    source: str = ""
    regime: Regime = Regime.SIDEWAYS
    ts: Nanos


class RiskDecision(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """The risk gate's answer: approved only if every check passed."""

    correlation_id: str
    symbol: Symbol
    approved: bool
    checks: tuple[RiskCheck, ...] = ()
    reason: str = ""
    ts: Nanos

    @property
    def failed(self) -> tuple[RiskCheck, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.passed)
