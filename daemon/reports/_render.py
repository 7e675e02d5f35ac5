"""A report as text for the terminal and as one self-contained HTML file."""

from __future__ import annotations

import base64
import html
import math
from decimal import Decimal

from daemon.reports._stats import Group, Report


def money(v: Decimal | float) -> str:
    """``+1,234.56`` / ``-78.90``."""
    return f"{float(v):+,.2f}"


def pct(v: float) -> str:
    """``12.34%`` (``n/a`` when undefined)."""
    return "n/a" if math.isnan(v) else f"{100.0 * v:.2f}%"


def num(v: float) -> str:
    """Two decimals, ``inf`` and ``n/a`` spelled out."""
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    return f"{v:.2f}"


def duration(seconds: float) -> str:
    """``3.2 d`` / ``5.0 h`` / ``12 min``."""
    if math.isnan(seconds):
        return "n/a"
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / 60:.0f} min"


def summary_rows(rep: Report) -> list[tuple[str, str]]:
    """The headline figures as (label, value)."""
    return [
        ("period", f"{rep.data.first_day} to {rep.data.last_day} ({len(rep.days)} days)"),
        ("equity", f"{float(rep.start_equity):,.2f} -> {float(rep.end_equity):,.2f}"),
        ("net P&L", f"{money(rep.end_equity - rep.start_equity)} ({pct(rep.total_return)})"),
        ("annual return", pct(rep.annual_return)),
        ("annual volatility", pct(rep.annual_volatility)),
        ("Sharpe", num(rep.sharpe)),
        ("Sortino", num(rep.sortino)),
        ("Calmar", num(rep.calmar)),
        ("max drawdown", pct(rep.max_drawdown)),
        ("trades", f"{rep.trades} ({rep.wins} won, {rep.losses} lost)"),
        ("win rate", pct(rep.win_rate)),
        ("profit factor", num(rep.profit_factor)),
        ("average win / loss", f"{money(rep.average_win)} / {money(rep.average_loss)}"),
        ("best / worst trade", f"{money(rep.best_trade)} / {money(rep.worst_trade)}"),
        ("closed-trade P&L", f"{money(rep.net_pnl)} after {float(rep.fees):,.2f} fees"),
        ("average holding", duration(rep.average_holding_s)),
        ("exposure", pct(rep.exposure)),
    ]


def _group_rows(groups: list[Group]) -> list[tuple[str, str, str, str, str]]:
    return [(g.key, str(g.trades), pct(g.win_rate), money(g.pnl), money(g.average)) for g in groups]


_GROUP_HEAD = ("", "trades", "win rate", "P&L", "avg/trade")


def render_text(rep: Report) -> str:
    """The terminal summary (plain text, aligned)."""
    title = rep.data.title or f"account {rep.data.account}"
    lines = [f"Report: {title}", ""]
    if rep.empty:
        lines.append("nothing recorded in this period (no trades, no equity change)")
        return "\n".join(lines) + "\n"
    width = max(len(k) for k, _ in summary_rows(rep))
    lines += [f"  {k:<{width}}  {v}" for k, v in summary_rows(rep)]
    for name, groups in (
        ("by signal source", rep.by_source),
        ("by symbol", rep.by_symbol),
        ("by exit reason", rep.by_exit_reason),
    ):
        if not groups:
            continue
        rows = [(name, *_GROUP_HEAD[1:]), *_group_rows(groups)]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines.append("")
        for j, r in enumerate(rows):
            cells = [r[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
            ]
            lines.append("  " + "  ".join(cells))
            if j == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.6em}
.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.25em .8em;text-align:right}
th{border-bottom:1px solid #999;font-weight:600} td:first-child,th:first-child{text-align:left}
tr:nth-child(even) td{background:#f6f6f6}
.pos{color:#2e7d32} .neg{color:#c62828}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:0 2em}
"""


def _cls(text: str) -> str:
    return "neg" if text.startswith("-") else "pos" if text.startswith("+") else ""


def render_html(rep: Report, charts: dict[str, bytes], *, note: str = "") -> str:
    """One HTML file with the figures, the breakdowns and the charts inlined."""
    e = html.escape
    d = rep.data
    title = d.title or f"account {d.account}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tradingd report — {e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>tradingd report — {e(title)}</h1>",
        f"<p class='sub'>{e(d.first_day)} to {e(d.last_day)} · account {e(d.account)} · "
        f"times in {e(d.timezone)}</p>",
    ]
    if note:
        parts.append(f"<p>{e(note)}</p>")
    if rep.empty:
        parts.append("<p>Nothing recorded in this period (no trades, no equity change).</p>")
    else:
        parts.append("<h2>Summary</h2><table>")
        for k, v in summary_rows(rep):
            parts.append(f"<tr><td>{e(k)}</td><td class='{_cls(v)}'>{e(v)}</td></tr>")
        parts.append("</table>")
        for name, png in charts.items():
            b64 = base64.b64encode(png).decode()
            parts.append(f"<img alt='{e(name)}' src='data:image/png;base64,{b64}'>")
        parts.append("<div class='grid'>")
        for name, groups in (
            ("By signal source", rep.by_source),
            ("By symbol", rep.by_symbol),
            ("By exit reason", rep.by_exit_reason),
        ):
            if not groups:
                continue
            parts.append(f"<div><h2>{name}</h2><table><tr>")
            parts += [f"<th>{h}</th>" for h in _GROUP_HEAD]
            parts.append("</tr>")
            for row in _group_rows(groups):
                cells = "".join(f"<td class='{_cls(c)}'>{e(c)}</td>" for c in row)
                parts.append(f"<tr>{cells}</tr>")
            parts.append("</table></div>")
        parts.append("</div>")
    parts.append("</body></html>\n")
    return "".join(parts)
