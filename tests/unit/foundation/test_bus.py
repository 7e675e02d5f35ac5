"""Bus: channels apply backpressure and never drop; best-effort topics shed and count."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from daemon.bus import Bus, Channel, Service, Topic


async def test_channel_delivers_in_order_and_batches() -> None:
    ch: Channel[int] = Channel("t", 16)
    for i in range(10):
        await ch.send(i)
    assert ch.depth() == 10
    assert await ch.receive_batch(4) == [0, 1, 2, 3]
    assert await ch.receive_batch() == [4, 5, 6, 7, 8, 9]
    assert ch.stats.sent == 10
    assert ch.stats.received == 10


async def test_full_channel_applies_backpressure_and_loses_nothing() -> None:
    ch: Channel[int] = Channel("t", 2)
    got: list[int] = []

    async def producer() -> None:
        for i in range(50):
            await ch.send(i)

    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        await anyio.wait_all_tasks_blocked()
        assert ch.depth() == 2  # producer is blocked, not dropping
        while len(got) < 50:
            got.extend(await ch.receive_batch())
    assert got == list(range(50))
    assert ch.stats.blocked > 0
    assert ch.stats.shed == 0


def test_try_send_sheds_and_counts_when_full() -> None:
    ch: Channel[int] = Channel("t", 1)
    assert ch.try_send(1)
    assert not ch.try_send(2)
    assert ch.stats.shed == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Channel("t", 0)


async def test_topic_filters_by_type_and_sheds_only_best_effort_subscribers() -> None:
    topic: Topic[object] = Topic("events", default_capacity=8)
    lossless = topic.subscribe("storage")
    ints_only = topic.subscribe("ints", types=(int,), lossless=False, capacity=1)
    await topic.publish(1)
    await topic.publish("a")  # filtered out for ints_only
    assert ints_only.shed == 0
    await topic.publish(2)  # ints_only is full: shed and counted, never awaited
    assert ints_only.shed == 1
    assert await lossless.receive_batch() == [1, "a", 2]
    assert await ints_only.receive_batch() == [1]


async def test_topic_publish_waits_for_a_full_lossless_subscriber() -> None:
    topic: Topic[int] = Topic("events", default_capacity=1)
    sub = topic.subscribe("storage")
    done = anyio.Event()

    async def publish_two() -> None:
        await topic.publish(1)
        await topic.publish(2)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(publish_two)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()
        assert await sub.receive() == 1
        assert await sub.receive() == 2
    assert done.is_set()


async def test_service_request_reply_and_failure() -> None:
    svc: Service[int, int] = Service("double")

    async def server() -> None:
        while True:
            for call in await svc.next_calls():
                if call.request < 0:
                    call.fail(ValueError("negative"))
                else:
                    call.reply(call.request * 2)

    async with anyio.create_task_group() as tg:
        tg.start_soon(server)
        assert await svc.call(21) == 42
        with pytest.raises(ValueError, match="negative"):
            await svc.call(-1)
        tg.cancel_scope.cancel()


def test_bus_creates_endpoints_once_by_name() -> None:
    bus = Bus(default_capacity=8)
    assert bus.channel("a") is bus.channel("a")
    assert bus.topic("t") is bus.topic("t")
    assert bus.service("s") is bus.service("s")
    bus.channel("a").send_nowait(1)
    assert bus.depths()["a"] == 1
    sub = bus.topic("t").subscribe("x", lossless=False, capacity=1)
    assert bus.shed_counts() == {sub.channel.name: 0}


async def test_resubscribing_by_name_takes_over_the_buffer_instead_of_leaking() -> None:
    topic: Topic[int] = Topic("events", default_capacity=2)
    first = topic.subscribe("orchestrator", types=(int,))
    await topic.publish(1)
    again = topic.subscribe("orchestrator", types=(int,))  # e.g. the actor restarted
    assert again is first
    assert len(topic.subscriptions) == 1
    await topic.publish(2)  # would block forever if a stale second subscription existed
    assert await again.receive_batch() == [1, 2]
    with pytest.raises(ValueError, match="already exists"):
        topic.subscribe("orchestrator", lossless=False)


async def test_unsubscribe_stops_delivery_and_frees_the_name() -> None:
    topic: Topic[int] = Topic("events", default_capacity=4)
    sub = topic.subscribe("watch-1", lossless=False)
    topic.unsubscribe(sub)
    await topic.publish(1)
    assert topic.subscriptions == ()
    assert topic.subscribe("watch-1", lossless=False) is not sub


# -- waiting, cancellation and closing --------------------------------------------------------


async def test_a_receiver_cancelled_while_waiting_loses_nothing() -> None:
    ch: Channel[int] = Channel("t", 4)
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(ch.receive)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
        tg.cancel_scope.cancel()
    ch.send_nowait(7)
    assert ch.receive_nowait() == 7


async def test_a_wake_up_lost_to_cancellation_is_passed_on() -> None:
    ch: Channel[int] = Channel("t", 4)
    got: list[int] = []

    async def receive_into() -> None:
        got.append(await ch.receive())

    # Plain asyncio tasks (awaited below): the test needs Task.cancel() at the exact
    # moment between the wake-up and the woken task running, which anyio's cancel
    # scopes deliberately defer.
    first = asyncio.ensure_future(receive_into())
    await anyio.wait_all_tasks_blocked()
    second = asyncio.ensure_future(receive_into())
    await anyio.wait_all_tasks_blocked()
    ch.send_nowait(1)  # wakes the first receiver...
    first.cancel()  # ...which is cancelled before it can run
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert got == [1]  # the second receiver got it; nothing is left behind
    assert ch.depth() == 0


async def test_a_sender_cancelled_while_waiting_sends_nothing() -> None:
    ch: Channel[int] = Channel("t", 1)
    ch.send_nowait(1)
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(ch.send, 2)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
        tg.cancel_scope.cancel()
    assert await ch.receive_batch() == [1]
    assert ch.depth() == 0


async def test_close_lets_receivers_drain_then_ends_the_stream() -> None:
    ch: Channel[int] = Channel("t", 4)
    ch.send_nowait(1)
    ch.close()
    with pytest.raises(anyio.ClosedResourceError):
        ch.send_nowait(2)
    assert await ch.receive_batch() == [1]
    with pytest.raises(anyio.EndOfStream):
        await ch.receive()


async def test_close_wakes_a_waiting_receiver_with_end_of_stream() -> None:
    ch: Channel[int] = Channel("t", 4)
    outcome: list[str] = []

    async def receiver() -> None:
        try:
            await ch.receive_batch()
        except anyio.EndOfStream:
            outcome.append("end")

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        ch.close()
    assert outcome == ["end"]


async def test_a_receiver_that_always_finds_messages_still_lets_others_run() -> None:
    ch: Channel[int] = Channel("t", 4)
    ch.send_nowait(0)
    other_ran = False
    rounds = 0

    async def feeds_itself() -> None:
        nonlocal rounds
        while not other_ran:
            ch.send_nowait(await ch.receive() + 1)
            rounds += 1

    async def other() -> None:
        nonlocal other_ran
        other_ran = True

    async with anyio.create_task_group() as tg:
        tg.start_soon(feeds_itself)
        tg.start_soon(other)
    assert other_ran
    assert rounds <= 128  # it yielded after a bounded run instead of spinning forever


async def test_a_service_caller_cancelled_while_waiting_does_not_break_the_server() -> None:
    svc: Service[int, int] = Service("double")
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(svc.call, 1)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
        await anyio.wait_all_tasks_blocked()
        (call,) = await svc.next_calls()
        call.reply(2)  # nobody is listening any more: must not raise
        tg.start_soon(svc.call, 3)
        (call,) = await svc.next_calls()
        call.reply(6)
