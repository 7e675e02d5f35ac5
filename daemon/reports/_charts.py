"""PNG charts of a report: equity with drawdown, and daily P&L (matplotlib, no display).

matplotlib comes with the ``demo`` extra; without it :func:`render_charts` returns no
charts and says why, and the text and HTML reports are still written.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from typing import Any

from daemon.reports._stats import Report

_GREEN = "#2e7d32"
_RED = "#c62828"
_BLUE = "#1f4e79"


def charts_available() -> bool:
    """True when matplotlib is installed."""
    return importlib.util.find_spec("matplotlib") is not None


def render_charts(rep: Report) -> dict[str, bytes]:
    """``{"equity.png": ..., "daily_pnl.png": ...}`` (empty without data or matplotlib)."""
    if not rep.days or not charts_available():
        return {}
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    dates = [dt.date.fromisoformat(d) for d in rep.days]
    out: dict[str, bytes] = {}
    with plt.rc_context(_STYLE):  # type: ignore[arg-type]
        out["equity.png"] = _equity(plt, rep, dates)
        out["daily_pnl.png"] = _daily(plt, rep, dates)
    return out


_STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _title(rep: Report, what: str) -> str:
    d = rep.data
    name = d.title or f"account {d.account}"
    return f"{name} — {what}, {d.first_day} to {d.last_day}"


def _equity(plt: Any, rep: Report, dates: list[dt.date]) -> bytes:
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    eq = [float(v) for v in rep.daily_equity]
    start = float(rep.start_equity)
    ax1.plot(dates, eq, color=_BLUE, linewidth=1.2, label="equity")
    ax1.axhline(start, color="grey", linewidth=0.8, linestyle="--", label="start")
    ax1.fill_between(dates, eq, start, where=[v >= start for v in eq], color=_GREEN, alpha=0.12)
    ax1.fill_between(dates, eq, start, where=[v < start for v in eq], color=_RED, alpha=0.12)
    ax1.set_ylabel("equity")
    ax1.set_title(_title(rep, "equity and drawdown"))
    ax1.legend(loc="upper left", frameon=False)
    ax1.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    dd = [100.0 * v for v in rep.drawdown]
    ax2.fill_between(dates, dd, 0.0, color=_RED, alpha=0.35, linewidth=0)
    ax2.plot(dates, dd, color=_RED, linewidth=0.8)
    ax2.set_ylabel("drawdown %")
    ax2.set_ylim(min(min(dd, default=0.0) * 1.1, -0.5), 0.5)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(plt, fig)


def _daily(plt: Any, rep: Report, dates: list[dt.date]) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.6))
    pnl = [float(v) for v in rep.daily_pnl]
    colors = [_GREEN if v >= 0 else _RED for v in pnl]
    width = 0.8 if len(dates) < 300 else 1.0
    ax.bar(dates, pnl, color=colors, width=width, linewidth=0)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_ylabel("P&L per day")
    ax.set_title(_title(rep, "daily P&L"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(plt, fig)


def _png(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    # Fixed metadata: the same report renders to the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
