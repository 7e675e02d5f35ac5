"""Books: positions long and short, average cost, realized and unrealized P&L, fees, cash.

Accounting method (docs/broker.md, "Books"):

* **Average cost.** A position keeps its signed quantity and its signed *cost basis*
  (sum of signed quantity x price of the fills that opened or grew it). Adding to a
  position adds to the cost; reducing it removes the closed share of the cost and
  realizes ``closed qty x price - removed cost`` (sign-adjusted for shorts).
* **Exact.** All arithmetic is ``Decimal`` in a context that traps ``Inexact``: a sum or
  product that would lose a digit raises :class:`BooksError` instead of rounding quietly.
  The one division — the cost removed by a *partial* close — is rounded half-even to
  ``cost_quantum``; the remainder stays in the cost basis, so nothing is ever lost: when
  a position goes flat its realized P&L is exactly proceeds minus cost, and at every
  moment ``equity == cash + sum(qty x mark)`` and
  ``equity == initial cash + realized - fees + unrealized`` hold to the last digit.
* **Trades.** A trade runs from flat to flat. A fill that crosses zero (a *flip*) closes
  one trade and opens the next; its commission is split between them pro rata by
  quantity. :class:`~daemon.messages.TradeClosed` carries the volume-weighted entry and
  exit prices, the trade's fees, and ``pnl`` **net of fees**.
* **Gross vs net.** ``realized_pnl`` on positions and the account is gross (price P&L);
  ``fees`` are kept beside it; cash is reduced by both.
* **Bounded.** Only open positions, the last mark per symbol and a window of recent fill
  ids (to drop duplicate fills) are held; closed trades are handed out, not kept.
"""

from __future__ import annotations

from collections import deque
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    getcontext,
    setcontext,
)
from typing import final

import msgspec

from daemon.errors import TradingdError
from daemon.messages import (
    ZERO,
    AccountSnapshot,
    Fill,
    Nanos,
    PositionSnapshot,
    Side,
    TradeClosed,
    TradeType,
)
from daemon.messages.codec import as_decimal

__all__ = ("BookChange", "Books", "BooksError", "InvalidFill")

_EXACT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
"""Sums and products: any loss of precision is an error, not a rounding."""
_ROUND = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero])
"""The deliberate divisions (partial-close cost, display averages), then quantised."""


def _enter_exact() -> Context:
    """Make :data:`_EXACT` the current decimal context; returns the one to restore.

    Used as ``saved = _enter_exact()`` / ``try: ... finally: setcontext(saved)`` rather
    than ``with localcontext(_EXACT)``, which copies the context on every entry: that
    copy was 3 µs of the 22 µs a fill cost to book. The shared context's flags
    accumulate, which nothing reads: the traps raise whatever the flags say.
    """
    saved = getcontext()
    setcontext(_EXACT)
    return saved


DEFAULT_COST_QUANTUM = Decimal("0.00000001")


class BooksError(TradingdError):
    """Raised when the books cannot apply a change exactly (state is left untouched)."""


class InvalidFill(BooksError):
    """Raised when a fill is malformed: quantity or price not positive, negative fee."""


class BookChange(msgspec.Struct, frozen=True):
    """What one fill did to the books.

    ``position`` is the symbol's position after the fill (``qty == 0`` when it went flat;
    then ``realized_pnl``/``fees`` on it are the finished trade's). ``realized_pnl`` is
    the gross P&L realized by this fill. ``closed`` is the finished trade when the fill
    took the position to flat or across zero; ``opened`` is True when the fill started a
    trade (from flat, or the far side of a flip). ``duplicate`` fills change nothing.
    """

    fill: Fill
    position: PositionSnapshot
    realized_pnl: Decimal
    fees: Decimal
    closed: TradeClosed | None = None
    opened: bool = False
    duplicate: bool = False

    @property
    def flipped(self) -> bool:
        """True when the fill closed a trade and opened one on the other side."""
        return self.closed is not None and self.opened


