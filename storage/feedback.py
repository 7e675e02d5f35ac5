"""The feedback actor's tables: load its state at start, save it after each batch of trades.

``feedback_trades`` holds every trade credited to a signal source (its return on the
entry notional); a source's rolling window is its latest ``window`` rows by ``seq``.
``feedback_sources`` holds each source's statistics, confidence and fusion weight.
Saving is idempotent — trades are keyed by ``(account, trade_id)`` and inserted only
once, sources are upserted — so a save that failed can simply be tried again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage._engine import Database
from storage._errmap import map_error
from storage.models.feedback import FeedbackSourceRow, FeedbackTradeRow

_SOURCES = FeedbackSourceRow.__table__
_TRADES = FeedbackTradeRow.__table__


@dataclass(frozen=True, slots=True)
class FeedbackTrade:
    """One closed trade as credited to its signal source."""

    trade_id: str
    source: str
    ret: float
    """Net P&L over the entry notional."""
    pnl: Decimal
    exit_ns: int
    seq: int = 0
    """The trade's number within its source (1, 2, ...), which orders the window."""


@dataclass(frozen=True, slots=True)
class FeedbackSource:
    """One signal source's counts, statistics, confidence and weight."""

    source: str
    trades_total: int
    """Trades ever credited to the source (the last ``seq`` given out)."""
    window: int
    """Trades the statistics cover."""
    win_rate: float
    payoff: float
    sharpe: float
    confidence: float
    weight: float | None
    """The last computed weight (None until the source first qualified)."""
    updated_ns: int


@dataclass(frozen=True, slots=True)
class FeedbackState:
    """Everything loaded at start: sources, their windows (oldest first), recent ids."""

    sources: Sequence[FeedbackSource] = ()
    windows: dict[str, list[FeedbackTrade]] = field(default_factory=dict)
    recent_ids: Sequence[str] = ()
    """The account's most recently closed trade ids, oldest first."""


@final
class SqlFeedbackStore:
    """The feedback state in the tradingd database (SQLite or PostgreSQL).

    Both methods raise ``StorageUnavailable`` when the database cannot be used right
    now and ``StorageRejected`` when it refuses the rows.
    """

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, account: str, *, window: int, recent: int) -> FeedbackState:
        """``account``'s sources, each source's last ``window`` trades, ``recent`` ids."""
        try:
            async with self.db.connect() as conn:
                return await _load(conn, account, window, recent)
        except BaseException as exc:
            raise _mapped(exc, f"loading the feedback state of {account}") from exc

    async def save(
        self, account: str, trades: Sequence[FeedbackTrade], sources: Sequence[FeedbackSource]
    ) -> None:
        """Record ``trades`` (ids already recorded are left alone), upsert ``sources``."""
        if not trades and not sources:
            return
        try:
            async with self.db.engine.begin() as conn:
                await _save(conn, account, trades, sources)
        except BaseException as exc:
            raise _mapped(exc, f"saving the feedback state of {account}") from exc


def _mapped(exc: BaseException, what: str) -> BaseException:
    mapped = map_error(exc, what)
    return exc if mapped is None else mapped


async def _load(conn: AsyncConnection, account: str, window: int, recent: int) -> FeedbackState:
    s = _SOURCES.c
    rows = await conn.execute(sa.select(_SOURCES).where(s.account == account).order_by(s.source))
    sources = [
        FeedbackSource(
            source=r.source,
            trades_total=r.trades_total,
            window=r.window_trades,
            win_rate=r.win_rate,
            payoff=r.payoff,
            sharpe=r.sharpe,
            confidence=r.confidence,
            weight=r.weight,
            updated_ns=r.updated_ns,
        )
        for r in rows
    ]
    t = _TRADES.c
    rank = sa.func.row_number().over(partition_by=t.source, order_by=t.seq.desc()).label("rank")
    ranked = (
        sa.select(t.trade_id, t.source, t.seq, t.ret, t.pnl, t.exit_ns, rank)
        .where(t.account == account)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(ranked).where(ranked.c.rank <= window).order_by(ranked.c.source, ranked.c.seq)
    )
    windows: dict[str, list[FeedbackTrade]] = {}
    for r in rows:
        windows.setdefault(r.source, []).append(
            FeedbackTrade(
                trade_id=r.trade_id,
                source=r.source,
                ret=r.ret,
                pnl=r.pnl,
                exit_ns=r.exit_ns,
                seq=r.seq,
            )
        )
    rows = await conn.execute(
        sa.select(t.trade_id)
        .where(t.account == account)
        .order_by(t.exit_ns.desc(), t.trade_id.desc())
        .limit(recent)
    )
    recent_ids = [r.trade_id for r in rows][::-1]
    return FeedbackState(sources=sources, windows=windows, recent_ids=recent_ids)


def _insert(conn: AsyncConnection, table: sa.FromClause) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


async def _save(
    conn: AsyncConnection,
    account: str,
    trades: Sequence[FeedbackTrade],
    sources: Sequence[FeedbackSource],
) -> None:
    if trades:
        stmt = _insert(conn, _TRADES).on_conflict_do_nothing(
            index_elements=[_TRADES.c.account, _TRADES.c.trade_id]
        )
        await conn.execute(
            stmt,
            [
                {
                    "account": account,
                    "trade_id": x.trade_id,
                    "source": x.source,
                    "seq": x.seq,
                    "ret": x.ret,
                    "pnl": x.pnl,
                    "exit_ns": x.exit_ns,
                }
                for x in trades
            ],
        )
    if sources:
        ins = _insert(conn, _SOURCES)
        columns = (
            "trades_total",
            "window_trades",
            "win_rate",
            "payoff",
            "sharpe",
            "confidence",
            "weight",
            "updated_ns",
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[_SOURCES.c.account, _SOURCES.c.source],
            set_={c: ins.excluded[c] for c in columns},
        )
        await conn.execute(
            stmt,
            [
                {
                    "account": account,
                    "source": x.source,
                    "trades_total": x.trades_total,
                    "window_trades": x.window,
                    "win_rate": x.win_rate,
                    "payoff": x.payoff,
                    "sharpe": x.sharpe,
                    "confidence": x.confidence,
                    "weight": x.weight,
                    "updated_ns": x.updated_ns,
                }
                for x in sources
            ],
        )
