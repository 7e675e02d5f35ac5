"""Reports read back from the database give the figures of the events written to it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest

from daemon.messages import AccountSnapshot, PositionSnapshot, PositionUpdate, Side, TradeClosed
from daemon.reports import compute, load_report_data
from storage import Database, EventStore, Projector
from tests.unit.reports.test_stats import at, data

ACCOUNT = "acct-test"
D = Decimal


def _events() -> list[object]:
    evs: list[object] = []
    ref = data()
    for i, t in enumerate(ref.trades):
        evs.append(
            TradeClosed(
                trade_id=f"T{i}",
                correlation_id=f"c{i}",
                symbol=t.symbol,
                side=Side.BUY,
                qty=t.qty,
                entry_price=t.entry_price,
                exit_price=t.exit_price,
                entry_ns=t.entry_ns,
                exit_ns=t.exit_ns,
                pnl=t.pnl,
                fees=t.fees,
                exit_reason=t.exit_reason,
                source=t.source,
                ts=t.exit_ns,
            )
        )
    for ts, eq in ref.equity:
        evs.append(AccountSnapshot(cash=eq, equity=eq, buying_power=eq, ts=ts))
    for ts, n in ref.exposure:
        pos = PositionSnapshot(symbol="SPY", qty=D(100 * n), avg_price=D(10))
        evs.append(PositionUpdate(position=pos, ts=ts))
    evs.sort(key=lambda e: e.ts)  # type: ignore[attr-defined]
    return evs


async def test_figures_from_the_database_match_the_hand_worked_series(db: Database) -> None:
    proj = Projector(ZoneInfo("America/New_York"))
    await EventStore(db, ACCOUNT).write([proj.prepare(e) for e in _events()])  # type: ignore[arg-type]
    got = await load_report_data(db, ACCOUNT, timezone="America/New_York", initial_cash=100_000.0)
    assert (got.first_day, got.last_day) == ("2024-01-02", "2024-01-05")
    rep, want = compute(got), compute(data())
    assert rep.daily_equity == want.daily_equity
    assert rep.sharpe == pytest.approx(want.sharpe)
    assert rep.max_drawdown == pytest.approx(want.max_drawdown)
    assert rep.profit_factor == pytest.approx(5.0)
    assert rep.exposure == pytest.approx(30 / 78)
    assert [(g.key, g.pnl) for g in rep.by_source] == [("a", D(200)), ("b", D(200))]


async def test_a_window_of_days(db: Database) -> None:
    proj = Projector(ZoneInfo("America/New_York"))
    await EventStore(db, ACCOUNT).write([proj.prepare(e) for e in _events()])  # type: ignore[arg-type]
    got = await load_report_data(
        db,
        ACCOUNT,
        timezone="America/New_York",
        initial_cash=100_000.0,
        first_day="2024-01-03",
        last_day="2024-01-04",
    )
    assert [t.pnl for t in got.trades] == [D(-100), D(200)]  # trades by exit day
    assert got.initial_equity == D(100_300)  # the equity before the window starts
    rep = compute(got)
    assert rep.daily_pnl == [D(-100), D(200)]
    assert at(3, 16) in [t for t, _ in got.equity]


async def test_the_report_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from config.sections.storage import StorageSettings
    from daemon.cli import main
    from storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    db = Database.open(StorageSettings(url=url))
    try:
        await upgrade(db)
        proj = Projector(ZoneInfo("America/New_York"))
        await EventStore(db, ACCOUNT).write([proj.prepare(e) for e in _events()])  # type: ignore[arg-type]
    finally:
        await db.dispose()
    out = tmp_path / "rep"
    # The command runs its own event loop: call it from a worker thread.
    code = await anyio.to_thread.run_sync(
        main, ["report", "--db", url, "--account", ACCOUNT, "--out", str(out), "--title", "t"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "profit factor       5.00" in printed
    assert (out / "report.html").is_file()
    assert (out / "equity.png").is_file()


async def test_the_report_command_on_an_empty_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from daemon.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    code = await anyio.to_thread.run_sync(main, ["report", "--db", url, "--out", str(tmp_path)])
    assert code == 3
    assert "no tradingd tables" in capsys.readouterr().err
