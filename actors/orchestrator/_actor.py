"""The orchestrator actor: wires the pipeline and execution to their bus endpoints."""

from __future__ import annotations

from typing import Any, final

import anyio
import numpy as np
from anyio import WouldBlock
from anyio.abc import TaskStatus

from actors.kernels import columns_of
from actors.orchestrator._books_service import BooksService
from actors.orchestrator._execution import Execution
from actors.orchestrator._pipeline import EntryPipeline
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.messages import (
    Alert,
    Bar,
    CancelAllOrders,
    CancelOrder,
    ExitIntent,
    MarketBatch,
    RegimeUpdate,
    Severity,
    SignalVerdict,
    SourceWeights,
    Tick,
)
from daemon.safety import SafetyGate


@final
class Orchestrator(Actor):
    """Runs the nine stages for every accepted signal; executes exits; keeps the books.

    Inputs: ``orchestrator.in`` (guard verdicts), ``orchestrator.exits`` (ExitIntent),
    ``orchestrator.broker`` (OrderUpdate/Fill), ``orchestrator.control``
    (CancelAllOrders, CancelOrder), ``events`` (RegimeUpdate, SourceWeights) and
    ``market`` (marks and ADX bars). Each input has its own task; they share state
    safely because the actor runs on one event loop and every state change between two
    awaits is whole.
    """

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        s = ctx.settings
        bus = self.bus
        self.safety: SafetyGate | None = ctx.maybe_resource(SafetyGate)  # type: ignore[type-abstract]
        self.execution = Execution(s, clock=self.clock, bus=bus, safety=self.safety, log=self.log)
        self.pipeline = EntryPipeline(
            s,
            clock=self.clock,
            events=bus.topic(names.EVENTS),
            risk=bus.service(names.RISK),
            execution=self.execution,
            safety=self.safety,
            log=self.log,
        )
        self.inbox = bus.channel(names.ORCHESTRATOR_IN)
        self.exits = bus.channel(names.ORCHESTRATOR_EXITS)
        self.broker_events = bus.channel(names.ORCHESTRATOR_BROKER)
        self.control = bus.channel(names.ORCHESTRATOR_CONTROL)
        self.event_sub: Subscription[Any] = bus.topic(names.EVENTS).subscribe(
            "orchestrator", types=(RegimeUpdate, SourceWeights)
        )
        self.market_sub: Subscription[Any] = bus.topic(names.MARKET).subscribe(
            "orchestrator", types=(Bar, Tick, MarketBatch)
        )
        self._adx_interval = s.orchestrator.strategy.bar_interval_s

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve every input until cancelled."""
        if self.safety is None:
            self.log.error(
                "no safety gate installed: entries are refused, exits still go out",
                extra={"event": "safety_gate_missing"},
            )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._broker_loop)
            tg.start_soon(self._exit_loop)
            tg.start_soon(self._control_loop)
            tg.start_soon(self._event_loop)
            tg.start_soon(self._market_loop)
            tg.start_soon(self.execution.run_timers)
            tg.start_soon(self.execution.run_resolver)
            # The reconciler reads and corrects the books only through this service.
            books = BooksService(self.execution, bus=self.bus, clock=self.clock, log=self.log)
            tg.start_soon(books.serve)
            task_status.started()
            await self._signal_loop()

    async def _signal_loop(self) -> None:
        pipeline = self.pipeline
        while True:
            batch: list[Any] = await self.next_batch(self.inbox)
            # Regime and weights published before these signals apply to them.
            self._drain_events()
            verdicts: list[SignalVerdict] = []
            for item in batch:
                if isinstance(item, SignalVerdict):
                    verdicts.append(item)
                else:
                    await self._bad_input(names.ORCHESTRATOR_IN, item)
            await pipeline.handle_batch(verdicts)

    async def _broker_loop(self) -> None:
        ex = self.execution
        while True:
            batch = await self.broker_events.receive_batch()
            await ex.on_broker_events(batch)

    async def _exit_loop(self) -> None:
        while True:
            for item in await self.exits.receive_batch():
                if not isinstance(item, ExitIntent):
                    await self._bad_input(names.ORCHESTRATOR_EXITS, item)
                    continue
                try:
                    why = await self.pipeline.submit_exit(item)
                except Exception as exc:
                    self.log.exception("exit failed", extra={"event": "exit_error"})
                    await self._alert("exit_error", f"exit {item.exit_id}: {exc!r}")
                    continue
                if why is not None:
                    self.log.info(
                        "exit not sent",
                        extra={"event": "exit_skipped", "exit_id": item.exit_id, "why": why},
                    )

    async def _control_loop(self) -> None:
        while True:
            for item in await self.control.receive_batch():
                if isinstance(item, CancelAllOrders):
                    n = await self.execution.cancel_all(item)
                    self.log.info(
                        "cancel all orders",
                        extra={"event": "cancel_all", "orders": n, "reason": item.reason},
                    )
                elif isinstance(item, CancelOrder):
                    await self._cancel_one(item)
                else:
                    await self._bad_input(names.ORCHESTRATOR_CONTROL, item)

    async def _cancel_one(self, req: CancelOrder) -> None:
        coid = req.client_order_id
        why = await self.execution.cancel_one(req)
        extra = {"client_order_id": coid, "reason": req.reason}
        if why is None:
            self.log.info("cancel order", extra={"event": "cancel_order", **extra})
            return
        # Not a crash and not silent: an operator asked for something that cannot be done.
        self.log.warning("cancel refused", extra={"event": "cancel_refused", "why": why, **extra})
        await self._alert("cancel_refused", f"cancel {coid}: {why}", Severity.WARNING)

    async def _event_loop(self) -> None:
        on_event = self.pipeline.on_event
        while True:
            for ev in await self.event_sub.receive_batch():
                on_event(ev)

    def _drain_events(self) -> None:
        ch = self.event_sub.channel
        on_event = self.pipeline.on_event
        try:
            while True:
                on_event(ch.receive_nowait())
        except WouldBlock:
            pass

    async def _market_loop(self) -> None:
        while True:
            for item in await self.market_sub.receive_batch():
                if isinstance(item, MarketBatch):
                    if len(item.items) > 1 and await self._on_batch(item):
                        continue
                    for x in item.items:
                        await self._on_market(x)
                else:
                    await self._on_market(item)

    async def _on_batch(self, batch: MarketBatch) -> bool:
        """A batch as one pass: ADX bars in order, each symbol marked with its latest
        price, then one account snapshot if a held symbol moved — what marking item by
        item ends with, without a snapshot per item. False: take it item by item (a
        price that is not a price, which the books ignore but ``last_price`` records)."""
        cols = columns_of(batch)
        if cols is None:
            return False
        with np.errstate(invalid="ignore"):
            if not bool(((cols.close > 0.0) & np.isfinite(cols.close)).all()):
                return False
        items = cols.items
        adx = self.pipeline.adx
        for k in np.flatnonzero(~cols.tick & (cols.interval_s == self._adx_interval)).tolist():
            bar: Any = items[k]
            adx.update(bar.symbol, bar.high, bar.low, bar.close)
        close = cols.close
        await self.execution.on_marks(
            {symbol: float(close[k]) for symbol, k in cols.last_index().items()}
        )
        return True

    async def _on_market(self, item: Tick | Bar) -> None:
        if isinstance(item, Bar):
            await self.execution.on_mark(item.symbol, item.close)
            if item.interval_s == self._adx_interval:
                self.pipeline.adx.update(item.symbol, item.high, item.low, item.close)
        else:
            await self.execution.on_mark(item.symbol, item.price)

    async def _bad_input(self, where: str, item: object) -> None:
        await self._alert("bad_input", f"{where}: unexpected {type(item).__name__}")

    async def _alert(self, code: str, text: str, severity: Severity = Severity.ERROR) -> None:
        now = self.clock.now_ns()
        await self.bus.topic(names.EVENTS).publish(
            Alert(
                alert_id=f"orchestrator-{code}-{now}",
                severity=severity,
                code=code,
                text=text,
                ts=now,
            )
        )

    async def on_reload(self, settings: Settings) -> None:
        """Take new settings; working orders, books and fusion memory are kept."""
        await super().on_reload(settings)
        self.execution.configure(settings)
        self.pipeline.configure(settings)
        self._adx_interval = settings.orchestrator.strategy.bar_interval_s
