"""The safety actor: automatic kill-switch triggers, day figures, and the command service.

Three loops in one task group, all changing state only through the
:class:`~daemon.safety.SafetyStore`:

* events — closed trades, positions, account figures, broker links and reconciliation
  reports update the day figures and are checked against the triggers;
* commands — the ``safety`` service (engage / reset / set mode / get);
* timers — the session boundary (rollover), a broker's disconnect deadline, and
  retrying a failed write.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from anyio.abc import TaskStatus

from actors.safety._watch import SafetyWatch
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.clock import NS_PER_S
from daemon.messages import (
    AccountSnapshot,
    Alert,
    BrokerStatus,
    PositionUpdate,
    ReconciliationReport,
    Severity,
    TradeClosed,
)
from daemon.safety import (
    EngageKill,
    GetSafety,
    KillTrigger,
    ReplyCode,
    ResetKill,
    SafetyReply,
    SafetyState,
    SafetyStore,
    SetMode,
)
from daemon.safety.calendar import SessionCalendar
from daemon.safety.rules import apply_trade, loss_breach, rollover

_FAR = 2**62
"""A deadline that never comes (nothing scheduled)."""


class SafetyActor(Actor):
    """Watches the books for kill-switch triggers and serves the kill-switch commands."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.store = ctx.resource(SafetyStore)
        watch = ctx.maybe_resource(SafetyWatch)
        if watch is None:
            watch = ctx.resources[SafetyWatch] = SafetyWatch()
        self.watch = watch
        self.inbox = self.store.inbox()
        self.service = ctx.bus.service(names.SAFETY)
        self._events = ctx.bus.topic(names.EVENTS)
        self._wake: anyio.CancelScope | None = None
        self._deadline = _FAR
        self._retry_at: int | None = None
        self._boundary_ns = 0
        self._boundary_cal: SessionCalendar | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bring the day up to date, check the triggers, then serve until cancelled."""
        now = self.clock.now_ns()
        await self._check_day(now)
        await self._evaluate(now)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._event_loop)
            tg.start_soon(self._command_loop)
            tg.start_soon(self._timer_loop)
            task_status.started()

    async def on_reload(self, settings: Settings) -> None:
        """Take new trigger settings; the state file's location does not change."""
        await super().on_reload(settings)
        self.store.reconfigure(settings)
        self._reschedule()

    # -- events ------------------------------------------------------------------------

    async def _event_loop(self) -> None:
        while True:
            batch = await self.next_batch(self.inbox)
            await self.handle_events(batch)
            self.health.idle()

    async def handle_events(self, batch: list[Any]) -> None:
        """Apply one batch of events: figures first (one write), then the triggers."""
        now = self.clock.now_ns()
        await self._check_day(now)
        watch = self.watch
        trades: list[TradeClosed] = []
        for ev in batch:
            match ev:
                case TradeClosed():
                    if watch.first_sight(ev.trade_id):
                        trades.append(ev)
                case PositionUpdate(position=p):
                    watch.set_position(p.symbol, p.qty, p.unrealized_pnl)
                case AccountSnapshot():
                    watch.equity = ev.equity
                case BrokerStatus():
                    self._broker_status(ev, now)
                case ReconciliationReport():
                    await self._reconciliation(ev)
                case _:
                    self.log.warning(
                        "unexpected event on the safety inbox",
                        extra={"event": "safety_unexpected", "type": type(ev).__name__},
                    )
        if trades or (self.store.state.day.start_equity <= 0 and watch.equity):
            await self._apply(trades, now)
        await self._evaluate(now)
        self._reschedule()

    async def _apply(self, trades: list[TradeClosed], now: int) -> None:
        store = self.store
        cfg = store.settings.safety
        equity = self.watch.equity
        trips_before: list[int] = []

        def change(st: SafetyState) -> SafetyState:
            trips_before.append(st.day.breaker_trips)
            if st.day.start_equity <= 0 and equity:
                st = msgspec.structs.replace(
                    st, day=msgspec.structs.replace(st.day, start_equity=equity)
                )
            for t in trades:
                st = apply_trade(st, t, cal=store.calendar, cfg=cfg, now_ns=now)
            return st

        after = await store.update(change)
        if trips_before and after.day.breaker_trips > trips_before[0]:
            until = after.breaker.cooldown_until_ns
            text = (
                f"circuit breaker tripped after {cfg.breaker_max_losses} consecutive losses: "
                f"entries held back for {cfg.breaker_cooldown_s:g}s "
                f"({after.day.breaker_trips} trip(s) today)"
            )
            self.log.warning(text, extra={"event": "breaker_tripped", "until_ns": until})
            await self._alert(Severity.WARNING, "circuit_breaker_tripped", text, now)

    def _broker_status(self, ev: BrokerStatus, now: int) -> None:
        down = self.watch.disconnected
        if ev.connected:
            if down.pop(ev.broker, None) is not None:
                self.log.info(
                    "broker reconnected", extra={"event": "broker_up", "broker": ev.broker}
                )
        elif ev.broker not in down:
            down[ev.broker] = now
            self.log.warning(
                "broker disconnected",
                extra={"event": "broker_down", "broker": ev.broker, "detail": ev.detail},
            )

    async def _reconciliation(self, ev: ReconciliationReport) -> None:
        if ev.kill_engaged:
            kinds = sorted({d.kind for d in ev.discrepancies})
            await self.store.trip(
                KillTrigger.RECONCILIATION,
                f"reconciliation {ev.run_id} found {len(ev.discrepancies)} discrepancies "
                f"beyond threshold ({', '.join(kinds) or 'unspecified'})",
            )
        else:
            self.store.clear(KillTrigger.RECONCILIATION)

    # -- triggers ----------------------------------------------------------------------

    async def _evaluate(self, now: int) -> None:
        store = self.store
        settings = store.settings
        cfg = settings.safety
        st = store.state
        watch = self.watch
        why: str | None = None
        if cfg.daily_loss_kill:
            why = loss_breach(
                st.day, watch.unrealized_total(), watch.equity, settings.risk.daily_loss_limit_pct
            )
        await self._hold(KillTrigger.DAILY_LOSS, why)
        trips = st.day.breaker_trips
        why = None
        if cfg.breaker_kill_after_trips and trips >= cfg.breaker_kill_after_trips:
            why = (
                f"circuit breaker tripped {trips} times today "
                f"(safety.breaker_kill_after_trips = {cfg.breaker_kill_after_trips})"
            )
        await self._hold(KillTrigger.CIRCUIT_BREAKER, why)
        await self._hold(KillTrigger.BROKER_DISCONNECT, self._disconnect_condition(now))

    async def _hold(self, trigger: KillTrigger, why: str | None) -> None:
        if why is None:
            self.store.clear(trigger)
        else:
            await self.store.trip(trigger, why)

    def _disconnect_condition(self, now: int) -> str | None:
        limit = self.store.settings.safety.broker_disconnect_kill_s
        open_positions = len(self.watch.positions)
        if not limit or not open_positions:
            return None
        for broker, since in sorted(self.watch.disconnected.items()):
            down_s = (now - since) / NS_PER_S
            if down_s >= limit:
                return (
                    f"broker {broker} disconnected for {down_s:.0f}s "
                    f"(limit {limit:g}s) with {open_positions} open position(s)"
                )
        return None

    async def _check_day(self, now: int) -> None:
        store = self.store
        today = store.calendar.trading_day(now)
        before = store.state.day
        if before.trading_day >= today:
            return
        equity = self.watch.equity
        cfg = store.settings.safety

        def change(st: SafetyState) -> SafetyState:
            if st.day.trading_day >= today:
                return st
            return rollover(st, today, equity=equity, cal=store.calendar, cfg=cfg)

        await store.update(change)
        text = (
            f"trading day {before.trading_day} closed with realized P&L {before.realized_pnl} "
            f"over {before.trade_count} trade(s); {today} starts"
            + (f" with equity {equity}" if equity else "")
        )
        self.log.info(text, extra={"event": "safety_rollover", "day": today})
        await self._alert(Severity.INFO, "trading_day_rollover", text, now)

    # -- timers ------------------------------------------------------------------------

    def _next_boundary(self, now: int) -> int:
        # Cached: zoneinfo arithmetic costs tens of microseconds and this runs after
        # every batch and command; recomputed once passed or when the calendar changes.
        cal = self.store.calendar
        if now >= self._boundary_ns or cal is not self._boundary_cal:
            self._boundary_ns = cal.next_boundary_ns(now)
            self._boundary_cal = cal
        return self._boundary_ns

    def _next_deadline(self, now: int) -> int:
        store = self.store
        deadline = self._next_boundary(now)
        limit = store.settings.safety.broker_disconnect_kill_s
        if limit:
            for since in self.watch.disconnected.values():
                due = since + int(limit * NS_PER_S)
                if due > now:
                    deadline = min(deadline, due)
        if not store.writable:
            if self._retry_at is None:
                self._retry_at = now + int(store.settings.safety.write_retry_s * NS_PER_S)
            deadline = min(deadline, self._retry_at)
        else:
            self._retry_at = None
        return deadline

    def _reschedule(self) -> None:
        # Wake the timer loop only when something is now due earlier than it planned.
        if self._wake is not None and self._next_deadline(self.clock.now_ns()) < self._deadline:
            self._wake.cancel()

    async def _timer_loop(self) -> None:
        while True:
            self._deadline = self._next_deadline(self.clock.now_ns())
            with anyio.CancelScope() as scope:
                self._wake = scope
                await self.clock.sleep_until(self._deadline)
            self._wake = None
            if scope.cancelled_caught:
                continue
            self.health.busy()
            now = self.clock.now_ns()
            if not self.store.writable and self._retry_at is not None and now >= self._retry_at:
                self._retry_at = None
                await self.store.retry_write()
            await self._check_day(now)
            await self._evaluate(now)
            self.health.idle()

    # -- commands ----------------------------------------------------------------------

    async def _command_loop(self) -> None:
        while True:
            calls = await self.service.next_calls()
            for call in calls:
                self.health.busy()
                try:
                    reply = await self.handle_command(call.request)
                except Exception as exc:
                    call.fail(exc)
                    raise
                call.reply(reply)
            self._reschedule()
            self.health.idle()

    async def handle_command(self, request: object) -> SafetyReply:
        """Answer one ``safety`` service request."""
        store = self.store
        match request:
            case EngageKill(reason=reason, by=by, flatten=flatten, trigger=trigger):
                return await store.engage(reason, trigger=trigger, by=by, flatten=flatten)
            case ResetKill(reason=reason, by=by, force=force):
                return await store.reset(reason, by=by, force=force)
            case SetMode(mode=mode, reason=reason, by=by):
                return await store.set_mode(mode, reason=reason, by=by)
            case GetSafety():
                return store.reply()
            case _:
                self.log.warning(
                    "bad safety request",
                    extra={"event": "safety_bad_request", "type": type(request).__name__},
                )
                return store.reply(
                    ok=False,
                    code=ReplyCode.BAD_REQUEST,
                    message=f"not a safety request: {type(request).__name__}",
                )

    async def _alert(self, severity: Severity, code: str, text: str, now: int) -> None:
        await self._events.publish(
            Alert(alert_id=f"{code}:{now}", severity=severity, code=code, text=text, ts=now)
        )
