"""The paper broker: tradingd's embedded, realistic, deterministic simulated venue.

:class:`PaperBroker` implements :class:`~actors.broker.protocol.Broker` over the
synchronous matching engine in ``_venue``. It prices orders from the daemon's market
data (the broker actor feeds it every ``Tick``, ``Bar`` and ``MarketBatch`` from the
``market`` topic), takes time from the injected clock, and draws slippage noise and
faults from generators seeded with ``broker.seed``: the same inputs at the same times
give the same events, byte for byte. docs/broker.md describes the model.

Timers (ack, fill and cancel latency, DAY expiry) run in the task group of
:meth:`PaperBroker.run`; with zero latency everything happens inside the call that
caused it. :attr:`PaperBroker.backdoor` changes the account behind the daemon's back,
for reconciliation tests.
"""

from __future__ import annotations

from decimal import Decimal
from typing import final

import anyio
from anyio.abc import TaskGroup, TaskStatus

from actors.broker._model import PaperReason
from actors.broker._venue import Venue
from actors.broker.protocol import BrokerUnavailable, OrderEvent
from actors.common.books import Books
from actors.kernels import columns_of
from config.sections.broker import BrokerSettings
from daemon.bus import Channel
from daemon.clock import Clock
from daemon.messages import (
    AccountSnapshot,
    Bar,
    BrokerOrder,
    MarketBatch,
    OrderIntent,
    PositionSnapshot,
    Side,
    Tick,
)

__all__ = ("PaperBackdoor", "PaperBroker", "PaperReason")


@final
class PaperBroker:
    """A simulated venue with latency, slippage, commission, partial fills, rejections
    and a seeded fault mode; see the module docstring and docs/broker.md."""

    def __init__(self, settings: BrokerSettings, clock: Clock, *, name: str = "paper") -> None:
        self._name = name
        self._clock = clock
        self._venue = Venue(settings)
        self._events: Channel[OrderEvent] = Channel(f"{name}.events", settings.paper.event_capacity)
        self._flush_lock = anyio.Lock()
        self._tg: TaskGroup | None = None
        self._wakes: set[int] = set()
        self._connected = False
        self._offline = False
        self.backdoor = PaperBackdoor(self._venue, clock)
        """Changes to the account that no event reports (tests only)."""

    # -- Broker protocol --------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``paper`` unless named otherwise."""
        return self._name

    @property
    def connected(self) -> bool:
        """True between :meth:`connect` and :meth:`close`."""
        return self._connected

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Host the venue's timers until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._wakes.clear()
            try:
                task_status.started()
                # Timers set before run() started (or by a previous run) need a waker here.
                self._schedule()
                await anyio.sleep_forever()
            finally:
                self._tg = None

    async def connect(self) -> None:
        """Open the session; raises BrokerUnavailable while :meth:`go_offline` holds."""
        if self._offline:
            raise BrokerUnavailable(f"broker {self._name} is offline")
        self._connected = True

    async def close(self) -> None:
        """Close the session: requests fail with BrokerUnavailable until reconnected.

        Working orders stay at the venue and keep trading, as they would at a real one.
        """
        self._connected = False

    async def submit(self, intent: OrderIntent) -> BrokerOrder:
        """Send an order; see :class:`~actors.broker.protocol.Broker` for the contract."""
        self._require()
        order = self._venue.submit(intent, self._clock.now_ns())
        await self._pump()
        # Viewed after the pump: with zero latency it was acknowledged (even filled) by now.
        return order.view()

    async def cancel(self, client_order_id: str) -> BrokerOrder | None:
        """Ask for a cancel (confirmed by an OrderUpdate after the ack latency)."""
        self._require()
        order = self._venue.cancel(client_order_id, self._clock.now_ns())
        await self._pump()
        if order is None:
            return None
        return self._venue.order(client_order_id) or order

    async def get_order(self, client_order_id: str) -> BrokerOrder | None:
        """The venue's view of one order (None: never received, or long forgotten)."""
        self._require()
        return self._venue.order(client_order_id)

    async def open_orders(self) -> tuple[BrokerOrder, ...]:
        """Every working order."""
        self._require()
        return self._venue.open_orders()

    async def positions(self) -> tuple[PositionSnapshot, ...]:
        """The account's open positions."""
        self._require()
        return self._venue.books.positions()

    async def account(self) -> AccountSnapshot:
        """The account's cash, equity and buying power (net of open-order reservations)."""
        self._require()
        acct = self._venue.books.account(self._clock.now_ns())
        free = max(Decimal(0), acct.buying_power - self._venue.reserved)
        return AccountSnapshot(
            cash=acct.cash,
            equity=acct.equity,
            buying_power=free,
            realized_pnl=acct.realized_pnl,
            unrealized_pnl=acct.unrealized_pnl,
            fees=acct.fees,
            ts=acct.ts,
        )

    async def next_events(self, max_items: int = 1024) -> list[OrderEvent]:
        """Wait for order events, in the order they happened."""
        return await self._events.receive_batch(max_items)

    def next_events_nowait(self, max_items: int = 1024) -> list[OrderEvent]:
        """The order events already delivered, without waiting.

        Raises :class:`anyio.WouldBlock` when there are none.
        """
        events = [self._events.receive_nowait()]
        try:
            while len(events) < max_items:
                events.append(self._events.receive_nowait())
        except anyio.WouldBlock:
            pass
        return events

    def go_offline(self) -> None:
        """Simulate an outage: the session drops and reconnecting fails until
        :meth:`go_online` (working orders keep trading at the venue)."""
        self._offline = True
        self._connected = False

    def go_online(self) -> None:
        """End a simulated outage: the next :meth:`connect` succeeds."""
        self._offline = False

    # -- market data ------------------------------------------------------------------------

    async def on_market(self, item: Tick | Bar | MarketBatch) -> None:
        """Take market data: reprice, mark positions, fill resting orders.

        Invalid prints (non-finite or non-positive prices, high < low) are counted in
        :attr:`bad_market_updates` and ignored.
        """
        now = self._clock.now_ns()
        venue = self._venue
        if isinstance(item, MarketBatch):
            cols = columns_of(item) if len(item.items) > 1 else None
            if cols is not None:
                venue.on_market_many(cols, now)
            else:
                for sub in item.items:
                    venue.on_market(sub, now)
        else:
            venue.on_market(item, now)
        await self._pump()

    async def poll(self) -> None:
        """Run whatever is due by now and deliver its events.

        The venue's timers do this on their own; a test or a replay that has just moved a
        simulated clock can call it to settle at once instead of waiting for them.
        """
        await self._pump()

    # -- introspection ----------------------------------------------------------------------

    @property
    def books(self) -> Books:
        """The venue's own ledger of the account (read it; change it via :attr:`backdoor`)."""
        return self._venue.books

    @property
    def bad_market_updates(self) -> int:
        """Market updates ignored as impossible."""
        return self._venue.bad_market_updates

    @property
    def next_timer_ns(self) -> int | None:
        """When the venue next has something to do on its own (None: nothing)."""
        return self._venue.next_due

    # -- internals --------------------------------------------------------------------------

    def _require(self) -> None:
        if not self._connected:
            raise BrokerUnavailable(f"broker {self._name} is not connected")

    async def _pump(self) -> None:
        """Run what is due, deliver the events in order, arm a waker for what is next."""
        self._venue.advance(self._clock.now_ns())
        outbox = self._venue.outbox
        if outbox:
            # One flusher at a time (the lock is FIFO), so events leave in venue order
            # even when a full channel makes a sender wait. Uncontended, neither the lock
            # nor the sends yield: no scheduler round trip on the hot path.
            lock = self._flush_lock
            try:
                lock.acquire_nowait()
            except anyio.WouldBlock:
                await lock.acquire()
            try:
                while outbox:
                    # Dropped only once delivered, so a cancelled send loses nothing.
                    await self._events.send(outbox[0])
                    outbox.popleft()
            finally:
                lock.release()
        self._schedule()

    def _schedule(self) -> None:
        due = self._venue.next_due
        if due is None or due in self._wakes:
            return
        if self._tg is None:
            # No timers can fire: they will be armed when run() starts.
            return
        self._wakes.add(due)
        self._tg.start_soon(self._wake, due)

    async def _wake(self, due: int) -> None:
        await self._clock.sleep_until(due)
        self._wakes.discard(due)
        await self._pump()


