"""``tradingctl``: drive a running tradingd over its admin socket.

Tables for people, ``--json`` for scripts, and exit codes scripts can rely on
(:class:`~daemon.control._client.CtlExit`, listed in docs/control.md). ``kill``,
``flatten`` and ``close`` ask for confirmation unless ``--yes``; without a terminal
they refuse rather than prompt.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console

from daemon.control._client import ClientError, ControlClient, CtlExit
from daemon.control._render import render_result

DEFAULT_SOCKETS = ("/run/tradingd/tradingd.sock", "./var/run/tradingd.sock")
"""Tried in order when neither --socket, $TRADINGCTL_SOCKET nor --config names one."""

CONFIRM = ("kill", "flatten", "close")

ArgsBuilder = Callable[[argparse.Namespace], dict[str, Any]]


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Accepted before and after the command; the sub-parser copy must not reset a value
    # given before the command, hence SUPPRESS defaults there.
    d: Any = None if top else argparse.SUPPRESS
    parser.add_argument("-s", "--socket", default=d, help="admin socket path")
    parser.add_argument(
        "-c", "--config", default=d, help="read the socket path from this tradingd configuration"
    )
    parser.add_argument(
        "--json", action="store_true", default=False if top else d, help="print JSON results"
    )
    parser.add_argument(
        "--timeout", type=float, default=35.0 if top else d, help="seconds to wait for an answer"
    )
    parser.add_argument(
        "-y", "--yes", action="store_true", default=False if top else d,
        help="do not ask for confirmation (kill, flatten, close)",
    )  # fmt: skip


REASON_REQUIRED = ("kill", "reset-kill")


def _reason(p: argparse.ArgumentParser, *, positional: bool = False) -> None:
    p.add_argument("-r", "--reason", default="", help="why (audited)")
    if positional:
        p.add_argument("words", nargs="*", metavar="REASON", help="why (audited)")


def _reason_of(a: argparse.Namespace) -> str:
    return str(a.reason or " ".join(getattr(a, "words", None) or ()))


def build_parser() -> argparse.ArgumentParser:
    """The ``tradingctl`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="tradingctl",
        description="Control a running tradingd through its admin socket.",
        epilog="Exit codes: 0 ok, 1 failed, 2 usage, 3 not running, 4 no access, "
        "5 no definite answer, 6 unavailable, 7 aborted. See docs/control.md.",
    )
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND", required=True)
    builders: dict[str, ArgsBuilder] = {}

    def add(name: str, help_: str, build: ArgsBuilder | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p, top=False)
        builders[name] = build or (lambda a: {})
        return p

    add("status", "daemon state, trading mode, kill switch, actors, positions, orders, P&L")
    add("version", "daemon and protocol versions")
    add("metrics", "Prometheus metrics, text exposition format (for promtool or a textfile)")
    add("help", "commands the daemon serves")
    for name, text in (
        ("start", "start trading"),
        ("stop", "stop trading: no new entries, cancel working entries, keep exits"),
        ("pause", "pause entries (reduce-only)"),
        ("resume", "resume after a pause"),
    ):
        _reason(add(name, text, lambda a: {"reason": _reason_of(a)}), positional=True)
    p = add(
        "kill",
        "engage the kill switch (REASON required)",
        lambda a: {"reason": _reason_of(a), "flatten": a.flatten},
    )
    _reason(p, positional=True)
    p.add_argument("--flatten", action="store_true", help="also close every position")
    p = add(
        "reset-kill",
        "release the kill switch (REASON required)",
        lambda a: {"reason": _reason_of(a), "force": a.force},
    )
    _reason(p, positional=True)
    p.add_argument("--force", action="store_true", help="override conditions that still hold")
    p = add(
        "flatten",
        "close every position (or one symbol's)",
        lambda a: {"symbol": a.symbol, "reason": a.reason},
    )
    p.add_argument("symbol", nargs="?", default="all", help="SYMBOL or all (default)")
    _reason(p)
    p = add(
        "close", "close one symbol's position", lambda a: {"symbol": a.symbol, "reason": a.reason}
    )
    p.add_argument("symbol")
    _reason(p)
    add("account", "cash, equity and buying power")
    for name, what in (("positions", "open positions"), ("orders", "working orders")):
        p = add(name, f"{what} in the daemon's books", _query_args)
        p.add_argument("symbol", nargs="?", default="")
        p.add_argument("--broker", action="store_true", help="the broker's view instead")
    p = add(
        "cancel",
        "cancel one order by client order id, or all",
        lambda a: {
            "order": a.order,
            "symbol": a.symbol,
            "entries_only": a.entries_only,
            "reason": a.reason,
        },
    )
    p.add_argument("order", help="client order id, or all")
    p.add_argument("--symbol", default="", help="with all: only this symbol's orders")
    p.add_argument("--entries-only", action="store_true", help="with all: keep exit orders")
    _reason(p)
    add("reconcile", "reconcile our books with the broker's now")
    add("reload", "re-read the configuration file")
    p = add("signal", "submit a manual signal through the normal pipeline", _signal_args)
    p.add_argument("symbol")
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("--conviction", type=int, default=50)
    p.add_argument("--trade-type", choices=("swing", "intraday"), default="swing")
    p.add_argument("--entry", type=float, default=None, help="entry price hint")
    p.add_argument("--stop", type=float, default=None, help="stop price hint")
    p.add_argument("--target", type=float, default=None, help="target price hint")
    p.add_argument("--exit", action="store_true", help="an exit signal")
    p.add_argument("--note", default="")
    p.add_argument("--id", default="", help="signal id (default: made by the daemon)")
    p.add_argument("--source", default="operator")
    p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the verdict")
    p = add(
        "watch",
        "stream events as JSON lines (Ctrl-C to stop)",
        lambda a: {"types": a.type or [], "max_events": a.count},
    )
    p.add_argument("-t", "--type", action="append", help="only this event type (repeatable)")
    p.add_argument("-n", "--count", type=int, default=0, help="stop after this many events")
    p.add_argument(
        "--redis",
        action="store_true",
        help="watch the events the daemon publishes on Redis instead of the socket "
        "(needs only Redis access; settings from --config / TRADINGD_ variables)",
    )
    p.add_argument("--redis-url", default="", help="with --redis: override redis.url")
    p.add_argument(
        "--pattern", default="*", help="with --redis: event kinds to watch (glob, e.g. 'order_*')"
    )
    p.add_argument("--raw", action="store_true", help="with --redis: full JSON envelopes")
    parser.set_defaults(builders=builders)
    return parser


def _query_args(a: argparse.Namespace) -> dict[str, Any]:
    # ``broker`` is sent only when asked for: a daemon of an older protocol build does
    # not know the field and would refuse it.
    out: dict[str, Any] = {"symbol": a.symbol}
    if a.broker:
        out["broker"] = True
    return out


def _signal_args(a: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "symbol": a.symbol,
        "side": a.side,
        "conviction": a.conviction,
        "trade_type": a.trade_type,
        "is_exit": a.exit,
        "note": a.note,
        "signal_id": a.id,
        "source": a.source,
        "wait_s": a.wait,
    }
    for key, value in (
        ("entry_price", a.entry),
        ("stop_price", a.stop),
        ("target_price", a.target),
    ):
        if value is not None:
            out[key] = value
    return out


def socket_path(args: argparse.Namespace) -> str:
    """Where to connect: --socket, $TRADINGCTL_SOCKET, --config's daemon.socket_path, defaults."""
    if args.socket:
        return str(args.socket)
    env = os.environ.get("TRADINGCTL_SOCKET") or os.environ.get("TRADINGD_DAEMON__SOCKET_PATH")
    if env:
        return env
    if args.config:
        from config import load_settings

        return load_settings(args.config).daemon.socket_path
    for candidate in DEFAULT_SOCKETS:
        if Path(candidate).exists():
            return candidate
    return DEFAULT_SOCKETS[0]


def _confirm(cmd: str, payload: dict[str, Any]) -> bool:
    symbol = str(payload.get("symbol") or "all")
    if cmd == "kill":
        what = "Engage the kill switch" + (
            " and close EVERY position" if payload.get("flatten") else ""
        )
    elif cmd == "flatten" and symbol.lower() == "all":
        what = "Close EVERY position at market"
    else:
        what = f"Close the position in {symbol} at market"
    sys.stderr.write(f"{what}? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _print_json(obj: Any) -> None:
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")
    sys.stdout.flush()


def _watch(client: ControlClient, payload: dict[str, Any], as_json: bool) -> int:
    events = client.stream("watch", payload)
    try:
        for event in events:
            _print_json(event)
    except KeyboardInterrupt:
        client.stop_stream()
        for _ in events:
            pass  # drain what was in flight until the final response
    summary = client.last_result or {}
    if as_json:
        return CtlExit.OK
    sys.stderr.write(
        f"watch ended ({summary.get('ended')}): {summary.get('events')} events, "
        f"{summary.get('shed')} shed\n"
    )
    return CtlExit.OK


def _watch_redis(args: argparse.Namespace) -> int:
    import anyio

    from config import ConfigError, load_settings
    from daemon.watch import watch

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"tradingctl: watch --redis: {exc}", file=sys.stderr)
        return CtlExit.USAGE
    url = args.redis_url or settings.redis.url
    if not url:
        print(
            "tradingctl: watch --redis: no Redis configured (redis.url is empty); "
            "pass --redis-url or --config",
            file=sys.stderr,
        )
        return CtlExit.USAGE
    try:
        code: int = anyio.run(
            lambda: watch(
                url,
                settings.redis.prefix,
                settings.daemon.account,
                args.pattern,
                raw=args.raw,
                limit=args.count or None,
            )
        )
    except KeyboardInterrupt:
        return CtlExit.OK
    except Exception as exc:  # a Redis error that is not transient (auth, bad URL...)
        print(f"tradingctl: watch --redis: {exc}", file=sys.stderr)
        return CtlExit.FAILED
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tradingctl`` console script; returns a :class:`CtlExit`."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return CtlExit.OK if exc.code in (0, None) else CtlExit.USAGE
    cmd: str = args.cmd
    if cmd == "watch" and args.redis:
        return _watch_redis(args)
    payload = args.builders[cmd](args)
    if cmd in REASON_REQUIRED and not payload["reason"].strip():
        print(f"tradingctl: {cmd} needs a reason: tradingctl {cmd} REASON", file=sys.stderr)
        return CtlExit.USAGE
    try:
        path = socket_path(args)
    except Exception as exc:  # ConfigError from --config
        print(f"tradingctl: {exc}", file=sys.stderr)
        return CtlExit.USAGE
    if cmd in CONFIRM and not args.yes:
        if not sys.stdin.isatty():
            print(
                f"tradingctl: {cmd} needs confirmation and there is no terminal to ask on; "
                "pass --yes to confirm",
                file=sys.stderr,
            )
            return CtlExit.ABORTED
        if not _confirm(cmd, payload):
            print("tradingctl: aborted", file=sys.stderr)
            return CtlExit.ABORTED
    console = Console(soft_wrap=False)
    try:
        with ControlClient(path, timeout_s=args.timeout) as client:
            if cmd == "watch":
                return _watch(client, payload, args.json)
            result = client.call(cmd, payload)
    except ClientError as exc:
        if args.json:
            _print_json({"ok": False, "error": {"code": exc.code, "message": exc.message}})
        label = f"{exc.code}: " if exc.code else ""
        print(f"tradingctl: {cmd}: {label}{exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return CtlExit.ABORTED
    if cmd == "metrics" and not args.json and isinstance(result, dict):
        sys.stdout.write(str(result.get("text", "")))
        return CtlExit.OK
    if args.json:
        _print_json(result)
    else:
        render_result(console, cmd, result)
    return CtlExit.OK


if __name__ == "__main__":
    sys.exit(main())
