"""Report figures against values worked out by hand on a four-day series.

The account starts at 100,000 and closes Tuesday to Friday (2024-01-02..05) at
100,300 / 100,200 / 100,400 / 100,400, after three trades of +300, -100 and +200. It
holds one position 10:00-16:00 on Tuesday and from Wednesday 10:00 to Thursday 10:00.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.clock import NS_PER_S
from daemon.reports import ReportData, TradeRecord, compute, render_text, write_report

NY = ZoneInfo("America/New_York")
D = Decimal


def at(day: int, hour: int) -> int:
    """2024-01-``day`` ``hour``:00 New York, in ns."""
    return int(dt.datetime(2024, 1, day, hour, tzinfo=NY).timestamp()) * NS_PER_S


def trade(pnl: int, entry: int, exit_: int, source: str, symbol: str, reason: str) -> TradeRecord:
    return TradeRecord(
        symbol=symbol,
        side="buy",
        qty=D(100),
        entry_price=D(10),
        exit_price=D(10) + D(pnl) / 100,
        entry_ns=entry,
        exit_ns=exit_,
        pnl=D(pnl),
        fees=D(1),
        exit_reason=reason,
        source=source,
    )


def data() -> ReportData:
    return ReportData(
        account="paper",
        timezone="America/New_York",
        initial_equity=D(100_000),
        trades=[
            trade(300, at(2, 10), at(2, 16), "a", "SPY", "profit_target"),
            trade(-100, at(3, 10), at(4, 10), "a", "QQQ", "stop_loss"),
            trade(200, at(4, 11), at(4, 12), "b", "SPY", "profit_target"),
        ],
        equity=[
            (at(2, 16), D(100_300)),
            (at(3, 16), D(100_200)),
            (at(4, 16), D(100_400)),
            (at(5, 16), D(100_400)),
        ],
        exposure=[(at(2, 10), 1), (at(2, 16), 0), (at(3, 10), 1), (at(4, 10), 0)],
        first_day="2024-01-02",
        last_day="2024-01-05",
    )


def test_daily_curve_pnl_and_drawdown() -> None:
    rep = compute(data())
    assert rep.days == ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
    assert rep.daily_equity == [D(100_300), D(100_200), D(100_400), D(100_400)]
    assert rep.daily_pnl == [D(300), D(-100), D(200), D(0)]
    assert rep.drawdown[0] == 0.0
    assert rep.drawdown[1] == pytest.approx(100_200 / 100_300 - 1)
    assert rep.drawdown[2:] == [0.0, 0.0]
    assert rep.max_drawdown == pytest.approx(100 / 100_300)
    assert rep.end_equity - rep.start_equity == D(400)


def test_return_ratios_match_their_definitions() -> None:
    rep = compute(data())
    eq = [100_000, 100_300, 100_200, 100_400, 100_400]
    r = [eq[i + 1] / eq[i] - 1 for i in range(4)]
    sharpe = statistics.mean(r) / statistics.stdev(r) * math.sqrt(252)
    sortino = statistics.mean(r) / math.sqrt(sum(min(0.0, x) ** 2 for x in r) / 4) * math.sqrt(252)
    total = 100_400 / 100_000 - 1
    annual = (1 + total) ** (252 / 4) - 1
    assert rep.total_return == pytest.approx(total)
    assert rep.sharpe == pytest.approx(sharpe, rel=1e-9)
    assert rep.sortino == pytest.approx(sortino, rel=1e-9)
    assert rep.annual_return == pytest.approx(annual, rel=1e-9)
    assert rep.calmar == pytest.approx(annual / (100 / 100_300), rel=1e-9)
    assert rep.annual_volatility == pytest.approx(statistics.stdev(r) * math.sqrt(252))


def test_trade_figures() -> None:
    rep = compute(data())
    assert (rep.trades, rep.wins, rep.losses) == (3, 2, 1)
    assert rep.win_rate == pytest.approx(2 / 3)
    assert rep.profit_factor == pytest.approx(5.0)
    assert rep.average_win == D(250)
    assert rep.average_loss == D(-100)
    assert (rep.best_trade, rep.worst_trade) == (D(300), D(-100))
    assert rep.net_pnl == D(400)
    assert rep.fees == D(3)
    # (6 h + 24 h + 1 h) / 3
    assert rep.average_holding_s == pytest.approx(31 * 3600 / 3)


def test_exposure_is_time_held_over_the_span() -> None:
    rep = compute(data())
    # Held 6 h on Tuesday and 24 h Wednesday-Thursday, of 78 h from the first entry
    # (Tuesday 10:00) to the last record (Friday 16:00).
    assert rep.exposure == pytest.approx(30 / 78)


def test_breakdowns() -> None:
    rep = compute(data())
    by_source = {g.key: (g.trades, g.wins, g.pnl) for g in rep.by_source}
    assert by_source == {"a": (2, 1, D(200)), "b": (1, 1, D(200))}
    by_symbol = {g.key: (g.trades, g.pnl) for g in rep.by_symbol}
    assert by_symbol == {"SPY": (2, D(500)), "QQQ": (1, D(-100))}
    by_reason = {g.key: (g.trades, g.win_rate) for g in rep.by_exit_reason}
    assert by_reason == {"profit_target": (2, 1.0), "stop_loss": (1, 0.0)}
    assert [g.key for g in rep.by_symbol] == ["SPY", "QQQ"]  # best first


def test_without_snapshots_equity_follows_the_trades() -> None:
    d = data()
    d.equity = []
    rep = compute(d)
    assert rep.daily_equity == [D(100_300), D(100_300), D(100_400), D(100_400)]


def test_nothing_to_report() -> None:
    rep = compute(ReportData(account="x", timezone="UTC", initial_equity=D(1000)))
    assert rep.empty
    assert "nothing recorded" in render_text(rep)


def test_written_files(tmp_path: Path) -> None:
    files = write_report(compute(data()), tmp_path)
    html = files.html.read_text()
    assert html.startswith("<!doctype html>")
    assert "Sharpe" in html
    assert "profit_target" in html
    assert "data:image/png;base64," in html  # charts inlined: one self-contained file
    assert sorted(p.name for p in files.charts) == ["daily_pnl.png", "equity.png"]
    for p in files.charts:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (tmp_path / "report.txt").read_text()
    assert "win rate            66.67%" in text
    assert "profit factor       5.00" in text
