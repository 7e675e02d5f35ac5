"""The seven alert handlers: each turns some events into alert drafts.

A handler is a small object with the event ``types`` it reads and a ``handle`` method
returning zero or more :class:`AlertDraft`. Drafts carry a ``subject`` — what the alert
is about (an actor, a symbol, an order) — so that the bridge can recognise repeats of
"the same alert" (code and subject) and throttle them. Handlers keep only small, bounded
state (which services are down, which actors crashed) and never raise on odd input.

Codes, severities and payloads are listed in docs/actors/alert_bridge.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from daemon.messages import (
    ActorState,
    ActorStatus,
    BrokerStatus,
    ExecutionRecord,
    Fill,
    KillSwitchEvent,
    OrderPurpose,
    OrderStatus,
    OrderUpdate,
    ReconciliationReport,
    RiskDecision,
    ServiceStatus,
    Severity,
    TradeClosed,
    TradingModeChanged,
)

LOSS_LIMIT_TRIGGERS = {"daily_loss": "daily_loss_limit", "circuit_breaker": "circuit_breaker"}
"""Kill-switch triggers (and risk checks) that mean a loss limit, and their alert codes."""


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert before throttling: what it says and what it is about."""

    severity: Severity
    code: str
    text: str
    subject: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class Handler(Protocol):
    """Turns events of ``types`` into alert drafts."""

    types: ClassVar[tuple[type[Any], ...]]

    def handle(self, event: Any) -> Iterable[AlertDraft]:
        """The alerts ``event`` calls for (often none)."""
        ...


def _qty(q: Decimal) -> str:
    return format(q.normalize(), "f") if q == q.to_integral() else format(q, "f")


def _signed(v: Decimal) -> str:
    return f"+{v}" if v > 0 else str(v)


class TradeExecuted:
    """1. A fill: something was bought or sold."""

    types: ClassVar[tuple[type[Any], ...]] = (Fill,)

    def handle(self, event: Fill) -> Iterable[AlertDraft]:
        """One info alert per fill."""
        purpose = "" if event.purpose is OrderPurpose.ENTRY else f" ({event.purpose})"
        yield AlertDraft(
            Severity.INFO,
            "trade_executed",
            f"{event.side.upper()} {_qty(event.qty)} {event.symbol} @ {event.price}{purpose}",
            subject=event.fill_id,
            payload={
                "symbol": event.symbol,
                "side": str(event.side),
                "qty": str(event.qty),
                "price": str(event.price),
                "commission": str(event.commission),
                "purpose": str(event.purpose),
                "client_order_id": event.client_order_id,
                "correlation_id": event.correlation_id,
            },
        )


class PositionClosed:
    """2. A round trip finished, with its P&L."""

    types: ClassVar[tuple[type[Any], ...]] = (TradeClosed,)

    def handle(self, event: TradeClosed) -> Iterable[AlertDraft]:
        """One info alert per closed trade."""
        direction = "long" if event.side == "buy" else "short"
        why = f", {event.exit_reason}" if event.exit_reason else ""
        yield AlertDraft(
            Severity.INFO,
            "position_closed",
            f"closed {direction} {_qty(event.qty)} {event.symbol} "
            f"{event.entry_price} -> {event.exit_price}: P&L {_signed(event.pnl)} "
            f"(fees {event.fees}){why}",
            subject=event.trade_id,
            payload={
                "symbol": event.symbol,
                "side": str(event.side),
                "qty": str(event.qty),
                "entry_price": str(event.entry_price),
                "exit_price": str(event.exit_price),
                "pnl": str(event.pnl),
                "fees": str(event.fees),
                "exit_reason": event.exit_reason,
                "source": event.source,
                "trade_id": event.trade_id,
                "correlation_id": event.correlation_id,
            },
        )


