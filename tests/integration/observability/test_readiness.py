"""Readiness flips when a core actor hangs and when the kill switch is engaged — on
``/readyz``, in ``tradingd_ready`` and in ``tradingctl status`` alike.

The daemon runs a test-only definitions list: the real safety actor (the kill switch),
a core actor that hangs on request (not shipped: a hanging actor has no place in
``actors/``), and the metrics actor. The clock stands still unless the test moves it.
"""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.abc import TaskStatus

from actors.metrics import DEFINITION as METRICS
from actors.safety import DEFINITION as SAFETY
from daemon import ctl, names
from daemon.actor import Actor, ActorDefinition
from daemon.metrics import HealthProbe
from daemon.safety import EngageKill, ResetKill
from tests.integration.observability._support import Running, obs_settings, running_daemon, value

HANG = "test.hang"


def hanger(release: anyio.Event) -> ActorDefinition:
    """A core actor that, given work on ``test.hang``, stays busy until ``release`` is set."""

    class Hanger(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            inbox = self.bus.channel(HANG)
            task_status.started()
            while True:
                for _ in await self.next_batch(inbox):
                    await release.wait()

    return ActorDefinition(name="hanger", factory=Hanger, description="test: hangs on request")


def sink() -> ActorDefinition:
    """Consumes what the kill switch sends the orchestrator and the lifecycle monitor."""

    class Sink(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with anyio.create_task_group() as tg:
                for name in (names.ORCHESTRATOR_CONTROL, names.LIFECYCLE_CONTROL):
                    tg.start_soon(self._drain, name)
                task_status.started()

        async def _drain(self, name: str) -> None:
            channel = self.bus.channel(name)
            while True:
                await self.next_batch(channel)
                self.health.idle()

    return ActorDefinition(name="sink", factory=Sink, description="test: drains control channels")


async def _readyz(run: Running) -> tuple[int, str]:
    resp = await run.get("/readyz")
    return resp.status_code, resp.text


async def _status(run: Running, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    sock = run.daemon.settings.daemon.socket_path
    code = await anyio.to_thread.run_sync(ctl.main, ["--socket", sock, "--json", "status"])
    assert code == 0
    ready: dict[str, object] = json.loads(capsys.readouterr().out)["ready"]
    return ready


async def test_a_hanging_core_actor_makes_the_daemon_not_ready_until_it_moves(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    release = anyio.Event()
    settings = obs_settings(base)
    async with running_daemon(
        settings, [SAFETY, hanger(release), METRICS], serve_control=True
    ) as run:
        assert await _readyz(run) == (200, await _text_of_ready(run))
        assert (await _status(run, capsys))["ready"] is True

        await run.daemon.bus.channel(HANG).send("hang")
        await wait_all_tasks_blocked()
        # Busy is not stuck: only past the stall timeout does it count.
        assert (await _readyz(run))[0] == 200
        run.clock.advance(settings.daemon.stall_timeout_s + 1)
        await wait_all_tasks_blocked()

        status, body = await _readyz(run)
        assert status == 503
        assert body.splitlines()[0] == "not ready"
        assert "FAIL progress: core actor(s) busy on one piece of work for over 30s: hanger" in body
        m = await run.scrape()
        assert value(m, "tradingd_ready") == 0
        assert value(m, "tradingd_ready_check", check="progress") == 0
        assert value(m, "tradingd_ready_check", check="kill_switch") == 1
        assert value(m, "tradingd_actor_stuck", actor="hanger") == 1
        ready = await _status(run, capsys)
        assert ready["ready"] is False
        not_ready = ready["not_ready"]
        assert isinstance(not_ready, list)
        assert any("hanger" in str(x) for x in not_ready)

        release.set()
        await wait_all_tasks_blocked()
        assert (await _readyz(run))[0] == 200
        assert value(await run.scrape(), "tradingd_ready") == 1


async def test_the_kill_switch_makes_the_daemon_not_ready_until_reset(base: Path) -> None:
    async with running_daemon(obs_settings(base), [SAFETY, sink(), METRICS]) as run:
        safety = run.daemon.bus.service(names.SAFETY)
        reply = await safety.call(EngageKill(reason="desk says stop", by="test"))
        assert reply.ok
        await wait_all_tasks_blocked()

        status, body = await _readyz(run)
        assert status == 503
        assert "FAIL kill_switch: engaged (operator by test): desk says stop" in body
        as_json = (await run.get("/readyz?format=json")).json()
        assert as_json["ready"] is False
        assert as_json["checks"]["kill_switch"]["ok"] is False
        m = await run.scrape()
        assert value(m, "tradingd_kill_switch_engaged") == 1
        assert value(m, "tradingd_ready_check", check="kill_switch") == 0
        assert (
            value(m, "tradingd_kill_switch_events_total", action="engaged", trigger="operator") == 1
        )
        # Liveness is not readiness: the process still answers.
        assert (await run.get("/healthz")).status_code == 200

        reply = await safety.call(ResetKill(reason="all clear", by="test"))
        assert reply.ok, reply.message
        await wait_all_tasks_blocked()
        assert (await _readyz(run))[0] == 200
        assert value(await run.scrape(), "tradingd_kill_switch_engaged") == 0


async def test_a_hold_keeps_the_daemon_not_ready_with_its_reason(base: Path) -> None:
    async with running_daemon(obs_settings(base), [SAFETY, METRICS]) as run:
        probe = run.daemon.resources[HealthProbe]
        probe.hold("reconciliation", "3 positions differ from the broker's")
        status, body = await _readyz(run)
        assert status == 503
        assert "FAIL holds: reconciliation: 3 positions differ from the broker's" in body
        probe.release("reconciliation")
        assert (await _readyz(run))[0] == 200


async def _text_of_ready(run: Running) -> str:
    probe: HealthProbe = run.daemon.resources[HealthProbe]
    return probe.readiness().text()
