"""Hand-computed cases for the books: average cost, partial closes, flips, shorts, fees."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from actors.common import Books, BooksError, InvalidFill
from daemon.messages import Fill, Side

D = Decimal
T0 = 1_700_000_000_000_000_000


class Filler:
    """Makes fills with unique ids and increasing times."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(
        self, side: Side, qty: str, price: str, fee: str = "0", symbol: str = "AAPL"
    ) -> Fill:
        self.n += 1
        return Fill(
            fill_id=f"f{self.n}",
            client_order_id=f"o{self.n}",
            correlation_id=f"c{self.n}",
            symbol=symbol,
            side=side,
            qty=D(qty),
            price=D(price),
            commission=D(fee),
            ts=T0 + self.n,
        )


@pytest.fixture
def fill() -> Filler:
    return Filler()


def test_open_mark_and_equity(fill: Filler) -> None:
    books = Books(D(100_000))
    change = books.apply_fill(fill(Side.BUY, "100", "10", "1"))
    assert change.opened
    assert change.closed is None
    assert change.position.qty == D(100)
    assert change.position.avg_price == D(10)
    assert books.cash == D("98999")
    snap = books.mark("AAPL", 11.0)
    assert snap is not None
    assert snap.unrealized_pnl == D(100)
    assert books.equity() == D("100099")
    assert books.equity() == books.initial_cash + books.realized_pnl - books.fees + (
        books.unrealized_pnl()
    )


def test_partial_close_then_close_records_trade(fill: Filler) -> None:
    books = Books(D(100_000))
    books.apply_fill(fill(Side.BUY, "100", "10", "1"))
    partial = books.apply_fill(fill(Side.SELL, "40", "12", "1"))
    assert partial.realized_pnl == D(80)
    assert partial.closed is None
    assert partial.position.qty == D(60)
    assert partial.position.avg_price == D(10)
    last = books.apply_fill(fill(Side.SELL, "60", "9", "1"))
    assert last.realized_pnl == D(-60)
    assert last.position.qty == 0
    trade = last.closed
    assert trade is not None
    assert trade.side is Side.BUY
    assert trade.qty == D(100)
    assert trade.entry_price == D(10)
    assert trade.exit_price == D("10.2")
    assert trade.fees == D(3)
    assert trade.pnl == D(20 - 3)  # net of fees
    assert trade.trade_id == "f1"
    assert books.open_positions == 0
    assert books.cash == D(100_000) + D(20) - D(3)


def test_short_round_trip(fill: Filler) -> None:
    books = Books(D(10_000))
    opened = books.apply_fill(fill(Side.SELL, "50", "20"))
    assert opened.position.qty == D(-50)
    assert opened.position.avg_price == D(20)
    assert books.cash == D(11_000)
    books.mark("AAPL", 18.0)
    assert books.unrealized_pnl() == D(100)
    closed = books.apply_fill(fill(Side.BUY, "50", "18"))
    assert closed.realized_pnl == D(100)
    assert closed.closed is not None
    assert closed.closed.side is Side.SELL
    assert books.cash == D(10_100)


def test_flip_closes_one_trade_and_opens_another(fill: Filler) -> None:
    books = Books(D(10_000))
    books.apply_fill(fill(Side.BUY, "10", "10", "1"))
    change = books.apply_fill(fill(Side.SELL, "30", "12", "3.00"))
    assert change.flipped
    assert change.realized_pnl == D(20)
    trade = change.closed
    assert trade is not None
    assert trade.qty == D(10)
    assert trade.fees == D(2)  # 1 on entry + a third of the flipping fill's 3.00
    assert trade.pnl == D(18)
    assert change.position.qty == D(-20)
    assert change.position.avg_price == D(12)
    assert change.position.fees == D(2)  # the other two thirds open the new trade
    assert change.position.realized_pnl == 0
    assert books.fees == D(4)


