"""``status`` says ``reconciling`` while the start-up reconciliation holds the daemon back.

The real reconciler, orchestrator and safety actors run; the broker's slot is taken by a
recorder that never answers the query service, so the reconciler's start-up run waits on
the broker for as long as the simulated clock stands still. Moving the clock past
``reconciler.startup_timeout_s`` ends the run the way a broker that never answers does:
the kill switch is engaged and the daemon becomes ready, now ``running``.
"""

from __future__ import annotations

import shutil

import anyio
from anyio import wait_all_tasks_blocked
from anyio.from_thread import start_blocking_portal
from anyio.lowlevel import checkpoint

from actors.orchestrator import DEFINITION as ORCHESTRATOR
from actors.reconciler import DEFINITION as RECONCILER
from actors.safety import DEFINITION as SAFETY
from daemon import names
from daemon.clock import NS_PER_S, SimClock
from daemon.exitcodes import ExitCode
from daemon.messages import ActorState
from daemon.runtime import Daemon
from tests.integration.control._support import (
    ControlTestDaemon,
    LineClient,
    Notebook,
    make_settings,
    recorder,
    short_dir,
)

STARTUP_TIMEOUT_S = 30.0


async def _held_on_the_broker(daemon: Daemon) -> None:
    """Wait until the reconciler is starting and its question to the broker is queued."""
    with anyio.fail_after(20):
        while True:
            sup = daemon.supervisor
            if (
                sup is not None
                and sup.records["reconciler"].state is ActorState.STARTING
                and daemon.bus.service(names.BROKER_QUERY).depth() > 0
            ):
                return
            await wait_all_tasks_blocked()
            await checkpoint()


async def _give_up_on_the_broker(clock: SimClock, daemon: Daemon) -> None:
    await clock.run_until(clock.now_ns() + int((STARTUP_TIMEOUT_S + 15) * NS_PER_S))
    with anyio.fail_after(20):
        await daemon.ready.wait()


async def _broker_answers_at_last(daemon: Daemon) -> int:
    """Answer the questions the reconciler gave up on (else the stop waits on them)."""
    queries = daemon.bus.service(names.BROKER_QUERY)
    n = 0
    while queries.depth():
        for call in await queries.next_calls():
            call.fail(ConnectionError("the broker answered too late"))
            n += 1
    return n


def test_status_says_reconciling_during_the_start_up_run() -> None:
    base = short_dir()
    book = Notebook()
    settings = make_settings(
        base,
        extra={
            "reconciler": {
                "startup_timeout_s": STARTUP_TIMEOUT_S,
                "query_timeout_s": 10.0,
                "retry_s": 2.0,
            }
        },
        # Status asks each owner for a third of this: the silent broker costs 0.2 s.
        request_timeout_s=0.6,
    )
    definitions = [
        SAFETY,
        recorder("broker", (names.BROKER_COMMANDS,), book),
        ORCHESTRATOR,
        recorder("lifecycle", (names.LIFECYCLE_CONTROL,), book),
        RECONCILER,
    ]
    clock = SimClock()
    try:
        with start_blocking_portal("asyncio") as portal:
            daemon = ControlTestDaemon(
                settings,
                clock=clock,
                definitions=definitions,
                handle_signals=False,
                serve_control=True,
            )
            codes: list[ExitCode] = []

            async def main() -> None:
                codes.append(await daemon.run())

            future = portal.start_task_soon(main)
            portal.call(_held_on_the_broker, daemon)
            assert daemon.control_server is not None
            with LineClient(daemon.control_server.path) as c:
                r = c.ok("status")
                assert r["daemon"]["state"] == "reconciling"
                states = {a["name"]: a["state"] for a in r["actors"]}
                assert states["reconciler"] == "starting"
                assert states["orchestrator"] == "running"
                # The broker's own account view is asked of the silent broker too.
                assert set(r["unavailable"]) == {"account"}

                portal.call(_give_up_on_the_broker, clock, daemon)
                r = c.ok("status")
                assert r["daemon"]["state"] == "running"
                assert r["safety"]["killed"] is True
                assert "start-up reconciliation" in r["safety"]["kill_reason"]

            assert portal.call(_broker_answers_at_last, daemon) >= 1
            portal.call(daemon.request_stop, "test over")
            future.result(timeout=30)
            assert codes == [ExitCode.OK]
    finally:
        shutil.rmtree(base, ignore_errors=True)
