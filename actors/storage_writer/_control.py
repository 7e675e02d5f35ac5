"""Admin-socket commands served from the database: ``storage``, ``trades``, ``pnl``, ``trace``.

The storage writer declares and binds them when it starts (a restarted writer binds them
again). They only read: the writer's counters, and the database through
:mod:`storage.queries` on the shared engine, never the writer's queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from daemon.control import Args, Call, CommandError, CommandSpec, ControlRegistry, ErrorCode
from storage import Database, StorageError, queries

PROVIDER = "the storage writer actor (the SQL database)"

Day = Annotated[str, msgspec.Meta(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]


class TradesArgs(Args, frozen=True, kw_only=True):
    """``trades``: the closed trades of one trading day (default: today)."""

    day: Day = ""


class PnlArgs(Args, frozen=True, kw_only=True):
    """``pnl``: closed-trade P&L grouped by day, source, symbol or exit reason."""

    by: Literal["day", "source", "symbol", "exit_reason"] = "day"
    first_day: Day = ""
    last_day: Day = ""


class TraceArgs(Args, frozen=True, kw_only=True):
    """``trace``: everything recorded under one correlation id."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


SPECS = (
    CommandSpec(
        name="storage", summary="storage writer: counters, outage, spool", provider=PROVIDER
    ),
    CommandSpec(
        name="trades",
        summary="closed trades of a trading day (recorded)",
        args=TradesArgs,
        provider=PROVIDER,
    ),
    CommandSpec(
        name="pnl",
        summary="recorded P&L by day, source, symbol or exit reason",
        args=PnlArgs,
        provider=PROVIDER,
    ),
    CommandSpec(
        name="trace",
        summary="signal -> fusion -> risk -> orders -> fills -> trade for a correlation id",
        args=TraceArgs,
        provider=PROVIDER,
    ),
)


def bind(
    registry: ControlRegistry,
    db: Database,
    account: str,
    today: Callable[[], str],
    status: Callable[[], dict[str, Any]],
) -> None:
    """Declare the storage commands in ``registry`` and serve them from ``db``."""

    async def storage_status(_: Call, __: Any) -> Any:
        return status()

    async def trades(_: Call, args: TradesArgs) -> Any:
        day = args.day or today()
        return {"day": day, "trades": await _read(queries.trades_by_day(db, account, day))}

    async def pnl(_: Call, args: PnlArgs) -> Any:
        first = args.first_day or "0000-00-00"
        last = args.last_day or "9999-99-99"
        groups = await _read(queries.pnl_by(db, account, args.by, first_day=first, last_day=last))
        return {"by": args.by, "groups": groups}

    async def trace(_: Call, args: TraceArgs) -> Any:
        t = await _read(queries.trace(db, account, args.id))
        if not t.found:
            raise CommandError(
                ErrorCode.REFUSED, f"nothing recorded under correlation id {args.id!r}"
            )
        return t

    for spec in SPECS:
        registry.declare(spec)
    registry.register("storage", storage_status)
    registry.register("trades", trades)
    registry.register("pnl", pnl)
    registry.register("trace", trace)


async def _read(awaitable: Any) -> Any:
    try:
        return await awaitable
    except StorageError as exc:
        raise CommandError(ErrorCode.UNAVAILABLE, f"database: {exc}") from exc
