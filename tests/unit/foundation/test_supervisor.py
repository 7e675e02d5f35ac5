"""Supervisor: ordered start, restart with backoff, intensity, escalation, degradation."""

from __future__ import annotations

import dataclasses
import itertools

import anyio
import msgspec
import pytest
from anyio.abc import TaskStatus

from config import Settings
from config.sections.supervisor import ActorsSettings, RestartPolicySettings
from daemon.actor import Actor, ActorDefinition, Lifecycle
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.errors import IllegalTransition
from daemon.messages import ActorState, ActorStatus, Alert
from daemon.supervisor import Supervisor

POLICY = RestartPolicySettings(
    max_restarts=3, window_s=60.0, backoff_initial_s=1.0, backoff_max_s=8.0, backoff_jitter=0.0
)


class Script:
    """Shared notebook for the test actors: what started, when, and crash plans."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.starts: list[tuple[str, int]] = []
        self.crash_plan: dict[str, int] = {}
        self.crash_before_ready: set[str] = set()
        self.stopped: list[str] = []
        self.release = anyio.Event()


def make_def(
    name: str, script: Script, *, core: bool = True, requires: tuple[str, ...] = ()
) -> ActorDefinition:
    class _A(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            script.starts.append((name, self.clock.now_ns()))
            if name in script.crash_before_ready and script.crash_plan.get(name, 0) > 0:
                script.crash_plan[name] -= 1
                raise RuntimeError(f"{name} failed to start")
            task_status.started()
            if script.crash_plan.get(name, 0) > 0:
                script.crash_plan[name] -= 1
                await self.clock.sleep(0.5)
                raise RuntimeError(f"{name} boom")
            await script.release.wait()

        async def on_stop(self) -> None:
            script.stopped.append(name)

    return ActorDefinition(
        name=name,
        factory=_A,
        description=f"test actor {name}",
        core=core,
        requires=requires,
        restart=POLICY,
    )


def make_supervisor(
    defs: list[ActorDefinition], clock: SimClock, escalations: list[str] | None = None
) -> tuple[Supervisor, Bus]:
    bus = Bus(default_capacity=1024)

    async def hook(actor: str, reason: str) -> None:
        if escalations is not None:
            escalations.append(actor)

    sup = Supervisor(defs, settings=Settings(), clock=clock, bus=bus, on_escalate=hook)
    return sup, bus


async def test_actors_start_in_order_each_ready_before_the_next(
    sim_clock: SimClock,
) -> None:
    script = Script(sim_clock)
    script.crash_before_ready.add("b")
    script.crash_plan["b"] = 1  # b fails once before ready: c must wait for b's restart
    defs = [make_def("a", script), make_def("b", script), make_def("c", script)]
    sup, _ = make_supervisor(defs, sim_clock)
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        assert [n for n, _ in script.starts] == ["a", "b", "b", "c"]
        assert all(r.state is ActorState.RUNNING for r in sup.records.values())
        tg.cancel_scope.cancel()


async def test_crashed_actor_restarts_with_exponential_backoff(
    sim_clock: SimClock,
) -> None:
    script = Script(sim_clock)
    script.crash_plan["a"] = 3  # exactly max_restarts crashes: still within intensity
    sup, bus = make_supervisor([make_def("a", script)], sim_clock)
    events = bus.topic("events").subscribe("test", types=(ActorStatus,))
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        while len(script.starts) < 4:
            await sim_clock.sleep(1)
        times = [t for _, t in script.starts]
        gaps = [(b - a) / NS_PER_S for a, b in itertools.pairwise(times)]
        # each incarnation lives 0.5 s, then waits 1, 2, 4 s of backoff
        assert gaps == pytest.approx([1.5, 2.5, 4.5])
        rec = sup.records["a"]
        assert rec.restarts == 3
        assert rec.state is ActorState.RUNNING
        assert "boom" in rec.last_error
        states = []
        while events.channel.depth():
            states.append(events.channel.receive_nowait().state)
        assert states.count(ActorState.CRASHED) == 3
        tg.cancel_scope.cancel()


async def test_core_actor_past_intensity_escalates_and_requests_shutdown(
    sim_clock: SimClock,
) -> None:
    script = Script(sim_clock)
    script.crash_plan["core"] = 10
    escalations: list[str] = []
    sup, bus = make_supervisor(
        [make_def("core", script), make_def("other", script, requires=("core",))],
        sim_clock,
        escalations,
    )
    alerts = bus.topic("events").subscribe("test", types=(Alert,))
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await sup.shutdown_requested.wait()
        assert escalations == ["core"]
        assert sup.escalated == "core"
        assert sup.records["core"].state is ActorState.FAILED
        assert "exceeded its restart intensity" in sup.shutdown_reason
        alert = await alerts.receive()
        assert alert.code == "actor_escalated"
        # 1 start + 3 restarts allowed; the 4th crash inside the window escalates
        assert [n for n, _ in script.starts].count("core") == 4
        tg.cancel_scope.cancel()


async def test_optional_actor_past_intensity_is_disabled_and_trading_goes_on(
    sim_clock: SimClock,
) -> None:
    script = Script(sim_clock)
    script.crash_plan["extra"] = 10
    escalations: list[str] = []
    sup, bus = make_supervisor(
        [make_def("core", script), make_def("extra", script, core=False)],
        sim_clock,
        escalations,
    )
    alerts = bus.topic("events").subscribe("test", types=(Alert,))
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        alert = await alerts.receive()
        assert alert.code == "actor_disabled"
        assert sup.records["extra"].state is ActorState.DISABLED
        assert sup.records["core"].state is ActorState.RUNNING
        assert escalations == []
        assert not sup.shutdown_requested.is_set()
        assert sup.core_healthy()
        tg.cancel_scope.cancel()


async def test_crashes_outside_the_window_do_not_count(sim_clock: SimClock) -> None:
    script = Script(sim_clock)
    # Crashes come 6.5 s apart (0.5 s of life + 6 s backoff): never two in a 5 s window.
    policy = msgspec.structs.replace(
        POLICY, window_s=5.0, max_restarts=1, backoff_initial_s=6.0, backoff_max_s=6.0
    )
    script.crash_plan["a"] = 4
    bus = Bus(default_capacity=1024)
    defs = [dataclasses.replace(make_def("a", script), restart=policy)]
    sup = Supervisor(defs, settings=Settings(), clock=sim_clock, bus=bus)
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        while len(script.starts) < 5:
            await sim_clock.sleep(1)
        assert sup.records["a"].state is ActorState.RUNNING
        assert sup.escalated is None
        tg.cancel_scope.cancel()


async def test_graceful_stop_drains_then_calls_on_stop_in_reverse_order(
    sim_clock: SimClock,
) -> None:
    script = Script(sim_clock)
    defs = [make_def("a", script), make_def("b", script, requires=("a",))]
    sup, _ = make_supervisor(defs, sim_clock)
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        drained = await sup.stop(timeout_s=5)
        assert drained
        assert script.stopped == ["b", "a"]
        tg.cancel_scope.cancel()


async def test_stuck_actor_is_reported_and_core_health_fails(sim_clock: SimClock) -> None:
    script = Script(sim_clock)
    sup, _ = make_supervisor([make_def("a", script)], sim_clock)
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        await tg.start(sup.run)
        assert sup.core_healthy()
        sup.records["a"].health.busy()
        await sim_clock.sleep(Settings().daemon.stall_timeout_s + 1)
        assert sup.stuck_actors() == ["a"]
        assert not sup.core_healthy()
        sup.records["a"].health.idle()
        assert sup.core_healthy()
        tg.cancel_scope.cancel()


def test_lifecycle_rejects_illegal_transitions() -> None:
    lc = Lifecycle("x")
    with pytest.raises(IllegalTransition, match="new -> running"):
        lc.to(ActorState.RUNNING)
    lc.to(ActorState.STARTING)
    lc.to(ActorState.RUNNING)
    lc.to(ActorState.CRASHED)
    lc.to(ActorState.DISABLED)
    with pytest.raises(IllegalTransition):
        lc.to(ActorState.STARTING)


def test_restart_policy_overrides_from_config(sim_clock: SimClock) -> None:
    script = Script(sim_clock)
    override = RestartPolicySettings(max_restarts=9)
    settings = Settings(actors=ActorsSettings(overrides={"a": override}))
    sup = Supervisor([make_def("a", script)], settings=settings, clock=sim_clock, bus=Bus())
    assert sup._policy(sup.records["a"].definition).max_restarts == 9