class _Position:
    """Mutable state of one open position (only the books touch it)."""

    __slots__ = (
        "correlation_id",
        "cost",
        "entry_notional",
        "entry_qty",
        "exit_notional",
        "exit_qty",
        "fees",
        "opened_ns",
        "qty",
        "realized",
        "side",
        "source",
        "symbol",
        "trade_id",
        "trade_type",
    )

    def __init__(
        self,
        symbol: str,
        side: Side,
        trade_id: str,
        opened_ns: Nanos,
        correlation_id: str,
        source: str,
        trade_type: TradeType,
    ) -> None:
        self.symbol = symbol
        self.side = side
        self.trade_id = trade_id
        self.opened_ns = opened_ns
        self.correlation_id = correlation_id
        self.source = source
        self.trade_type = trade_type
        self.qty = ZERO
        self.cost = ZERO
        self.realized = ZERO
        self.fees = ZERO
        self.entry_qty = ZERO
        self.entry_notional = ZERO
        self.exit_qty = ZERO
        self.exit_notional = ZERO


@final
class Books:
    """Positions, P&L, fees, cash and equity of one account; see the module docstring.

    Owned by one actor (the orchestrator for our books, the paper broker for the
    venue's); not thread-safe and not meant to be shared.
    """

    __slots__ = (
        "_cash",
        "_cost_quantum",
        "_fees",
        "_initial_cash",
        "_last_float",
        "_leverage",
        "_marks",
        "_positions",
        "_realized",
        "_seen",
        "_seen_order",
    )

    def __init__(
        self,
        initial_cash: Decimal,
        *,
        leverage: Decimal = Decimal(1),
        cost_quantum: Decimal = DEFAULT_COST_QUANTUM,
        fill_id_window: int = 65_536,
    ) -> None:
        if not initial_cash.is_finite():
            raise BooksError(f"initial cash must be finite, got {initial_cash}")
        if leverage <= 0:
            raise BooksError(f"leverage must be positive, got {leverage}")
        if cost_quantum <= 0:
            raise BooksError(f"cost quantum must be positive, got {cost_quantum}")
        if fill_id_window < 1:
            raise BooksError(f"fill id window must be >= 1, got {fill_id_window}")
        self._initial_cash = initial_cash
        self._cash = initial_cash
        self._leverage = leverage
        self._cost_quantum = cost_quantum
        self._realized = ZERO
        self._fees = ZERO
        self._positions: dict[str, _Position] = {}
        self._marks: dict[str, Decimal] = {}
        self._last_float: dict[str, float] = {}
        self._seen: set[str] = set()
        self._seen_order: deque[str] = deque(maxlen=fill_id_window)

    # -- figures ---------------------------------------------------------------------

    @property
    def initial_cash(self) -> Decimal:
        """Cash the books started with."""
        return self._initial_cash

    @property
    def cash(self) -> Decimal:
        """Cash now: initial cash minus purchases plus sales minus fees."""
        return self._cash

    @property
    def realized_pnl(self) -> Decimal:
        """Gross P&L realized since the books started (fees not deducted)."""
        return self._realized

    @property
    def fees(self) -> Decimal:
        """Commissions paid since the books started."""
        return self._fees

    @property
    def open_positions(self) -> int:
        """Number of open positions."""
        return len(self._positions)

    def unrealized_pnl(self) -> Decimal:
        """Unrealized P&L of every open position at its last mark."""
        saved = _enter_exact()
        try:
            return sum((self._unrealized(p) for p in self._positions.values()), start=ZERO)
        finally:
            setcontext(saved)

    def equity(self) -> Decimal:
        """Cash plus the market value of every open position (shorts count negative)."""
        saved = _enter_exact()
        try:
            value = sum((self._value(p) for p in self._positions.values()), start=ZERO)
            return self._cash + value
        finally:
            setcontext(saved)

    def gross_exposure(self) -> Decimal:
        """Sum of |qty x mark| over open positions."""
        saved = _enter_exact()
        try:
            return sum((abs(self._value(p)) for p in self._positions.values()), start=ZERO)
        finally:
            setcontext(saved)

    def buying_power(self) -> Decimal:
        """``equity x leverage - gross exposure``, never below zero."""
        saved = _enter_exact()
        try:
            value = gross = ZERO
            for p in self._positions.values():
                v = self._value(p)
                value += v
                gross += abs(v)
            return max(ZERO, (self._cash + value) * self._leverage - gross)
        finally:
            setcontext(saved)

    def account(self, ts: Nanos) -> AccountSnapshot:
        """The account figures at ``ts``."""
        saved = _enter_exact()
        try:
            return AccountSnapshot(
                cash=self._cash,
                equity=self.equity(),
                buying_power=self.buying_power(),
                realized_pnl=self._realized,
                unrealized_pnl=self.unrealized_pnl(),
                fees=self._fees,
                ts=ts,
            )
        finally:
            setcontext(saved)

    # -- lookups (O(1)) -----------------------------------------------------------------

    def qty(self, symbol: str) -> Decimal:
        """Signed quantity held in ``symbol`` (0 when flat)."""
        p = self._positions.get(symbol)
        return ZERO if p is None else p.qty

    def position(self, symbol: str) -> PositionSnapshot | None:
        """The open position in ``symbol``, or None when flat."""
        p = self._positions.get(symbol)
        return None if p is None else self._snapshot(p)

    def positions(self) -> tuple[PositionSnapshot, ...]:
        """Every open position, by symbol."""
        return tuple(self._snapshot(self._positions[s]) for s in sorted(self._positions))

    def last_mark(self, symbol: str) -> Decimal | None:
        """The last price ``symbol`` was marked (or filled) at, if any."""
        return self._marks.get(symbol)

    # -- changes ------------------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal | float) -> PositionSnapshot | None:
        """Record ``symbol``'s latest price; returns its position re-valued, if open.

        Non-finite or non-positive prices are ignored (returns the position unchanged).
        """
        if isinstance(price, float):
            if not (price > 0.0 and price != float("inf")):
                p = self._positions.get(symbol)
                return None if p is None else self._snapshot(p)
            self._last_float[symbol] = price
            dec = as_decimal(price)
        else:
            if not (price.is_finite() and price > 0):
                p = self._positions.get(symbol)
                return None if p is None else self._snapshot(p)
            dec = price
            self._last_float[symbol] = float(price)
        self._marks[symbol] = dec
        p = self._positions.get(symbol)
        return None if p is None else self._snapshot(p)

    def apply_fill(
        self,
        fill: Fill,
        *,
        source: str = "",
        trade_type: TradeType = TradeType.SWING,
        exit_reason: str = "",
    ) -> BookChange:
        """Book one execution; returns what changed.

        ``source`` and ``trade_type`` label a trade this fill opens; ``exit_reason`` labels
        a trade it closes. A ``fill_id`` seen within the recent window is a duplicate and
        changes nothing. Raises :class:`InvalidFill` for a malformed fill and
        :class:`BooksError` if the result could not be represented exactly; in both cases
        the books are unchanged.
        """
        if fill.fill_id in self._seen:
            p = self._positions.get(fill.symbol)
            pos = self._snapshot(p) if p is not None else self._flat(fill.symbol)
            return BookChange(fill=fill, position=pos, realized_pnl=ZERO, fees=ZERO, duplicate=True)
        change = self._book(fill, source, trade_type, exit_reason, report=True)
        assert change is not None
        return change

    def book_fill(self, fill: Fill) -> bool:
        """Book one execution without describing the change; False for a duplicate.

        For a ledger that only needs the resulting state (the paper venue's account):
        :meth:`apply_fill` also builds the position snapshot, the closed trade and their
        average prices, a third of its cost. Same checks, errors and atomicity.
        """
        if fill.fill_id in self._seen:
            return False
        self._book(fill, "", TradeType.SWING, "", report=False)
        return True

    def _book(
        self, fill: Fill, source: str, trade_type: TradeType, exit_reason: str, *, report: bool
    ) -> BookChange | None:
        _validate(fill)
        try:
            saved = _enter_exact()
            try:
                change = self._apply(fill, source, trade_type, exit_reason, report)
            finally:
                setcontext(saved)
        except (Inexact, InvalidOperation, Overflow) as exc:
            raise BooksError(
                f"fill {fill.fill_id} cannot be booked exactly ({type(exc).__name__}); "
                "the books are unchanged"
            ) from exc
        self._remember(fill.fill_id)
        return change

    def adjust_position(
        self,
        symbol: str,
        qty: Decimal,
        avg_price: Decimal,
        *,
        ts: Nanos,
        correlation_id: str = "",
        source: str = "",
    ) -> PositionSnapshot | None:
        """Make our position in ``symbol`` be ``qty`` at ``avg_price`` (reconciliation).

        Not a trade: cash and realized P&L are untouched, no trade record is produced.
        ``qty == 0`` removes the position. Returns the new position (None when flat).
        """
        if not (qty.is_finite() and avg_price.is_finite() and avg_price >= 0):
            raise BooksError(f"cannot set {symbol} to {qty} @ {avg_price}")
        if qty == 0:
            self._positions.pop(symbol, None)
            return None
        saved = _enter_exact()
        try:
            cost = qty * avg_price
        finally:
            setcontext(saved)
        p = self._positions.get(symbol)
        if p is None:
            p = self._positions[symbol] = _Position(
                symbol,
                Side.BUY if qty > 0 else Side.SELL,
                f"adjust:{symbol}:{ts}",
                ts,
                correlation_id,
                source,
                TradeType.SWING,
            )
        p.side = Side.BUY if qty > 0 else Side.SELL
        p.qty = qty
        p.cost = cost
        p.entry_qty = abs(qty)
        p.entry_notional = abs(cost)
        p.exit_qty = ZERO
        p.exit_notional = ZERO
        self._marks.setdefault(symbol, avg_price)
        return self._snapshot(p)

    # -- internals ----------------------------------------------------------------------

    def _apply(
        self, fill: Fill, source: str, trade_type: TradeType, exit_reason: str, report: bool
    ) -> BookChange | None:
        symbol = fill.symbol
        price = fill.price
        fee = fill.commission
        signed = fill.qty * fill.side.sign
        p = self._positions.get(symbol)
        closed: TradeClosed | None = None
        opened = False
        realized = ZERO
        new_cash = self._cash - signed * price - fee

        if p is None or (p.qty > 0) == (signed > 0):
            # Open or add: everything goes into the cost basis.
            if p is None:
                p = _Position(
                    symbol,
                    fill.side,
                    fill.fill_id,
                    fill.ts,
                    fill.correlation_id,
                    source,
                    trade_type,
                )
                opened = True
            new_p = _grow(p, signed, price, fee)
            commit_remove = False
        else:
            # Reduce, close or flip.
            held = abs(p.qty)
            close_qty = min(fill.qty, held)
            removed = p.cost if close_qty == held else self._portion(p.cost, close_qty, held)
            direction = 1 if p.qty > 0 else -1
            realized = direction * close_qty * price - removed
            if close_qty == fill.qty:
                close_fee, open_fee = fee, ZERO
            else:
                close_fee = _split_fee(fee, close_qty, fill.qty)
                open_fee = fee - close_fee
            shrunk = _copy(p)
            shrunk.qty = p.qty - direction * close_qty
            shrunk.cost = p.cost - removed
            shrunk.realized = p.realized + realized
            shrunk.fees = p.fees + close_fee
            shrunk.exit_qty = p.exit_qty + close_qty
            shrunk.exit_notional = p.exit_notional + close_qty * price
            if shrunk.qty == 0:
                closed = self._trade(shrunk, fill, exit_reason) if report else None
                rest = fill.qty - close_qty
                if rest > 0:
                    flipped = _Position(
                        symbol,
                        fill.side,
                        fill.fill_id,
                        fill.ts,
                        fill.correlation_id,
                        source,
                        trade_type,
                    )
                    new_p = _grow(flipped, rest * fill.side.sign, price, open_fee)
                    opened = True
                    commit_remove = False
                else:
                    new_p = shrunk
                    commit_remove = True
            else:
                new_p = shrunk
                commit_remove = False

        new_realized = self._realized + realized
        new_fees = self._fees + fee
        # Everything computed without error: commit.
        self._cash = new_cash
        self._realized = new_realized
        self._fees = new_fees
        if symbol not in self._marks:
            self._marks[symbol] = price
            self._last_float[symbol] = float(price)
        if commit_remove:
            self._positions.pop(symbol, None)
            if not report:
                return None
            pos = self._flat(symbol, realized=new_p.realized, fees=new_p.fees, ts=fill.ts)
        else:
            self._positions[symbol] = new_p
            if not report:
                return None
            pos = self._snapshot(new_p)
        return BookChange(
            fill=fill,
            position=pos,
            realized_pnl=realized,
            fees=fee,
            closed=closed,
            opened=opened,
        )

    def _portion(self, cost: Decimal, part: Decimal, whole: Decimal) -> Decimal:
        """``cost x part / whole`` rounded half-even to the cost quantum."""
        return _ROUND.divide(_ROUND.multiply(cost, part), whole).quantize(
            self._cost_quantum, context=_ROUND
        )

    def _trade(self, p: _Position, fill: Fill, exit_reason: str) -> TradeClosed:
        return TradeClosed(
            trade_id=p.trade_id,
            correlation_id=p.correlation_id,
            symbol=p.symbol,
            side=p.side,
            qty=p.entry_qty,
            entry_price=self._average(p.entry_notional, p.entry_qty),
            exit_price=self._average(p.exit_notional, p.exit_qty),
            entry_ns=p.opened_ns,
            exit_ns=fill.ts,
            pnl=p.realized - p.fees,
            fees=p.fees,
            exit_reason=exit_reason,
            source=p.source,
            trade_type=p.trade_type,
            ts=fill.ts,
        )

    def _average(self, notional: Decimal, qty: Decimal) -> Decimal:
        if qty == 0:
            return ZERO
        return _ROUND.divide(notional, qty).quantize(self._cost_quantum, context=_ROUND)

    def _value(self, p: _Position) -> Decimal:
        """Signed market value: at the last mark, or at cost before any mark."""
        m = self._marks.get(p.symbol)
        return p.cost if m is None else p.qty * m

    def _unrealized(self, p: _Position) -> Decimal:
        m = self._marks.get(p.symbol)
        if m is None:
            return ZERO
        return p.qty * m - p.cost

    def _snapshot(self, p: _Position) -> PositionSnapshot:
        saved = _enter_exact()
        try:
            unrealized = self._unrealized(p)
        finally:
            setcontext(saved)
        return PositionSnapshot(
            symbol=p.symbol,
            qty=p.qty,
            avg_price=self._average(abs(p.cost), abs(p.qty)),
            realized_pnl=p.realized,
            unrealized_pnl=unrealized,
            fees=p.fees,
            last_price=self._last_float.get(p.symbol),
            opened_ns=p.opened_ns,
            correlation_id=p.correlation_id,
            source=p.source,
            trade_type=p.trade_type,
        )

    def _flat(
        self, symbol: str, *, realized: Decimal = ZERO, fees: Decimal = ZERO, ts: Nanos = 0
    ) -> PositionSnapshot:
        return PositionSnapshot(
            symbol=symbol,
            qty=ZERO,
            avg_price=ZERO,
            realized_pnl=realized,
            fees=fees,
            last_price=self._last_float.get(symbol),
            opened_ns=ts,
        )

    def _remember(self, fill_id: str) -> None:
        order = self._seen_order
        if len(order) == order.maxlen:
            self._seen.discard(order[0])
        order.append(fill_id)
        self._seen.add(fill_id)


