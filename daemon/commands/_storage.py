"""Shared plumbing of the storage tools (``db``, ``audit``, ``trace``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable

import anyio

from config import ConfigError, Settings, load_settings
from daemon.exitcodes import ExitCode
from storage import Database, StorageError


def add_config_argument(p: argparse.ArgumentParser) -> None:
    """The ``--config FILE`` every storage tool takes."""
    p.add_argument("--config", "-c", required=True, help="TOML configuration file")


def run_with_database(
    args: argparse.Namespace, body: Callable[[Settings, Database], Awaitable[int]]
) -> int:
    """Load ``args.config``, open its database, run ``body``; map errors to exit codes.

    A bad configuration exits 2; a database that cannot be reached or used exits 3 with
    the reason on stderr.
    """
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG_ERROR

    async def main() -> int:
        db = Database.open(settings.storage)
        try:
            return await body(settings, db)
        finally:
            await db.dispose()

    try:
        return anyio.run(main)
    except StorageError as exc:
        print(f"tradingd: {exc}", file=sys.stderr)
        return ExitCode.STARTUP_FAILED
