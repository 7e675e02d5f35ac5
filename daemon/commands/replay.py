"""``tradingd replay``: run recorded inputs through the real daemon on a simulated clock.

SOURCE is a journal (a directory of segments, or one ``.tdj`` file) or one or more
market-data files (``[SYMBOL=]PATH``: Yahoo daily CSV, NinjaTrader minutes, or any CSV
with ``--columns``) traded by a built-in signal source (``--signals``). The run prints
the digest of its decision stream and writes a report; with ``--config`` it also replays
the same inputs with that configuration and prints the A/B comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from config import ConfigError, Settings, settings_from_mapping
from config.loader import env_overrides
from daemon.exitcodes import ExitCode


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``replay`` to the ``tradingd`` parser."""
    p = sub.add_parser(
        "replay",
        help="replay a journal or market-data files through the daemon (deterministic)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", nargs="+", help="journal directory/segment, or [SYMBOL=]DATAFILE...")
    p.add_argument("--config", "-c", help="replay again with this configuration and compare (A/B)")
    p.add_argument(
        "--base",
        help="configuration of the base run (default: the journal's own, or built-in "
        "defaults for data files)",
    )
    p.add_argument("--out", default="./var/replay", help="output directory")
    p.add_argument("--speed", default="max", help="'max', or simulated seconds per real second")
    p.add_argument(
        "--signals",
        default="ema-cross:fast=10,slow=30",
        help="built-in signal source for data files (ema-cross, breakout, mean-reversion)",
    )
    p.add_argument("--columns", help="generic CSV mapping, e.g. time=Date,close=Close,volume=Vol")
    p.add_argument("--time-format", default="", help="strptime format of a text time column")
    p.add_argument("--time-unit", default="s", choices=("s", "ms", "us", "ns"))
    p.add_argument("--timezone", default="UTC", help="zone of naive text times (generic CSV)")
    p.add_argument("--interval", type=int, default=86_400, help="bar length, s (generic CSV)")
    p.add_argument("--no-header", action="store_true", help="generic CSV without a header")
    p.add_argument("--delimiter", default=",")
    p.add_argument("--resync", action="store_true", help="skip damaged journal frames")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress line")
    p.set_defaults(handler=cmd_replay)


@dataclass
class _Inputs:
    kind: str
    describe: list[str] = field(default_factory=list)
    base: Settings | None = None
    interval_s: int = 0
    source_name: str = ""
    journal: Path | None = None
    series: list[Any] = field(default_factory=list)


class _UsageError(Exception):
    pass


def cmd_replay(args: argparse.Namespace) -> int:
    """Run the replay(s); see the module docstring for the exit codes."""
    from daemon.journal import JournalError
    from daemon.replay import DataFileError, SignalSpecError

    try:
        speed = _speed(args.speed)
        inputs = _inputs(args)
        base = _base_settings(args, inputs)
        other = _config(args.config, inputs) if args.config else None
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    except (_UsageError, DataFileError, SignalSpecError, JournalError) as exc:
        print(f"tradingd replay: {exc}", file=sys.stderr)
        return ExitCode.CONFIG_ERROR
    for line in inputs.describe:
        print(line)
    code: int = anyio.run(_main, args, inputs, base, other, speed)
    return code


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise _UsageError(f"--speed: expected 'max' or a number, got {text!r}") from None
    if not v > 0:
        raise _UsageError("--speed must be positive")
    return v


def _is_journal(paths: list[str]) -> bool:
    p = Path(paths[0])
    return len(paths) == 1 and (p.is_dir() or p.suffix == ".tdj")


