"""Report figures: the daily equity curve and everything computed from it and the trades.

Definitions (docs/reports.md spells them out with an example):

* **daily equity**: the last marked equity at or before the end of each business day
  (Monday–Friday in ``daemon.timezone``) from the first to the last day of the report,
  carried forward over days without a change; the day before the first day holds the
  starting equity;
* **daily P&L**: the change of daily equity from one day to the next;
* **drawdown**: equity below its running peak, as a fraction of the peak;
* Sharpe, Sortino, Calmar, annual return and volatility: of the daily returns, by the
  compiled performance kernel (``actors.kernels.performance``, 252 days a year);
* win rate, profit factor, average win and loss: of closed trades' P&L net of fees;
* **exposure**: the share of the report's time span with at least one position open.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from actors.kernels import performance, returns_from_equity
from daemon.clock import NS_PER_S
from daemon.reports._data import ReportData, TradeRecord

ZERO = Decimal(0)


@dataclass(frozen=True)
class Group:
    """Closed-trade figures of one group (a source, symbol or exit reason)."""

    key: str
    trades: int
    wins: int
    pnl: Decimal

    @property
    def win_rate(self) -> float:
        """Winning trades over trades."""
        return self.wins / self.trades if self.trades else math.nan

    @property
    def average(self) -> Decimal:
        """Average P&L per trade."""
        return self.pnl / self.trades if self.trades else ZERO


@dataclass
class Report:
    """Every figure and series of one report."""

    data: ReportData
    days: list[str] = field(default_factory=list)
    daily_equity: list[Decimal] = field(default_factory=list)
    daily_pnl: list[Decimal] = field(default_factory=list)
    drawdown: list[float] = field(default_factory=list)
    start_equity: Decimal = ZERO
    end_equity: Decimal = ZERO
    net_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    total_return: float = math.nan
    annual_return: float = math.nan
    annual_volatility: float = math.nan
    sharpe: float = math.nan
    sortino: float = math.nan
    calmar: float = math.nan
    max_drawdown: float = math.nan
    trades: int = 0
    wins: int = 0
    losses: int = 0
    win_rate: float = math.nan
    profit_factor: float = math.nan
    average_win: Decimal = ZERO
    average_loss: Decimal = ZERO
    best_trade: Decimal = ZERO
    worst_trade: Decimal = ZERO
    average_holding_s: float = math.nan
    exposure: float = math.nan
    by_source: list[Group] = field(default_factory=list)
    by_symbol: list[Group] = field(default_factory=list)
    by_exit_reason: list[Group] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when there is nothing to report (no equity change and no trade)."""
        return not self.trades and not self.data.equity


def compute(data: ReportData) -> Report:
    """All figures of ``data`` (see the module docstring)."""
    rep = Report(data=data)
    tz = ZoneInfo(data.timezone)
    _daily(rep, tz)
    _trades(rep, data.trades)
    rep.exposure = _exposure(data, tz)
    return rep


def business_days(first: str, last: str) -> list[str]:
    """Monday–Friday dates from ``first`` to ``last`` inclusive."""
    d = dt.date.fromisoformat(first)
    end = dt.date.fromisoformat(last)
    out: list[str] = []
    while d <= end:
        if d.weekday() < 5:
            out.append(d.isoformat())
        d += dt.timedelta(days=1)
    return out


def _daily(rep: Report, tz: ZoneInfo) -> None:
    data = rep.data
    rep.start_equity = data.initial_equity
    if not data.first_day or not data.last_day:
        rep.end_equity = data.initial_equity
        return
    days = business_days(data.first_day, data.last_day)
    if not days:
        days = [data.first_day]
    points = _equity_points(data)
    eq = data.initial_equity
    i = 0
    values: list[Decimal] = []
    for day in days:
        end_ns = _end_of_day_ns(day, tz)
        while i < len(points) and points[i][0] < end_ns:
            eq = points[i][1]
            i += 1
        values.append(eq)
    rep.days = days
    rep.daily_equity = values
    prev = data.initial_equity
    for v in values:
        rep.daily_pnl.append(v - prev)
        prev = v
    rep.end_equity = values[-1]
    curve = [float(data.initial_equity), *(float(v) for v in values)]
    peak = curve[0]
    for x in curve[1:]:
        peak = max(peak, x)
        rep.drawdown.append(x / peak - 1.0 if peak > 0 else 0.0)
    if all(x > 0 for x in curve):
        stats = performance(
            returns_from_equity(curve),
            [float(t.pnl) for t in data.trades],
            periods_per_year=252.0,
        )
        rep.total_return = stats.total_return
        rep.annual_return = stats.annual_return
        rep.annual_volatility = stats.annual_volatility
        rep.sharpe = stats.sharpe
        rep.sortino = stats.sortino
        rep.calmar = stats.calmar
        rep.max_drawdown = stats.max_drawdown
        rep.win_rate = stats.win_rate
        rep.profit_factor = stats.profit_factor


