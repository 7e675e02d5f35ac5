"""Signals from strategies, the guard's verdicts, regime and fusion records."""

from __future__ import annotations

from typing import Annotated

import msgspec

from daemon.messages._base import Message, Nanos, Regime, Side, Symbol, TradeType


class Signal(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """A trade idea from a strategy: what to trade, which way, and how sure it is.

    Prices are hints in the instrument's quote currency (floats, see ``_base``); the
    orchestrator turns them into an order. ``signal_id`` must be unique per source;
    it seeds the correlation id and the client order id, so re-delivery is harmless.
    """

    signal_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    symbol: Symbol
    side: Side
    trade_type: TradeType = TradeType.SWING
    conviction: Annotated[int, msgspec.Meta(ge=0, le=100)] = 50
    entry_price: float | None = None
    stop_price: float | None = None
    target_price: float | None = None
    created_ns: Nanos
    received_ns: Nanos = 0
    is_exit: bool = False
    note: str = ""


class SignalVerdict(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """The signal guard's decision on one signal; rejections carry a reason code."""

    signal: Signal
    accepted: bool
    reason: str = ""
    detail: str = ""
    ts: Nanos
    stage: str = "guard"
    """Who decided: ``guard``, or the orchestrator stage that turned an accepted signal down."""
    correlation_id: str = ""
    """Set once the orchestrator has assigned one (its verdicts), empty for the guard's."""


class SignalRejected(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """An inbound payload that could not even be decoded into a ``Signal``.

    ``raw`` keeps the original bytes (as text, replacement-decoded) for the dead letter.
    """

    origin: str
    error: str
    raw: str
    ts: Nanos


class SignalRecord(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """First link of the audit chain: an accepted signal under its correlation id."""

    correlation_id: str
    signal: Signal
    ts: Nanos


class FusionComponent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One signal's contribution to a fused decision."""

    signal_id: str
    source: str
    side: Side
    conviction: int
    weight: float
    age_s: float


class FusionRecord(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Second link of the audit chain: how recent signals on a symbol were combined."""

    correlation_id: str
    symbol: Symbol
    side: Side
    conviction: float
    components: tuple[FusionComponent, ...] = ()
    regime: Regime = Regime.SIDEWAYS
    strategy: str = ""
    ts: Nanos


class RegimeUpdate(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """A change of market regime with the inputs that caused it."""

    regime: Regime
    previous: Regime | None = None
    inputs: dict[str, float] = {}
    ts: Nanos
    reason: str = ""
    """The rule that classified the confirming bar, with its values and thresholds."""


class SourceWeights(Message, frozen=True, kw_only=True, tag=True, gc=False):
    """Fusion weights and performance statistics per signal source."""

    weights: dict[str, float]
    win_rate: dict[str, float] = {}
    payoff: dict[str, float] = {}
    ts: Nanos
    sharpe: dict[str, float] = {}
    """Per-trade Sharpe ratio over each source's recent trades (the weights' basis)."""
    trades: dict[str, int] = {}
    """How many recent trades each source's statistics cover."""
