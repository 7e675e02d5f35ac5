"""The safety state inside a real Daemon: prepared before actors, announced once they are
ready, read by the heartbeat, and engaged by a core actor's escalation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus

from actors.safety import DEFINITION as SAFETY
from config import Settings, settings_from_mapping
from config.sections.supervisor import RestartPolicySettings
from daemon import names
from daemon.actor import Actor, ActorDefinition
from daemon.clock import SimClock
from daemon.exitcodes import ExitCode
from daemon.messages import Alert, CancelAllOrders, Heartbeat, KillSwitchEvent, OrderPurpose
from daemon.runtime import Daemon
from daemon.safety import SafetyGate, SafetyStore
from daemon.safety.state import decode_state
from tests.unit.safety.support import ns

T0 = ns(2024, 3, 1, 10)


def settings_for(d: Path) -> Settings:
    return settings_from_mapping(
        {
            "daemon": {"state_dir": str(d), "heartbeat_interval_s": 1.0, "stop_timeout_s": 5.0},
            "safety": {"create_state_dir": True},
        }
    )


def orders_sink(got: list[Any]) -> ActorDefinition:
    """Stands in for the orchestrator's control inbox (it is the channel's consumer)."""

    class Sink(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            inbox = self.bus.channel(names.ORCHESTRATOR_CONTROL)
            task_status.started()
            while True:
                got.extend(await self.next_batch(inbox))

    return ActorDefinition(name="orchestrator", factory=Sink, description="sink")


def crasher() -> ActorDefinition:
    class Crasher(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            await self.clock.sleep(1)
            raise RuntimeError("boom")

    return ActorDefinition(
        name="crasher",
        factory=Crasher,
        description="crashes",
        requires=("safety", "orchestrator"),
        restart=RestartPolicySettings(max_restarts=1, backoff_initial_s=0.1),
    )


async def test_damage_is_announced_after_start_and_the_heartbeat_reads_the_gate(
    tmp_path: Path,
) -> None:
    d = tmp_path / "state"
    d.mkdir()
    (d / "safety.state").write_bytes(b"\x00not a state file")
    clock = SimClock(T0)
    daemon = Daemon(
        settings_for(d), clock=clock, definitions=[SAFETY, orders_sink([])], handle_signals=False
    )
    # Subscribed before the daemon runs, like an alert bridge that starts with it.
    sub = daemon.events.subscribe("t", types=(Alert, KillSwitchEvent, Heartbeat))
    seen: list[Any] = []
    codes: list[ExitCode] = []

    async def main() -> None:
        codes.append(await daemon.run())

    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        async with anyio.create_task_group() as inner:
            inner.start_soon(main)
            await daemon.ready.wait()
            gate = daemon.resources[SafetyGate]
            assert isinstance(gate, SafetyStore)
            assert gate.may_submit(OrderPurpose.ENTRY) is not None
            with anyio.fail_after(10):
                while not any(isinstance(e, Heartbeat) for e in seen):
                    seen.append(await sub.receive())
            daemon.events.unsubscribe(sub)
            daemon.request_stop("test")
        tg.cancel_scope.cancel()
    assert codes == [ExitCode.OK]
    assert isinstance(seen[0], Alert)
    assert seen[0].code == "safety_state_damaged"
    assert isinstance(seen[1], KillSwitchEvent)
    beat = next(e for e in seen if isinstance(e, Heartbeat))
    assert beat.killed
    assert beat.mode == "running"


async def test_core_escalation_engages_the_kill_switch_durably(tmp_path: Path) -> None:
    d = tmp_path / "state"
    clock = SimClock(T0)
    got: list[Any] = []
    daemon = Daemon(
        settings_for(d),
        clock=clock,
        definitions=[SAFETY, orders_sink(got), crasher()],
        handle_signals=False,
    )
    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        code = await daemon.run()
        tg.cancel_scope.cancel()
    assert code is ExitCode.ESCALATED
    kill = decode_state((d / "safety.state").read_bytes()).kill
    assert kill.engaged
    assert kill.trigger == "actor_escalation"
    assert "crasher" in kill.reason
    assert [type(m) for m in got] == [CancelAllOrders]
    # The next start is still killed: an escalation is never forgotten by a restart.
    again = await SafetyStore.open(settings_for(d), clock=SimClock(T0), bus=daemon.bus)
    try:
        assert again.snapshot().killed
    finally:
        again.close()
