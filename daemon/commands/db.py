"""``tradingd db``: upgrade, downgrade and inspect the database schema (Alembic)."""

from __future__ import annotations

import argparse
import sys

from config import Settings
from daemon.commands._storage import add_config_argument, run_with_database
from daemon.exitcodes import ExitCode
from storage import Database, migrate


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db upgrade|downgrade|current`` to the ``tradingd`` parser."""
    p = sub.add_parser("db", help="database schema: upgrade, downgrade, current")
    actions = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = actions.add_parser("upgrade", help="migrate the schema to this build (or REVISION)")
    add_config_argument(up)
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=cmd_upgrade)

    down = actions.add_parser(
        "downgrade", help="migrate the schema back to REVISION (base drops every table)"
    )
    down.add_argument("revision", help="target revision: an id, -1, or base")
    add_config_argument(down)
    down.add_argument(
        "--yes", action="store_true", help="confirm: a downgrade can drop tables and their rows"
    )
    down.set_defaults(handler=cmd_downgrade)

    cur = actions.add_parser(
        "current", help="show the schema revision; exits 5 unless it matches this build"
    )
    add_config_argument(cur)
    cur.set_defaults(handler=cmd_current)


def cmd_upgrade(args: argparse.Namespace) -> int:
    """Upgrade the configured database; prints where it ends up."""

    async def body(_: Settings, db: Database) -> int:
        status = await migrate.upgrade(db, args.revision)
        print(f"{db.display_url}: {status.describe()}")
        return ExitCode.OK

    return run_with_database(args, body)


def cmd_downgrade(args: argparse.Namespace) -> int:
    """Downgrade the configured database (only with ``--yes``)."""
    if not args.yes:
        print(
            "tradingd db downgrade drops tables and the records in them; "
            "repeat with --yes if that is what you want",
            file=sys.stderr,
        )
        return ExitCode.CONFIG_ERROR

    async def body(_: Settings, db: Database) -> int:
        status = await migrate.downgrade(db, args.revision)
        print(f"{db.display_url}: {status.describe()}")
        return ExitCode.OK

    return run_with_database(args, body)


def cmd_current(args: argparse.Namespace) -> int:
    """Print the schema revision and whether it matches this build."""

    async def body(_: Settings, db: Database) -> int:
        status = await migrate.schema_status(db)
        print(f"{db.display_url}: {status.describe()}")
        return ExitCode.OK if status.up_to_date else ExitCode.CHECK_FAILED

    return run_with_database(args, body)