class OrderProblems:
    """3. An order rejected or in an unknown state, or a fill that looks wrong."""

    types: ClassVar[tuple[type[Any], ...]] = (OrderUpdate, ExecutionRecord)

    def handle(self, event: OrderUpdate | ExecutionRecord) -> Iterable[AlertDraft]:
        """Rejections (worse for exits), unknown outcomes, and fill problems."""
        if isinstance(event, ExecutionRecord):
            if event.problems:
                yield AlertDraft(
                    Severity.WARNING,
                    "fill_problem",
                    f"order {event.client_order_id} {event.side} {event.symbol}: "
                    + "; ".join(event.problems),
                    subject=event.client_order_id,
                    payload={
                        "client_order_id": event.client_order_id,
                        "correlation_id": event.correlation_id,
                        "symbol": event.symbol,
                        "status": str(event.status),
                        "problems": list(event.problems),
                        "slippage_bps": event.slippage_bps,
                    },
                )
            return
        payload = {
            "client_order_id": event.client_order_id,
            "correlation_id": event.correlation_id,
            "symbol": event.symbol,
            "side": str(event.side),
            "qty": str(event.qty),
            "purpose": str(event.purpose),
            "reason": event.reason,
        }
        what = f"{event.purpose} order {event.client_order_id} {event.side} {event.symbol}"
        if event.status is OrderStatus.REJECTED:
            # A rejected exit leaves risk on: that needs a person sooner than an entry.
            severity = Severity.WARNING if event.purpose is OrderPurpose.ENTRY else Severity.ERROR
            reason = f": {event.reason}" if event.reason else ""
            yield AlertDraft(
                severity,
                "order_rejected",
                f"{what} rejected{reason}",
                subject=event.client_order_id,
                payload=payload,
            )
        elif event.status is OrderStatus.UNKNOWN:
            yield AlertDraft(
                Severity.ERROR,
                "order_unknown",
                f"{what} in unknown state (the reconciler will resolve it)",
                subject=event.client_order_id,
                payload=payload,
            )


class KillSwitch:
    """4. The kill switch engaged or reset (and trading mode changes)."""

    types: ClassVar[tuple[type[Any], ...]] = (KillSwitchEvent, TradingModeChanged)

    def handle(self, event: KillSwitchEvent | TradingModeChanged) -> Iterable[AlertDraft]:
        """Kill engaged (critical), reset (warning), mode changed (info)."""
        if isinstance(event, TradingModeChanged):
            by = f" by {event.by}" if event.by else ""
            reason = f": {event.reason}" if event.reason else ""
            yield AlertDraft(
                Severity.INFO,
                "trading_mode_changed",
                f"trading mode {event.previous} -> {event.mode}{by}{reason}",
                subject=str(event.ts),
                payload={"mode": str(event.mode), "previous": str(event.previous), "by": event.by},
            )
            return
        payload = {
            "trigger": event.trigger,
            "reason": event.reason,
            "by": event.by,
            "flatten": event.flatten,
            "forced": event.forced,
        }
        if event.engaged and event.trigger in LOSS_LIMIT_TRIGGERS:
            return  # raised by LossLimits under its own code
        if event.engaged:
            flatten = ", flattening all positions" if event.flatten else ""
            yield AlertDraft(
                Severity.CRITICAL,
                "kill_switch_engaged",
                f"KILL SWITCH ENGAGED ({event.trigger}){flatten}: {event.reason}",
                subject=str(event.ts),
                payload=payload,
            )
        else:
            by = f" by {event.by}" if event.by else ""
            forced = " (forced)" if event.forced else ""
            yield AlertDraft(
                Severity.WARNING,
                "kill_switch_reset",
                f"kill switch reset{by}{forced}: {event.reason}",
                subject=str(event.ts),
                payload=payload,
            )


