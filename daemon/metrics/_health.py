"""Liveness and readiness: what ``/healthz``, ``/readyz`` and ``tradingctl status`` report.

*Live* means the process answers: its event loop runs. *Ready* means it may be trusted
with trading, and is the conjunction of:

``started``
    every core actor reported itself ready and every start-up gate passed (the
    runtime's ``ready`` event), and no shutdown is under way;
``actors``
    every core actor is running (none crashed, restarting, failed);
``progress``
    no core actor has been busy on one piece of work past ``daemon.stall_timeout_s``
    (the supervisor's stall detector, the same one that withholds the systemd watchdog);
``reconciliation``
    the start-up reconciliation has run: the reconciler reports itself started only
    after it (docs/actors/reconciler.md), so this holds while the reconciler actor is
    running — and trivially when no reconciler is configured;
``kill_switch``
    the kill switch is not engaged;
``safety_state``
    the safety state file is writable (otherwise new risk is halted);
``holds``
    no component holds readiness back (:meth:`HealthProbe.hold`, e.g. a reconciler
    that found a mismatch it could not correct).

The probe reads the runtime; it never changes it and never blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, final

import anyio

from daemon.messages import ActorState
from daemon.safety import SafetyGate, SafetySnapshot

if TYPE_CHECKING:
    from config.settings import Settings
    from daemon.bus import Bus
    from daemon.clock import Clock
    from daemon.supervisor import Supervisor

RECONCILER = "reconciler"
"""Name of the reconciler actor (its start marks the start-up reconciliation done)."""


class RuntimeView(Protocol):
    """The parts of :class:`daemon.runtime.Daemon` the probe reads (structural)."""

    @property
    def settings(self) -> Settings:
        """The running configuration."""
        ...

    @property
    def clock(self) -> Clock:
        """The daemon's clock."""
        ...

    @property
    def bus(self) -> Bus:
        """The daemon's bus."""
        ...

    @property
    def supervisor(self) -> Supervisor | None:
        """The supervisor, once built."""
        ...

    @property
    def ready(self) -> anyio.Event:
        """Set when the daemon has told systemd READY."""
        ...

    @property
    def resources(self) -> dict[type[Any], Any]:
        """Shared resources (the safety gate among them)."""
        ...

    @property
    def started_monotonic(self) -> float:
        """``time.monotonic()`` when the daemon object was made."""
        ...


@final
@dataclass(frozen=True, slots=True)
class Check:
    """One readiness condition: its name, whether it holds, and why not (or a note)."""

    name: str
    ok: bool
    detail: str = ""


@final
@dataclass(frozen=True, slots=True)
class Readiness:
    """The readiness verdict and every check behind it."""

    ready: bool
    checks: tuple[Check, ...]

    @property
    def failing(self) -> tuple[Check, ...]:
        """The checks that do not hold."""
        return tuple(c for c in self.checks if not c.ok)

    def as_dict(self) -> dict[str, Any]:
        """Plain form for ``status`` and ``/readyz?format=json``."""
        return {
            "ready": self.ready,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
            "not_ready": [f"{c.name}: {c.detail}" for c in self.failing],
        }

    def text(self) -> str:
        """A body a person (or a grep in a monitoring check) can read."""
        lines = ["ready" if self.ready else "not ready"]
        for c in self.checks:
            mark = "ok  " if c.ok else "FAIL"
            lines.append(f"{mark} {c.name}" + (f": {c.detail}" if c.detail else ""))
        return "\n".join(lines) + "\n"


