"""The reconciler actor: the daemon's books converge to the broker's truth.

A run happens

* at start-up, before the actor reports itself ready — the signal guard requires the
  reconciler, so no signal is handled and systemd hears READY=1 only after it;
* every ``reconciler.interval_s`` on the daemon's clock;
* when the broker connection comes back (a ``BrokerStatus`` connected after a
  disconnected one);
* on demand: the ``reconciler`` service, which the admin socket's ``reconcile`` uses.

Runs never overlap. Each reads the orchestrator's books (through its books service —
the reconciler never touches them itself) and the broker's, plans the corrections
(:mod:`actors.reconciler._compare`), confirms them with a second comparison after
``confirm_delay_s`` so that events in flight are not mistaken for discrepancies, has the
orchestrator apply them, engages the kill switch when the run is beyond the configured
thresholds, and publishes a :class:`~daemon.messages.ReconciliationReport` on ``events``.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from actors.broker.queries import BrokerClient
from actors.orchestrator.books_api import BooksClient, LocalSnapshot
from actors.reconciler._compare import Plan, breaches, confirmed, plan
from actors.reconciler._control import bind_command, unbind_command
from actors.reconciler._fetch import broker_view
from actors.reconciler._restore import recorded_state
from actors.reconciler.api import RunReconciliation
from config.sections.reconciler import ReconcilerSettings
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Service, Subscription, Topic
from daemon.clock import NS_PER_S
from daemon.messages import Alert, BrokerStatus, ReconciliationReport, Severity
from daemon.progress import Progress, run_within
from daemon.safety import EngageKill, KillTrigger, SafetyStore
from storage import Database, StorageError

SUBSCRIBER = "reconciler"
"""Name of the reconciler's subscription on ``events`` (BrokerStatus only)."""
_KEEP_REPORTS = 16