def _inputs(args: argparse.Namespace) -> _Inputs:
    from daemon.journal import JournalHeader, Kind, read_journal
    from daemon.replay import (
        ColumnMap,
        detect_format,
        load_generic,
        load_ninjatrader,
        load_yahoo,
        parse_signals,
        symbol_from_path,
    )

    if _is_journal(args.source):
        path = Path(args.source[0])
        if not path.exists():
            raise _UsageError(f"{path}: no such journal")
        header: JournalHeader | None = None
        for rec in read_journal(path, warn=lambda _: None, resync=True):
            if rec.kind is Kind.HEADER and isinstance(rec.event, JournalHeader):
                header = rec.event
                break
        inp = _Inputs("journal", journal=path)
        inp.describe.append(f"journal {path}")
        if header is not None and header.settings:
            try:
                inp.base = settings_from_mapping(dict(header.settings), f"{path} (header)")
            except ConfigError as exc:
                raise _UsageError(
                    f"the journal's configuration no longer loads ({exc}); pass --base FILE"
                ) from None
        return inp
    source = parse_signals(args.signals)
    inp = _Inputs("bars", source_name=source.name)
    intervals: set[int] = set()
    for spec in args.source:
        symbol, sep, raw = spec.partition("=")
        path = Path(raw if sep else spec)
        if not path.is_file():
            raise _UsageError(f"{path}: no such file")
        sym = symbol if sep else ""
        if args.columns:
            mapping = ColumnMap.parse(
                args.columns,
                time_unit=args.time_unit,
                time_format=args.time_format,
                header=not args.no_header,
                delimiter=args.delimiter,
                interval_s=args.interval,
                timezone=args.timezone,
            )
            items, rep = load_generic(path, sym or symbol_from_path(path), mapping)
        else:
            fmt = detect_format(path)
            if fmt == "yahoo":
                items, rep = load_yahoo(path, sym or symbol_from_path(path))  # type: ignore[assignment]
            elif fmt == "ninjatrader":
                items, rep = load_ninjatrader(path, sym or symbol_from_path(path))  # type: ignore[assignment]
            else:
                raise _UsageError(
                    f"{path}: not Yahoo or NinjaTrader format; describe it with --columns"
                )
        if not items:
            raise _UsageError(f"{path}: no usable rows ({rep.summary()})")
        inp.series.append(items)
        inp.describe.append(rep.summary())
        intervals |= {getattr(i, "interval_s", 0) for i in items[:1000]}
    inp.interval_s = min((i for i in intervals if i), default=86_400)
    inp.describe.append(f"signals: {source.spec} (built in)")
    return inp


def _data_defaults(inp: _Inputs) -> dict[str, Any]:
    """Keys a data-file replay sets when the configuration does not: the bar length of
    the data for every bar-driven part, and the built-in source admitted by the guard."""
    iv = inp.interval_s
    return {
        "lifecycle": {"bar_interval_s": iv},
        "risk": {"bar_interval_s": iv},
        "regime": {"bar_interval_s": iv},
        "orchestrator": {"strategy": {"bar_interval_s": iv}},
    }


def _read_raw(path: str | None) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError([f"cannot read {path}: {exc.strerror or exc}"], path) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"not valid TOML: {exc}"], path) from exc
    _merge(raw, env_overrides(os.environ), overwrite=True)
    return raw


def _merge(node: dict[str, Any], values: dict[str, Any], *, overwrite: bool) -> None:
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(node.get(k), dict):
            _merge(node[k], v, overwrite=overwrite)
        elif overwrite or k not in node:
            node[k] = v


def _config(path: str | None, inp: _Inputs) -> Settings:
    raw = _read_raw(path)
    if inp.kind == "bars":
        _merge(raw, _data_defaults(inp), overwrite=False)
        guard = raw.setdefault("guard", {})
        sources = list(guard.get("sources", []))
        if inp.source_name not in sources:
            guard["sources"] = [*sources, inp.source_name]
    return settings_from_mapping(raw, path or "<defaults>")


def _base_settings(args: argparse.Namespace, inp: _Inputs) -> Settings:
    if args.base:
        return _config(args.base, inp)
    if inp.base is not None:
        return inp.base
    if inp.kind == "journal":
        print("the journal has no configuration header; replaying with the defaults")
    return _config(None, inp)


def _steps(
    inp: _Inputs, args: argparse.Namespace, found: Any, warnings: list[str]
) -> Iterator[Any]:
    from daemon.journal import read_journal
    from daemon.replay import bar_steps, journal_steps, merge, parse_signals

    if inp.kind == "journal":
        assert inp.journal is not None
        recs = read_journal(inp.journal, warn=warnings.append, resync=args.resync)
        return journal_steps(recs, found, warnings.append)
    return bar_steps(merge(inp.series), parse_signals(args.signals))