def _validate(fill: Fill) -> None:
    if not (fill.qty.is_finite() and fill.qty > 0):
        raise InvalidFill(f"fill {fill.fill_id}: quantity must be positive, got {fill.qty}")
    if not (fill.price.is_finite() and fill.price > 0):
        raise InvalidFill(f"fill {fill.fill_id}: price must be positive, got {fill.price}")
    if not (fill.commission.is_finite() and fill.commission >= 0):
        raise InvalidFill(f"fill {fill.fill_id}: commission must be >= 0, got {fill.commission}")


def _copy(p: _Position) -> _Position:
    q = _Position(
        p.symbol, p.side, p.trade_id, p.opened_ns, p.correlation_id, p.source, p.trade_type
    )
    q.qty = p.qty
    q.cost = p.cost
    q.realized = p.realized
    q.fees = p.fees
    q.entry_qty = p.entry_qty
    q.entry_notional = p.entry_notional
    q.exit_qty = p.exit_qty
    q.exit_notional = p.exit_notional
    return q


def _grow(p: _Position, signed: Decimal, price: Decimal, fee: Decimal) -> _Position:
    q = _copy(p)
    q.qty = p.qty + signed
    q.cost = p.cost + signed * price
    q.fees = p.fees + fee
    q.entry_qty = p.entry_qty + abs(signed)
    q.entry_notional = p.entry_notional + abs(signed) * price
    return q


def _split_fee(fee: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """The share ``part / whole`` of ``fee``, rounded half-even to the fee's own digits."""
    exponent = fee.as_tuple().exponent
    quantum = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    return _ROUND.divide(_ROUND.multiply(fee, part), whole).quantize(quantum, context=_ROUND)
