"""Serves the books service (:mod:`actors.orchestrator.books_api`) in the orchestrator's loop.

Each correction is checked against the state it expects (compare-and-set) and applied
with no await between the check and the change, so it cannot interleave with a broker
event handled by another of the orchestrator's tasks. Events (PositionUpdate,
TradeClosed, OrderUpdate, ExecutionRecord) go out on ``events`` as for any other change,
which is how the lifecycle monitor learns of adopted positions and protects them.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, final

from actors.common import BooksError
from actors.orchestrator._execution import Execution
from actors.orchestrator._orders import WorkingOrder
from actors.orchestrator.books_api import (
    ApplyCorrections,
    BookFill,
    CancelAtBroker,
    ClosePosition,
    Correction,
    CorrectionResult,
    LocalOrder,
    LocalSnapshot,
    LocalState,
    SetPosition,
    TrackOrder,
    UpdateOrder,
)
from daemon import names
from daemon.bus import Bus, Service
from daemon.clock import Clock
from daemon.messages import (
    ZERO,
    CancelOrder,
    Fill,
    OrderPurpose,
    OrderStatus,
    PositionSnapshot,
)

_QUANTUM = Decimal("0.00000001")
_STALE = "stale: the books changed since the comparison"


@final
class BooksService:
    """Answers LocalState and ApplyCorrections for one orchestrator incarnation."""

    def __init__(
        self,
        execution: Execution,
        *,
        bus: Bus,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.ex = execution
        self.clock = clock
        self.log = log
        self.service: Service[Any, Any] = bus.service(names.ORCHESTRATOR_BOOKS)

    async def serve(self) -> None:
        """Answer requests until cancelled (one of the orchestrator's tasks)."""
        while True:
            calls = await self.service.next_calls()
            answered = 0
            try:
                for call in calls:
                    try:
                        call.reply(await self.answer(call.request))
                    except Exception as exc:
                        # A bug here must reach the caller, not hang it or kill trading.
                        self.log.exception(
                            "books request failed",
                            extra={"event": "books_request_failed", "request": repr(call.request)},
                        )
                        call.fail(exc)
                    answered += 1
            finally:
                for call in calls[answered:]:
                    call.fail(BooksError("orchestrator stopped before answering"))

    async def answer(self, request: object) -> object:
        """The reply to one request."""
        match request:
            case LocalState():
                return self.snapshot()
            case ApplyCorrections(run_id=run_id, items=items):
                results = [await self.apply(run_id, item) for item in items]
                if any(r.applied for r in results):
                    ex = self.ex
                    ex._equity = None
                    await ex.events.publish(ex.books.account(self.clock.now_ns()))
                return tuple(results)
            case _:
                raise BooksError(f"unknown books request {type(request).__name__}")

    def snapshot(self) -> LocalSnapshot:
        """Positions, working orders and marks now."""
        ex = self.ex
        orders = tuple(_local(o) for o in ex.orders.working.values())
        positions = ex.books.positions()
        marks: dict[str, float] = {}
        for sym in {p.symbol for p in positions} | {o.symbol for o in orders}:
            px = ex.last_price.get(sym)
            if px is not None:
                marks[sym] = px
        fresh = not positions and not ex.orders.working and not ex.orders.finished and not ex.meta
        return LocalSnapshot(
            positions=positions, orders=orders, marks=marks, fresh=fresh, ts=self.clock.now_ns()
        )

    async def apply(self, run_id: str, item: Correction) -> CorrectionResult:
        """Apply one correction if the state it expects still holds."""
        try:
            match item:
                case SetPosition():
                    return await self._set_position(item)
                case ClosePosition():
                    return await self._close_position(run_id, item)
                case BookFill():
                    return await self._book_fill(run_id, item)
                case UpdateOrder():
                    return await self._update_order(item)
                case TrackOrder():
                    return await self._track(item)
                case CancelAtBroker():
                    return await self._cancel(item)
        except BooksError as exc:
            return CorrectionResult(applied=False, detail=f"books refused: {exc}")
        return CorrectionResult(applied=False, detail=f"unknown correction {type(item).__name__}")

    # -- positions ------------------------------------------------------------------------

    async def _set_position(self, c: SetPosition) -> CorrectionResult:
        ex = self.ex
        sym = c.symbol
        held = ex.books.qty(sym)
        if held != c.expected_qty:
            return CorrectionResult(applied=False, detail=_STALE)
        now = self.clock.now_ns()
        pos = ex.books.adjust_position(
            sym, c.qty, c.avg_price, ts=now, correlation_id=c.correlation_id, source=c.source
        )
        if pos is None or (held != 0 and (held > 0) != (pos.qty > 0)):
            # Flat, or flipped: the old stop and target no longer describe the position.
            ex.meta.pop(sym, None)
        snap = pos if pos is not None else _flat(sym, ex.last_price.get(sym), now)
        ex._rebase_heat(sym, snap)
        await ex._publish_position(snap, c.cause)
        return CorrectionResult(applied=True)

    async def _close_position(self, run_id: str, c: ClosePosition) -> CorrectionResult:
        ex = self.ex
        sym = c.symbol
        pos = ex.books.position(sym)
        if pos is None or pos.qty != c.expected_qty:
            return CorrectionResult(applied=False, detail=_STALE)
        now = self.clock.now_ns()
        fill = Fill(
            fill_id=f"reconcile:{run_id}:{sym}",
            client_order_id="",
            correlation_id=pos.correlation_id,
            symbol=sym,
            side=pos.side.opposite,
            qty=abs(pos.qty),
            price=c.price,
            purpose=OrderPurpose.EXIT,
            ts=now,
        )
        # Booked as a trade so cash and realized P&L follow; not published as a Fill,
        # because no execution of ours happened — the TradeClosed says why it ended.
        change = ex.books.apply_fill(fill, exit_reason=c.reason)
        ex.meta.pop(sym, None)
        ex._rebase_heat(sym, change.position)
        await ex._publish_position(change.position, f"reconcile:{c.reason}")
        if change.closed is not None:
            await ex.events.publish(change.closed)
        return CorrectionResult(applied=True)

    # -- orders ---------------------------------------------------------------------------

    async def _book_fill(self, run_id: str, c: BookFill) -> CorrectionResult:
        ex = self.ex
        order = ex.orders.get(c.client_order_id)
        if order is None or order.filled != c.expected_filled or c.qty <= 0:
            return CorrectionResult(applied=False, detail=_STALE)
        i = order.intent
        fill = Fill(
            fill_id=f"reconcile:{run_id}:{i.client_order_id}:{order.filled}",
            client_order_id=i.client_order_id,
            correlation_id=i.correlation_id,
            broker_order_id=c.broker_order_id or order.broker_order_id,
            symbol=i.symbol,
            side=i.side,
            qty=c.qty,
            price=c.price.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN),
            purpose=i.purpose,
            ts=self.clock.now_ns(),
        )
        # The same path as a fill the broker reported: books, heat, exits, events.
        await ex._on_fill(fill)
        if "fill_reconciled" not in order.problems:
            order.problems.append("fill_reconciled")
        return CorrectionResult(applied=True)

    async def _update_order(self, c: UpdateOrder) -> CorrectionResult:
        ex = self.ex
        order = ex.orders.get(c.client_order_id)
        if order is None:
            return CorrectionResult(applied=False, detail=_STALE)
        if c.problem and c.problem not in order.problems:
            order.problems.append(c.problem)
        ex._advance(order, c.status, c.broker_order_id, c.filled_qty)
        if order.status.is_terminal:
            await ex._finish(order, c.reason, self.clock.now_ns())
        else:
            await ex.events.publish(ex._update(order, c.reason))
        return CorrectionResult(applied=True)

    async def _track(self, c: TrackOrder) -> CorrectionResult:
        ex = self.ex
        i = c.intent
        if ex.orders.known(i.client_order_id):
            return CorrectionResult(applied=False, detail="already tracked")
        order = WorkingOrder(i, expected_price=None, submitted_ns=i.ts, source="reconciler")
        order.status = c.status
        order.acked = c.acked
        order.broker_order_id = c.broker_order_id
        order.filled = c.filled_qty
        if c.avg_fill_price is not None:
            order.notional = c.filled_qty * c.avg_fill_price
        if not c.acked and "restored" not in order.problems:
            order.problems.append("restored")
        ex.orders.add(order)
        if i.purpose not in (OrderPurpose.ENTRY, OrderPurpose.ADOPT) and order.remaining > 0:
            # Reduce-only accounting, as if we had sent it: exits never over-close.
            ex.exit_working[i.symbol] = ex.exit_working.get(i.symbol, ZERO) + order.remaining
        await ex.events.publish(ex._update(order, "tracked by reconciliation"))
        return CorrectionResult(applied=True)

    async def _cancel(self, c: CancelAtBroker) -> CorrectionResult:
        ex = self.ex
        coid = c.client_order_id
        if ex.orders.get(coid) is not None:
            return CorrectionResult(applied=False, detail="tracked: not ours to cancel blind")
        # Remembered as finished, so the broker's cancellation is not reported as untracked.
        finished = ex.orders.finished
        finished[coid] = OrderStatus.CANCELLED
        while len(finished) > ex.orders.max_finished:
            finished.popitem(last=False)
        await ex.commands.send(
            CancelOrder(client_order_id=coid, reason=c.reason, ts=self.clock.now_ns())
        )
        return CorrectionResult(applied=True)


def _local(o: WorkingOrder) -> LocalOrder:
    i = o.intent
    return LocalOrder(
        client_order_id=i.client_order_id,
        correlation_id=i.correlation_id,
        symbol=i.symbol,
        side=i.side,
        qty=i.qty,
        filled=o.filled,
        avg_price=o.avg_price(),
        status=o.status,
        purpose=i.purpose,
        acked=o.acked,
        submitted_ns=o.submitted_ns,
        broker_order_id=o.broker_order_id,
        order_type=i.order_type,
        limit_price=i.limit_price,
    )


def _flat(symbol: str, last: float | None, now: int) -> PositionSnapshot:
    return PositionSnapshot(symbol=symbol, qty=ZERO, avg_price=ZERO, last_price=last, opened_ns=now)
