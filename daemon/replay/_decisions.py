"""The decision stream: what the daemon decided, recorded, digested and compared.

The *digest* is a SHA-256 over the exact msgpack encoding of every decision event in the
order the daemon published it, timestamps included: two replays of the same inputs with
the same configuration must produce the same digest, byte for byte.

The *normalised* form drops timestamps and other run-specific detail and keeps what an
operator means by "the same decision" (which signal was accepted or turned down at which
stage and why; which order, side and quantity; which fill price; which trade and P&L).
It is what a live session's journal is compared against, and what the A/B diff shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import msgspec

from daemon.messages import (
    ExecutionRecord,
    ExitIntent,
    Fill,
    FusionRecord,
    KillSwitchEvent,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    SignalRecord,
    SignalVerdict,
    TradeClosed,
    TradingModeChanged,
)
from daemon.messages.codec import msgpack_encoder

DECISION_TYPES: tuple[type[Any], ...] = (
    SignalVerdict,
    SignalRecord,
    FusionRecord,
    RiskDecision,
    OrderIntent,
    OrderUpdate,
    Fill,
    ExecutionRecord,
    ExitIntent,
    PositionUpdate,
    TradeClosed,
    KillSwitchEvent,
    TradingModeChanged,
)
"""Event types that make up the decision stream (and its digest)."""


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def normalise(event: object) -> dict[str, Any] | None:
    """The comparable form of a decision event (None for records that add nothing)."""
    match event:
        case SignalVerdict(signal=sig):
            return {
                "k": "verdict",
                "signal": f"{sig.source}/{sig.signal_id}",
                "symbol": sig.symbol,
                "side": str(sig.side),
                "accepted": event.accepted,
                "stage": event.stage,
                "reason": event.reason,
            }
        case RiskDecision():
            return {
                "k": "risk",
                "cid": event.correlation_id,
                "approved": event.approved,
                "reason": event.reason,
            }
        case OrderIntent():
            return {
                "k": "order",
                "coid": event.client_order_id,
                "cid": event.correlation_id,
                "symbol": event.symbol,
                "side": str(event.side),
                "qty": _s(event.qty),
                "type": str(event.order_type),
                "purpose": str(event.purpose),
                "limit": _s(event.limit_price),
            }
        case Fill():
            return {
                "k": "fill",
                "coid": event.client_order_id,
                "qty": _s(event.qty),
                "price": _s(event.price),
                "commission": _s(event.commission),
            }
        case ExecutionRecord():
            return {
                "k": "execution",
                "coid": event.client_order_id,
                "status": str(event.status),
                "filled": _s(event.filled_qty),
                "avg": _s(event.avg_fill_price),
            }
        case ExitIntent():
            return {
                "k": "exit",
                "exit_id": event.exit_id,
                "symbol": event.symbol,
                "reason": str(event.reason),
                "qty": _s(event.qty),
            }
        case TradeClosed():
            return {
                "k": "trade",
                "trade_id": event.trade_id,
                "symbol": event.symbol,
                "side": str(event.side),
                "qty": _s(event.qty),
                "entry": _s(event.entry_price),
                "exit": _s(event.exit_price),
                "pnl": _s(event.pnl),
                "reason": event.exit_reason,
                "source": event.source,
            }
        case KillSwitchEvent():
            return {"k": "kill", "engaged": event.engaged, "trigger": event.trigger}
        case TradingModeChanged():
            return {"k": "mode", "mode": str(event.mode)}
    return None


_json = msgspec.json.Encoder()


class DecisionLog:
    """Digests every decision event and writes its normalised form, one JSON per line."""

    def __init__(self, path: Path | None = None) -> None:
        self._hash = hashlib.sha256()
        self.count = 0
        self.by_kind: dict[str, int] = {}
        self.path = path
        self._fh: IO[bytes] | None = open(path, "wb") if path is not None else None  # noqa: SIM115

    def add(self, event: object) -> None:
        """Take one decision event, in publication order."""
        self._hash.update(msgpack_encoder.encode(event))
        self.count += 1
        name = type(event).__name__
        self.by_kind[name] = self.by_kind.get(name, 0) + 1
        if self._fh is not None:
            norm = normalise(event)
            if norm is not None:
                self._fh.write(_json.encode(norm) + b"\n")

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the stream so far."""
        return self._hash.hexdigest()

    def close(self) -> None:
        """Close the file (the digest stays readable)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_normalised(path: Path) -> list[dict[str, Any]]:
    """The normalised decisions a :class:`DecisionLog` wrote."""
    dec = msgspec.json.Decoder(dict[str, Any])
    with open(path, "rb") as fh:
        return [dec.decode(line) for line in fh if line.strip()]


def outcomes(decisions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Final verdict per signal (a later stage's rejection overrides the guard's
    acceptance), in first-seen order; the unit of the A/B and live comparisons."""
    order: list[str] = []
    final: dict[str, dict[str, Any]] = {}
    for d in decisions:
        if d["k"] != "verdict":
            continue
        key = d["signal"]
        if key not in final:
            order.append(key)
            final[key] = d
        elif not d["accepted"] or final[key]["accepted"]:
            final[key] = d
    return [final[k] for k in order]


def compare(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Differences between two normalised decision streams (empty: the same).

    Compares per kind, in order: verdicts, orders, fills, exits, trades and safety
    changes; each difference names the kind, the position and both values.
    """
    problems: list[str] = []
    for kind in ("verdict", "order", "fill", "execution", "exit", "trade", "kill", "mode"):
        a = [d for d in expected if d["k"] == kind]
        b = [d for d in actual if d["k"] == kind]
        if kind == "verdict":
            a, b = outcomes(a), outcomes(b)
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                problems.append(f"{kind} #{i + 1}: expected {x}, got {y}")
                break
        if len(a) != len(b):
            problems.append(f"{kind}: expected {len(a)}, got {len(b)}")
    return problems