@final
class Reconciler(Actor):
    """Compares and corrects; see the module docstring."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        bus = self.bus
        self.books = BooksClient(bus)
        self.broker = BrokerClient(bus)
        self.events: Topic[Any] = bus.topic(names.EVENTS)
        self.service: Service[Any, Any] = bus.service(names.RECONCILER)
        self.status_sub: Subscription[Any] = self.events.subscribe(
            SUBSCRIBER, types=(BrokerStatus,), lossless=True, capacity=1024
        )
        self._lock = anyio.Lock()
        self._seq = itertools.count(1)
        self._periodic_reset = anyio.Event()
        self.reports: deque[ReconciliationReport] = deque(maxlen=_KEEP_REPORTS)
        """The last few reports (status and tests)."""
        self.failures = 0
        """Runs that could not complete."""
        self.progress = Progress()
        """Notified after every run, completed or failed (tests synchronise on it)."""

    @property
    def cfg(self) -> ReconcilerSettings:
        """The current ``[reconciler]`` settings (follows reloads)."""
        return self.ctx.settings.reconciler

    # -- running -------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Reconcile once, report ready, then serve every other trigger until cancelled."""
        await self._startup()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._serve)
                tg.start_soon(self._periodic)
                tg.start_soon(self._watch_broker)
                bind_command(self.ctx, self.cfg)
                task_status.started()
        finally:
            unbind_command(self.ctx)

    async def on_reload(self, settings: Settings) -> None:
        """Take new settings; a changed interval applies from now."""
        await super().on_reload(settings)
        self._periodic_reset.set()

    async def reconcile(self, trigger: str) -> ReconciliationReport:
        """Run one reconciliation now (after any run in progress) and return its report.

        Raises the broker's or the orchestrator's error, or ``ClockTimeout``, when the
        run cannot complete; nothing is corrected then.
        """
        async with self._lock:
            self.health.busy()
            try:
                return await self._reconcile(trigger)
            finally:
                self.health.idle()

    # -- triggers -------------------------------------------------------------------------

    async def _startup(self) -> None:
        """The start-up run, retried while it cannot complete, up to ``startup_timeout_s``."""
        cfg = self.cfg
        deadline = self.clock.now_ns() + int(cfg.startup_timeout_s * NS_PER_S)
        while True:
            error = await self._guarded("startup")
            if not error:
                return
            if self.clock.now_ns() >= deadline:
                await self._engage(
                    f"start-up reconciliation could not complete within "
                    f"{cfg.startup_timeout_s:g}s: {error}"
                )
                return
            await self.clock.sleep(cfg.retry_s)

    async def _periodic(self) -> None:
        while True:
            self._periodic_reset = anyio.Event()
            interval = self.cfg.interval_s
            if interval <= 0:
                await self._periodic_reset.wait()
            elif await self._interval_passed(interval):
                await self._guarded("periodic")

    async def _interval_passed(self, interval: float) -> bool:
        """Wait ``interval`` on the clock; False when a reload cut the wait short."""
        reset = self._periodic_reset
        elapsed = False
        async with anyio.create_task_group() as tg:

            async def tick() -> None:
                nonlocal elapsed
                await self.clock.sleep(interval)
                elapsed = True
                tg.cancel_scope.cancel()

            async def reloaded() -> None:
                await reset.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(tick)
            tg.start_soon(reloaded)
        return elapsed

    async def _watch_broker(self) -> None:
        down = False
        while True:
            for ev in await self.status_sub.receive_batch():
                if not isinstance(ev, BrokerStatus):
                    continue
                if not ev.connected:
                    down = True
                elif down:
                    down = False
                    if self.cfg.on_reconnect:
                        await self._guarded("reconnect")

    async def _serve(self) -> None:
        while True:
            calls = await self.service.next_calls()
            answered = 0
            try:
                for call in calls:
                    req = call.request
                    if not isinstance(req, RunReconciliation):
                        call.fail(TypeError(f"unknown reconciler request {type(req).__name__}"))
                    else:
                        try:
                            call.reply(await self.reconcile(req.trigger or "operator"))
                        except Exception as exc:
                            await self._failed(req.trigger, exc)
                            call.fail(exc)
                    answered += 1
            finally:
                for call in calls[answered:]:
                    call.fail(RuntimeError("the reconciler stopped before running"))

    async def _guarded(self, trigger: str) -> str:
        """Run; on failure record it and return why ("" when the run completed)."""
        try:
            await self.reconcile(trigger)
        except Exception as exc:
            await self._failed(trigger, exc)
            return f"{type(exc).__name__}: {exc}"
        return ""

    # -- one run --------------------------------------------------------------------------

    async def _reconcile(self, trigger: str) -> ReconciliationReport:
        cfg = self.cfg
        started = self.clock.now_ns()
        run_id = f"rec-{started}-{next(self._seq)}"
        local = await self._within(self.books.local_state)
        if local.fresh and cfg.restore_from_storage and await self._restore(run_id):
            local = await self._within(self.books.local_state)
        found = await self._compare(local)
        if found.findings and cfg.confirm_delay_s > 0:
            await self.clock.sleep(cfg.confirm_delay_s)
            again = await self._compare(await self._within(self.books.local_state))
            found = confirmed(found.findings, again)
        findings = found.findings
        items = found.corrections
        if items:
            results = await self._within(lambda: self.books.apply(run_id, items))
            done = iter(results)
            settled = []
            for f in findings:
                outcome = [next(done) for _ in f.corrections]
                refused = [r.detail for r in outcome if not r.applied]
                settled.append(f.skipped(refused[0]) if refused else f)
            findings = settled
        why = breaches(findings, cfg)
        if why:
            await self._engage(f"reconciliation {run_id} ({trigger}): {why}")
        report = ReconciliationReport(
            run_id=run_id,
            trigger=trigger,
            positions_checked=found.positions_checked,
            orders_checked=found.orders_checked,
            discrepancies=tuple(f.discrepancy() for f in findings),
            kill_engaged=bool(why),
            started_ns=started,
            ts=self.clock.now_ns(),
        )
        await self.events.publish(report)
        self.reports.append(report)
        self.progress.notify()
        self.log.log(
            logging.WARNING if findings else logging.INFO,
            "reconciliation done",
            extra={
                "event": "reconciled",
                "run_id": run_id,
                "trigger": trigger,
                "positions": found.positions_checked,
                "orders": found.orders_checked,
                "discrepancies": len(findings),
                "kill": bool(why),
            },
        )
        return report

    async def _compare(self, local: LocalSnapshot) -> Plan:
        now = self.clock.now_ns()
        view = await self._within(lambda: broker_view(self.broker, local, self.cfg, now))
        return plan(local, view, self.cfg, now)

    async def _restore(self, run_id: str) -> int:
        """Put the recorded state into a fresh orchestrator; how many items were applied."""
        db = self.ctx.maybe_resource(Database)
        if db is None:
            return 0
        try:
            items, problems = await recorded_state(db, self.ctx.settings.daemon.account, self.log)
        except StorageError as exc:
            await self._alert(
                Severity.ERROR,
                "reconcile_restore_failed",
                f"the recorded positions and intents could not be read ({exc}); broker "
                "positions are treated as orphans and earlier intents stay unresolved",
            )
            return 0
        for p in problems:
            await self._alert(
                Severity.ERROR, "reconcile_restore_bad_row", f"{p.what}: not restored: {p.error}"
            )
        if not items:
            return 0
        results = await self._within(lambda: self.books.apply(f"{run_id}-restore", tuple(items)))
        applied = sum(1 for r in results if r.applied)
        self.log.info(
            "recorded state restored",
            extra={"event": "reconcile_restored", "items": len(items), "applied": applied},
        )
        return applied

    async def _within(self, fn: Any) -> Any:
        return await run_within(self.clock, self.cfg.query_timeout_s, fn)

    # -- kill switch and records ----------------------------------------------------------

    async def _engage(self, reason: str) -> None:
        """Engage the kill switch (trigger ``reconciliation``) before the report goes out."""
        store = self.ctx.maybe_resource(SafetyStore)
        if store is not None:
            await store.trip(KillTrigger.RECONCILIATION, reason)
            return
        try:
            await run_within(
                self.clock,
                self.cfg.query_timeout_s,
                lambda: self.bus.service(names.SAFETY).call(
                    EngageKill(reason=reason, by="reconciler", trigger=KillTrigger.RECONCILIATION)
                ),
            )
        except Exception as exc:
            await self._alert(
                Severity.CRITICAL,
                "reconcile_kill_failed",
                f"the kill switch could not be engaged ({exc!r}) for: {reason}",
            )

    async def _failed(self, trigger: str, exc: Exception) -> None:
        self.failures += 1
        self.log.error(
            "reconciliation failed",
            exc_info=exc,
            extra={"event": "reconcile_failed", "trigger": trigger, "error": repr(exc)},
        )
        await self._alert(
            Severity.ERROR,
            "reconciliation_failed",
            f"{trigger} reconciliation could not complete: {type(exc).__name__}: {exc}",
        )
        self.progress.notify()

    async def _alert(self, severity: Severity, code: str, text: str) -> None:
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"reconciler-{code}-{now}-{self.failures}",
                severity=severity,
                code=code,
                text=text,
                ts=now,
            )
        )
