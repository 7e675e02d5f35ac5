"""The actor base: definition, context, lifecycle transition table and health.

An actor owns its state and talks to others only through the bus. Each actor package
under ``actors/`` exports ``DEFINITION``, an :class:`ActorDefinition`. The supervisor
builds the actor with ``definition.factory(ctx)`` and runs ``await actor.run(task_status=...)``;
the actor calls ``task_status.started()`` only once it is really ready.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, final

import anyio
from anyio.abc import TaskStatus

from config.sections.supervisor import RestartPolicySettings
from config.settings import Settings
from daemon.bus import Bus, Channel, Subscription
from daemon.clock import Clock
from daemon.errors import IllegalTransition, ResourceMissing
from daemon.messages import ActorState

T = TypeVar("T")

TRANSITIONS: dict[ActorState, frozenset[ActorState]] = {
    ActorState.NEW: frozenset({ActorState.STARTING}),
    ActorState.STARTING: frozenset(
        {ActorState.RUNNING, ActorState.CRASHED, ActorState.STOPPING, ActorState.STOPPED}
    ),
    ActorState.RUNNING: frozenset({ActorState.STOPPING, ActorState.CRASHED, ActorState.STOPPED}),
    ActorState.STOPPING: frozenset({ActorState.STOPPED, ActorState.CRASHED}),
    ActorState.CRASHED: frozenset(
        {ActorState.RESTARTING, ActorState.DISABLED, ActorState.FAILED, ActorState.STOPPED}
    ),
    ActorState.RESTARTING: frozenset({ActorState.STARTING, ActorState.STOPPED}),
    ActorState.STOPPED: frozenset(),
    ActorState.DISABLED: frozenset(),
    ActorState.FAILED: frozenset(),
}
"""Allowed lifecycle moves; anything else raises :class:`IllegalTransition`."""


@final
class Lifecycle:
    """An actor's lifecycle state, changed only along :data:`TRANSITIONS`."""

    __slots__ = ("history", "name", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = ActorState.NEW
        self.history: list[ActorState] = [ActorState.NEW]

    def to(self, new: ActorState) -> None:
        """Move to ``new`` or raise :class:`IllegalTransition`."""
        if new not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"actor {self.name}: {self.state} -> {new} is not allowed")
        self.state = new
        if len(self.history) < 64:
            self.history.append(new)


@final
class Health:
    """Progress reporting: lets the supervisor tell idle-and-fine from stuck.

    An actor is *busy* from the moment it takes work until it next waits for input.
    Waiting is healthy however long it lasts; being busy for longer than the stall
    timeout is not. ``processed`` counts units of work for metrics.
    """

    __slots__ = ("_clock", "busy_since_ns", "last_progress_ns", "processed")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.busy_since_ns: int | None = None
        self.last_progress_ns = clock.now_ns()
        self.processed = 0

    def busy(self, units: int = 1) -> None:
        """Mark the start of a piece of work of ``units`` items."""
        self.busy_since_ns = self._clock.now_ns()
        self.processed += units

    def idle(self) -> None:
        """Mark the end of a piece of work (the actor is about to wait)."""
        self.busy_since_ns = None
        self.last_progress_ns = self._clock.now_ns()

    def stuck_for_ns(self, now_ns: int) -> int:
        """How long the current piece of work has been running (0 when idle)."""
        return 0 if self.busy_since_ns is None else max(0, now_ns - self.busy_since_ns)


@dataclass(frozen=True, kw_only=True)
class ActorDefinition:
    """What an actor package declares: name, core or optional, requirements, restarts."""

    name: str
    factory: Callable[[ActorContext], Actor]
    description: str
    core: bool = True
    requires: tuple[str, ...] = ()
    """Actors that must be ready before this one starts (start order, reverse stop order)."""
    restart: RestartPolicySettings | None = None
    """Restart policy; ``None`` takes ``[actors.restart]`` (or its per-actor override)."""
    enabled_by_default: bool = True
    """For optional actors: run unless disabled in ``[actors]``."""
    enabled_when: Callable[[Settings], bool] | None = None
    """Extra condition on configuration (e.g. only when Redis is configured)."""


@dataclass
class ActorContext:
    """Everything an actor gets from the runtime: settings, clock, bus, log, health."""

    name: str
    settings: Settings
    clock: Clock
    bus: Bus
    log: logging.LoggerAdapter[logging.Logger]
    health: Health
    resources: dict[type[Any], Any] = field(default_factory=dict)

    def resource(self, kind: type[T]) -> T:
        """The shared resource of type ``kind`` provided by the runtime."""
        try:
            value: T = self.resources[kind]
        except KeyError:
            raise ResourceMissing(
                f"actor {self.name} needs a {kind.__name__}, which the runtime did not provide"
            ) from None
        return value

    def maybe_resource(self, kind: type[T]) -> T | None:
        """The shared resource of type ``kind``, or None when absent."""
        value: T | None = self.resources.get(kind)
        return value


class Actor(ABC):
    """Base of every actor. Subclasses implement :meth:`run`.

    Shutdown is cooperative: the supervisor calls :meth:`request_stop` (stop taking
    new input), waits until every actor is idle and every channel drained, calls
    :meth:`on_stop` (flush), then cancels. An actor's state lives in the instance and
    is lost on restart; what must survive lives in its channels, files or database.
    """

    def __init__(self, ctx: ActorContext) -> None:
        self.ctx = ctx
        self.clock = ctx.clock
        self.bus = ctx.bus
        self.log = ctx.log
        self.health = ctx.health
        self.stop_requested = anyio.Event()

    @abstractmethod
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled (or return when finished); call ``task_status.started()``."""

    def request_stop(self) -> None:
        """Stop taking new input (ingest actors stop reading; others keep processing)."""
        self.stop_requested.set()

    async def on_stop(self) -> None:  # noqa: B027 - intentionally empty default hook
        """Flush or hand over anything buffered; runs after the bus has drained."""

    async def on_reload(self, settings: Settings) -> None:
        """Take new settings (SIGHUP / ``reload``); override to re-derive cached limits."""
        self.ctx.settings = settings

    async def next_batch(
        self, source: Channel[T] | Subscription[T], max_items: int = 1024
    ) -> list[T]:
        """Wait for work from ``source`` and mark this actor busy with it."""
        health = self.health
        health.idle()
        batch = await source.receive_batch(max_items)
        health.busy(len(batch))
        return batch
