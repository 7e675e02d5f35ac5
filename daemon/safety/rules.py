"""Pure rules over :class:`SafetyState`: closed trades, rollover, daily loss.

No I/O and no clock of their own: every function takes the state and the facts and
returns the new state, so each rule is tested on its own and the single writer applies
them under its lock.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from config.sections.safety import SafetySettings
from daemon.clock import NS_PER_S
from daemon.messages import ZERO, TradeClosed
from daemon.safety.calendar import SessionCalendar
from daemon.safety.state import BreakerRecord, DayRecord, DayTrade, SafetyState

__all__ = ("apply_trade", "day_loss_pct", "loss_breach", "rollover", "trim_day_trades")

_HUNDRED = Decimal(100)


def apply_trade(
    state: SafetyState,
    trade: TradeClosed,
    *,
    cal: SessionCalendar,
    cfg: SafetySettings,
    now_ns: int,
) -> SafetyState:
    """Count a closed trade: day P&L and count, the breaker's streak, the PDT ledger."""
    day = state.day
    breaker = state.breaker
    trips = day.breaker_trips
    losses = breaker.consecutive_losses
    cooldown = breaker.cooldown_until_ns
    if cfg.breaker_max_losses:
        if trade.pnl < 0:
            losses += 1
            if losses >= cfg.breaker_max_losses:
                # Tripping starts a fresh streak: after the cooldown it takes another
                # full run of losses to trip again.
                trips += 1
                losses = 0
                cooldown = max(cooldown, now_ns + int(cfg.breaker_cooldown_s * NS_PER_S))
        elif trade.pnl > 0:
            losses = 0
    day_trades = state.day_trades
    exit_day = cal.trading_day(trade.exit_ns)
    if cal.trading_day(trade.entry_ns) == exit_day and not any(
        t.trade_id == trade.trade_id for t in day_trades
    ):
        window_start = cal.window_start(day.trading_day or exit_day, cfg.pdt_window_days)
        day_trades = trim_day_trades(
            (*day_trades, DayTrade(day=exit_day, symbol=trade.symbol, trade_id=trade.trade_id)),
            window_start,
        )
    return msgspec.structs.replace(
        state,
        day=msgspec.structs.replace(
            day,
            realized_pnl=day.realized_pnl + trade.pnl,
            trade_count=day.trade_count + 1,
            breaker_trips=trips,
        ),
        breaker=BreakerRecord(consecutive_losses=losses, cooldown_until_ns=cooldown),
        day_trades=day_trades,
    )


def rollover(
    state: SafetyState,
    trading_day: str,
    *,
    equity: Decimal | None,
    cal: SessionCalendar,
    cfg: SafetySettings,
) -> SafetyState:
    """Start ``trading_day``: fresh day figures and loss streak; the kill state is kept.

    ``equity`` (the latest account equity, if known) becomes the start-of-day equity;
    otherwise it is taken from the first account figure of the day.
    """
    return msgspec.structs.replace(
        state,
        day=DayRecord(trading_day=trading_day, start_equity=equity if equity else ZERO),
        breaker=BreakerRecord(cooldown_until_ns=state.breaker.cooldown_until_ns),
        day_trades=trim_day_trades(
            state.day_trades, cal.window_start(trading_day, cfg.pdt_window_days)
        ),
    )


def trim_day_trades(trades: tuple[DayTrade, ...], window_start: str) -> tuple[DayTrade, ...]:
    """The day trades on or after ``window_start`` (ISO dates compare as text)."""
    return tuple(t for t in trades if t.day >= window_start)


def day_loss_pct(day: DayRecord, unrealized: Decimal, equity: Decimal | None) -> Decimal | None:
    """Today's loss as a percentage of start equity (negative when up), or None if unknown.

    Two measures are taken and the worse one counts: realized plus unrealized P&L from
    the books, and the change in account equity since the start of the day (which also
    catches fees and anything the books missed).
    """
    start = day.start_equity
    if start <= 0:
        return None
    pnl = day.realized_pnl + unrealized
    if equity is not None:
        pnl = min(pnl, equity - start)
    return -pnl * _HUNDRED / start


def loss_breach(
    day: DayRecord, unrealized: Decimal, equity: Decimal | None, limit_pct: float
) -> str | None:
    """Why the daily loss limit is breached, or None when it is not (or cannot be known)."""
    loss = day_loss_pct(day, unrealized, equity)
    if loss is None or loss < Decimal(repr(limit_pct)):
        return None
    return (
        f"day loss {loss:.2f}% of start equity {day.start_equity} reached the limit "
        f"{limit_pct:g}% (realized {day.realized_pnl}, unrealized {unrealized}"
        + (f", equity {equity})" if equity is not None else ")")
    )
