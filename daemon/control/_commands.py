"""The command catalogue: every command the protocol defines, its arguments and its owner.

A :class:`CommandSpec` says what a command is; a handler registered in the
:class:`~daemon.control.ControlRegistry` says how it is served. A command whose
handler is missing is answered ``unavailable``, naming its ``provider``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from daemon.control._protocol import CommandError, ErrorCode
from daemon.messages import Side, TradeType

Reason = Annotated[str, msgspec.Meta(max_length=500)]
RequiredReason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
SymbolArg = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
OptionalSymbol = Annotated[str, msgspec.Meta(max_length=32)]


class Args(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every command's arguments: unknown keys are errors."""


class NoArgs(Args, frozen=True, kw_only=True):
    """A command without arguments."""


class ReasonArgs(Args, frozen=True, kw_only=True):
    """Trading-mode commands (start, stop, pause, resume): an optional reason."""

    reason: Reason = ""


class KillArgs(Args, frozen=True, kw_only=True):
    """``kill``: engage the kill switch; ``flatten`` also closes every position."""

    reason: RequiredReason
    flatten: bool = False


class ResetKillArgs(Args, frozen=True, kw_only=True):
    """``reset-kill``: release the kill switch; ``force`` overrides safety preconditions."""

    reason: RequiredReason
    force: bool = False


class FlattenArgs(Args, frozen=True, kw_only=True):
    """``flatten``: close every position (``symbol`` empty or ``all``) or one symbol's."""

    symbol: OptionalSymbol = ""
    reason: Reason = ""


class CloseArgs(Args, frozen=True, kw_only=True):
    """``close``: close one symbol's position."""

    symbol: SymbolArg
    reason: Reason = ""


class CancelArgs(Args, frozen=True, kw_only=True):
    """``cancel``: one order by client order id, or ``all`` (optionally one symbol's)."""

    order: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    symbol: OptionalSymbol = ""
    entries_only: bool = False
    reason: Reason = ""


class QueryArgs(Args, frozen=True, kw_only=True):
    """``positions`` / ``orders``: optionally one symbol only."""

    symbol: OptionalSymbol = ""
    broker: bool = False
    """The broker's own view instead of the daemon's books."""


class SignalArgs(Args, frozen=True, kw_only=True):
    """``signal``: a manual signal, submitted through the normal pipeline."""

    symbol: SymbolArg
    side: Side
    conviction: Annotated[int, msgspec.Meta(ge=0, le=100)] = 50
    trade_type: TradeType = TradeType.SWING
    entry_price: Annotated[float, msgspec.Meta(gt=0)] | None = None
    stop_price: Annotated[float, msgspec.Meta(gt=0)] | None = None
    target_price: Annotated[float, msgspec.Meta(gt=0)] | None = None
    is_exit: bool = False
    note: Annotated[str, msgspec.Meta(max_length=500)] = ""
    signal_id: Annotated[str, msgspec.Meta(max_length=128)] = ""
    """Empty: one is made from the clock and the operator's uid."""
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "operator"
    wait_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 5.0
    """How long to wait for the signal guard's verdict (0: answer once submitted)."""


class WatchArgs(Args, frozen=True, kw_only=True):
    """``watch``: stream events, optionally only some types, optionally only ``max_events``."""

    types: list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]] = []
    max_events: Annotated[int, msgspec.Meta(ge=0)] = 0
    """0: until the client stops reading or the daemon stops."""


@dataclass(frozen=True, kw_only=True)
class CommandSpec:
    """What a command is: its name, arguments, whether it changes state, who serves it."""

    name: str
    summary: str
    args: type[Args] = NoArgs
    mutating: bool = False
    """State-changing: audited with the peer's uid (a ControlCommand event)."""
    streaming: bool = False
    provider: str = "the daemon runtime"
    """Who serves it; named in the ``unavailable`` error when nobody does."""

    def parse_args(self, raw: dict[str, Any]) -> Args:
        """Validate ``raw`` into this command's arguments or raise ``bad_args``."""
        try:
            return msgspec.convert(raw, self.args, strict=True)
        except msgspec.ValidationError as exc:
            raise CommandError(ErrorCode.BAD_ARGS, f"{self.name}: {exc}") from None


SAFETY = "the safety state (daemon/safety)"
ORCHESTRATOR = "the orchestrator actor"
BROKER = "the broker actor (the broker's own view of orders, positions and account)"
BOOKS = "the orchestrator actor's books (the broker actor with broker=true)"
LIFECYCLE = "the lifecycle monitor actor"
GUARD = "the signal guard actor"
RECONCILER = "the reconciler actor"

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(name="help", summary="list the commands this daemon knows and which are served"),
    CommandSpec(name="version", summary="daemon and protocol versions"),
    CommandSpec(
        name="status",
        summary="state, mode, kill switch, actors, positions, orders, P&L, uptime, version",
    ),
    CommandSpec(
        name="start",
        summary="start trading (mode running)",
        args=ReasonArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="stop",
        summary="stop trading: no new entries, cancel working entry orders, keep exits",
        args=ReasonArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="pause",
        summary="pause entries (reduce-only)",
        args=ReasonArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="resume",
        summary="resume from pause",
        args=ReasonArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="kill",
        summary="engage the kill switch (optionally flatten everything)",
        args=KillArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="reset-kill",
        summary="release the kill switch",
        args=ResetKillArgs,
        mutating=True,
        provider=SAFETY,
    ),
    CommandSpec(
        name="flatten",
        summary="close every position, or one symbol's",
        args=FlattenArgs,
        mutating=True,
        provider=LIFECYCLE,
    ),
    CommandSpec(
        name="close",
        summary="close one symbol's position",
        args=CloseArgs,
        mutating=True,
        provider=LIFECYCLE,
    ),
    CommandSpec(
        name="positions",
        summary="open positions in the daemon's books (or the broker's)",
        args=QueryArgs,
        provider=BOOKS,
    ),
    CommandSpec(
        name="orders",
        summary="working orders in the daemon's books (or the broker's)",
        args=QueryArgs,
        provider=BOOKS,
    ),
    CommandSpec(name="account", summary="cash, equity and buying power", provider=BROKER),
    CommandSpec(
        name="cancel",
        summary="cancel one order, or all",
        args=CancelArgs,
        mutating=True,
        provider=ORCHESTRATOR,
    ),
    CommandSpec(
        name="reconcile",
        summary="reconcile our books with the broker's now",
        mutating=True,
        provider=RECONCILER,
    ),
    CommandSpec(name="reload", summary="re-read the configuration file", mutating=True),
    CommandSpec(
        name="signal",
        summary="submit a manual signal through the normal pipeline",
        args=SignalArgs,
        mutating=True,
        provider=GUARD,
    ),
    CommandSpec(
        name="watch", summary="stream events as JSON lines", args=WatchArgs, streaming=True
    ),
)
"""Every command of protocol version 1."""
