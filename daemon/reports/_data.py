"""What a report is computed from, read from the database (or built in memory).

* closed trades (``storage.queries.trades_between``), net P&L and fees as recorded;
* the equity curve: every ``AccountSnapshot`` the orchestrator published (kept in the
  audit log), marked to market;
* the position history (for exposure): when the account held anything at all.

Times are int ns UTC; trading days are ``YYYY-MM-DD`` in ``daemon.timezone``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import sqlalchemy as sa

from daemon.clock import NS_PER_S

_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class TradeRecord:
    """One closed round trip (P&L net of fees)."""

    symbol: str
    side: str
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    entry_ns: int
    exit_ns: int
    pnl: Decimal
    fees: Decimal
    exit_reason: str
    source: str


@dataclass
class ReportData:
    """Everything one report needs; build with :func:`load_report_data` or by hand."""

    account: str
    timezone: str
    initial_equity: Decimal
    trades: list[TradeRecord] = field(default_factory=list)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)
    """(time, equity) in time order."""
    exposure: list[tuple[int, int]] = field(default_factory=list)
    """(time, number of open positions) each time it changed, in time order."""
    first_day: str = ""
    last_day: str = ""
    title: str = ""


def day_bounds_ns(first_day: str, last_day: str, tz: ZoneInfo) -> tuple[int, int]:
    """``[start of first_day, start of the day after last_day)`` in int ns UTC."""
    lo = dt.datetime.combine(dt.date.fromisoformat(first_day), dt.time(), tzinfo=tz)
    hi = dt.datetime.combine(
        dt.date.fromisoformat(last_day) + dt.timedelta(days=1), dt.time(), tzinfo=tz
    )
    return int(lo.timestamp()) * NS_PER_S, int(hi.timestamp()) * NS_PER_S


async def load_report_data(
    db: Any,
    account: str,
    *,
    timezone: str,
    initial_cash: float,
    first_day: str = "",
    last_day: str = "",
    title: str = "",
) -> ReportData:
    """Read trades, equity snapshots and position changes of ``account`` from ``db``.

    ``first_day``/``last_day`` (``YYYY-MM-DD``, inclusive) limit the window; empty means
    from the first record / to the last. Raises ``storage.StorageUnavailable``.
    """
    from storage import StorageUnavailable, queries
    from storage.models import AuditRow, PositionRow

    tz = ZoneInfo(timezone)
    lo_day = first_day or "0001-01-01"
    hi_day = last_day or "9999-12-30"
    lo_ns = day_bounds_ns(lo_day, lo_day, tz)[0] if first_day else 0
    hi_ns = day_bounds_ns(hi_day, hi_day, tz)[1] if last_day else _INT64_MAX
    views = await queries.trades_between(db, account, lo_day, hi_day)
    trades = [
        TradeRecord(
            symbol=v.symbol,
            side=v.side,
            qty=v.qty,
            entry_price=v.entry_price,
            exit_price=v.exit_price,
            entry_ns=v.entry_ns,
            exit_ns=v.exit_ns,
            pnl=v.pnl,
            fees=v.fees,
            exit_reason=v.exit_reason,
            source=v.source,
        )
        for v in views
    ]
    audit = AuditRow.__table__
    pos = PositionRow.__table__
    snap_q = (
        sa.select(audit.c.ts, audit.c.payload)
        .where(
            audit.c.account == account,
            audit.c.kind == "AccountSnapshot",
            audit.c.ts >= lo_ns,
            audit.c.ts < hi_ns,
        )
        .order_by(audit.c.ts, audit.c.seq)
    )
    before_q = (
        sa.select(audit.c.payload)
        .where(audit.c.account == account, audit.c.kind == "AccountSnapshot", audit.c.ts < lo_ns)
        .order_by(audit.c.ts.desc(), audit.c.seq.desc())
        .limit(1)
    )
    pos_q = (
        sa.select(pos.c.ts, pos.c.symbol, pos.c.qty)
        .where(pos.c.account == account, pos.c.ts < hi_ns)
        .order_by(pos.c.ts, pos.c.audit_seq)
    )
    dec = msgspec.json.Decoder(dict[str, Any])
    equity: list[tuple[int, Decimal]] = []
    held: dict[str, Decimal] = {}
    exposure: list[tuple[int, int]] = []
    start = Decimal(repr(initial_cash))
    try:
        async with db.connect() as conn:
            for ts, payload in await conn.execute(snap_q):
                equity.append((int(ts), Decimal(dec.decode(payload)["equity"])))
            prior = (await conn.execute(before_q)).scalar_one_or_none()
            if prior is not None:
                start = Decimal(dec.decode(prior)["equity"])
            for ts, symbol, qty in await conn.execute(pos_q):
                if Decimal(qty) == 0:
                    held.pop(symbol, None)
                else:
                    held[symbol] = Decimal(qty)
                n = len(held)
                if not exposure or exposure[-1][1] != n:
                    exposure.append((int(ts), n))
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"reading equity and positions: {exc}") from exc
    days = [t.exit_ns for t in trades] + [t for t, _ in equity]
    tzday = _day_fn(tz)
    return ReportData(
        account=account,
        timezone=timezone,
        initial_equity=start,
        trades=trades,
        equity=equity,
        exposure=exposure,
        first_day=first_day or (tzday(min(days)) if days else ""),
        last_day=last_day or (tzday(max(days)) if days else ""),
        title=title,
    )


def _day_fn(tz: ZoneInfo) -> Any:
    def day(ns: int) -> str:
        return dt.datetime.fromtimestamp(ns / NS_PER_S, tz).date().isoformat()

    return day