@final
class PaperBackdoor:
    """Changes to the paper account that no event reports: what a reconciler must catch.

    Each method acts at once, at the clock's current time, and works whether or not the
    broker is connected.
    """

    __slots__ = ("_clock", "_venue")

    def __init__(self, venue: Venue, clock: Clock) -> None:
        self._venue = venue
        self._clock = clock

    def close_position(self, symbol: str, price: Decimal | None = None) -> None:
        """Flatten ``symbol`` (as if closed from the broker's web page)."""
        self.set_quantity(symbol, Decimal(0), price)

    def add_position(self, symbol: str, qty: Decimal, price: Decimal) -> None:
        """Add ``qty`` (signed) of ``symbol`` at ``price``: an orphan position."""
        if qty == 0:
            return
        side = Side.BUY if qty > 0 else Side.SELL
        self._venue.silent_fill(symbol, side, abs(qty), price, self._clock.now_ns())

    def set_quantity(self, symbol: str, qty: Decimal, price: Decimal | None = None) -> None:
        """Make the position in ``symbol`` exactly ``qty`` (signed), trading the difference
        at ``price`` (default: the last market price, else the average cost)."""
        books = self._venue.books
        diff = qty - books.qty(symbol)
        if diff == 0:
            return
        px = price if price is not None else self._default_price(symbol)
        self.add_position(symbol, diff, px)

    def fill_order(
        self, client_order_id: str, qty: Decimal | None = None, price: Decimal | None = None
    ) -> BrokerOrder:
        """Fill a working order (all of it, or ``qty``) without any event.

        Raises ``KeyError`` when no such working order exists.
        """
        return self._venue.fill_order_silently(client_order_id, qty, price, self._clock.now_ns())

    def cancel_order(self, client_order_id: str) -> BrokerOrder:
        """Cancel a working order without any event. Raises ``KeyError`` if none."""
        return self._venue.cancel_order_silently(client_order_id, self._clock.now_ns())

    def _default_price(self, symbol: str) -> Decimal:
        st = self._venue.market.get(symbol)
        if st is not None:
            return st.last
        pos = self._venue.books.position(symbol)
        if pos is not None and pos.avg_price > 0:
            return pos.avg_price
        raise KeyError(f"no price known for {symbol!r}; pass one")
