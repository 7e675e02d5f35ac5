"""The storage writer's admin-socket commands: storage, trades, pnl, trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.control import Call, CommandError, ControlRegistry, ErrorCode, Peer
from storage import Database
from tests.integration.storage.events import pipeline_events
from tests.integration.storage.writer_support import (
    make_writer,
    running,
    wait_for,
    writer_settings,
)

CALL = Call(request_id=1, cmd="x", peer=Peer(uid=0, gid=0, pid=1))


async def call(registry: ControlRegistry, name: str, **raw: Any) -> Any:
    binding = registry.resolve(name)
    assert binding.handler is not None
    args = binding.spec.parse_args(raw)
    return msgspec.to_builtins(await binding.handler(CALL, args))


async def test_commands_read_what_the_writer_recorded(db: Database, tmp_path: Path) -> None:
    clock = SimClock()
    bus = Bus()
    registry = ControlRegistry()
    writer = make_writer(db, writer_settings(db, tmp_path, batch_size=50), clock, bus)
    writer.ctx.resources[ControlRegistry] = registry
    events = pipeline_events(8)
    async with running(writer, clock):
        for e in events:
            await bus.topic(names.EVENTS).publish(e)
        await wait_for(writer, lambda s: s.received == len(events))
        clock.advance(1.0)
        await wait_for(writer, lambda s: s.recorded >= len(events))

        status = await call(registry, "storage")
        assert status["recorded"] == len(events)
        assert status["outage"] == ""

        day = (await call(registry, "pnl", by="day"))["groups"][0]["key"]
        trades = await call(registry, "trades", day=day)
        assert [t["trade_id"] for t in trades["trades"]] == ["t-1", "t-3", "t-5", "t-7"]
        by_source = await call(registry, "pnl", by="source")
        assert sum(g["trades"] for g in by_source["groups"]) == 4

        trace = await call(registry, "trace", id="c-00000003")
        assert trace["signal"]["signal_id"] == "s-3"
        assert [o["client_order_id"] for o in trace["orders"]] == ["o-00000003", "x-00000003"]

        with pytest.raises(CommandError) as err:
            await call(registry, "trace", id="nope")
        assert err.value.code == ErrorCode.REFUSED
        with pytest.raises(CommandError) as err:
            await call(registry, "pnl", by="colour")
        assert err.value.code == ErrorCode.BAD_ARGS
