"""The webhook sink against a local HTTP server: delivery, retries, refusals, hangs, death."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
from anyio import wait_all_tasks_blocked

from actors.alert_bridge import AlertBridge
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import KillSwitchEvent, OrderStatus, OrderUpdate, Side
from tests.integration.alerts._http import Receiver
from tests.integration.redis._support import free_port, make_settings, start


def rejected(n: int) -> OrderUpdate:
    return OrderUpdate(
        client_order_id=f"o{n}",
        symbol="AAPL",
        side=Side.BUY,
        status=OrderStatus.REJECTED,
        qty=Decimal(1),
        reason="no",
        ts=n,
    )


def reaches(read: Callable[[], int], n: int) -> Callable[[], bool]:
    """A ``wait_for`` predicate ``read() == n`` with ``n`` bound now, not when it is called."""
    return lambda: read() == n


@asynccontextmanager
async def bridge_with_webhook(
    clock: SimClock, url: str | None, receiver: Receiver | None = None, **webhook: Any
) -> AsyncIterator[tuple[AlertBridge, Bus, str]]:
    async with anyio.create_task_group() as tg:
        if receiver is not None:
            port = await tg.start(receiver.serve)
            url = f"http://127.0.0.1:{port}/hook"
        assert url is not None
        settings = make_settings(
            "",
            "unused",
            alerts={
                "rate_per_minute": 1000,
                "webhook": {
                    "url": url,
                    "timeout_s": 5.0,
                    "max_attempts": 3,
                    "backoff_initial_s": 1.0,
                    "backoff_max_s": 1.0,
                    "headers": {"authorization": "Bearer t0ken"},
                    **webhook,
                },
            },
        )
        bus = Bus(default_capacity=1024)
        bridge, _ = await start(tg, AlertBridge, "alert_bridge", settings, clock, bus)
        yield bridge, bus, url
        if receiver is not None:
            receiver.release.set()
        tg.cancel_scope.cancel()


async def test_alert_is_posted_as_json_with_configured_headers() -> None:
    clock = SimClock()
    receiver = Receiver()
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver) as (bridge, bus, _):
            kill = KillSwitchEvent(engaged=True, reason="manual", trigger="operator", ts=1)
            await bus.topic(names.EVENTS).publish(kill)
            hook = bridge.sink("webhook")
            await hook.progress.wait_for(lambda: hook.stats.delivered == 1)
    body = receiver.json(0)
    assert (
        body["text"]
        == "[acct] CRITICAL kill_switch_engaged: KILL SWITCH ENGAGED (operator): manual"
    )
    assert body["account"] == "acct"
    alert = body["alert"]
    assert isinstance(alert, dict)
    assert (alert["code"], alert["severity"], alert["type"]) == (
        "kill_switch_engaged",
        "critical",
        "Alert",
    )
    assert b"authorization: bearer t0ken" in receiver.heads[0].lower()


async def test_text_format_sends_only_the_text() -> None:
    clock = SimClock()
    receiver = Receiver()
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver, format="text") as (bridge, bus, _):
            await bus.topic(names.EVENTS).publish(rejected(1))
            hook = bridge.sink("webhook")
            await hook.progress.wait_for(lambda: hook.stats.delivered == 1)
    assert receiver.json(0) == {
        "text": "[acct] WARNING order_rejected: entry order o1 buy AAPL rejected: no"
    }


async def test_server_errors_are_retried_after_a_backoff_then_delivered() -> None:
    clock = SimClock()
    receiver = Receiver(["500", "503"])
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver) as (bridge, bus, _):
            hook = bridge.sink("webhook")
            await bus.topic(names.EVENTS).publish(rejected(1))
            for failures in (1, 2):
                await hook.progress.wait_for(reaches(lambda: hook.stats.errors, failures))
                await wait_all_tasks_blocked()
                assert len(receiver.bodies) == failures  # waiting out the backoff
                clock.advance(1.2)
            await hook.progress.wait_for(lambda: hook.stats.delivered == 1)
    assert len(receiver.bodies) == 3
    assert hook.stats.retries == 2
    assert hook.stats.failed == 0


async def test_retry_after_is_honoured() -> None:
    clock = SimClock()
    receiver = Receiver(["429:3"])
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver, backoff_max_s=10.0) as (
            bridge,
            bus,
            _,
        ):
            hook = bridge.sink("webhook")
            await bus.topic(names.EVENTS).publish(rejected(1))
            await hook.progress.wait_for(lambda: hook.stats.errors == 1)
            clock.advance(2.9)  # past our own 1-1.2 s backoff, short of Retry-After
            await wait_all_tasks_blocked()
            assert len(receiver.bodies) == 1
            clock.advance(0.1)
            await hook.progress.wait_for(lambda: hook.stats.delivered == 1)


async def test_a_refusal_is_final() -> None:
    clock = SimClock()
    receiver = Receiver(["400"])
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver) as (bridge, bus, _):
            hook = bridge.sink("webhook")
            await bus.topic(names.EVENTS).publish(rejected(1))
            await hook.progress.wait_for(lambda: hook.stats.failed == 1)
            await bus.topic(names.EVENTS).publish(rejected(2))
            await hook.progress.wait_for(lambda: hook.stats.delivered == 1)
    assert len(receiver.bodies) == 2  # no retry of the refused one
    assert hook.stats.retries == 0


async def test_a_hanging_webhook_times_out_and_never_holds_anything_else_up() -> None:
    clock = SimClock()
    receiver = Receiver(["hang"] * 3)
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, None, receiver, buffer=4) as (bridge, bus, _):
            hook, log = bridge.sink("webhook"), bridge.sink("log")
            events = bus.topic(names.EVENTS)
            await events.publish(rejected(0))
            await receiver.progress.wait_for(lambda: len(receiver.bodies) == 1)

            # Meanwhile trading goes on: 40 more problems, none of them waits for the hook.
            for n in range(1, 41):
                events.publish_nowait(rejected(n))
            await bridge.progress.wait_for(lambda: bridge.stats.raised == 41)
            await log.progress.wait_for(lambda: log.stats.delivered == 41)
            assert hook.stats.shed == 41 - 1 - 4  # one in hand, four queued
            assert bridge.shed == 0

            for attempt in (1, 2, 3):
                await receiver.progress.wait_for(reaches(lambda: len(receiver.bodies), attempt))
                await wait_all_tasks_blocked()
                clock.advance(5.0)  # the attempt times out on the daemon's clock
                await hook.progress.wait_for(reaches(lambda: hook.stats.errors, attempt))
                await wait_all_tasks_blocked()
                clock.advance(1.2)
            await hook.progress.wait_for(lambda: hook.stats.failed == 1)
            # The queued alerts go out once the receiver answers again.
            await hook.progress.wait_for(lambda: hook.stats.delivered == 4)


async def test_a_dead_webhook_fails_after_its_attempts() -> None:
    clock = SimClock()
    url = f"http://127.0.0.1:{free_port()}/hook"
    with anyio.fail_after(10):
        async with bridge_with_webhook(clock, url) as (bridge, bus, _):
            hook = bridge.sink("webhook")
            await bus.topic(names.EVENTS).publish(rejected(1))
            for failures in (1, 2):
                await hook.progress.wait_for(reaches(lambda: hook.stats.errors, failures))
                await wait_all_tasks_blocked()
                clock.advance(1.2)
            await hook.progress.wait_for(lambda: hook.stats.failed == 1)
    assert hook.stats.errors == 3
    assert hook.stats.delivered == 0
