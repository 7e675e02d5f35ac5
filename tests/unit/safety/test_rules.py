"""Pure rules: closed trades, the circuit breaker, the PDT ledger, rollover, daily loss."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec

from config.sections.safety import SafetySettings
from daemon.clock import NS_PER_S
from daemon.messages import Side, TradeClosed
from daemon.safety.calendar import SessionCalendar
from daemon.safety.rules import apply_trade, day_loss_pct, loss_breach, rollover
from daemon.safety.state import BreakerRecord, DayRecord, DayTrade, KillRecord, SafetyState
from tests.unit.safety.support import make_settings, ns

CAL = SessionCalendar("America/New_York", "00:00")
DAY = "2024-03-01"  # a Friday
T0 = ns(2024, 3, 1, 10)


def cfg(**kw: object) -> SafetySettings:
    return make_settings(Path("/nonexistent"), **kw).safety


def trade(
    pnl: str, tid: str = "t", entry_ns: int = T0, exit_ns: int = T0 + 60 * NS_PER_S
) -> TradeClosed:
    return TradeClosed(
        trade_id=tid,
        correlation_id="c",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal(1),
        entry_price=Decimal(100),
        exit_price=Decimal(100) + Decimal(pnl),
        entry_ns=entry_ns,
        exit_ns=exit_ns,
        pnl=Decimal(pnl),
        ts=exit_ns,
    )


def base() -> SafetyState:
    return SafetyState(day=DayRecord(trading_day=DAY, start_equity=Decimal(10_000)))


def test_trade_adds_pnl_and_count() -> None:
    st = apply_trade(base(), trade("-12.5"), cal=CAL, cfg=cfg(), now_ns=T0)
    st = apply_trade(st, trade("2.25", "u"), cal=CAL, cfg=cfg(), now_ns=T0)
    assert st.day.realized_pnl == Decimal("-10.25")
    assert st.day.trade_count == 2


def test_breaker_trips_after_the_streak_and_starts_a_cooldown() -> None:
    c = cfg(breaker_max_losses=3, breaker_cooldown_s=600)
    st = base()
    for i in range(2):
        st = apply_trade(st, trade("-1", f"l{i}"), cal=CAL, cfg=c, now_ns=T0)
    assert st.breaker == BreakerRecord(consecutive_losses=2)
    st = apply_trade(st, trade("-1", "l3"), cal=CAL, cfg=c, now_ns=T0)
    assert st.breaker.consecutive_losses == 0, "a trip starts a fresh streak"
    assert st.breaker.cooldown_until_ns == T0 + 600 * NS_PER_S
    assert st.day.breaker_trips == 1


def test_a_win_resets_the_streak_and_a_flat_trade_does_not() -> None:
    c = cfg(breaker_max_losses=3)
    st = apply_trade(base(), trade("-1", "a"), cal=CAL, cfg=c, now_ns=T0)
    st = apply_trade(st, trade("0", "b"), cal=CAL, cfg=c, now_ns=T0)
    assert st.breaker.consecutive_losses == 1
    st = apply_trade(st, trade("1", "c"), cal=CAL, cfg=c, now_ns=T0)
    assert st.breaker.consecutive_losses == 0


def test_breaker_off_counts_nothing() -> None:
    c = cfg(breaker_max_losses=0)
    st = base()
    for i in range(10):
        st = apply_trade(st, trade("-1", str(i)), cal=CAL, cfg=c, now_ns=T0)
    assert st.breaker == BreakerRecord()
    assert st.day.breaker_trips == 0


def test_same_day_round_trip_is_a_day_trade_once() -> None:
    st = apply_trade(base(), trade("1", "d1"), cal=CAL, cfg=cfg(), now_ns=T0)
    st = apply_trade(st, trade("1", "d1"), cal=CAL, cfg=cfg(), now_ns=T0)
    assert st.day_trades == (DayTrade(day=DAY, symbol="AAPL", trade_id="d1"),)


def test_overnight_trade_is_not_a_day_trade() -> None:
    st = apply_trade(
        base(), trade("1", entry_ns=ns(2024, 2, 29, 15)), cal=CAL, cfg=cfg(), now_ns=T0
    )
    assert st.day_trades == ()


def test_rollover_resets_the_day_keeps_kill_cooldown_and_trims_pdt() -> None:
    kill = KillRecord(engaged=True, reason="x", trigger="operator")
    st = msgspec.structs.replace(
        base(),
        kill=kill,
        day=DayRecord(trading_day=DAY, realized_pnl=Decimal(-5), trade_count=4, breaker_trips=2),
        breaker=BreakerRecord(consecutive_losses=2, cooldown_until_ns=99),
        day_trades=(
            DayTrade(day="2024-02-23", symbol="A", trade_id="old"),  # Fri, drops out
            DayTrade(day="2024-02-26", symbol="B", trade_id="kept"),  # Mon, in window
        ),
    )
    # Mon 2024-03-04 back 5 business days: 4, 1, Feb 29, 28, 27 -> window starts Feb 27.
    rolled = rollover(st, "2024-03-04", equity=Decimal(9_000), cal=CAL, cfg=cfg())
    assert rolled.kill == kill
    assert rolled.day == DayRecord(trading_day="2024-03-04", start_equity=Decimal(9_000))
    assert rolled.breaker == BreakerRecord(cooldown_until_ns=99)
    assert rolled.day_trades == ()
    rolled = rollover(st, "2024-03-01", equity=None, cal=CAL, cfg=cfg())
    assert [t.trade_id for t in rolled.day_trades] == ["kept"]
    assert rolled.day.start_equity == 0


def test_day_loss_takes_the_worse_of_books_and_equity() -> None:
    day = DayRecord(trading_day=DAY, start_equity=Decimal(10_000), realized_pnl=Decimal(-100))
    assert day_loss_pct(day, Decimal(0), None) == Decimal(1)
    assert day_loss_pct(day, Decimal(-100), None) == Decimal(2)
    assert day_loss_pct(day, Decimal(0), Decimal(9_700)) == Decimal(3)
    assert day_loss_pct(day, Decimal(0), Decimal(10_500)) == Decimal(1)
    assert day_loss_pct(DayRecord(), Decimal(-1), None) is None


def test_loss_breach_at_the_limit_names_the_figures() -> None:
    day = DayRecord(trading_day=DAY, start_equity=Decimal(10_000), realized_pnl=Decimal(-299))
    assert loss_breach(day, Decimal(0), None, 3.0) is None
    why = loss_breach(day, Decimal(-1), None, 3.0)
    assert why is not None
    assert "3.00%" in why
    assert "limit 3%" in why