async def _main(
    args: argparse.Namespace,
    inp: _Inputs,
    base: Settings,
    other: Settings | None,
    speed: float | None,
) -> int:
    from daemon.journal import JournalCorrupt
    from daemon.replay import JournalContents, compare, read_normalised

    out = Path(args.out)
    runs = (
        [("A", base, out / "A"), ("B", other, out / "B")]
        if other is not None
        else [("", base, out)]
    )
    results = []
    code = ExitCode.OK
    for label, settings, where in runs:
        assert settings is not None
        found = JournalContents()
        warnings: list[str] = []
        try:
            res, rep = await _one(args, inp, settings, where, label, speed, found, warnings)
        except JournalCorrupt as exc:
            print(f"\n{exc}\n(replay stopped; --resync skips damaged frames)", file=sys.stderr)
            return ExitCode.CHECK_FAILED
        for w in dict.fromkeys(warnings):
            print(f"warning: {w}", file=sys.stderr)
        results.append((res, rep))
        if inp.kind == "journal" and found.expected and label in ("", "A"):
            diffs = compare(found.expected, read_normalised(res.decisions_path))
            if diffs:
                code = ExitCode.CHECK_FAILED
                print("replay DIFFERS from the live session:")
                for d in diffs[:20]:
                    print(f"  {d}")
            else:
                kinds = _counts(found.expected)
                print(f"replay reproduced the live session's decisions ({kinds})")
    if len(results) == 2:
        from daemon.commands._ab import print_ab

        print_ab(results[0], results[1])
    return code


def _counts(decisions: list[dict[str, Any]]) -> str:
    from daemon.replay import outcomes

    n = {k: sum(1 for d in decisions if d["k"] == k) for k in ("order", "fill", "trade")}
    return (
        f"{len(outcomes(decisions))} signals, {n['order']} orders, {n['fill']} fills, "
        f"{n['trade']} trades"
    )


async def _one(
    args: argparse.Namespace,
    inp: _Inputs,
    settings: Settings,
    where: Path,
    label: str,
    speed: float | None,
    found: Any,
    warnings: list[str],
) -> tuple[Any, Any]:
    from daemon.replay import ReplayConfig, run_replay
    from daemon.reports import compute, load_report_data, write_report
    from storage import Database

    name = f"run {label}: " if label else ""
    progress = None if args.quiet else _Progress(name, settings.daemon.timezone)
    cfg = ReplayConfig(
        settings=settings,
        out_dir=where,
        speed=speed,
        label=label,
        progress=progress,
        tune_gc=True,
    )
    res = await run_replay(cfg, _steps(inp, args, found, warnings))
    if progress is not None:
        progress.done()
    print(
        f"{name}{res.market_events:,} market events, {res.signals:,} signals, "
        f"{res.commands} commands in {res.wall_s + res.stop_s:.1f} s "
        f"(final flush {res.stop_s:.1f} s; {res.events_per_s:,.0f} events/s)"
    )
    print(f"{name}decision digest {res.digest} ({res.decisions:,} decisions)")
    db = Database.open(res.settings.storage)
    try:
        data = await load_report_data(
            db,
            res.settings.daemon.account,
            timezone=res.settings.daemon.timezone,
            initial_cash=res.settings.broker.initial_cash,
            title=f"replay {label}".strip(),
        )
    finally:
        await db.dispose()
    rep = compute(data)
    files = write_report(rep, where / "report")
    print(files.text, end="")
    print(f"report: {files.html}" + "".join(f", {p}" for p in files.charts))
    if files.note:
        print(files.note)
    return res, rep


class _Progress:
    """A one-line progress display (rewritten in place on a terminal)."""

    def __init__(self, name: str, timezone: str) -> None:
        from zoneinfo import ZoneInfo

        self.name = name
        self.tz = ZoneInfo(timezone)
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, p: Any) -> None:
        import datetime as dt

        when = dt.datetime.fromtimestamp(p.ts / 1e9, self.tz).strftime("%Y-%m-%d %H:%M")
        rate = p.market_events / p.wall_s if p.wall_s > 0 else 0.0
        line = (
            f"{self.name}{when} · {p.market_events:,} market events · {p.decisions:,} "
            f"decisions · {rate:,.0f} events/s"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(90))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown and self.tty:
            sys.stderr.write("\n")
