"""``tradingd audit verify``: walk the audit log's hash chain (docs/audit.md)."""

from __future__ import annotations

import argparse
import re
import sys

from config import Settings
from daemon.commands._storage import add_config_argument, run_with_database
from daemon.exitcodes import ExitCode
from storage import Database
from storage.audit import chain_accounts, verify_chain

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit verify`` to the ``tradingd`` parser."""
    p = sub.add_parser("audit", help="the audit log: verify its hash chain")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = actions.add_parser("verify", help="verify the hash chain; exits 5 at the first broken link")
    add_config_argument(v)
    who = v.add_mutually_exclusive_group()
    who.add_argument("--account", help="account to verify (default: daemon.account)")
    who.add_argument("--all", action="store_true", help="verify every account in the database")
    v.add_argument(
        "--anchor",
        help="SEQ:HASH recorded earlier (e.g. from the log); the chain must still contain it",
    )
    v.set_defaults(handler=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify one account's chain (or all); print a line per account."""
    anchor: tuple[int, str] | None = None
    if args.anchor:
        m = _ANCHOR.match(args.anchor)
        if m is None:
            print("--anchor must be SEQ:HASH (a number, a colon, 64 hex digits)", file=sys.stderr)
            return ExitCode.CONFIG_ERROR
        anchor = (int(m.group(1)), m.group(2))

    async def body(settings: Settings, db: Database) -> int:
        if args.all:
            accounts = await chain_accounts(db)
        else:
            accounts = [args.account or settings.daemon.account]
        code = ExitCode.OK
        for account in accounts:
            report = await verify_chain(db, account, anchor=anchor)
            print(report.describe(), file=sys.stdout if report.ok else sys.stderr)
            if not report.ok:
                code = ExitCode.CHECK_FAILED
        return code

    return run_with_database(args, body)
