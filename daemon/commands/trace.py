"""``tradingd trace ID``: everything recorded under one correlation id, in order."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import msgspec

from config import Settings
from daemon.commands._storage import add_config_argument, run_with_database
from daemon.exitcodes import ExitCode
from storage import Database
from storage.queries import Trace, trace


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``trace`` to the ``tradingd`` parser."""
    p = sub.add_parser(
        "trace", help="signal -> fusion -> risk decision -> orders -> fills -> trade for one id"
    )
    p.add_argument("correlation_id", metavar="ID", help="correlation id (from logs or events)")
    add_config_argument(p)
    p.add_argument("--account", help="account (default: daemon.account)")
    p.add_argument("--json", action="store_true", help="print the trace as one JSON object")
    p.set_defaults(handler=cmd_trace)


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the chain of records of ``args.correlation_id``; exits 5 if there is none."""

    async def body(settings: Settings, db: Database) -> int:
        account = args.account or settings.daemon.account
        t = await trace(db, account, args.correlation_id)
        if not t.found:
            print(
                f"nothing recorded under correlation id {args.correlation_id!r} "
                f"(account {account!r})",
                file=sys.stderr,
            )
            return ExitCode.CHECK_FAILED
        if args.json:
            sys.stdout.write(msgspec.json.encode(t).decode() + "\n")
        else:
            sys.stdout.write(render(t, account))
        return ExitCode.OK

    return run_with_database(args, body)


def _time(ns: int | None) -> str:
    if ns is None:
        return "-" * 23
    t = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def _num(v: object) -> str:
    return "-" if v is None else (f"{v:g}" if isinstance(v, float) else str(v))


def render(t: Trace, account: str) -> str:
    """The trace as aligned text, one record per line, oldest link first."""
    out: list[str] = [f"trace {t.correlation_id} (account {account})"]

    def line(kind: str, ts: int | None, text: str) -> None:
        out.append(f"{kind:<10} {_time(ts)}  {text}")

    def sub(text: str) -> None:
        out.append(f"{'':<10} {'':<23}    {text}")

    if (s := t.signal) is not None:
        line(
            "signal",
            s.ts,
            f"{s.signal_id} from {s.source}: {s.side.upper()} {s.symbol} {s.trade_type} "
            f"conviction {s.conviction} entry {_num(s.entry_price)} stop {_num(s.stop_price)} "
            f"target {_num(s.target_price)}",
        )
    for v in t.verdicts:
        verdict = "accepted" if v.accepted else f"REJECTED {v.reason} {v.detail}".rstrip()
        line("verdict", v.ts, f"{v.stage}: {verdict}")
    if (f := t.fusion) is not None:
        line(
            "fusion",
            f.ts,
            f"{f.side.upper()} conviction {f.conviction:.1f} regime {f.regime} "
            f"strategy {f.strategy or '-'}",
        )
        for c in f.components:
            sub(
                f"{c.signal_id} {c.source} {c.side} conviction {c.conviction} "
                f"weight {c.weight:.2f} age {c.age_s:.1f}s"
            )
    for r in t.risk:
        line("risk", r.ts, ("APPROVED" if r.approved else f"DENIED {r.reason}").rstrip())
        for check in r.checks:
            mark = "pass" if check.passed else "FAIL"
            sub(
                f"{check.name:<20} {check.value:>12.4g} limit {check.limit:<12.4g} {mark} "
                f"{check.detail}".rstrip()
            )
    for o in t.orders:
        fill = f"{o.filled_qty}" + (f" @ {o.avg_fill_price}" if o.avg_fill_price else "")
        line(
            "order",
            o.intent_ns if o.intent_ns is not None else o.updated_ns,
            f"{o.client_order_id} {o.purpose} {o.side.upper()} {o.qty} {o.symbol} "
            f"{o.order_type or ''}: {o.status}, filled {fill}".replace("  ", " "),
        )
        for h in o.history:
            sub(f"{_time(h.ts)} {h.status} filled {h.filled_qty} {h.reason}".rstrip())
    for fl in t.fills:
        line(
            "fill",
            fl.ts,
            f"{fl.fill_id} {fl.side.upper()} {fl.qty} {fl.symbol} @ {fl.price} "
            f"commission {fl.commission} ({fl.client_order_id})",
        )
    for e in t.executions:
        line(
            "execution",
            e.ts,
            f"{e.client_order_id} {e.status} {e.filled_qty} @ {_num(e.avg_fill_price)} "
            f"expected {_num(e.expected_price)} slippage {e.slippage_bps:.1f} bps fees {e.fees}"
            + (f" problems: {'; '.join(e.problems)}" if e.problems else ""),
        )
    for tr in t.trades:
        line(
            "trade",
            tr.exit_ns,
            f"{tr.trade_id} {tr.side.upper()} {tr.qty} {tr.symbol} {tr.entry_price} -> "
            f"{tr.exit_price} pnl {tr.pnl} fees {tr.fees} held {tr.holding_ns / 1e9:.1f}s "
            f"exit {tr.exit_reason or '-'} ({tr.day})",
        )
    return "\n".join(out) + "\n"
