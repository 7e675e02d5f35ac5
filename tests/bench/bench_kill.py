"""BENCH=kill: from a kill command arriving to (a) new orders blocked, (b) state durable.

The real path, on uvloop and a live clock: an ``EngageKill`` request is sent on the
``safety`` service (as the admin socket does), the safety actor hands it to the
:class:`SafetyStore`, which blocks entries, sends the cancels, and writes the state file
in a worker thread. Measured per kill:

* ``blocked``: until :meth:`SafetyStore.may_submit` refuses an entry — what the
  orchestrator asks right before an order leaves. Target: under 1 ms.
* ``durable``: until the atomic write (temp file, fsync, rename, fsync of the
  directory) has returned in the writer thread — the state is on disk. Observed through
  a wrapper around the real :class:`OsFileOps` that notes when ``fsync_dir`` returns.
* ``acked``: until the reply is back in the caller's hands, which the store sends only
  after the write: ``durable`` plus the hop back from the writer thread, the event and
  log, and the service reply.

Baseline, in the same run, same directory, same payload size, interleaved sample by
sample so both see the same disk: the bare ``write + fsync + rename + fsync(dir)``
sequence done inline. Target: durable within 1.5x of it.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import anyio

from actors.safety import DEFINITION as SAFETY_ACTOR
from config import settings_from_mapping
from daemon import names
from daemon.actor import ActorContext, Health
from daemon.bus import Bus
from daemon.clock import LiveClock
from daemon.logs import actor_logger
from daemon.messages import OrderPurpose
from daemon.safety import EngageKill, OsFileOps, SafetyStore
from daemon.safety.state import encode_state
from tests.bench._common import Result, latency_result, now, percentile

SAMPLES = 400
WARMUP = 20
ENTRY = OrderPurpose.ENTRY


class _Observed:
    """The real file operations, noting when each write became durable."""

    def __init__(self) -> None:
        self._real = OsFileOps()
        self.durable_at = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def fsync_dir(self, path: str) -> None:
        self._real.fsync_dir(path)
        self.durable_at = now()


def _bare(dir_path: str, data: bytes) -> float:
    path = os.path.join(dir_path, "bare.state")
    tmp = path + ".tmp"
    t0 = now()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(dir_path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    return now() - t0


async def _main() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-kill-") as d:
        settings = settings_from_mapping({"daemon": {"state_dir": d}})
        clock = LiveClock()
        bus = Bus()
        ops = _Observed()
        store = await SafetyStore.open(settings, clock=clock, bus=bus, fileops=ops)
        ctx = ActorContext(
            name="safety",
            settings=settings,
            clock=clock,
            bus=bus,
            log=actor_logger("safety"),
            health=Health(clock),
            resources={SafetyStore: store},
        )
        actor = SAFETY_ACTOR.factory(ctx)
        svc = bus.service(names.SAFETY)
        orders = bus.channel(names.ORCHESTRATOR_CONTROL)
        payload = encode_state(store.state)
        blocked: list[float] = []
        durable: list[float] = []
        acked: list[float] = []
        bare: list[float] = []
        go_send, go_recv = anyio.create_memory_object_stream[int](1)
        replied = anyio.Event()
        sent_at = [0.0]
        acked_at = [0.0]

        async def operator() -> None:
            # A long-lived client, like the admin socket's connection task: the clock
            # starts when it puts the command on the bus.
            nonlocal replied
            async for i in go_recv:
                sent_at[0] = now()
                await svc.call(EngageKill(reason=f"bench {i}", by="bench"))
                acked_at[0] = now()
                replied.set()

        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            tg.start_soon(operator)
            for i in range(WARMUP + SAMPLES):
                b = await anyio.to_thread.run_sync(_bare, d, payload)
                replied = anyio.Event()
                go_send.send_nowait(i)
                while store.may_submit(ENTRY) is None:
                    await anyio.lowlevel.checkpoint()
                t_blocked = now()
                await replied.wait()
                if i >= WARMUP:
                    bare.append(b)
                    blocked.append(t_blocked - sent_at[0])
                    durable.append(ops.durable_at - sent_at[0])
                    acked.append(acked_at[0] - sent_at[0])
                await store.reset(f"bench {i}", by="bench", force=True)
                while orders.depth():
                    orders.receive_nowait()
            go_send.close()
            tg.cancel_scope.cancel()
        store.close()
    return _results(blocked, durable, acked, bare, len(payload), d)


def _results(
    blocked: list[float],
    durable: list[float],
    acked: list[float],
    bare: list[float],
    size: int,
    where: str,
) -> list[Result]:
    us = 1e6
    extra: dict[str, Any] = {"samples": len(durable), "payload_bytes": size, "dir": where}
    out = []
    for q, tag in ((0.5, "p50"), (0.99, "p99")):
        out.append(
            latency_result(
                "kill",
                f"blocked_{tag}",
                round(percentile(blocked, q) * us, 1),
                "us",
                "target: entries blocked within 1 ms",
                1000.0,
                **extra,
            )
        )
    for (name, samples), (q, tag) in itertools.product(
        (("durable", durable), ("acked", acked)), ((0.5, "p50"), (0.99, "p99"))
    ):
        out.append(
            latency_result(
                "kill",
                f"{name}_{tag}",
                round(percentile(samples, q) * us, 1),
                "us",
                f"bare write+fsync+rename+fsync(dir) {tag}",
                round(percentile(bare, q) * us, 1),
                target_ratio=1.5,
                **extra,
            )
        )
    return out


def run() -> Iterator[Result]:
    """Run the kill-switch benchmark on uvloop and yield its results."""
    yield from anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