class LossLimits:
    """5. The daily loss limit or the circuit breaker stopped entries or engaged the kill."""

    types: ClassVar[tuple[type[Any], ...]] = (KillSwitchEvent, RiskDecision)

    def handle(self, event: KillSwitchEvent | RiskDecision) -> Iterable[AlertDraft]:
        """Critical when the kill switch engaged; a warning when the risk gate refused."""
        if isinstance(event, KillSwitchEvent):
            code = LOSS_LIMIT_TRIGGERS.get(event.trigger)
            if event.engaged and code is not None:
                flatten = ", flattening all positions" if event.flatten else ""
                yield AlertDraft(
                    Severity.CRITICAL,
                    code,
                    f"KILL SWITCH ENGAGED by the {event.trigger.replace('_', ' ')}"
                    f"{flatten}: {event.reason}",
                    subject=str(event.ts),
                    payload={"trigger": event.trigger, "reason": event.reason, "kill": True},
                )
            return
        if event.approved:
            return
        for check in event.failed:
            code = LOSS_LIMIT_TRIGGERS.get(check.name)
            if code is None:
                continue
            detail = f": {check.detail}" if check.detail else ""
            yield AlertDraft(
                Severity.WARNING,
                code,
                f"entries refused by the {check.name.replace('_', ' ')} check "
                f"(value {check.value:g}, limit {check.limit:g}){detail}",
                subject="risk",
                payload={
                    "check": check.name,
                    "value": check.value,
                    "limit": check.limit,
                    "symbol": event.symbol,
                    "correlation_id": event.correlation_id,
                    "kill": False,
                },
            )


class ReconciliationMismatch:
    """6. Our books and the broker's disagree."""

    types: ClassVar[tuple[type[Any], ...]] = (ReconciliationReport,)

    def handle(self, event: ReconciliationReport) -> Iterable[AlertDraft]:
        """One alert per run with discrepancies; critical when it engaged the kill."""
        if not event.discrepancies:
            return
        shown = "; ".join(
            f"{d.kind} {d.symbol or d.client_order_id}".strip()
            + (f" {d.before} -> {d.after}" if d.before or d.after else "")
            + (f" ({d.action})" if d.action else "")
            for d in event.discrepancies[:5]
        )
        more = len(event.discrepancies) - 5
        if more > 0:
            shown += f"; and {more} more"
        kill = ", kill switch engaged" if event.kill_engaged else ""
        yield AlertDraft(
            Severity.CRITICAL if event.kill_engaged else Severity.WARNING,
            "reconciliation_mismatch",
            f"reconciliation {event.run_id} ({event.trigger}) found "
            f"{len(event.discrepancies)} discrepancies{kill}: {shown}",
            subject=event.run_id,
            payload={
                "run_id": event.run_id,
                "trigger": event.trigger,
                "kill_engaged": event.kill_engaged,
                "discrepancies": [
                    {"kind": d.kind, "symbol": d.symbol, "client_order_id": d.client_order_id,
                     "before": d.before, "after": d.after, "notional": d.notional,
                     "action": d.action}
                    for d in event.discrepancies
                ],
            },
        )  # fmt: skip


_SERVICE_WORDS = {
    "market_data": (
        "market_data_stale",
        "market_data_resumed",
        Severity.WARNING,
        "market data stale",
        "market data flowing again",
    )
}
"""Codes, severity and wording for services that are not "down" but quiet."""


