"""Orders the orchestrator has sent, while they work and for a while after.

Working orders live in a dict keyed by client order id (every lookup O(1)). A finished
order moves to a bounded, insertion-ordered map of outcomes, kept so that late or
duplicated broker events and re-delivered signals are recognised; the oldest outcomes
are trimmed beyond ``max_finished`` (the database keeps the full history).
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import final

from daemon.messages import ZERO, OrderIntent, OrderPurpose, OrderStatus, TradeType


@final
class WorkingOrder:
    """One order in flight and what is known about it (mutable, owned by the actor)."""

    __slots__ = (
        "ack_deadline",
        "acked",
        "broker_order_id",
        "exit_reason",
        "expected_price",
        "fees",
        "filled",
        "intent",
        "notional",
        "partial_deadline",
        "problems",
        "queries",
        "risk_per_unit",
        "source",
        "status",
        "stop_price",
        "submitted_ns",
        "target_price",
        "trade_type",
    )

    def __init__(
        self,
        intent: OrderIntent,
        *,
        expected_price: float | None,
        submitted_ns: int,
        source: str = "",
        trade_type: TradeType = TradeType.SWING,
        stop_price: float | None = None,
        target_price: float | None = None,
        risk_per_unit: float = 0.0,
        exit_reason: str = "",
    ) -> None:
        self.intent = intent
        self.expected_price = expected_price
        self.submitted_ns = submitted_ns
        self.source = source
        self.trade_type = trade_type
        self.stop_price = stop_price
        self.target_price = target_price
        self.risk_per_unit = risk_per_unit
        self.exit_reason = exit_reason
        self.status = OrderStatus.INTENT
        self.acked = False
        self.broker_order_id = ""
        self.filled = ZERO
        self.notional = ZERO
        self.fees = ZERO
        self.ack_deadline = 0
        self.partial_deadline = 0
        self.queries = 0
        self.problems: list[str] = []

    @property
    def client_order_id(self) -> str:
        """The idempotent id the broker knows the order by."""
        return self.intent.client_order_id

    @property
    def correlation_id(self) -> str:
        """Links the order to the signal (or exit) that caused it."""
        return self.intent.correlation_id

    @property
    def purpose(self) -> OrderPurpose:
        """Entry, exit, flatten..."""
        return self.intent.purpose

    @property
    def remaining(self) -> Decimal:
        """Quantity not yet filled."""
        return self.intent.qty - self.filled

    def avg_price(self) -> Decimal | None:
        """Volume-weighted fill price so far (None before any fill)."""
        if self.filled == 0:
            return None
        return (self.notional / self.filled).quantize(Decimal("0.00000001"))


@final
class OrderBook:
    """Working orders by client order id, plus a bounded memory of finished ones."""

    __slots__ = ("finished", "max_finished", "working")

    def __init__(self, max_finished: int) -> None:
        self.max_finished = max_finished
        self.working: dict[str, WorkingOrder] = {}
        self.finished: OrderedDict[str, OrderStatus] = OrderedDict()

    def __len__(self) -> int:
        return len(self.working)

    def known(self, client_order_id: str) -> bool:
        """True if the id is working or finished recently (a re-delivery)."""
        return client_order_id in self.working or client_order_id in self.finished

    def add(self, order: WorkingOrder) -> None:
        """Track a new order."""
        self.working[order.client_order_id] = order

    def get(self, client_order_id: str) -> WorkingOrder | None:
        """The working order with this id, if any."""
        return self.working.get(client_order_id)

    def finish(self, order: WorkingOrder) -> None:
        """Move ``order`` to the finished memory (trimming the oldest beyond the bound)."""
        coid = order.client_order_id
        self.working.pop(coid, None)
        self.finished[coid] = order.status
        while len(self.finished) > self.max_finished:
            self.finished.popitem(last=False)
