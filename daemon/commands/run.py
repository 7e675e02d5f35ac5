"""``tradingd run`` and ``tradingd check-config``."""

from __future__ import annotations

import argparse
import sys
from functools import partial

import anyio

from config import ConfigError, Settings, load_settings
from daemon.exitcodes import ExitCode
from daemon.logs import setup_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``check-config`` to the ``tradingd`` parser."""
    p = sub.add_parser("run", help="run the daemon in the foreground (systemd runs this)")
    p.add_argument("--config", "-c", required=True, help="TOML configuration file")
    p.set_defaults(handler=cmd_run)

    c = sub.add_parser("check-config", help="validate a configuration file and exit")
    c.add_argument("file", help="TOML configuration file")
    c.set_defaults(handler=cmd_check_config)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Validate ``args.file``; print every error and exit 2 if it is invalid."""
    try:
        load_settings(args.file)
    except ConfigError as exc:
        print(f"{args.file}: invalid", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    print(f"{args.file}: ok")
    return ExitCode.OK


def cmd_run(args: argparse.Namespace) -> int:
    """Load the configuration and run the daemon on uvloop until stopped."""
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    setup_logging(settings.daemon.log_level, settings.daemon.log_format)
    return anyio.run(
        partial(_run, settings, args.config),
        backend="asyncio",
        backend_options={"use_uvloop": True},
    )


async def _run(settings: Settings, config_path: str) -> int:
    from daemon.runtime import Daemon
    from daemon.sdnotify import SdNotifier

    daemon = Daemon(
        settings,
        reload_loader=partial(load_settings, config_path),
        serve_control=True,
        notifier=SdNotifier.from_env(),
        tune_gc=True,
    )
    return int(await daemon.run())
