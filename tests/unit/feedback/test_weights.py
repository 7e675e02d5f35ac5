"""Feedback weights on a crafted trade sequence against hand-computed values."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from actors.feedback import (
    BadTrade,
    FeedbackBook,
    Published,
    compute_weights,
    outcome,
    window_stats,
)
from tests.unit.feedback._trades import EXPECTED, SETTINGS, trade


def run_book(upto: int) -> tuple[FeedbackBook, dict[int, Published]]:
    book = FeedbackBook(SETTINGS)
    published: dict[int, Published] = {}
    for i in range(1, upto + 1):
        assert book.credit(outcome(trade(i))) is not None
        if book.recompute_due:
            published[i] = book.recompute()
    return book, published


def test_trade_return_is_pnl_over_entry_notional() -> None:
    o = outcome(trade(1))
    assert o.ret == pytest.approx(0.02, rel=1e-15)
    assert o.pnl == Decimal(20)
    assert o.source == "A"
    short = msgspec.structs.replace(trade(2), qty=Decimal(-10))
    assert outcome(short).ret == pytest.approx(0.02, rel=1e-15)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"source": ""}, "no signal source"),
        ({"qty": Decimal(0)}, "notional"),
        ({"pnl": Decimal("NaN")}, "pnl"),
    ],
)
def test_a_trade_without_a_return_is_refused(change: dict[str, object], match: str) -> None:
    with pytest.raises(BadTrade, match=match):
        outcome(msgspec.structs.replace(trade(1), **change))


def test_nothing_qualifies_before_min_trades() -> None:
    _, published = run_book(8)
    assert set(published) == {3, 6}
    assert all(p.weights == {} for p in published.values())


@pytest.mark.parametrize("at", [9, 12, 15])
def test_hand_computed_rounds(at: int) -> None:
    book, published = run_book(at)
    pub = published[at]
    want = EXPECTED[at]
    for field in ("weights", "sharpe", "win_rate", "payoff"):
        got = getattr(pub, field)
        assert got.keys() == want[field].keys(), field
        for source, value in want[field].items():
            assert got[source] == pytest.approx(value, rel=1e-12, abs=1e-15), (field, source)
    assert book.confidence == pytest.approx(want["confidence"], rel=1e-15)
    n = 3 if at == 9 else 4
    assert pub.trades == {"A": n, "B": n, "C": n}


def test_confidence_comes_back_gradually() -> None:
    # B underperformed twice (1 → 0.5 → 0.25), then performed once: 0.5, not 1.
    book, _ = run_book(15)
    assert book.confidence["B"] == 0.5
    assert book.weights["B"] < EXPECTED[15]["weights"]["C"]


def test_a_duplicate_trade_is_credited_once() -> None:
    book, _ = run_book(4)
    before = (dict(book.totals), book.total_trades, book.stats["A"])
    assert book.credit(outcome(trade(4))) is None
    assert (dict(book.totals), book.total_trades, book.stats["A"]) == before


def test_windows_are_bounded() -> None:
    book, _ = run_book(15)
    assert {s: len(w) for s, w in book.windows.items()} == {"A": 4, "B": 4, "C": 4}
    assert book.totals == {"A": 5, "B": 5, "C": 5}
    assert [o.seq for o in book.windows["A"]] == [2, 3, 4, 5]


def test_window_statistics_edge_cases() -> None:
    same = window_stats([0.01, 0.01, 0.01], sharpe_cap=3.0, payoff_cap=10.0)
    assert (same.sharpe, same.win_rate, same.payoff) == (3.0, 1.0, 10.0)
    losing = window_stats([-0.01, -0.01], sharpe_cap=3.0, payoff_cap=10.0)
    assert (losing.sharpe, losing.win_rate, losing.payoff) == (-3.0, 0.0, 0.0)
    flat = window_stats([0.0, 0.0], sharpe_cap=3.0, payoff_cap=10.0)
    assert (flat.sharpe, flat.payoff) == (0.0, 0.0)
    one = window_stats([0.05], sharpe_cap=3.0, payoff_cap=10.0)
    assert one.sharpe == 0.0
    huge = window_stats([0.5, -0.001], sharpe_cap=3.0, payoff_cap=10.0)
    assert huge.payoff == 10.0
    with pytest.raises(ValueError, match="at least one"):
        window_stats([], sharpe_cap=3.0, payoff_cap=10.0)


def test_no_positive_score_gives_every_source_the_floor() -> None:
    r = compute_weights(SETTINGS, {"A": -0.5, "B": 0.0}, {})
    assert r.weights == {"A": 0.2, "B": 0.2}
    assert r.confidence == {"A": 0.5, "B": 1.0}


def test_confidence_never_decays_below_its_minimum() -> None:
    r = compute_weights(SETTINGS, {"A": -1.0}, {"A": 0.15})
    assert r.confidence == {"A": 0.1}
