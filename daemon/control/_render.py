"""Human-readable rendering of command results for ``tradingctl`` (rich tables)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

POSITION_COLUMNS = (
    "symbol",
    "qty",
    "avg_price",
    "last_price",
    "unrealized_pnl",
    "realized_pnl",
    "stop_price",
    "target_price",
    "source",
)
ORDER_COLUMNS = (
    "client_order_id",
    "symbol",
    "side",
    "qty",
    "filled_qty",
    "status",
    "order_type",
    "limit_price",
    "purpose",
)


def _ts(ns: Any) -> str:
    if not isinstance(ns, int) or ns <= 0:
        return "-"
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] = ()) -> Table:
    """A table of ``rows``: the preferred ``columns`` present in them, else every key."""
    keys: list[str] = []
    for row in rows:
        for k in row:
            if k not in keys:
                keys.append(k)
    cols = [c for c in columns if c in keys] or keys
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in cols:
        t.add_column(c, justify="right" if c.endswith(("qty", "price", "pnl")) else "left")
    for row in rows:
        t.add_row(*(_cell(row.get(c)) for c in cols))
    return t


def render_status(console: Console, r: dict[str, Any]) -> None:
    """``status``: daemon, trading state, P&L, actors, positions, orders, what is missing."""
    d = r.get("daemon", {})
    s = r.get("safety")
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row(
        "daemon",
        f"{d.get('state')} · v{d.get('version')} · pid {d.get('pid')} · account {d.get('account')}",
    )
    head.add_row("uptime", _duration(float(d.get("uptime_s", 0.0))))
    healthy = r.get("healthy")
    head.add_row("health", Text("ok", "green") if healthy else Text("DEGRADED", "bold red"))
    ready = r.get("ready")
    if isinstance(ready, dict):
        not_ready = "; ".join(str(x) for x in ready.get("not_ready") or ())
        head.add_row(
            "ready",
            Text("yes", "green") if ready.get("ready") else Text(f"NO: {not_ready}", "bold red"),
        )
    if isinstance(s, dict):
        if s.get("killed"):
            kill = Text(
                f"ENGAGED ({s.get('kill_trigger')}) by {s.get('kill_by') or '?'} at "
                f"{_ts(s.get('kill_ns'))}: {s.get('kill_reason')}",
                "bold red",
            )
        else:
            kill = Text("off", "green")
        head.add_row("kill switch", kill)
        mode = str(s.get("mode"))
        head.add_row("mode", Text(mode, "green" if mode == "running" else "yellow"))
        day = s.get("day") or {}
        head.add_row(
            "today",
            f"{day.get('trading_day') or '-'} · realized P&L {day.get('realized_pnl')} · "
            f"{day.get('trade_count')} trades · losing streak {s.get('consecutive_losses')}",
        )
        if not s.get("writable", True):
            head.add_row("state file", Text(f"NOT WRITABLE: {s.get('write_error')}", "bold red"))
        for cond in s.get("conditions") or ():
            head.add_row("condition", Text(str(cond), "yellow"))
    acct = r.get("account")
    if isinstance(acct, dict):
        head.add_row(
            "account",
            f"equity {acct.get('equity')} · cash {acct.get('cash')} · buying power "
            f"{acct.get('buying_power')} · unrealized P&L {acct.get('unrealized_pnl')}",
        )
    console.print(head)
    actors = r.get("actors") or []
    if actors:
        t = Table(title="actors", title_justify="left", header_style="bold")
        for c in ("name", "core", "state", "restarts", "processed", "busy_s", "last error"):
            t.add_column(c)
        for a in actors:
            state = str(a.get("state"))
            style = "green" if state == "running" else "red"
            if a.get("stuck"):
                state, style = f"{state} (STUCK)", "bold red"
            t.add_row(
                str(a.get("name")),
                "core" if a.get("core") else "optional",
                Text(state, style),
                str(a.get("restarts")),
                str(a.get("processed")),
                f"{a.get('busy_s', 0):g}",
                str(a.get("last_error") or ""),
            )
        console.print(t)
    for part, cols in (("positions", POSITION_COLUMNS), ("orders", ORDER_COLUMNS)):
        rows = r.get(part)
        if isinstance(rows, list):
            if rows:
                console.print(table(part, rows, cols))
            else:
                console.print(f"[bold]{part}[/bold]: none")
    for part, why in (r.get("unavailable") or {}).items():
        console.print(Text(f"{part}: unavailable — {why}", "yellow"))


def render_help(console: Console, r: dict[str, Any]) -> None:
    """``help``: every command, whether it is served, and its arguments."""
    t = Table(title=f"commands (protocol {r.get('protocol')})", title_justify="left")
    for c in ("command", "served", "changes state", "args", "summary"):
        t.add_column(c)
    for c in r.get("commands", []):
        t.add_row(
            str(c.get("cmd")),
            Text("yes", "green") if c.get("available") else Text("no", "yellow"),
            "yes" if c.get("mutating") else "",
            ", ".join(c.get("args", [])),
            str(c.get("summary")),
        )
    console.print(t)


def render_result(console: Console, cmd: str, result: Any) -> None:
    """Pick the right rendering for ``cmd``'s result."""
    if cmd == "status" and isinstance(result, dict):
        render_status(console, result)
    elif cmd == "help" and isinstance(result, dict):
        render_help(console, result)
    elif cmd in ("positions", "orders") and isinstance(result, list):
        if result:
            cols = POSITION_COLUMNS if cmd == "positions" else ORDER_COLUMNS
            console.print(table(cmd, result, cols))
        else:
            console.print(f"no {cmd}")
    elif isinstance(result, dict):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for k, v in result.items():
            if k in ("safety", "type"):
                continue  # the full snapshot is for --json; mode/killed are shown
            if k == "ts" or k.endswith("_ns"):
                grid.add_row(k, _ts(v))
            else:
                grid.add_row(k, _cell(v) if not isinstance(v, (dict, list)) else str(v))
        console.print(grid)
    else:
        console.print(_cell(result))