@final
class HealthProbe:
    """Computes liveness and readiness from the runtime; a shared resource.

    The runtime puts one in ``Daemon.resources[HealthProbe]``. Components that must hold
    readiness back for a reason of their own call :meth:`hold` and later :meth:`release`.
    """

    def __init__(self, runtime: RuntimeView) -> None:
        self.runtime = runtime
        self._holds: dict[str, str] = {}

    # -- holds -------------------------------------------------------------------------

    def hold(self, name: str, reason: str) -> None:
        """Report not ready because of ``name`` (``reason`` is shown) until released."""
        self._holds[name] = reason

    def release(self, name: str) -> None:
        """Withdraw the hold called ``name`` (no-op when there is none)."""
        self._holds.pop(name, None)

    @property
    def holds(self) -> dict[str, str]:
        """Current holds: name -> reason."""
        return dict(self._holds)

    # -- reading -----------------------------------------------------------------------

    @property
    def supervisor(self) -> Supervisor | None:
        """The runtime's supervisor (None before it is built)."""
        return self.runtime.supervisor

    def safety(self) -> SafetySnapshot | None:
        """The safety state, if the runtime has a safety gate."""
        gate = self.runtime.resources.get(SafetyGate)
        if gate is None:
            for res in self.runtime.resources.values():
                if isinstance(res, SafetyGate):
                    gate = res
                    break
        return gate.snapshot() if gate is not None else None

    def uptime_s(self) -> float:
        """Seconds since the daemon was made (monotonic)."""
        return max(0.0, time.monotonic() - self.runtime.started_monotonic)

    def live(self) -> bool:
        """The process answers. Always True when this runs: it runs on the event loop."""
        return True

    def readiness(self) -> Readiness:
        """Evaluate every readiness check now."""
        checks = (
            self._started(),
            self._actors(),
            self._progress(),
            self._reconciliation(),
            *self._safety_checks(),
            self._holds_check(),
        )
        return Readiness(all(c.ok for c in checks), checks)

    # -- checks ------------------------------------------------------------------------

    def _started(self) -> Check:
        sup = self.runtime.supervisor
        if sup is not None and sup.shutdown_requested.is_set():
            return Check("started", False, f"stopping: {sup.shutdown_reason or 'requested'}")
        if not self.runtime.ready.is_set():
            return Check("started", False, "starting: actors or start-up gates not ready yet")
        return Check("started", True)

    def _actors(self) -> Check:
        sup = self.runtime.supervisor
        if sup is None:
            return Check("actors", False, "no actors started yet")
        down = [
            f"{r.name} {r.state}"
            for r in sup.records.values()
            if r.definition.core and r.state is not ActorState.RUNNING
        ]
        if down:
            return Check("actors", False, "core actor(s) not running: " + ", ".join(down))
        return Check("actors", True, f"{sum(1 for r in sup.records.values())} actors")

    def _progress(self) -> Check:
        sup = self.runtime.supervisor
        if sup is None:
            return Check("progress", False, "no actors started yet")
        stuck = sup.stuck_actors()
        core = [n for n in stuck if sup.records[n].definition.core]
        limit = self.runtime.settings.daemon.stall_timeout_s
        if core:
            return Check(
                "progress",
                False,
                f"core actor(s) busy on one piece of work for over {limit:g}s: " + ", ".join(core),
            )
        others = [n for n in stuck if n not in core]
        return Check(
            "progress", True, f"optional actor(s) stuck: {', '.join(others)}" if others else ""
        )

    def _reconciliation(self) -> Check:
        sup = self.runtime.supervisor
        rec = sup.records.get(RECONCILER) if sup is not None else None
        if rec is None:
            return Check("reconciliation", True, "no reconciler configured")
        if rec.state is ActorState.RUNNING:
            return Check("reconciliation", True, "start-up reconciliation done")
        if rec.state in (ActorState.NEW, ActorState.STARTING):
            return Check("reconciliation", False, "start-up reconciliation not finished")
        return Check("reconciliation", False, f"reconciler is {rec.state}")

    def _safety_checks(self) -> tuple[Check, ...]:
        snap = self.safety()
        if snap is None:
            return (Check("kill_switch", False, "no safety state in this daemon"),)
        if snap.killed:
            kill = Check(
                "kill_switch",
                False,
                f"engaged ({snap.kill_trigger or 'operator'}"
                + (f" by {snap.kill_by}" if snap.kill_by else "")
                + f"): {snap.kill_reason}",
            )
        else:
            kill = Check("kill_switch", True, f"off; mode {snap.mode}")
        if snap.writable:
            state = Check("safety_state", True)
        else:
            state = Check("safety_state", False, f"state file not writable: {snap.write_error}")
        return kill, state

    def _holds_check(self) -> Check:
        if not self._holds:
            return Check("holds", True)
        return Check("holds", False, "; ".join(f"{k}: {v}" for k, v in sorted(self._holds.items())))
