"""``tradingd``: the daemon's command line (run, check-config, and the tools)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from config import ConfigError
from daemon.errors import StartupError
from daemon.exitcodes import ExitCode

# Subcommand modules under daemon.commands; each registers its own parsers.
COMMAND_MODULES: tuple[str, ...] = ("run", "db", "audit", "trace", "replay", "report")


def build_parser() -> argparse.ArgumentParser:
    """The ``tradingd`` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="tradingd", description="tradingd: a hardened, actor-based trading daemon."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"daemon.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tradingd`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return ExitCode.OK
    except ConfigError as exc:  # raised at start-up by components that validate more deeply
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    except StartupError as exc:
        logging.getLogger("tradingd").critical(str(exc), extra={"event": "startup_failed"})
        print(f"tradingd: not starting: {exc}", file=sys.stderr)
        return ExitCode.STARTUP_FAILED
    except Exception:
        logging.getLogger("tradingd").exception("unexpected error")
        return ExitCode.INTERNAL_ERROR
    return code


if __name__ == "__main__":
    sys.exit(main())
