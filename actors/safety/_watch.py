"""What the safety actor knows of the books and the brokers, kept across its restarts."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from daemon.messages import ZERO

_SEEN_TRADES = 4096


@dataclass
class SafetyWatch:
    """Open positions, unrealized P&L, equity and broker links, as the events tell them.

    Held in the runtime's resources rather than in the actor, so a restarted safety actor
    still knows which positions are open. Bounded: one entry per open position and per
    broker, and a fixed window of recent trade ids for de-duplication.
    """

    positions: dict[str, Decimal] = field(default_factory=dict)
    """Signed quantity per symbol with an open position."""
    unrealized: dict[str, Decimal] = field(default_factory=dict)
    equity: Decimal | None = None
    """The latest account equity (None until the first AccountSnapshot)."""
    disconnected: dict[str, int] = field(default_factory=dict)
    """Brokers currently disconnected, with the time (ns) they went down."""
    _seen: set[str] = field(default_factory=set)
    _seen_order: deque[str] = field(default_factory=deque)

    def unrealized_total(self) -> Decimal:
        """Sum of unrealized P&L over open positions."""
        return sum(self.unrealized.values(), ZERO)

    def set_position(self, symbol: str, qty: Decimal, unrealized: Decimal) -> None:
        """Record a position's new size (0 closes it)."""
        if qty == 0:
            self.positions.pop(symbol, None)
            self.unrealized.pop(symbol, None)
        else:
            self.positions[symbol] = qty
            self.unrealized[symbol] = unrealized

    def first_sight(self, trade_id: str) -> bool:
        """True the first time ``trade_id`` is seen (within the recent window)."""
        if trade_id in self._seen:
            return False
        self._seen.add(trade_id)
        self._seen_order.append(trade_id)
        if len(self._seen_order) > _SEEN_TRADES:
            self._seen.discard(self._seen_order.popleft())
        return True
