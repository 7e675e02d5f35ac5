"""Random fill sequences through the books and through an independent reference ledger.

The reference is written from the definition of average-cost accounting with exact
rationals (``fractions.Fraction``), recomputed from the full fill list, in two flavours:

* ``quantum=None`` — the textbook, unrounded average cost;
* ``quantum=1e-8`` — the same, with the books' one documented rounding (the cost removed
  by a partial close, half-even to 1e-8; a fee split by a flip, half-even to the fee's
  own digits).

The books must agree with the rounded reference on every figure after every fill, and
with the unrounded one exactly on everything rounding cannot touch (quantities, cash,
fees, equity, realized + unrealized, and realized P&L once a symbol is flat).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.common import Books
from daemon.messages import Fill, Side

Q = Fraction(1, 10**8)
CASH = Decimal(1_000_000)
SYMBOLS = ("AAA", "BBB")


def _round(x: Fraction, quantum: Fraction) -> Fraction:
    return round(x / quantum) * quantum  # round() on a Fraction is half-even


class RefPosition:
    def __init__(self) -> None:
        self.qty = Fraction(0)
        self.cost = Fraction(0)
        self.realized = Fraction(0)
        self.fees = Fraction(0)
        self.entries: list[tuple[Fraction, Fraction]] = []
        self.exits: list[tuple[Fraction, Fraction]] = []


class RefLedger:
    """Average cost over exact rationals."""

    def __init__(self, quantum: Fraction | None) -> None:
        self.quantum = quantum
        self.cash = Fraction(CASH)
        self.fees = Fraction(0)
        self.realized = Fraction(0)
        self.symbol_realized: dict[str, Fraction] = {}
        self.pos: dict[str, RefPosition] = {}
        self.marks: dict[str, Fraction] = {}
        self.trades: list[tuple[Fraction, Fraction, Fraction, Fraction, Fraction]] = []

    def fill(self, symbol: str, side: Side, q: Fraction, px: Fraction, fee: Fraction) -> None:
        sign = 1 if side is Side.BUY else -1
        self.cash -= sign * q * px + fee
        self.fees += fee
        self.marks.setdefault(symbol, px)
        p = self.pos.setdefault(symbol, RefPosition())
        if p.qty == 0 or (p.qty > 0) == (sign > 0):
            p.qty += sign * q
            p.cost += sign * q * px
            p.fees += fee
            p.entries.append((q, px))
            return
        held = abs(p.qty)
        close = min(q, held)
        if close == held:
            removed = p.cost
        else:
            removed = p.cost * close / held
            if self.quantum is not None:
                removed = _round(removed, self.quantum)
        direction = 1 if p.qty > 0 else -1
        realized = direction * close * px - removed
        if close == q:
            close_fee = fee
        else:
            close_fee = fee * close / q
            if self.quantum is not None:
                close_fee = _round(close_fee, Fraction(1, 100))  # fees have 2 decimals here
        p.qty -= direction * close
        p.cost -= removed
        p.realized += realized
        p.fees += close_fee
        p.exits.append((close, px))
        self.realized += realized
        self.symbol_realized[symbol] = self.symbol_realized.get(symbol, Fraction(0)) + realized
        if p.qty == 0:
            zero = Fraction(0)
            entry_q = sum((e[0] for e in p.entries), start=zero)
            entry_px = sum((e[0] * e[1] for e in p.entries), start=zero) / entry_q
            exit_q = sum((e[0] for e in p.exits), start=zero)
            exit_px = sum((e[0] * e[1] for e in p.exits), start=zero) / exit_q
            self.trades.append((entry_q, entry_px, exit_px, p.realized - p.fees, p.fees))
            del self.pos[symbol]
            rest = q - close
            if rest > 0:
                n = self.pos[symbol] = RefPosition()
                n.qty = sign * rest
                n.cost = sign * rest * px
                n.fees = fee - close_fee
                n.entries.append((rest, px))

    def unrealized(self) -> Fraction:
        return sum((p.qty * self.marks[s] - p.cost for s, p in self.pos.items()), start=Fraction(0))

    def equity(self) -> Fraction:
        return self.cash + sum(
            (p.qty * self.marks[s] for s, p in self.pos.items()), start=Fraction(0)
        )


def cents(lo: int, hi: int) -> st.SearchStrategy[Decimal]:
    return st.integers(lo, hi).map(lambda n: Decimal(n).scaleb(-2))


fill_st = st.tuples(
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.one_of(st.integers(1, 500).map(Decimal), cents(1, 50_000)),  # whole and fractional
    cents(1, 100_000),  # price 0.01 .. 1000.00
    st.one_of(st.just(Decimal(0)), cents(0, 2_000)),  # fee
    st.one_of(st.none(), cents(1, 100_000)),  # a mark after the fill, sometimes
)


@settings(max_examples=300, deadline=None)
@given(st.lists(fill_st, min_size=1, max_size=60))
def test_books_agree_with_reference_ledgers(
    steps: list[tuple[str, Side, Decimal, Decimal, Decimal, Decimal | None]],
) -> None:
    books = Books(CASH)
    rounded = RefLedger(Q)
    exact = RefLedger(None)
    trades = []
    symbol_realized: dict[str, Fraction] = {}
    for n, (symbol, side, qty, price, fee, mark) in enumerate(steps):
        fill = Fill(
            fill_id=f"f{n}",
            client_order_id=f"o{n}",
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            commission=fee,
            ts=n,
        )
        change = books.apply_fill(fill)
        for ref in (rounded, exact):
            ref.fill(symbol, side, Fraction(qty), Fraction(price), Fraction(fee))
        if mark is not None:
            books.mark(symbol, mark)
            rounded.marks[symbol] = exact.marks[symbol] = Fraction(mark)
        symbol_realized[symbol] = symbol_realized.get(symbol, Fraction(0)) + Fraction(
            change.realized_pnl
        )
        if change.closed is not None:
            trades.append(change.closed)

        # Everything, exactly, against the reference with the same rounding rule.
        assert Fraction(books.cash) == rounded.cash
        assert Fraction(books.fees) == rounded.fees
        assert Fraction(books.realized_pnl) == rounded.realized
        assert Fraction(books.unrealized_pnl()) == rounded.unrealized()
        assert Fraction(books.equity()) == rounded.equity()
        for s in SYMBOLS:
            ref_pos = rounded.pos.get(s)
            snap = books.position(s)
            if ref_pos is None:
                assert snap is None
                continue
            assert snap is not None
            assert Fraction(snap.qty) == ref_pos.qty
            assert Fraction(snap.realized_pnl) == ref_pos.realized
            assert Fraction(snap.fees) == ref_pos.fees
            assert Fraction(snap.avg_price) == _round(abs(ref_pos.cost / ref_pos.qty), Q)

        # The textbook ledger: exact wherever rounding cannot reach.
        assert Fraction(books.cash) == exact.cash
        assert Fraction(books.equity()) == exact.equity()
        assert Fraction(books.realized_pnl + books.unrealized_pnl()) == (
            exact.realized + exact.unrealized()
        )
        assert Fraction(books.equity()) == (
            Fraction(CASH)
            + Fraction(books.realized_pnl)
            - Fraction(books.fees)
            + Fraction(books.unrealized_pnl())
        )
        for s in SYMBOLS:
            assert Fraction(books.qty(s)) == (exact.pos[s].qty if s in exact.pos else 0)
            if s not in exact.pos:
                # Flat: every cent of the symbol's P&L is realized, exactly.
                assert symbol_realized.get(s, 0) == exact.symbol_realized.get(s, 0)

    assert len(trades) == len(rounded.trades)
    for got, want in zip(trades, rounded.trades, strict=True):
        want_qty, want_entry, want_exit, want_pnl, want_fees = want
        assert Fraction(got.qty) == want_qty
        assert Fraction(got.entry_price) == _round(want_entry, Q)
        assert Fraction(got.exit_price) == _round(want_exit, Q)
        assert Fraction(got.pnl) == want_pnl
        assert Fraction(got.fees) == want_fees


@settings(max_examples=200, deadline=None)
@given(st.lists(fill_st, min_size=1, max_size=60))
def test_booking_without_a_report_leaves_the_same_books(
    steps: list[tuple[str, Side, Decimal, Decimal, Decimal, Decimal | None]],
) -> None:
    """``book_fill`` (the paper venue's ledger) ends in exactly the state ``apply_fill``
    does, fill after fill; a repeated fill id is a duplicate for both."""
    reported, quiet = Books(CASH), Books(CASH)
    for n, (symbol, side, qty, price, fee, mark) in enumerate(steps):
        fill = Fill(
            fill_id=f"f{n // 2}" if n % 7 == 3 else f"f{n}",  # now and then a repeat
            client_order_id=f"o{n}",
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            commission=fee,
            ts=n,
        )
        change = reported.apply_fill(fill)
        assert quiet.book_fill(fill) is not change.duplicate
        if mark is not None:
            reported.mark(symbol, mark)
            quiet.mark(symbol, mark)
        assert quiet.cash == reported.cash
        assert quiet.fees == reported.fees
        assert quiet.realized_pnl == reported.realized_pnl
        assert quiet.equity() == reported.equity()
        assert quiet.positions() == reported.positions()