def _equity_points(data: ReportData) -> list[tuple[int, Decimal]]:
    """Marked equity over time; without snapshots, equity from the trades alone."""
    if data.equity:
        return data.equity
    eq = data.initial_equity
    out: list[tuple[int, Decimal]] = []
    for t in sorted(data.trades, key=lambda t: t.exit_ns):
        eq += t.pnl
        out.append((t.exit_ns, eq))
    return out


def _end_of_day_ns(day: str, tz: ZoneInfo) -> int:
    nxt = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), tz)
    return int(nxt.timestamp()) * NS_PER_S


def _trades(rep: Report, trades: list[TradeRecord]) -> None:
    rep.trades = len(trades)
    if not trades:
        return
    wins = [t.pnl for t in trades if t.pnl > 0]
    losses = [t.pnl for t in trades if t.pnl < 0]
    rep.wins, rep.losses = len(wins), len(losses)
    rep.net_pnl = sum((t.pnl for t in trades), ZERO)
    rep.fees = sum((t.fees for t in trades), ZERO)
    rep.average_win = sum(wins, ZERO) / len(wins) if wins else ZERO
    rep.average_loss = sum(losses, ZERO) / len(losses) if losses else ZERO
    rep.best_trade = max(t.pnl for t in trades)
    rep.worst_trade = min(t.pnl for t in trades)
    rep.average_holding_s = sum((t.exit_ns - t.entry_ns) for t in trades) / len(trades) / NS_PER_S
    if math.isnan(rep.win_rate):
        rep.win_rate = rep.wins / rep.trades
        gross_loss = -sum(losses, ZERO)
        rep.profit_factor = (
            float(sum(wins, ZERO) / gross_loss) if gross_loss else (math.inf if wins else math.nan)
        )
    rep.by_source = _groups(trades, lambda t: t.source or "(none)")
    rep.by_symbol = _groups(trades, lambda t: t.symbol)
    rep.by_exit_reason = _groups(trades, lambda t: t.exit_reason or "(none)")


@dataclass
class _Acc:
    trades: int = 0
    wins: int = 0
    pnl: Decimal = ZERO


def _groups(trades: Iterable[TradeRecord], key: Callable[[TradeRecord], str]) -> list[Group]:
    acc: dict[str, _Acc] = {}
    for t in trades:
        a = acc.setdefault(key(t), _Acc())
        a.trades += 1
        a.wins += t.pnl > 0
        a.pnl += t.pnl
    out = [Group(k, a.trades, a.wins, a.pnl) for k, a in acc.items()]
    return sorted(out, key=lambda g: (-g.pnl, g.key))


def _exposure(data: ReportData, tz: ZoneInfo) -> float:
    """Share of the report's span with at least one position open."""
    if not data.first_day or not data.last_day:
        return math.nan
    lo = _end_of_day_ns(data.first_day, tz) - 86_400 * NS_PER_S
    hi = _end_of_day_ns(data.last_day, tz)
    times = [t for t, _ in data.equity] + [t.exit_ns for t in data.trades]
    times += [t.entry_ns for t in data.trades]
    if times:
        lo = max(lo, min(times))
        hi = min(hi, max(times))
    if hi <= lo:
        return math.nan
    changes = data.exposure
    count, i = 0, 0
    while i < len(changes) and changes[i][0] <= lo:
        count = changes[i][1]
        i += 1
    held, since = 0, lo
    for ts, n in changes[i:]:
        if ts >= hi:
            break
        if count > 0:
            held += ts - since
        since, count = ts, n
    if count > 0:
        held += hi - since
    return held / (hi - lo)
