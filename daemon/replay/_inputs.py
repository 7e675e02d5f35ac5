"""What a replay feeds the daemon: steps in time order, from bar files or a journal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from daemon.journal import JournalGap, JournalHeader, Kind, Record
from daemon.messages import (
    Bar,
    ControlCommand,
    KillSwitchEvent,
    SignalVerdict,
    TradingModeChanged,
)
from daemon.replay._bars import MarketItem, as_message
from daemon.replay._decisions import normalise
from daemon.replay._signals import SignalSource
from daemon.safety import EngageKill, ResetKill, SetMode

REPLAYED_COMMANDS = frozenset({"flatten", "close", "cancel"})
"""Operator commands replayed from their ControlCommand record."""
SAFETY_COMMANDS = frozenset({"start", "stop", "pause", "resume", "kill", "reset-kill"})
"""Operator commands replayed from the state change they caused (see journal_steps)."""
OPERATOR_PREFIX = "ctl:"
"""How the admin socket names the operator in the changes it causes (``ctl:uid=N``)."""


class Step(NamedTuple):
    """One input at one time: market data, a signal, an operator command, or a timer
    point (``event`` None) the replay steps time to."""

    ts: int
    kind: Kind
    event: Any


def bar_steps(groups: Iterable[list[MarketItem]], source: SignalSource | None) -> Iterator[Step]:
    """Market steps from time-grouped bars, each followed by the signals it triggers.

    The signal source sees a bar's close after the daemon has (the bar is published
    first), as a strategy listening to the same feed would.
    """
    for group in groups:
        ts = group[0].ts
        yield Step(ts, Kind.MARKET, as_message(group))
        if source is None:
            continue
        for item in group:
            if isinstance(item, Bar):
                for sig in source.on_bar(item, ts):
                    yield Step(ts, Kind.SIGNAL, sig)


@dataclass
class JournalContents:
    """What reading a journal found besides the inputs."""

    headers: list[JournalHeader] = field(default_factory=list)
    expected: list[dict[str, Any]] = field(default_factory=list)
    """The live session's normalised decisions (to compare the replay with)."""
    gaps: list[JournalGap] = field(default_factory=list)
    skipped_commands: list[str] = field(default_factory=list)
    frames: int = 0


def journal_steps(
    records: Iterable[Record], found: JournalContents, warn: Callable[[str], None]
) -> Iterator[Step]:
    """Input steps of a journal; headers, outputs and gaps go to ``found``.

    Trading-mode and kill-switch commands are replayed at the moment their change took
    effect live (the TradingModeChanged / KillSwitchEvent an operator caused), not at
    their ControlCommand record, which the admin socket writes only after answering: a
    signal handled in between saw the new state live and must see it in the replay.
    """
    for rec in records:
        found.frames += 1
        kind, ev = rec.kind, rec.event
        if kind is Kind.MARKET:
            yield Step(rec.ts, kind, ev)
        elif kind is Kind.DECISION and (req := _operator_request(ev)) is not None:
            norm = normalise(ev)
            if norm is not None:
                found.expected.append(norm)
            yield Step(rec.ts, Kind.CONTROL, req)
        elif kind is Kind.SIGNAL and isinstance(ev, SignalVerdict):
            norm = normalise(ev)
            if norm is not None:
                found.expected.append(norm)
            yield Step(rec.ts, kind, ev.signal)
        elif kind is Kind.CONTROL and isinstance(ev, ControlCommand):
            if ev.ok and ev.cmd in REPLAYED_COMMANDS:
                yield Step(rec.ts, kind, ev)
            elif ev.ok and ev.cmd == "reload":
                found.skipped_commands.append(f"reload at {rec.ts}")
                warn(
                    "the live session reloaded its configuration here; the replay keeps "
                    "running one configuration, so decisions after this point may differ"
                )
        elif kind is Kind.TIMER:
            yield Step(rec.ts, kind, None)
        elif kind in (Kind.BROKER, Kind.DECISION):
            norm = normalise(ev)
            if norm is not None:
                found.expected.append(norm)
        elif kind is Kind.HEADER and isinstance(ev, JournalHeader):
            found.headers.append(ev)
        elif kind is Kind.GAP and isinstance(ev, JournalGap):
            found.gaps.append(ev)
            warn(
                f"journal gap: {ev.dropped} frames were never written ({ev.reason}); "
                "the replay cannot reproduce what depended on them"
            )


def _operator_request(ev: object) -> SetMode | EngageKill | ResetKill | None:
    """The safety request an operator's command made, from the change it caused."""
    if isinstance(ev, TradingModeChanged) and ev.by.startswith(OPERATOR_PREFIX):
        return SetMode(mode=ev.mode, reason=ev.reason or "replayed", by=ev.by)
    if isinstance(ev, KillSwitchEvent) and ev.by.startswith(OPERATOR_PREFIX):
        if ev.engaged:
            return EngageKill(reason=ev.reason or "replayed", by=ev.by, flatten=ev.flatten)
        return ResetKill(reason=ev.reason or "replayed", by=ev.by, force=ev.forced)
    return None
