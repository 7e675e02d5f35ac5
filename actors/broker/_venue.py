"""The paper venue's matching engine: synchronous, deterministic, driven by the caller.

The engine never reads a clock: every call carries ``now``. Delayed work (acks, fills
after the fill latency, cancels, DAY expiry) sits on a timer heap ordered by
``(due, sequence)``; :meth:`Venue.advance` runs everything due, in that order, so the
same inputs at the same times give the same events, byte for byte. Events go to
:attr:`Venue.outbox` for the async layer to deliver.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import random
from collections import deque
from decimal import ROUND_HALF_EVEN, Decimal
from typing import final

import numpy as np

from actors.broker._model import (
    CostModel,
    MarketState,
    PaperReason,
    Session,
    update_state,
    valid_update,
)
from actors.common.books import Books
from actors.kernels import MarketColumns
from config.sections.broker import BrokerSettings
from daemon.clock import NS_PER_S
from daemon.messages import (
    ZERO,
    Bar,
    BrokerOrder,
    Fill,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    Tick,
    TimeInForce,
)
from daemon.messages.codec import as_decimal

OrderEvent = OrderUpdate | Fill
_AVG_QUANTUM = Decimal("0.00000001")


class _Timer(enum.IntEnum):
    ACK = 0
    EXECUTE = 1
    CANCEL = 2
    EXPIRE = 3


class _Order:
    """One order at the venue (mutable; only the venue touches it)."""

    __slots__ = (
        "broker_order_id",
        "commission",
        "filled",
        "fills",
        "intent",
        "live",
        "notional",
        "partial_cap",
        "qty",
        "reason",
        "reserve_px",
        "reserve_qty",
        "silent_ack",
        "status",
        "triggered",
        "ts",
    )

    def __init__(self, intent: OrderIntent, broker_order_id: str, now: int) -> None:
        self.intent = intent
        self.broker_order_id = broker_order_id
        self.status = OrderStatus.SUBMITTED
        self.qty = intent.qty
        self.filled = ZERO
        self.notional = ZERO
        self.commission = ZERO
        self.fills = 0
        self.live = False
        """Matched by market updates (after its first execution attempt)."""
        self.triggered = False
        self.reserve_qty = ZERO
        self.reserve_px = ZERO
        self.silent_ack = False
        self.partial_cap: Decimal | None = None
        self.reason = ""
        self.ts = now

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled

    def avg_price(self) -> Decimal | None:
        if self.filled == 0:
            return None
        return (self.notional / self.filled).quantize(_AVG_QUANTUM, rounding=ROUND_HALF_EVEN)

    def view(self) -> BrokerOrder:
        i = self.intent
        return BrokerOrder(
            client_order_id=i.client_order_id,
            broker_order_id=self.broker_order_id,
            symbol=i.symbol,
            side=i.side,
            qty=self.qty,
            filled_qty=self.filled,
            status=self.status,
            order_type=i.order_type,
            limit_price=i.limit_price,
            avg_fill_price=self.avg_price(),
            ts=self.ts,
            stop_price=i.stop_price,
            tif=i.tif,
            correlation_id=i.correlation_id,
            purpose=i.purpose,
            reason=self.reason,
        )


@final
class Venue:
    """The simulated exchange and account behind :class:`actors.broker.paper.PaperBroker`."""

    def __init__(self, settings: BrokerSettings) -> None:
        cfg = settings.paper
        self.cfg = cfg
        seed = settings.seed
        self.costs = CostModel(cfg, random.Random(f"{seed}:slippage"))
        self._faults = cfg.faults if cfg.faults.enabled else None
        self._fault_rng = random.Random(f"{seed}:faults")
        self.session = Session(cfg.session)
        self.books = Books(as_decimal(settings.initial_cash), leverage=as_decimal(cfg.leverage))
        self._ack_ns = int(cfg.ack_latency_ms * NS_PER_S / 1000)
        self._fill_ns = int(cfg.fill_latency_ms * NS_PER_S / 1000)
        self.orders: dict[str, _Order] = {}
        self._open: dict[str, dict[str, _Order]] = {}
        """Working orders per symbol, in arrival order (time priority)."""
        self._closed: deque[str] = deque()
        self.market: dict[str, MarketState] = {}
        self._timers: list[tuple[int, int, _Timer, str]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._silent = itertools.count(1)
        self.reserved = ZERO
        self.outbox: deque[OrderEvent] = deque()
        self.bad_market_updates = 0

    # -- requests -------------------------------------------------------------------------

    def submit(self, intent: OrderIntent, now: int) -> _Order:
        """Take an order; it is acknowledged (or rejected) after the ack latency.

        Returns the venue's live record of it (``view()`` it after the timers ran).
        """
        self.advance(now)
        existing = self.orders.get(intent.client_order_id)
        if existing is not None:
            self._update(existing, now, PaperReason.DUPLICATE_CLIENT_ORDER_ID)
            return existing
        order = _Order(intent, f"P{next(self._ids):09d}", now)
        f = self._faults
        if f is not None:
            # Draw every fault for every order, so one rate never shifts another's draws.
            lost = self._fault_rng.random() < f.lost_rate
            reject = self._fault_rng.random() < f.reject_rate
            timeout = self._fault_rng.random() < f.timeout_rate
            partial = self._fault_rng.random() < f.partial_rate
            share = self._fault_rng.random()
            if lost:
                # Never reaches the venue: nothing is stored, nothing will be said.
                order.broker_order_id = ""
                return order
            if reject:
                order.reason = PaperReason.FAULT_REJECT
            order.silent_ack = timeout
            if partial:
                order.partial_cap = self.costs.lots(intent.qty * as_decimal(share))
        self.orders[intent.client_order_id] = order
        if self._ack_ns == 0:
            # Nothing else is due by now (advanced above): acknowledging at once is what
            # the timer would do, without the heap round trip.
            self._ack(order, now)
        else:
            self._at(now + self._ack_ns, _Timer.ACK, order)
        return order

    def cancel(self, client_order_id: str, now: int) -> BrokerOrder | None:
        """Ask for a cancel; it takes effect after the ack latency (fills may race it)."""
        self.advance(now)
        order = self.orders.get(client_order_id)
        if order is None:
            return None
        if not order.status.is_terminal:
            self._at(now + self._ack_ns, _Timer.CANCEL, order)
        return order.view()

    def order(self, client_order_id: str) -> BrokerOrder | None:
        """The venue's view of one order."""
        order = self.orders.get(client_order_id)
        return None if order is None else order.view()

    def open_orders(self) -> tuple[BrokerOrder, ...]:
        """Every working order, by symbol then arrival."""
        return tuple(o.view() for s in sorted(self._open) for o in self._open[s].values())

    # -- time and market --------------------------------------------------------------------

    @property
    def next_due(self) -> int | None:
        """When the next timer is due (None when nothing is scheduled)."""
        return self._timers[0][0] if self._timers else None

    def advance(self, now: int) -> None:
        """Run every timer due by ``now``, in (due, sequence) order."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            # Each timer acts at its own due time, whenever the caller gets round to it,
            # so the events do not depend on how promptly the async layer woke up.
            due, _, kind, coid = heapq.heappop(timers)
            order = self.orders.get(coid)
            if order is None or order.status.is_terminal:
                continue
            if kind is _Timer.ACK:
                self._ack(order, due)
            elif kind is _Timer.EXECUTE:
                order.live = True
                self._execute(order, due, bar_mode=False)
            elif kind is _Timer.CANCEL:
                self._finish(order, due, OrderStatus.CANCELLED, PaperReason.CANCELLED)
            elif order.intent.tif is TimeInForce.DAY:
                self._finish(order, due, OrderStatus.EXPIRED, PaperReason.DAY_EXPIRED)

    def on_market(self, item: Tick | Bar, now: int) -> None:
        """Take one market update: remember it, mark positions, match live orders.

        Timers due before ``now`` run first, against the market as it was.
        """
        self.advance(now)
        if not valid_update(item):
            self.bad_market_updates += 1
            return
        st = self.market.get(item.symbol)
        if st is None:
            st = self.market[item.symbol] = MarketState()
        update_state(st, item, self.cfg.max_participation_pct, self.costs)
        self.books.mark(item.symbol, st.last)
        working = self._open.get(item.symbol)
        if working:
            for order in list(working.values()):
                if order.live and not order.status.is_terminal:
                    self._execute(order, now, bar_mode=True)

    def on_market_many(self, cols: MarketColumns, now: int) -> None:
        """Take a batch of market updates at once: the same effect as :meth:`on_market`
        for each in order, and cheaper when no symbol in it has a working order.

        Without working orders an update only replaces its symbol's market picture and
        mark, so each symbol's latest valid update is all that counts (the invalid ones
        are still counted).
        """
        items = cols.items
        working = self._open
        if any(working.get(s) for s in cols.symbols):
            for item in items:
                self.on_market(item, now)
            return
        self.advance(now)
        o, h, lo, c, v = cols.open, cols.high, cols.low, cols.close, cols.volume
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
            ok &= (o > 0.0) & (h > 0.0) & (lo > 0.0) & (c > 0.0)
            ok &= (lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h)
            ok &= np.isfinite(v) & (v >= 0.0)
        if cols.tick.any():
            # A tick's quotes are not in the columns: judged one by one.
            for k in np.flatnonzero(cols.tick).tolist():
                ok[k] = valid_update(items[k])
        good = np.flatnonzero(ok)
        self.bad_market_updates += cols.n - int(good.shape[0])
        if not good.shape[0]:
            return
        # Each symbol's last valid update, in batch order.
        rev = good[::-1]
        _, first = np.unique(cols.sym[rev], return_index=True)
        for k in np.sort(rev[first]).tolist():
            self.on_market(items[k], now)

    # -- order life ---------------------------------------------------------------------------

    def _at(self, due: int, kind: _Timer, order: _Order) -> None:
        heapq.heappush(self._timers, (due, next(self._seq), kind, order.intent.client_order_id))

    def _ack(self, order: _Order, now: int) -> None:
        reason = order.reason or self._check(order, now)
        if reason:
            self._finish(order, now, OrderStatus.REJECTED, reason)
            return
        i = order.intent
        order.status = OrderStatus.ACCEPTED
        order.ts = now
        self._open.setdefault(i.symbol, {})[i.client_order_id] = order
        self.reserved += order.reserve_qty * order.reserve_px
        if not order.silent_ack:
            self._update(order, now)
        self._at(now + self._fill_ns, _Timer.EXECUTE, order)
        close = self.session.close_ns(now)
        if close is not None and i.tif is TimeInForce.DAY:
            self._at(close, _Timer.EXPIRE, order)

    def _check(self, order: _Order, now: int) -> str:
        """Why the venue refuses ``order`` now, or "" when it takes it.

        On success the order's lot-rounded quantity and the buying power it reserves
        (its exposure increase at its reference price) are set on it.
        """
        i = order.intent
        if not i.qty.is_finite():
            return PaperReason.INVALID_QUANTITY
        qty = self.costs.lots(i.qty)
        if qty <= 0:
            return PaperReason.INVALID_QUANTITY
        if i.order_type is OrderType.LIMIT and not self._on_grid(i.limit_price):
            return PaperReason.INVALID_PRICE
        if i.order_type is OrderType.STOP and not self._on_grid(i.stop_price):
            return PaperReason.INVALID_PRICE
        st = self.market.get(i.symbol)
        if st is None:
            return PaperReason.UNKNOWN_SYMBOL
        if not self.session.is_open(now):
            return PaperReason.MARKET_CLOSED
        held = self.books.qty(i.symbol)
        signed = qty if i.side is Side.BUY else -qty
        if not self.cfg.allow_short and held + signed < 0:
            return PaperReason.SHORT_NOT_ALLOWED
        increase = _exposure_increase(held, signed)
        px = self._reference(order, st)
        if increase > 0 and increase * px > self.books.buying_power() - self.reserved:
            return PaperReason.INSUFFICIENT_BUYING_POWER
        order.qty = qty
        order.reserve_qty = increase
        order.reserve_px = px
        return ""

    def _on_grid(self, price: Decimal | None) -> bool:
        """True for a price that is still positive once put on the tick grid."""
        return price is not None and price.is_finite() and self.costs.on_tick(price) > 0

    def _reference(self, order: _Order, st: MarketState) -> Decimal:
        """The price an order's buying power is checked and reserved at."""
        i = order.intent
        if i.order_type is OrderType.LIMIT and i.limit_price is not None:
            return self.costs.on_tick(i.limit_price)
        if i.order_type is OrderType.STOP and i.stop_price is not None:
            return max(self.costs.on_tick(i.stop_price), st.price_for(i.side, self.cfg.use_quotes))
        return st.price_for(i.side, self.cfg.use_quotes)

    def _release(self, order: _Order, qty: Decimal) -> None:
        take = min(order.reserve_qty, qty)
        if take > 0:
            order.reserve_qty -= take
            self.reserved = max(ZERO, self.reserved - take * order.reserve_px)

    def _execute(self, order: _Order, now: int, *, bar_mode: bool) -> None:
        """Fill what the market allows now; IOC orders then cancel the rest."""
        i = order.intent
        st = self.market[i.symbol]
        ref = self._executable_price(order, st, bar_mode)
        cap = order.partial_cap
        if ref is not None:
            qty = order.remaining
            if st.budget is not None:
                qty = min(qty, st.budget)
            if cap is not None:
                qty = min(qty, max(ZERO, cap - order.filled))
            if qty > 0:
                self._fill(order, st, ref, qty, now)
        if order.status.is_terminal:
            return
        if cap is not None and order.filled >= cap:
            self._finish(order, now, OrderStatus.CANCELLED, PaperReason.FAULT_PARTIAL)
        elif i.tif is TimeInForce.IOC:
            self._finish(order, now, OrderStatus.CANCELLED, PaperReason.IOC_REMAINDER)

    def _executable_price(self, order: _Order, st: MarketState, bar_mode: bool) -> Decimal | None:
        """The price ``order`` trades at before slippage, or None if it cannot trade now."""
        i = order.intent
        side = i.side
        bar = st.bar if bar_mode else None
        now_px = st.price_for(side, self.cfg.use_quotes)
        if i.order_type is OrderType.STOP and not order.triggered:
            assert i.stop_price is not None  # checked at acknowledgement
            stop = self.costs.on_tick(i.stop_price)
            if bar is not None:
                hit = bar[1] >= stop if side is Side.BUY else bar[2] <= stop
                if not hit:
                    return None
                order.triggered = True
                # Gapped through the stop: the first price past it is the open.
                return max(bar[0], stop) if side is Side.BUY else min(bar[0], stop)
            if (now_px >= stop) if side is Side.BUY else (now_px <= stop):
                order.triggered = True
                return now_px
            return None
        if i.order_type is OrderType.LIMIT:
            assert i.limit_price is not None  # checked at acknowledgement
            limit = self.costs.on_tick(i.limit_price)
            if bar is not None:
                crossed = bar[2] <= limit if side is Side.BUY else bar[1] >= limit
                if not crossed:
                    return None
                return min(bar[0], limit) if side is Side.BUY else max(bar[0], limit)
            if (now_px <= limit) if side is Side.BUY else (now_px >= limit):
                return now_px
            return None
        # Market (or a triggered stop): a bar update means it waited, so it trades the open.
        return bar[0] if bar is not None else now_px

    def _fill(self, order: _Order, st: MarketState, ref: Decimal, qty: Decimal, now: int) -> None:
        i = order.intent
        price = self.costs.slipped(ref, i.side)
        if i.order_type is OrderType.LIMIT and i.limit_price is not None:
            limit = self.costs.on_tick(i.limit_price)
            price = min(price, limit) if i.side is Side.BUY else max(price, limit)
        filled = order.filled + qty
        notional = order.notional + qty * price
        total_commission = self.costs.commission(filled, notional)
        commission = total_commission - order.commission
        order.fills += 1
        fill = Fill(
            fill_id=f"{order.broker_order_id}-{order.fills}",
            client_order_id=i.client_order_id,
            correlation_id=i.correlation_id,
            broker_order_id=order.broker_order_id,
            symbol=i.symbol,
            side=i.side,
            qty=qty,
            price=price,
            commission=commission,
            purpose=i.purpose,
            ts=now,
        )
        self.books.book_fill(fill)
        order.filled = filled
        order.notional = notional
        order.commission = total_commission
        order.ts = now
        if st.budget is not None:
            st.budget -= qty
        self._release(order, qty)
        self._emit(fill)
        if order.filled >= order.qty:
            self._finish(order, now, OrderStatus.FILLED, "")
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            self._update(order, now)

    def _finish(self, order: _Order, now: int, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        order.ts = now
        self._release(order, order.reserve_qty)
        working = self._open.get(order.intent.symbol)
        if working is not None:
            working.pop(order.intent.client_order_id, None)
            if not working:
                del self._open[order.intent.symbol]
        self._update(order, now)
        self._retire(order)

    def _retire(self, order: _Order) -> None:
        """Keep at most ``max_closed_orders`` finished orders queryable."""
        closed = self._closed
        closed.append(order.intent.client_order_id)
        while len(closed) > self.cfg.max_closed_orders:
            self.orders.pop(closed.popleft(), None)

    def _update(self, order: _Order, now: int, reason: str = "") -> None:
        i = order.intent
        self._emit(
            OrderUpdate(
                client_order_id=i.client_order_id,
                correlation_id=i.correlation_id,
                broker_order_id=order.broker_order_id,
                symbol=i.symbol,
                side=i.side,
                status=order.status,
                qty=order.qty,
                filled_qty=order.filled,
                avg_fill_price=order.avg_price(),
                purpose=i.purpose,
                reason=reason or order.reason,
                ts=now,
            )
        )

    def _emit(self, event: OrderEvent) -> None:
        self.outbox.append(event)
        f = self._faults
        if f is not None and self._fault_rng.random() < f.duplicate_rate:
            self.outbox.append(event)

    # -- manipulation (tests: the reconciler's "behind our back") ---------------------------

    def silent_fill(self, symbol: str, side: Side, qty: Decimal, price: Decimal, now: int) -> None:
        """Book a trade on the account that no event reports."""
        self.books.book_fill(
            Fill(
                fill_id=f"silent-{next(self._silent)}",
                client_order_id="",
                symbol=symbol,
                side=side,
                qty=qty,
                price=price,
                ts=now,
            )
        )

    def fill_order_silently(
        self, client_order_id: str, qty: Decimal | None, price: Decimal | None, now: int
    ) -> BrokerOrder:
        """Fill (part of) a working order at the venue without reporting it."""
        order = self.orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            raise KeyError(f"no working order {client_order_id!r}")
        i = order.intent
        take = order.remaining if qty is None else min(qty, order.remaining)
        px = price if price is not None else self.market[i.symbol].price_for(i.side, False)
        self.silent_fill(i.symbol, i.side, take, px, now)
        order.filled += take
        order.notional += take * px
        order.ts = now
        self._release(order, take)
        if order.filled >= order.qty:
            order.status = OrderStatus.FILLED
            self._drop_working(order)
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
        return order.view()

    def cancel_order_silently(self, client_order_id: str, now: int) -> BrokerOrder:
        """Cancel a working order at the venue without reporting it."""
        order = self.orders.get(client_order_id)
        if order is None or order.status.is_terminal:
            raise KeyError(f"no working order {client_order_id!r}")
        order.status = OrderStatus.CANCELLED
        order.ts = now
        self._release(order, order.reserve_qty)
        self._drop_working(order)
        return order.view()

    def _drop_working(self, order: _Order) -> None:
        working = self._open.get(order.intent.symbol)
        if working is not None:
            working.pop(order.intent.client_order_id, None)
            if not working:
                del self._open[order.intent.symbol]
        self._retire(order)


def _exposure_increase(held: Decimal, signed: Decimal) -> Decimal:
    """How much of an order of signed size ``signed`` adds to |position| (vs reduces it)."""
    if held == 0 or (held > 0) == (signed > 0):
        return abs(signed)
    return max(ZERO, abs(signed) - abs(held))
