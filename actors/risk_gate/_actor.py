"""The risk gate actor: serves ``risk`` requests from an event-fed view of the account."""

from __future__ import annotations

from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from actors.risk_gate._engine import RiskEngine
from actors.risk_gate._history import MarketHistory
from actors.risk_gate._portfolio import Portfolio
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.clock import NS_PER_S
from daemon.messages import (
    AccountSnapshot,
    Alert,
    Bar,
    Fill,
    MarketBatch,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    RiskRequest,
    Severity,
    Tick,
)
from daemon.safety import SafetyGate, SafetySnapshot

_ACCOUNT_EVENTS = (PositionUpdate, AccountSnapshot, Fill, OrderUpdate)
_MARKET = (Bar, Tick, MarketBatch)


@final
class RiskGate(Actor):
    """Answers every :class:`RiskRequest` with a :class:`RiskDecision` listing each check.

    Its view of positions and equity comes from ``events`` (``PositionUpdate``,
    ``AccountSnapshot``, and ``Fill``/``OrderUpdate`` for reservations); price and
    volume history from the ``market`` topic, optionally preloaded from bar files.
    Before answering a batch of requests it drains whatever events are already
    buffered, so a decision never ignores an update published before the request.
    """

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.history = MarketHistory(s.risk.var_window + 1)
        self.portfolio = Portfolio(s.broker.initial_cash, int(s.risk.reservation_ttl_s * NS_PER_S))
        self.engine = RiskEngine(s, self.history, self.portfolio)
        self.service = self.bus.service(names.RISK)
        self.events = self.bus.topic(names.EVENTS)
        self.account_sub: Subscription[Any] = self.events.subscribe(
            "risk_gate", types=_ACCOUNT_EVENTS
        )
        self.market_sub: Subscription[Any] = self.bus.topic(names.MARKET).subscribe(
            "risk_gate", types=_MARKET
        )
        self._interval_ns = s.risk.bar_interval_s * NS_PER_S
        self.safety = ctx.maybe_resource(SafetyGate)  # type: ignore[type-abstract]
        self.decisions = 0
        self.denied = 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Preload history, then serve requests and follow events until cancelled."""
        await self._preload()
        if self.safety is None:
            self.log.error(
                "no safety gate: daily loss, circuit breaker and PDT use an empty state",
                extra={"event": "safety_gate_missing"},
            )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._follow, self.account_sub)
            tg.start_soon(self._follow, self.market_sub)
            task_status.started()
            await self._serve()

    async def _serve(self) -> None:
        svc = self.service
        engine = self.engine
        clock = self.clock
        while True:
            self.health.idle()
            calls = await svc.next_calls()
            self.health.busy(len(calls))
            self._drain(self.account_sub)
            self._drain(self.market_sub)
            snap = self.safety.snapshot() if self.safety is not None else SafetySnapshot()
            denied = 0
            # In order, one at a time: an approval reserves before the next is judged.
            for call in calls:
                req = call.request
                now = clock.now_ns()
                try:
                    if not isinstance(req, RiskRequest):
                        raise TypeError(f"expected a RiskRequest, got {type(req).__name__}")
                    decision = engine.evaluate(req, snap, now)
                except Exception as exc:  # a bad request is denied, never a crash
                    decision = self._error(req, exc, now)
                if not decision.approved:
                    denied += 1
                call.reply(decision)
            self.decisions += len(calls)
            self.denied += denied

    def _error(self, req: object, exc: Exception, now: int) -> RiskDecision:
        self.log.error("risk evaluation failed", extra={"event": "risk_error", "error": repr(exc)})
        self.events.publish_nowait(
            Alert(
                alert_id=f"risk-error-{now}",
                severity=Severity.ERROR,
                code="risk_error",
                text=f"risk gate could not evaluate a request: {exc!r}",
                ts=now,
            )
        )
        return RiskDecision(
            correlation_id=getattr(req, "correlation_id", ""),
            symbol=getattr(req, "symbol", "?") or "?",
            approved=False,
            reason="risk_error",
            ts=now,
        )

    async def _follow(self, sub: Subscription[Any]) -> None:
        while True:
            for ev in await sub.receive_batch():
                self._apply(ev)

    def _drain(self, sub: Subscription[Any]) -> None:
        # Take what is buffered now, by count: ending on WouldBlock raised and caught an
        # exception for every batch of requests, usually on an empty channel.
        ch = sub.channel
        apply = self._apply
        for _ in range(ch.depth()):
            apply(ch.receive_nowait())

    def _apply(self, ev: object) -> None:
        # Most frequent first (the classes are disjoint, so order is only cost): each
        # traded signal brings two order updates, a fill and a position update, which
        # went through up to seven isinstance tests each when market events led.
        pf = self.portfolio
        if isinstance(ev, OrderUpdate):
            pf.on_order(ev)
        elif isinstance(ev, Fill):
            pf.on_fill(ev)
        elif isinstance(ev, PositionUpdate):
            pf.on_position(ev)
        elif isinstance(ev, AccountSnapshot):
            pf.on_account(ev)
        elif isinstance(ev, Bar):
            if ev.interval_s * NS_PER_S == self._interval_ns:
                self.history.add_bar(ev.symbol, ev.ts // self._interval_ns, ev.close, ev.volume)
        elif isinstance(ev, Tick):
            pass  # history is bar-based; ticks carry no daily volume
        elif isinstance(ev, MarketBatch):
            for item in ev.items:
                self._apply(item)

    async def _preload(self) -> None:
        for symbol, path in self.ctx.settings.risk.history_files.items():
            try:
                n = await anyio.to_thread.run_sync(self.history.load_csv, symbol, path)
            except (OSError, ValueError) as exc:
                self.log.error(
                    "cannot preload bar history",
                    extra={"event": "history_preload_failed", "symbol": symbol, "error": str(exc)},
                )
                continue
            self.log.info(
                "bar history preloaded",
                extra={"event": "history_preloaded", "symbol": symbol, "bars": n},
            )

    async def on_reload(self, settings: Settings) -> None:
        """Take the new ``[risk]`` limits; history and reservations are kept."""
        await super().on_reload(settings)
        self.engine.configure(settings)
        self._interval_ns = settings.risk.bar_interval_s * NS_PER_S
