"""The Daemon runtime in-process: start, reload, escalation exit code, graceful stop."""

from __future__ import annotations

import gc
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from config import ConfigError, Settings, settings_from_mapping
from config.sections.supervisor import RestartPolicySettings
from daemon.actor import Actor, ActorDefinition
from daemon.clock import SimClock
from daemon.exitcodes import ExitCode
from daemon.runtime import Daemon
from tests.conftest import tmp_settings


class Recorder:
    def __init__(self) -> None:
        self.reloaded: list[Settings] = []
        self.handled: list[int] = []
        self.flushed = False


def worker_def(rec: Recorder) -> ActorDefinition:
    class Worker(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            inbox = self.bus.channel("work")
            task_status.started()
            while True:
                for item in await self.next_batch(inbox):
                    await self.clock.sleep(1)  # in-flight work that a stop must let finish
                    rec.handled.append(item)

        async def on_reload(self, settings: Settings) -> None:
            await super().on_reload(settings)
            rec.reloaded.append(settings)

        async def on_stop(self) -> None:
            rec.flushed = True

    return ActorDefinition(name="worker", factory=Worker, description="test worker")


def crasher_def() -> ActorDefinition:
    class Crasher(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            task_status.started()
            raise RuntimeError("always")

    return ActorDefinition(
        name="crasher",
        factory=Crasher,
        description="crashes",
        restart=RestartPolicySettings(max_restarts=2, backoff_initial_s=0.1),
    )


async def test_graceful_stop_lets_in_flight_work_finish(sim_clock: SimClock) -> None:
    rec = Recorder()
    daemon = Daemon(
        Settings(), clock=sim_clock, definitions=[worker_def(rec)], handle_signals=False
    )
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        code: list[ExitCode] = []

        async def main() -> None:
            code.append(await daemon.run())

        tg.start_soon(main)
        await daemon.ready.wait()
        for i in range(3):
            await daemon.bus.channel("work").send(i)
        daemon.request_stop("test")
    assert rec.handled == [0, 1, 2]
    assert rec.flushed
    assert code == [ExitCode.OK]


async def test_core_escalation_runs_hooks_and_exits_70(sim_clock: SimClock, tmp_path: Path) -> None:
    # The kill switch's CancelAllOrders has no orchestrator to drain it in this
    # one-actor daemon, so keep the stop bound short (on the simulated clock).
    settings = tmp_settings(tmp_path, daemon={"stop_timeout_s": 1.0})
    daemon = Daemon(settings, clock=sim_clock, definitions=[crasher_def()], handle_signals=False)
    seen: list[str] = []

    async def hook(actor: str, reason: str) -> None:
        seen.append(f"{actor}: {reason}")

    daemon.escalation_hooks.append(hook)
    async with sim_clock.autojumping():
        code = await daemon.run()
    assert code == ExitCode.ESCALATED
    assert len(seen) == 1
    assert seen[0].startswith("crasher: core actor crasher exceeded its restart intensity")


async def test_reload_hands_valid_settings_to_actors_and_rejects_invalid(
    sim_clock: SimClock, tmp_path: Path
) -> None:
    rec = Recorder()
    new = settings_from_mapping({"risk": {"max_position_pct": 5}})
    loaders: list[object] = [new, ConfigError(["risk.x: unknown key"])]

    def loader() -> Settings:
        nxt = loaders.pop(0)
        if isinstance(nxt, Exception):
            raise nxt
        assert isinstance(nxt, Settings)
        return nxt

    daemon = Daemon(
        tmp_settings(tmp_path),
        clock=sim_clock,
        definitions=[worker_def(rec)],
        reload_loader=loader,
        handle_signals=False,
    )
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.ready.wait()
        assert await daemon.reload() is True
        assert rec.reloaded == [new]
        assert daemon.settings.risk.max_position_pct == 5
        assert await daemon.reload() is False
        assert daemon.settings is new
        daemon.request_stop("test")


async def test_in_process_daemons_leave_the_process_gc_settings_alone(
    sim_clock: SimClock, tmp_path: Path
) -> None:
    # GC tuning is process-wide, so only the real daemon process opts in (tune_gc=True);
    # a test session that starts many daemons must not pin each one's heap.
    before = (gc.get_threshold(), gc.get_freeze_count())
    rec = Recorder()
    daemon = Daemon(
        tmp_settings(tmp_path), clock=sim_clock, definitions=[worker_def(rec)], handle_signals=False
    )
    async with sim_clock.autojumping(), anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.ready.wait()
        assert (gc.get_threshold(), gc.get_freeze_count()) == before
        daemon.request_stop("test")
