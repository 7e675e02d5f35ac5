"""The A/B comparison printed by ``tradingd replay --config``: same inputs, two
configurations, results and decisions side by side."""

from __future__ import annotations

from typing import Any

import msgspec

from daemon.reports import Report
from daemon.reports._render import money, num, pct


def settings_diff(a: Any, b: Any) -> list[tuple[str, str, str]]:
    """Keys whose values differ between two Settings, as (key, A, B)."""
    out: list[tuple[str, str, str]] = []
    _walk("", msgspec.to_builtins(a), msgspec.to_builtins(b), out)
    return out


def _walk(prefix: str, a: Any, b: Any, out: list[tuple[str, str, str]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            _walk(f"{prefix}.{k}" if prefix else str(k), a.get(k), b.get(k), out)
    elif a != b:
        out.append((prefix, repr(a), repr(b)))


def _results(rep: Report) -> list[tuple[str, str]]:
    return [
        ("trades", str(rep.trades)),
        ("net P&L", money(rep.end_equity - rep.start_equity)),
        ("total return", pct(rep.total_return)),
        ("win rate", pct(rep.win_rate)),
        ("profit factor", num(rep.profit_factor)),
        ("Sharpe", num(rep.sharpe)),
        ("Sortino", num(rep.sortino)),
        ("max drawdown", pct(rep.max_drawdown)),
        ("exposure", pct(rep.exposure)),
    ]


def _per_signal(path: Any) -> dict[str, str]:
    """What happened to each signal: ``order buy 40`` or ``rejected risk: reason``."""
    from actors.orchestrator import correlation_id
    from daemon.replay import outcomes, read_normalised

    decisions = read_normalised(path)
    by_cid: dict[str, dict[str, Any]] = {}
    for d in decisions:
        if d["k"] == "order":
            by_cid.setdefault(d.get("cid", ""), d)
    out: dict[str, str] = {}
    for v in outcomes(decisions):
        key = v["signal"]
        if not v["accepted"]:
            out[key] = f"rejected {v['stage']}: {v['reason']}"
            continue
        source, _, sid = key.partition("/")
        order = by_cid.get(correlation_id(source, sid))
        out[key] = f"{order['purpose']} {order['side']} {order['qty']}" if order else "accepted"
    return out


def print_ab(a: tuple[Any, Report], b: tuple[Any, Report]) -> None:
    """Print the comparison of run A (base) and run B (--config)."""
    (ra, repa), (rb, repb) = a, b
    print("\nA/B comparison: the same inputs under two configurations")
    diff = settings_diff(ra.settings, rb.settings)
    ignore = ("daemon.state_dir", "daemon.socket_path", "storage.url")
    diff = [d for d in diff if d[0] not in ignore]
    if diff:
        print("  configuration differences:")
        for key, va, vb in diff[:30]:
            print(f"    {key}: A={va}  B={vb}")
    rows = [("", "A (base)", "B (--config)")]
    rows += [(k, va, vb) for (k, va), (_, vb) in zip(_results(repa), _results(repb), strict=True)]
    rows.append(("decision digest", ra.digest[:16], rb.digest[:16]))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for r in rows:
        print(f"  {r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]:>16}")
    sa, sb = _per_signal(ra.decisions_path), _per_signal(rb.decisions_path)
    keys = list(dict.fromkeys([*sa, *sb]))
    changed = [k for k in keys if sa.get(k) != sb.get(k)]
    print(f"\n  {len(keys)} signals; {len(changed)} decided differently")
    if changed:
        wk = min(60, max(len(k) for k in changed))
        wa = max(len(sa.get(k, "-")) for k in changed)
        print(f"  {'signal':<{wk}}  {'A':<{wa}}  B")
        for k in changed[:50]:
            print(f"  {k[-wk:]:<{wk}}  {sa.get(k, '-'):<{wa}}  {sb.get(k, '-')}")
        if len(changed) > 50:
            print(f"  ... and {len(changed) - 50} more")
