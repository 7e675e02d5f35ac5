"""Watchers come and go on the events topic; lossless subscribers must not notice."""

from __future__ import annotations

import anyio
from anyio import WouldBlock
from anyio.lowlevel import checkpoint

from daemon.bus import Topic


async def test_a_watcher_leaving_during_a_blocked_publish_skips_nobody() -> None:
    topic: Topic[str] = Topic("events")
    watcher = topic.subscribe("control.watch.1", lossless=False, capacity=8)
    slow = topic.subscribe("storage", capacity=1)
    after = topic.subscribe("journal", capacity=8)
    slow.channel.send_nowait("filler")  # full: publish() waits on it (backpressure)
    async with anyio.create_task_group() as tg:
        tg.start_soon(topic.publish, "event")
        await anyio.wait_all_tasks_blocked()
        topic.unsubscribe(watcher)  # a watch client disconnects meanwhile
        assert await slow.receive() == "filler"
        assert await slow.receive() == "event"
    await checkpoint()
    try:
        got = after.channel.receive_nowait()
    except WouldBlock:
        got = "nothing: the journal missed the event"
    assert got == "event"
