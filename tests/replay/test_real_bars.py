"""Replays of real bars with the example strategy, checked against an independent model.

The daemon runs with every actor (guard, orchestrator, risk gate, broker, lifecycle,
safety, storage...) under a configuration that makes each signal an order of 100
shares with no costs (``transparent_settings``); the trades it records must be exactly
those a plain loop over the same bars computes: same count, same prices, same P&L.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.replay._support import (
    DAILY,
    MINUTES,
    ExpectedTrade,
    daily_bars,
    expected_ema_cross,
    have,
    regular_hours,
    replay,
    spy_minutes,
    trades_of,
    transparent_settings,
)


def _check(got: list[dict[str, str]], want: list[ExpectedTrade]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g["symbol"] == w.symbol
        assert Decimal(g["entry"]) == w.entry
        assert Decimal(g["exit"]) == w.exit
        assert Decimal(g["pnl"]) == w.pnl
    assert sum(Decimal(g["pnl"]) for g in got) == sum(w.pnl for w in want)


@pytest.mark.skipif(
    not have(DAILY / "yahoofinance-SPY-20080101-20180101.csv"), reason="shared data absent"
)
async def test_daily_spy_ema_cross_trades_match_an_independent_model(tmp_path: Path) -> None:
    bars = daily_bars("yahoofinance-SPY-20080101-20180101.csv", "SPY")
    settings = transparent_settings(lifecycle={"bar_interval_s": 86_400})
    res = await replay(bars, settings, tmp_path)
    want = expected_ema_cross(bars, 10, 30, Decimal(100))
    assert len(want) > 30  # ten years of a 10/30 cross: dozens of round trips
    _check(trades_of(res), want)
    assert res.market_events == len(bars)


@pytest.mark.skipif(not have(MINUTES), reason="shared SPY minute data absent")
async def test_minute_spy_ema_cross_trades_match_an_independent_model(tmp_path: Path) -> None:
    # The liquid session only: pre-market minutes trade a few hundred shares, and the
    # paper broker (rightly) fills no more than a bar traded.
    bars = regular_hours(spy_minutes())
    assert min(b.volume for b in bars) >= 100
    settings = transparent_settings(lifecycle={"bar_interval_s": 60})
    res = await replay(bars, settings, tmp_path)
    want = expected_ema_cross(bars, 10, 30, Decimal(100))
    assert len(want) > 100
    _check(trades_of(res), want)


@pytest.mark.skipif(
    not have(
        DAILY / "yahoofinance-AAPL-20040819-20180120.csv",
        DAILY / "yahoofinance-GOOG-20040819-20180120.csv",
        DAILY / "nvda-1999-2014.txt",
    ),
    reason="shared data absent",
)
async def test_several_symbols_at_once(tmp_path: Path) -> None:
    from daemon.replay import merge

    series = [
        daily_bars("yahoofinance-AAPL-20040819-20180120.csv", "AAPL"),
        daily_bars("yahoofinance-GOOG-20040819-20180120.csv", "GOOG"),
        daily_bars("nvda-1999-2014.txt", "NVDA"),
    ]
    # 2010-2013: every symbol trades the same days (one batch per day).
    lo, hi = 1_262_304_000 * 10**9, 1_388_534_400 * 10**9
    series = [[b for b in s if lo <= b.ts < hi] for s in series]
    settings = transparent_settings(lifecycle={"bar_interval_s": 86_400})
    res = await replay(merge(series), settings, tmp_path)
    want = expected_ema_cross([b for s in series for b in s], 10, 30, Decimal(100))
    got = trades_of(res)
    key = lambda t: (t["symbol"], t["entry"], t["exit"])  # noqa: E731
    assert sorted(map(key, got)) == sorted(
        (w.symbol, f"{w.entry:.8f}", f"{w.exit:.8f}") for w in want
    )
    assert sum(Decimal(g["pnl"]) for g in got) == sum(w.pnl for w in want)