class Health:
    """7. Actors crashing, disabled or escalating; Redis, storage, feed or broker outages.

    A service (``redis``, ``storage``...) may be reported by several reporters; it is
    down from the first one reporting it unhealthy, and restored when all of them are
    healthy again, so one outage makes one alert and one recovery.
    """

    types: ClassVar[tuple[type[Any], ...]] = (ActorStatus, ServiceStatus, BrokerStatus)

    def __init__(self) -> None:
        self._down: dict[str, set[str]] = {}
        self._crashed: set[str] = set()
        self._brokers_down: set[str] = set()

    def handle(self, event: ActorStatus | ServiceStatus | BrokerStatus) -> Iterable[AlertDraft]:
        """Alerts on transitions only."""
        if isinstance(event, ActorStatus):
            yield from self._actor(event)
        elif isinstance(event, ServiceStatus):
            yield from self._service(event)
        else:
            yield from self._broker(event)

    def _actor(self, event: ActorStatus) -> Iterable[AlertDraft]:
        kind = "core" if event.core else "optional"
        payload = {
            "actor": event.actor,
            "core": event.core,
            "state": str(event.state),
            "restarts": event.restarts,
            "error": event.error,
        }
        match event.state:
            case ActorState.CRASHED:
                self._crashed.add(event.actor)
                yield AlertDraft(
                    Severity.ERROR if event.core else Severity.WARNING,
                    "actor_crashed",
                    f"{kind} actor {event.actor} crashed (restarts so far: {event.restarts}): "
                    f"{event.error}",
                    subject=event.actor,
                    payload=payload,
                )
            case ActorState.DISABLED:
                self._crashed.discard(event.actor)
                yield AlertDraft(
                    Severity.ERROR,
                    "actor_disabled",
                    f"optional actor {event.actor} disabled after repeated crashes; "
                    f"trading goes on without it: {event.error}",
                    subject=event.actor,
                    payload=payload,
                )
            case ActorState.FAILED:
                self._crashed.discard(event.actor)
                yield AlertDraft(
                    Severity.CRITICAL,
                    "actor_escalated",
                    f"core actor {event.actor} failed past its restart intensity; "
                    f"the daemon is stopping: {event.error}",
                    subject=event.actor,
                    payload=payload,
                )
            case ActorState.RUNNING if event.actor in self._crashed:
                self._crashed.discard(event.actor)
                yield AlertDraft(
                    Severity.INFO,
                    "actor_recovered",
                    f"{kind} actor {event.actor} running again after {event.restarts} restart(s)",
                    subject=event.actor,
                    payload=payload,
                )
            case _:
                return

    def _service(self, event: ServiceStatus) -> Iterable[AlertDraft]:
        name = event.service
        down_code, up_code, severity, down_text, up_text = _SERVICE_WORDS.get(
            name,
            (
                f"{name}_down",
                f"{name}_restored",
                Severity.ERROR,
                f"{name} unavailable",
                f"{name} available again",
            ),
        )
        reporters = self._down.setdefault(name, set())
        was_down = bool(reporters)
        payload = {"service": name, "reporter": event.reporter, "detail": event.detail}
        if not event.healthy:
            reporters.add(event.reporter)
            if not was_down:
                yield AlertDraft(
                    severity,
                    down_code,
                    f"{down_text} ({event.reporter}): {event.detail}".rstrip(": "),
                    subject=name,
                    payload=payload,
                )
            return
        reporters.discard(event.reporter)
        if was_down and not reporters:
            del self._down[name]
            yield AlertDraft(Severity.INFO, up_code, up_text, subject=name, payload=payload)

    def _broker(self, event: BrokerStatus) -> Iterable[AlertDraft]:
        payload = {"broker": event.broker, "detail": event.detail}
        if not event.connected and event.broker not in self._brokers_down:
            self._brokers_down.add(event.broker)
            yield AlertDraft(
                Severity.ERROR,
                "broker_disconnected",
                f"broker {event.broker} disconnected: {event.detail}".rstrip(": "),
                subject=event.broker,
                payload=payload,
            )
        elif event.connected and event.broker in self._brokers_down:
            self._brokers_down.discard(event.broker)
            yield AlertDraft(
                Severity.INFO,
                "broker_reconnected",
                f"broker {event.broker} connected again",
                subject=event.broker,
                payload=payload,
            )


def default_handlers() -> list[Handler]:
    """The seven handlers, in the order they see each event."""
    return [
        TradeExecuted(),
        PositionClosed(),
        OrderProblems(),
        KillSwitch(),
        LossLimits(),
        ReconciliationMismatch(),
        Health(),
    ]