def test_partial_close_rounding_never_loses_a_digit(fill: Filler) -> None:
    books = Books(D(1000))
    for p in ("10", "10", "11"):
        books.apply_fill(fill(Side.BUY, "1", p))
    first = books.apply_fill(fill(Side.SELL, "1", "12"))
    assert first.realized_pnl == D("1.66666667")  # 12 - 31/3 rounded to 1e-8
    second = books.apply_fill(fill(Side.SELL, "2", "12"))
    assert first.realized_pnl + second.realized_pnl == D(36 - 31)
    assert books.realized_pnl == D(5)


def test_duplicate_fill_changes_nothing(fill: Filler) -> None:
    books = Books(D(1000))
    f = fill(Side.BUY, "1", "10")
    books.apply_fill(f)
    again = books.apply_fill(f)
    assert again.duplicate
    assert books.qty("AAPL") == D(1)
    assert books.cash == D(990)


def test_fill_id_window_is_bounded(fill: Filler) -> None:
    books = Books(D(1000), fill_id_window=2)
    first = fill(Side.BUY, "1", "10")
    books.apply_fill(first)
    books.apply_fill(fill(Side.BUY, "1", "10"))
    books.apply_fill(fill(Side.BUY, "1", "10"))
    # f1 has left the window: it is booked again (the window bounds memory, by design).
    assert not books.apply_fill(first).duplicate
    assert books.qty("AAPL") == D(4)


@pytest.mark.parametrize(
    ("qty", "price", "fee", "what"),
    [("0", "10", "0", "quantity"), ("1", "-1", "0", "price"), ("1", "10", "-1", "commission")],
)
def test_invalid_fill_is_refused_and_books_untouched(
    fill: Filler, qty: str, price: str, fee: str, what: str
) -> None:
    books = Books(D(1000))
    with pytest.raises(InvalidFill, match=what):
        books.apply_fill(fill(Side.BUY, qty, price, fee))
    assert books.cash == D(1000)
    assert books.open_positions == 0


def test_inexact_result_is_an_error_not_a_rounding(fill: Filler) -> None:
    books = Books(D(1000))
    huge = "1." + "1" * 45
    caller = decimal.getcontext()
    with pytest.raises(BooksError, match="exactly"):
        books.apply_fill(fill(Side.BUY, huge, huge))
    assert books.cash == D(1000)
    assert books.open_positions == 0
    # The books' exact context was swapped out again, also on the way out by an error.
    assert decimal.getcontext() is caller
    books.apply_fill(fill(Side.BUY, "1", "100"))
    assert decimal.getcontext() is caller


def test_buying_power_counts_shorts_as_exposure(fill: Filler) -> None:
    books = Books(D(10_000))
    books.apply_fill(fill(Side.BUY, "50", "100", symbol="AAA"))
    books.apply_fill(fill(Side.SELL, "20", "100", symbol="BBB"))
    assert books.equity() == D(10_000)
    assert books.gross_exposure() == D(7_000)
    assert books.buying_power() == D(3_000)
    books2 = Books(D(10_000), leverage=D(2))
    assert books2.buying_power() == D(20_000)


def test_adjust_position_is_not_a_trade(fill: Filler) -> None:
    books = Books(D(1000))
    snap = books.adjust_position("MSFT", D(5), D(100), ts=T0)
    assert snap is not None
    assert snap.qty == D(5)
    assert snap.avg_price == D(100)
    assert books.cash == D(1000)
    assert books.realized_pnl == 0
    change = books.apply_fill(fill(Side.SELL, "5", "110", symbol="MSFT"))
    assert change.realized_pnl == D(50)
    assert books.adjust_position("MSFT", D(0), D(0), ts=T0) is None


def test_lookups_and_account(fill: Filler) -> None:
    books = Books(D(1000))
    assert books.position("AAPL") is None
    assert books.qty("AAPL") == 0
    books.apply_fill(fill(Side.BUY, "2", "10", "0.5"))
    books.apply_fill(fill(Side.BUY, "1", "20", symbol="ZZZ"))
    assert [p.symbol for p in books.positions()] == ["AAPL", "ZZZ"]
    acct = books.account(T0)
    assert acct.cash == D("959.5")
    assert acct.equity == D("959.5") + D(20) + D(20)
    assert acct.fees == D("0.5")
    assert books.mark("AAPL", float("nan")) is not None  # ignored, position unchanged
    assert books.last_mark("AAPL") == D(10)
