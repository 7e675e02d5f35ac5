"""The built-in signal sources on series whose signals can be read off by eye."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.messages import Bar, Side, TradeType
from daemon.replay import SignalSpecError, parse_signals


def bars(closes: list[float], sym: str = "X") -> list[Bar]:
    return [
        Bar(symbol=sym, open=c, high=c + 0.5, low=c - 0.5, close=c, ts=(i + 1) * 1_000)
        for i, c in enumerate(closes)
    ]


def run(spec: str, closes: list[float]) -> list[tuple[int, str, bool]]:
    src = parse_signals(spec)
    out = []
    for b in bars(closes):
        out += [(b.ts // 1_000, str(s.side), s.is_exit) for s in src.on_bar(b, b.ts)]
    return out


def test_ema_cross_buys_the_cross_up_and_exits_the_cross_down() -> None:
    # Flat at 10, a rise to 12 (fast crosses above slow), then a fall to 8.
    closes = [10.0] * 5 + [12.0] * 5 + [8.0] * 6
    sigs = run("ema-cross:fast=2,slow=4", closes)
    assert sigs == [(6, "buy", False), (11, "sell", True)]


def test_ema_cross_short_flips_instead_of_going_flat() -> None:
    closes = [10.0] * 5 + [12.0] * 5 + [8.0] * 6
    sigs = run("ema-cross:fast=2,slow=4,short=1", closes)
    assert sigs == [(6, "buy", False), (11, "sell", True), (11, "sell", False)]


def test_signals_carry_prices_ids_and_the_spec() -> None:
    src = parse_signals("ema-cross:fast=2,slow=4,stop_pct=5,target_pct=10,conviction=70")
    src.id_suffix = "-run1"
    sig = None
    for b in bars([10.0] * 5 + [12.0] * 2):
        got = src.on_bar(b, 99)
        sig = got[0] if got else sig
    assert sig is not None
    assert sig.side is Side.BUY
    assert sig.entry_price == 12.0
    assert sig.stop_price == pytest.approx(11.4)
    assert sig.target_price == pytest.approx(13.2)
    assert sig.conviction == 70
    assert sig.created_ns == 99
    assert sig.signal_id == "ema-cross-X-6000-e-run1"
    assert sig.note == "ema-cross:fast=2,slow=4"
    assert sig.trade_type is TradeType.SWING


def test_breakout_enters_above_the_channel_and_exits_below() -> None:
    closes = [10, 10, 10, 11.0, 11, 11, 9.0, 9]
    sigs = run("breakout:entry=3,exit=2", closes)
    # bar 4 closes above the 3-bar high (10.5); bar 7 below the 2-bar low (10.5)
    assert sigs == [(4, "buy", False), (7, "sell", True)]


def _breakout_reference(
    entry: int, exit_: int, short: bool, series: list[tuple[float, float, float]]
) -> list[int | None]:
    """The channel rule read literally: extremes of the previous bars by scanning them."""
    n = max(entry, exit_)
    highs: list[float] = []
    lows: list[float] = []
    held = 0
    out: list[int | None] = []
    for h, lo, c in series:
        want: int | None = None
        if len(highs) >= n:
            if c > max(highs[-entry:]):
                want = 1
            elif short and c < min(lows[-entry:]):
                want = -1
            elif (held > 0 and c < min(lows[-exit_:])) or (held < 0 and c > max(highs[-exit_:])):
                want = 0
        highs.append(h)
        lows.append(lo)
        if want is not None and (short or want >= 0):
            held = want
        out.append(want)
    return out


@given(
    entry=st.integers(1, 8),
    exit_=st.integers(1, 8),
    short=st.booleans(),
    moves=st.lists(st.integers(-3, 3), min_size=1, max_size=80),
)
def test_breakout_channel_matches_a_literal_scan(
    entry: int, exit_: int, short: bool, moves: list[int]
) -> None:
    src = parse_signals(f"breakout:entry={entry},exit={exit_},short={int(short)}")
    series: list[tuple[float, float, float]] = []
    price = 100.0
    for m in moves:
        price += m
        series.append((price + abs(m) / 2, price - 1.0, price))
    got: list[int | None] = []
    held = 0
    for i, (h, lo, c) in enumerate(series):
        bar = Bar(symbol="X", open=c, high=h, low=lo, close=c, ts=(i + 1) * 1_000)
        want = src.update(bar, held)
        got.append(want)
        if want is not None and (short or want >= 0):
            held = want
    assert got == _breakout_reference(entry, exit_, short, series)


def test_mean_reversion_buys_oversold_and_sells_recovered() -> None:
    closes = [10.0, 11, 10, 11, 10, 9, 8, 7, 8, 9, 10, 11, 12]
    sigs = run("mean-reversion:period=3,buy_below=30,sell_above=60", closes)
    assert sigs[0][1:] == ("buy", False)
    assert sigs[1][1:] == ("sell", True)
    assert sigs[0][0] < sigs[1][0]


def test_intraday_trade_type_and_interval_filter() -> None:
    src = parse_signals("ema-cross:fast=2,slow=3,trade_type=intraday,interval=60")
    daily = bars([1.0, 2, 3, 4])
    assert all(not src.on_bar(b, 0) for b in daily)  # daily bars are not its interval
    assert src.common.trade_type is TradeType.INTRADAY


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("nope", "unknown signal source 'nope'"),
        ("ema-cross:fast=30,slow=10", "fast < slow"),
        ("ema-cross:speed=3", "unknown parameter 'speed'"),
        ("ema-cross:fast=x", "is not a number"),
        ("breakout:entry", "expected key=value"),
        ("ema-cross:trade_type=day", "swing or intraday"),
        ("mean-reversion:buy_below=70,sell_above=30", "buy_below < sell_above"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: str, match: str) -> None:
    with pytest.raises(SignalSpecError, match=match):
        parse_signals(spec)
