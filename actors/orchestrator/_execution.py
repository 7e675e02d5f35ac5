"""Stages 8 and 9: order submission and fill validation, and the books they update.

Submission (:meth:`Execution.submit`): the order is tracked, its write-ahead
:class:`~daemon.messages.OrderIntent` published, and then — synchronously, with no
await in between — the safety gate is asked whether an order of this purpose may
leave, and the ``SubmitOrder`` is put on ``broker.commands``.

Validation (:meth:`Execution.on_broker_events`): every ``Fill`` is booked (duplicates
by fill id are dropped by the books), every ``OrderUpdate`` moves the order forward
(never back), and a terminal one produces the :class:`~daemon.messages.ExecutionRecord`
with what went wrong: rejected, zero fill, partial fill, slippage beyond the threshold
(which also raises an alert), fills that disagree with the broker's total. An order
not acknowledged within ``ack_timeout_s`` becomes ``unknown`` and the broker is asked
about it by client order id — never re-sent — until the broker says.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, final

import anyio
import msgspec
from anyio import WouldBlock

from actors.broker.queries import GetOrder
from actors.common import Books, BooksError
from actors.orchestrator._ids import exit_correlation_id, exit_order_id
from actors.orchestrator._orders import OrderBook, WorkingOrder
from config.settings import Settings
from daemon import names
from daemon.bus import Bus, Channel, Topic
from daemon.clock import NS_PER_S, Clock
from daemon.messages import (
    ZERO,
    Alert,
    BrokerOrder,
    CancelAllOrders,
    CancelOrder,
    ExecutionRecord,
    ExitIntent,
    ExitReason,
    Fill,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PositionSnapshot,
    PositionUpdate,
    Severity,
    Side,
    SubmitOrder,
    TimeInForce,
)
from daemon.safety import SafetyGate

_ACK, _QUERY, _PARTIAL, _SNAPSHOT = 0, 1, 2, 3
_RANK = {
    OrderStatus.INTENT: 0,
    OrderStatus.SUBMITTED: 1,
    OrderStatus.UNKNOWN: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
}
"""Order of non-terminal states: an update never moves an order backwards."""


@dataclass(slots=True)
class PositionMeta:
    """What the books do not know about a position: its stop, target and risk per unit."""

    stop_price: float | None
    target_price: float | None
    risk_per_unit: float


@final
class Execution:
    """Working orders, the books and the orders' paths to and from the broker."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        bus: Bus,
        safety: SafetyGate | None,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.clock = clock
        self.log = log
        self.safety = safety
        self.events: Topic[Any] = bus.topic(names.EVENTS)
        self.commands: Channel[Any] = bus.channel(names.BROKER_COMMANDS)
        self.query = bus.service(names.BROKER_QUERY)
        self.books = Books(Decimal(repr(settings.broker.initial_cash)))
        self.orders = OrderBook(settings.orchestrator.fills.max_finished_orders)
        self.meta: dict[str, PositionMeta] = {}
        self.last_price: dict[str, float] = {}
        self.exit_working: dict[str, Decimal] = {}
        self.heat_working = 0.0
        self.heat_positions: dict[str, float] = {}
        self.heat_total_positions = 0.0
        self.peak_equity = float(settings.broker.initial_cash)
        self._equity: float | None = None
        self._last_snapshot_ns = 0
        self._snapshot_due = 0
        self._deadlines: list[tuple[int, int, int, str]] = []
        self._seq = itertools.count()
        self._wake: anyio.Event | None = None
        self._sleep: anyio.CancelScope | None = None
        self._sleep_until = 0
        self._resolve_send, self._resolve_recv = anyio.create_memory_object_stream[str](1_000_000)
        self.alerts = 0
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Take new settings (reload)."""
        self.settings = settings
        self.account = settings.daemon.account
        f = settings.orchestrator.fills
        self.ack_timeout_ns = int(f.ack_timeout_s * NS_PER_S)
        self.query_retry_ns = int(f.query_retry_s * NS_PER_S)
        self.partial_timeout_ns = int(f.partial_timeout_s * NS_PER_S)
        self.cancel_rest = f.partial == "cancel_rest"
        self.slippage_alert_bps = f.slippage_alert_bps
        self.orders.max_finished = f.max_finished_orders
        self.snapshot_interval_ns = int(settings.orchestrator.snapshot_interval_s * NS_PER_S)

    # -- figures for the pipeline -------------------------------------------------------

    def equity(self) -> float:
        """Equity from the books (cached until the next fill or mark)."""
        eq = self._equity
        if eq is None:
            eq = self._equity = float(self.books.equity())
            if eq > self.peak_equity:
                self.peak_equity = eq
        return eq

    def open_risk(self) -> float:
        """Money at risk between entry and stop: open positions plus working entries."""
        return self.heat_total_positions + self.heat_working

    # -- stage 8: submission ----------------------------------------------------------

    async def submit(self, order: WorkingOrder) -> bool:
        """Record the intent, check the safety gate, send; False if the gate refused."""
        orders = self.orders
        intent = order.intent
        orders.add(order)
        # An entry's heat was taken when it was sized (see the pipeline).
        if order.purpose is not OrderPurpose.ENTRY and intent.purpose is not OrderPurpose.ADOPT:
            self.exit_working[intent.symbol] = (
                self.exit_working.get(intent.symbol, ZERO) + intent.qty
            )
        await self.events.publish(intent)
        # From here to the send there is no await: the kill switch is checked at the
        # last point before the order leaves the process (DESIGN.md, safety invariants).
        safety = self.safety
        if safety is not None:
            refused = safety.may_submit(order.purpose)
        elif order.purpose.opens_risk:
            refused = "no safety gate is installed"
        else:
            refused = None
        now = self.clock.now_ns()
        if refused is not None:
            order.status = OrderStatus.REJECTED
            order.problems.append("blocked")
            await self._finish(order, f"blocked: {refused}", now)
            return False
        cmd = SubmitOrder(intent=intent)
        try:
            self.commands.send_nowait(cmd)
        except WouldBlock:
            # The broker is behind: wait for room (backpressure, never a drop).
            await self.commands.send(cmd)
        order.status = OrderStatus.SUBMITTED
        order.submitted_ns = now
        order.ack_deadline = now + self.ack_timeout_ns
        self._schedule(order.ack_deadline, _ACK, intent.client_order_id)
        return True

    def new_exit(self, ex: ExitIntent, now: int) -> WorkingOrder | str:
        """The order closing (part of) a position for ``ex``, or why there is none."""
        books = self.books
        held = books.qty(ex.symbol)
        if held == 0:
            return "no_position"
        coid = exit_order_id(self.account, ex.exit_id)
        if self.orders.known(coid):
            return "duplicate_exit"
        # Reduce-only: never close more than is held and not already being closed.
        free = abs(held) - self.exit_working.get(ex.symbol, ZERO)
        qty = free if ex.qty is None else min(ex.qty, free)
        if qty <= 0:
            return "already_closing"
        pos = books.position(ex.symbol)
        cid = ex.correlation_id or (pos.correlation_id if pos is not None else "")
        side = Side.SELL if held > 0 else Side.BUY
        purpose = (
            OrderPurpose.FLATTEN
            if ex.reason in (ExitReason.EMERGENCY, ExitReason.OPERATOR)
            else OrderPurpose.EXIT
        )
        intent = OrderIntent(
            client_order_id=coid,
            correlation_id=cid or exit_correlation_id(ex.exit_id),
            symbol=ex.symbol,
            side=side,
            qty=qty,
            order_type=OrderType.MARKET,
            tif=TimeInForce.DAY,
            purpose=purpose,
            reason=str(ex.reason),
            ts=now,
        )
        expected = (
            ex.trigger_price if ex.trigger_price is not None else self.last_price.get(ex.symbol)
        )
        return WorkingOrder(
            intent,
            expected_price=expected,
            submitted_ns=now,
            exit_reason=str(ex.reason),
        )

    async def cancel_all(self, req: CancelAllOrders) -> int:
        """Ask the broker to cancel matching working orders; returns how many."""
        now = self.clock.now_ns()
        n = 0
        for order in list(self.orders.working.values()):
            if req.entries_only and order.purpose is not OrderPurpose.ENTRY:
                continue
            if req.symbol and order.intent.symbol != req.symbol:
                continue
            if order.status is OrderStatus.REJECTED:
                continue
            await self.commands.send(
                CancelOrder(client_order_id=order.client_order_id, reason=req.reason, ts=now)
            )
            n += 1
        return n

    async def cancel_one(self, req: CancelOrder) -> str | None:
        """Ask the broker to cancel one working order we own; None when asked, else why not.

        The id must name a working order in the books: an order that finished, or one
        we never sent, is answered with the reason and nothing goes to the broker.
        """
        coid = req.client_order_id
        order = self.orders.get(coid)
        if order is None:
            if coid in self.orders.finished:
                return f"order {coid} is no longer working ({self.orders.finished[coid]})"
            return f"no working order {coid} in the books"
        if order.status is OrderStatus.REJECTED:
            return f"order {coid} was rejected: nothing to cancel"
        await self.commands.send(
            CancelOrder(client_order_id=coid, reason=req.reason, ts=self.clock.now_ns())
        )
        return None

    async def cancel_entries(self, symbol: str, reason: str) -> None:
        """Cancel working entries on ``symbol`` (an exit is closing the position)."""
        now = self.clock.now_ns()
        for order in list(self.orders.working.values()):
            if order.purpose is OrderPurpose.ENTRY and order.intent.symbol == symbol:
                await self.commands.send(
                    CancelOrder(client_order_id=order.client_order_id, reason=reason, ts=now)
                )

    # -- stage 9: broker events -------------------------------------------------------

    async def on_broker_events(self, batch: list[Any]) -> None:
        """Apply a batch of ``Fill``/``OrderUpdate`` events from the broker, in order."""
        booked = False
        for ev in batch:
            try:
                if isinstance(ev, Fill):
                    booked = await self._on_fill(ev) or booked
                elif isinstance(ev, OrderUpdate):
                    await self._on_update(ev)
                else:
                    await self._alert(
                        Severity.WARNING,
                        "bad_broker_event",
                        f"unexpected {type(ev).__name__} on {names.ORCHESTRATOR_BROKER}",
                    )
            except BooksError as exc:
                await self._alert(
                    Severity.CRITICAL,
                    "books_error",
                    f"fill could not be booked: {exc}; books and broker may disagree",
                )
        if booked:
            await self._account_snapshot()

    async def _account_snapshot(self) -> None:
        """Publish the account now, or once the throttle interval has passed.

        Computing the account walks every position in exact decimal arithmetic, so under
        a burst of fills it goes out at most once per ``snapshot_interval_s``; the risk
        gate debits exposure-increasing fills from its buying power in between.
        """
        now = self.clock.now_ns()
        due = self._last_snapshot_ns + self.snapshot_interval_ns
        if now >= due:
            self._last_snapshot_ns = now
            self._snapshot_due = 0
            await self.events.publish(self.books.account(now))
        elif not self._snapshot_due:
            self._snapshot_due = due
            self._schedule(due, _SNAPSHOT, "")

    async def _on_fill(self, f: Fill) -> bool:
        order = self.orders.get(f.client_order_id)
        if order is None:
            # A fill for an order we do not track (finished, adopted, or lost state after
            # a restart): it is still a real execution, so book it and say so.
            await self._alert(
                Severity.WARNING,
                "untracked_fill",
                f"fill {f.fill_id} for untracked order {f.client_order_id}",
            )
            change = self.books.apply_fill(f)
            if not change.duplicate:
                self._equity = None
                await self.events.publish(f)
                await self._publish_position(change.position, f"fill:{f.fill_id}")
                if change.closed is not None:
                    await self.events.publish(change.closed)
            return not change.duplicate
        if not f.correlation_id or f.purpose is not order.purpose:
            f = msgspec.structs.replace(
                f, correlation_id=order.correlation_id, purpose=order.purpose
            )
        change = self.books.apply_fill(
            f, source=order.source, trade_type=order.trade_type, exit_reason=order.exit_reason
        )
        if change.duplicate:
            return False
        self._equity = None
        order.acked = True
        order.filled += f.qty
        order.notional += f.qty * f.price
        order.fees += f.commission
        if f.broker_order_id:
            order.broker_order_id = f.broker_order_id
        sym = f.symbol
        if order.purpose is OrderPurpose.ENTRY:
            self.heat_working -= float(f.qty) * order.risk_per_unit
            if change.opened or sym not in self.meta:
                self.meta[sym] = PositionMeta(
                    order.stop_price, order.target_price, order.risk_per_unit
                )
        else:
            left = self.exit_working.get(sym, ZERO) - f.qty
            if left > 0:
                self.exit_working[sym] = left
            else:
                self.exit_working.pop(sym, None)
        if change.position.qty == 0:
            self.meta.pop(sym, None)
        self._rebase_heat(sym, change.position)
        await self.events.publish(f)
        await self._publish_position(change.position, f"fill:{f.fill_id}")
        if change.closed is not None:
            await self.events.publish(change.closed)
        if order.remaining > 0 and self.cancel_rest:
            order.partial_deadline = self.clock.now_ns() + self.partial_timeout_ns
            self._schedule(order.partial_deadline, _PARTIAL, order.client_order_id)
        return True

    def _rebase_heat(self, sym: str, pos: PositionSnapshot) -> None:
        m = self.meta.get(sym)
        risk = abs(float(pos.qty)) * m.risk_per_unit if m is not None else 0.0
        old = self.heat_positions.pop(sym, 0.0)
        if risk > 0.0:
            self.heat_positions[sym] = risk
        self.heat_total_positions += risk - old

    async def _publish_position(self, pos: PositionSnapshot, cause: str) -> None:
        m = self.meta.get(pos.symbol)
        if m is not None and pos.qty != 0:
            pos = msgspec.structs.replace(pos, stop_price=m.stop_price, target_price=m.target_price)
        await self.events.publish(PositionUpdate(position=pos, cause=cause, ts=self.clock.now_ns()))

    async def _on_update(self, u: OrderUpdate) -> None:
        order = self.orders.get(u.client_order_id)
        if order is None:
            if u.client_order_id not in self.orders.finished:
                await self._alert(
                    Severity.WARNING,
                    "untracked_order",
                    f"update {u.status} for untracked order {u.client_order_id}",
                )
            return
        self._advance(order, u.status, u.broker_order_id, u.filled_qty)
        if order.status.is_terminal:
            await self._finish(order, u.reason, u.ts)
        elif u.status is not OrderStatus.UNKNOWN:
            # The broker's own update goes out as it is when it already carries our
            # correlation id and agrees with our fills (the usual case: no rebuild).
            if (
                u.correlation_id == order.correlation_id
                and u.status is order.status
                and u.filled_qty == order.filled
            ):
                await self.events.publish(u)
            else:
                await self.events.publish(self._update(order, u.reason))

    def _advance(
        self, order: WorkingOrder, status: OrderStatus, broker_id: str, filled: Decimal
    ) -> None:
        if broker_id:
            order.broker_order_id = broker_id
        if status is OrderStatus.UNKNOWN:
            return
        order.acked = True
        if order.status.is_terminal:
            return
        if status.is_terminal or _RANK.get(status, 0) >= _RANK.get(order.status, 0):
            order.status = status
        if filled > order.filled and "fills_missing" not in order.problems:
            # The broker counts more than we booked: a fill event is late or lost.
            order.problems.append("fills_missing")

    def _update(self, order: WorkingOrder, reason: str) -> OrderUpdate:
        i = order.intent
        return OrderUpdate(
            client_order_id=i.client_order_id,
            correlation_id=i.correlation_id,
            broker_order_id=order.broker_order_id,
            symbol=i.symbol,
            side=i.side,
            status=order.status,
            qty=i.qty,
            filled_qty=order.filled,
            avg_fill_price=order.avg_price(),
            purpose=i.purpose,
            reason=reason,
            ts=self.clock.now_ns(),
        )

    async def _finish(self, order: WorkingOrder, reason: str, ts: int) -> None:
        """Validate a terminal order, publish its update and execution record, forget it."""
        i = order.intent
        problems = order.problems
        status = order.status
        if status is OrderStatus.REJECTED and "blocked" not in problems:
            problems.append("rejected")
        elif order.filled == 0 and status is not OrderStatus.REJECTED:
            problems.append("zero_fill")
        elif 0 < order.filled < i.qty:
            problems.append("partial_fill")
        avg = order.avg_price()
        slip = 0.0
        exp = order.expected_price
        if avg is not None and exp is not None and exp > 0:
            slip = (float(avg) - exp) / exp * 10_000.0 * i.side.sign
            if slip > self.slippage_alert_bps:
                problems.append("slippage")
                await self._alert(
                    Severity.WARNING,
                    "slippage",
                    f"{i.symbol} {i.side} filled at {avg} vs expected {exp:g}: "
                    f"{slip:.1f} bps > {self.slippage_alert_bps:g}",
                    correlation_id=i.correlation_id,
                    client_order_id=i.client_order_id,
                )
        if i.purpose is OrderPurpose.ENTRY:
            self.heat_working -= float(order.remaining) * order.risk_per_unit
        else:
            left = self.exit_working.get(i.symbol, ZERO) - order.remaining
            if left > 0:
                self.exit_working[i.symbol] = left
            else:
                self.exit_working.pop(i.symbol, None)
            if status is OrderStatus.REJECTED:
                await self._alert(
                    Severity.ERROR,
                    "exit_rejected",
                    f"{i.purpose} order for {i.symbol} was rejected ({reason}); "
                    "the position is still open",
                    correlation_id=i.correlation_id,
                    client_order_id=i.client_order_id,
                )
        self.orders.finish(order)
        await self.events.publish(self._update(order, reason))
        await self.events.publish(
            ExecutionRecord(
                correlation_id=i.correlation_id,
                client_order_id=i.client_order_id,
                symbol=i.symbol,
                side=i.side,
                status=status,
                qty=i.qty,
                filled_qty=order.filled,
                avg_fill_price=avg,
                expected_price=exp,
                slippage_bps=round(slip, 4),
                fees=order.fees,
                problems=tuple(problems),
                ts=ts or self.clock.now_ns(),
            )
        )

    # -- market marks -----------------------------------------------------------------

    async def on_mark(self, symbol: str, price: float) -> None:
        """Record a price: marks the books; a throttled ``AccountSnapshot`` when holding."""
        self.last_price[symbol] = price
        # Mark even when flat: a position opened later must start from the current price,
        # not the last mark of a previous position (its stops would fire at once).
        self.books.mark(symbol, price)
        if self.books.qty(symbol) == 0:
            return
        self._equity = None
        await self._account_snapshot()

    async def on_marks(self, marks: dict[str, float]) -> None:
        """Record the latest price of several symbols at once (a market batch): marks
        the books; one throttled ``AccountSnapshot`` if any of them is held."""
        books = self.books
        held = False
        for symbol, price in marks.items():
            self.last_price[symbol] = price
            books.mark(symbol, price)
            held = held or books.qty(symbol) != 0
        if held:
            self._equity = None
            await self._account_snapshot()

    # -- timers: stale acknowledgements, unresolved orders, stalled partials ---------

    def _schedule(self, deadline: int, kind: int, coid: str) -> None:
        heap = self._deadlines
        first = not heap or deadline < heap[0][0]
        heapq.heappush(heap, (deadline, next(self._seq), kind, coid))
        if first:
            if self._wake is not None:
                self._wake.set()
            if self._sleep is not None and deadline < self._sleep_until:
                self._sleep.cancel()

    async def run_timers(self) -> None:
        """Fire deadlines as the clock reaches them (runs for the actor's life)."""
        heap = self._deadlines
        clock = self.clock
        while True:
            if not heap:
                self._wake = anyio.Event()
                await self._wake.wait()
                self._wake = None
                continue
            due = heap[0][0]
            with anyio.CancelScope() as scope:
                self._sleep, self._sleep_until = scope, due
                await clock.sleep_until(due)
            self._sleep = None
            now = clock.now_ns()
            while heap and heap[0][0] <= now:
                deadline, _, kind, coid = heapq.heappop(heap)
                await self._on_deadline(kind, coid, deadline)

    async def _on_deadline(self, kind: int, coid: str, deadline: int) -> None:
        if kind == _SNAPSHOT:
            if self._snapshot_due == deadline:
                await self._account_snapshot()
            return
        order = self.orders.get(coid)
        if order is None:
            return
        if kind == _ACK:
            if order.acked or order.ack_deadline != deadline:
                return
            order.status = OrderStatus.UNKNOWN
            if "stale_ack" not in order.problems:
                order.problems.append("stale_ack")
            await self.events.publish(self._update(order, "no acknowledgement in time"))
            await self._alert(
                Severity.WARNING,
                "order_unacknowledged",
                f"order {coid} not acknowledged within "
                f"{self.ack_timeout_ns / NS_PER_S:g}s; asking the broker",
                correlation_id=order.correlation_id,
                client_order_id=coid,
            )
            self._resolve_send.send_nowait(coid)
        elif kind == _QUERY:
            self._resolve_send.send_nowait(coid)
        elif (
            kind == _PARTIAL
            and order.partial_deadline == deadline
            and order.filled > 0
            and order.remaining > 0
        ):
            await self.commands.send(
                CancelOrder(client_order_id=coid, reason="partial fill stalled", ts=deadline)
            )

    async def run_resolver(self) -> None:
        """Ask the broker about unknown orders, one at a time (never re-sends them).

        A separate task so that a broker slow to answer holds up only this.
        """
        async for coid in self._resolve_recv:
            order = self.orders.get(coid)
            if order is None or order.acked:
                continue
            order.queries += 1
            try:
                answer = await self.query.call(GetOrder(client_order_id=coid))
            except Exception as exc:  # broker down or failing: try again later
                self.log.warning(
                    "order query failed",
                    extra={"event": "order_query_failed", "coid": coid, "error": repr(exc)},
                )
                answer = None
            await self._resolved(order, answer)

    async def _resolved(self, order: WorkingOrder, answer: object) -> None:
        if self.orders.get(order.client_order_id) is not order:
            return  # resolved by a broker event while we were asking
        if not isinstance(answer, BrokerOrder):
            # The broker does not know the order (yet), or could not say: it stays
            # unknown; ask again later. It is never assumed failed, never re-sent.
            self._schedule(self.clock.now_ns() + self.query_retry_ns, _QUERY, order.client_order_id)
            if order.queries == 3:
                await self._alert(
                    Severity.ERROR,
                    "order_unresolved",
                    f"order {order.client_order_id} still unknown after {order.queries} "
                    "queries; the reconciler will resolve it",
                    correlation_id=order.correlation_id,
                    client_order_id=order.client_order_id,
                )
            return
        self._advance(order, answer.status, answer.broker_order_id, answer.filled_qty)
        if order.status.is_terminal:
            await self._finish(order, f"resolved by query: {answer.status}", self.clock.now_ns())
        else:
            await self.events.publish(self._update(order, "resolved by query"))

    # -- helpers ----------------------------------------------------------------------

    async def _alert(self, severity: Severity, code: str, text: str, **payload: str) -> None:
        self.alerts += 1
        now = self.clock.now_ns()
        extra = {"event": code}
        # The documented log fields, so an order's problems are found by id (docs/observability.md).
        for field, key in (("correlation_id", "correlation_id"), ("order_id", "client_order_id")):
            if payload.get(key):
                extra[field] = payload[key]
        self.log.log(
            logging.ERROR if severity in (Severity.ERROR, Severity.CRITICAL) else logging.WARNING,
            text,
            extra=extra,
        )
        await self.events.publish(
            Alert(
                alert_id=f"orchestrator-{code}-{now}-{self.alerts}",
                severity=severity,
                code=code,
                text=text,
                payload=dict(payload),
                ts=now,
            )
        )
