"""One-for-one supervision of actors, in structured concurrency.

Each actor runs inside its own monitor loop (:meth:`Supervisor._supervise`) which
catches ``Exception`` — never cancellation — records the crash time on the clock,
restarts the actor with jittered exponential backoff, and gives up once more than
``max_restarts`` crashes fall within ``window_s``:

* a **core** actor past its intensity *escalates*: the escalation hook runs (the kill
  switch engages) and the daemon shuts down cleanly;
* an **optional** actor past its intensity is *disabled*, an alert is raised, and
  trading goes on.

Actors start in dependency order with ``await tg.start(...)``: the next one starts only
when the previous has called ``task_status.started()``.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from config.sections.supervisor import RestartPolicySettings
from config.settings import Settings
from daemon.actor import Actor, ActorContext, ActorDefinition, Health, Lifecycle
from daemon.bus import Bus, Topic
from daemon.clock import NS_PER_S, Clock
from daemon.logs import actor_logger
from daemon.messages import ActorState, ActorStatus, Alert, Severity

EscalationHook = Callable[[str, str], Awaitable[None]]
"""Called as ``hook(actor_name, reason)`` when a core actor escalates."""

_log = logging.getLogger("tradingd.supervisor")


@dataclass
class ActorRecord:
    """What the supervisor knows about one actor (read by status and health checks)."""

    definition: ActorDefinition
    lifecycle: Lifecycle
    health: Health
    restarts: int = 0
    last_error: str = ""
    actor: Actor | None = None

    @property
    def name(self) -> str:
        """The actor's name."""
        return self.definition.name

    @property
    def state(self) -> ActorState:
        """The actor's lifecycle state."""
        return self.lifecycle.state


class _Ready(TaskStatus[None]):
    """A ``TaskStatus`` handed to each incarnation; the first ``started()`` releases start()."""

    def __init__(self, on_ready: Callable[[], None]) -> None:
        self._on_ready = on_ready
        self.ready = False

    def started(self, value: Any = None) -> None:
        if not self.ready:
            self.ready = True
            self._on_ready()


