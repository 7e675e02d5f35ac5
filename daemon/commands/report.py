"""``tradingd report``: performance report of an account from the database."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import anyio

from config import ConfigError, Settings, load_settings
from daemon.exitcodes import ExitCode


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` to the ``tradingd`` parser."""
    p = sub.add_parser(
        "report",
        help="performance report from the database (text, HTML, PNG charts)",
        description="Equity curve, drawdown, daily P&L, Sharpe/Sortino/Calmar, trade "
        "statistics and breakdowns by source, symbol and exit reason, from the database "
        "of --config (or --db). Written to the terminal and, under --out, as report.txt, "
        "report.html (self-contained) and PNG charts.",
    )
    p.add_argument("--config", "-c", help="TOML configuration (default: built-in defaults)")
    p.add_argument("--db", help="database URL instead of the configuration's storage.url")
    p.add_argument("--account", help="account (default: daemon.account)")
    p.add_argument("--from", dest="first", metavar="DAY", help="first trading day, YYYY-MM-DD")
    p.add_argument("--to", dest="last", metavar="DAY", help="last trading day, YYYY-MM-DD")
    p.add_argument("--out", default="./var/report", help="directory for the files")
    p.add_argument("--title", default="", help="title shown on the report")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Build the report; exit 2 on bad arguments, 3 when the database cannot be read."""
    for day in (args.first, args.last):
        if day:
            try:
                dt.date.fromisoformat(day)
            except ValueError:
                print(f"--from/--to: {day!r} is not a date (YYYY-MM-DD)", file=sys.stderr)
                return ExitCode.CONFIG_ERROR
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    code: int = anyio.run(_report, settings, args)
    return code


async def _report(settings: Settings, args: argparse.Namespace) -> int:
    from config.sections.storage import StorageSettings
    from daemon.reports import compute, load_report_data, write_report
    from storage import Database, StorageError
    from storage.migrate import schema_status

    storage = settings.storage
    if args.db:
        try:
            storage = StorageSettings(url=args.db)
        except (ValueError, TypeError) as exc:
            print(f"--db: {exc}", file=sys.stderr)
            return ExitCode.CONFIG_ERROR
    db = Database.open(storage)
    try:
        try:
            status = await schema_status(db)
            if not status.current:
                print(
                    f"{db.display_url}: no tradingd tables (nothing recorded yet?)",
                    file=sys.stderr,
                )
                return ExitCode.STARTUP_FAILED
            data = await load_report_data(
                db,
                args.account or settings.daemon.account,
                timezone=settings.daemon.timezone,
                initial_cash=settings.broker.initial_cash,
                first_day=args.first or "",
                last_day=args.last or "",
                title=args.title,
            )
        except StorageError as exc:
            print(f"cannot read {db.display_url}: {exc}", file=sys.stderr)
            return ExitCode.STARTUP_FAILED
    finally:
        await db.dispose()
    rep = compute(data)
    files = write_report(rep, Path(args.out))
    print(files.text, end="")
    print(f"\nwritten: {files.html}" + "".join(f", {p}" for p in files.charts))
    if files.note:
        print(files.note)
    return ExitCode.OK