class Supervisor:
    """Starts, watches, restarts and stops the daemon's actors."""

    def __init__(
        self,
        definitions: Sequence[ActorDefinition],
        *,
        settings: Settings,
        clock: Clock,
        bus: Bus,
        resources: dict[type[Any], Any] | None = None,
        on_escalate: EscalationHook | None = None,
        seed: int = 0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self.resources = resources if resources is not None else {}
        self.on_escalate = on_escalate
        self.events: Topic[Any] = bus.topic("events")
        self.records: dict[str, ActorRecord] = {
            d.name: ActorRecord(d, Lifecycle(d.name), Health(clock)) for d in definitions
        }
        self.order = [d.name for d in definitions]
        self._rng = random.Random(seed)
        self._tg: TaskGroup | None = None
        self.shutdown_requested = anyio.Event()
        self.shutdown_reason = ""
        self.escalated: str | None = None
        self.all_ready = anyio.Event()

    # -- public ------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start every actor in order, report ready, and supervise until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for name in self.order:
                await tg.start(self._supervise, self.records[name])
            self.all_ready.set()
            task_status.started()

    def request_shutdown(self, reason: str) -> None:
        """Ask the owner of this supervisor to stop the daemon (idempotent)."""
        if not self.shutdown_requested.is_set():
            self.shutdown_reason = reason
            self.shutdown_requested.set()

    async def stop(self, timeout_s: float) -> bool:
        """Graceful stop: stop input, let in-flight work drain, flush. True if it drained.

        The caller cancels the task group afterwards; anything still running then is
        cancelled (that is what ``timeout_s`` bounds).
        """
        drained = False
        with anyio.move_on_after(timeout_s):
            for name in reversed(self.order):
                rec = self.records[name]
                if rec.actor is not None and rec.state in (ActorState.RUNNING, ActorState.STARTING):
                    rec.actor.request_stop()
            await self.wait_quiescent()
            drained = True
            for name in reversed(self.order):
                rec = self.records[name]
                if rec.actor is not None and rec.state is ActorState.RUNNING:
                    rec.lifecycle.to(ActorState.STOPPING)
                    await rec.actor.on_stop()
        return drained

    async def wait_quiescent(self, poll_s: float = 0.005) -> None:
        """Wait until every actor is idle and every channel is empty."""
        while not self.quiescent():
            await self.clock.sleep(poll_s)

    def quiescent(self) -> bool:
        """True when no actor is busy and nothing is buffered on the bus."""
        if any(
            r.health.busy_since_ns is not None
            for r in self.records.values()
            if r.state is ActorState.RUNNING
        ):
            return False
        return not any(self.bus.depths().values())

    def stuck_actors(self) -> list[str]:
        """Core or optional actors busy on one piece of work past the stall timeout."""
        limit = int(self.settings.daemon.stall_timeout_s * NS_PER_S)
        now = self.clock.now_ns()
        return [
            r.name
            for r in self.records.values()
            if r.state is ActorState.RUNNING and r.health.stuck_for_ns(now) > limit
        ]

    def core_healthy(self) -> bool:
        """Every core actor is running and none is stuck (drives the systemd watchdog)."""
        stuck = set(self.stuck_actors())
        return all(
            r.state is ActorState.RUNNING and r.name not in stuck
            for r in self.records.values()
            if r.definition.core
        )

    # -- supervision -------------------------------------------------------------------

    def _policy(self, d: ActorDefinition) -> RestartPolicySettings:
        acts = self.settings.actors
        return acts.overrides.get(d.name) or d.restart or acts.restart

    async def _supervise(
        self, rec: ActorRecord, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        d = rec.definition
        policy = self._policy(d)
        crashes: deque[int] = deque()
        window_ns = int(policy.window_s * NS_PER_S)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                task_status.started()

        while True:
            rec.lifecycle.to(ActorState.STARTING)
            ctx = ActorContext(
                name=d.name,
                settings=self.settings,
                clock=self.clock,
                bus=self.bus,
                log=actor_logger(d.name),
                health=rec.health,
                resources=self.resources,
            )
            ready = _Ready(lambda: self._on_ready(rec, release))
            try:
                actor = d.factory(ctx)
                rec.actor = actor
                await actor.run(task_status=ready)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                rec.last_error = error
                rec.health.idle()
                rec.lifecycle.to(ActorState.CRASHED)
                _log.error(
                    "actor crashed",
                    exc_info=exc,
                    extra={"actor": d.name, "event": "actor_crashed", "error": error},
                )
                await self._status(rec, error)
                now = self.clock.now_ns()
                crashes.append(now)
                while crashes and now - crashes[0] > window_ns:
                    crashes.popleft()
                if len(crashes) > policy.max_restarts:
                    await self._give_up(rec, error, policy)
                    release()
                    return
                rec.lifecycle.to(ActorState.RESTARTING)
                rec.restarts += 1
                await self._status(rec, error)
                await self.clock.sleep(self._backoff(policy, len(crashes)))
                continue
            # run() returned on its own: a finished actor is a stopped actor.
            rec.lifecycle.to(ActorState.STOPPED)
            await self._status(rec)
            release()
            return

    def _on_ready(self, rec: ActorRecord, release: Callable[[], None]) -> None:
        rec.lifecycle.to(ActorState.RUNNING)
        rec.health.idle()
        _log.info("actor ready", extra={"actor": rec.name, "event": "actor_ready"})
        self.events.publish_nowait(
            ActorStatus(
                actor=rec.name,
                state=ActorState.RUNNING,
                core=rec.definition.core,
                restarts=rec.restarts,
                ts=self.clock.now_ns(),
            )
        )
        release()

    def _backoff(self, policy: RestartPolicySettings, n: int) -> float:
        base: float = min(policy.backoff_max_s, policy.backoff_initial_s * 2.0 ** max(0, n - 1))
        return base * (1.0 + policy.backoff_jitter * self._rng.random())

    async def _give_up(self, rec: ActorRecord, error: str, policy: RestartPolicySettings) -> None:
        d = rec.definition
        what = f"{policy.max_restarts} restarts in {policy.window_s:g}s"
        if d.core:
            rec.lifecycle.to(ActorState.FAILED)
            reason = f"core actor {d.name} exceeded its restart intensity ({what}): {error}"
            self.escalated = d.name
            _log.critical(reason, extra={"actor": d.name, "event": "actor_escalated"})
            await self._status(rec, error)
            await self._alert(Severity.CRITICAL, "actor_escalated", reason, d.name)
            if self.on_escalate is not None:
                await self.on_escalate(d.name, reason)
            self.request_shutdown(reason)
        else:
            rec.lifecycle.to(ActorState.DISABLED)
            reason = f"optional actor {d.name} disabled after {what}: {error}"
            _log.error(reason, extra={"actor": d.name, "event": "actor_disabled"})
            await self._status(rec, error)
            await self._alert(Severity.ERROR, "actor_disabled", reason, d.name)

    async def _status(self, rec: ActorRecord, error: str = "") -> None:
        await self.events.publish(
            ActorStatus(
                actor=rec.name,
                state=rec.state,
                core=rec.definition.core,
                restarts=rec.restarts,
                error=error,
                ts=self.clock.now_ns(),
            )
        )

    async def _alert(self, severity: Severity, code: str, text: str, actor: str) -> None:
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"{code}:{actor}:{now}",
                severity=severity,
                code=code,
                text=text,
                payload={"actor": actor},
                ts=now,
            )
        )
