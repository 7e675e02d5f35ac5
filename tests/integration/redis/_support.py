"""Helpers for tests against the real Redis: settings, actor hosting, key clean-up."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
from anyio.abc import Process, TaskGroup, TaskStatus
from redis.asyncio import Redis

from config import Settings, settings_from_mapping
from daemon.actor import Actor, ActorContext, Health
from daemon.bus import Bus
from daemon.clock import Clock
from daemon.logs import actor_logger

A = TypeVar("A", bound=Actor)


def make_settings(url: str, prefix: str, **sections: dict[str, Any]) -> Settings:
    """Validated settings with Redis at ``url`` under ``prefix`` (account ``acct``)."""
    raw: dict[str, Any] = {
        "daemon": {"account": "acct", "stop_timeout_s": 2.0},
        "redis": {"url": url, "prefix": prefix, "reconnect_jitter": 0.0},
        "guard": {"sources": ["test"], "cooldown_s": 0.0},
    }
    for name, values in sections.items():
        merged = dict(raw.get(name, {}))
        for k, v in values.items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        raw[name] = merged
    return settings_from_mapping(raw, "<test>")


def make_ctx(name: str, settings: Settings, clock: Clock, bus: Bus) -> ActorContext:
    """An actor context like the supervisor builds."""
    return ActorContext(
        name=name,
        settings=settings,
        clock=clock,
        bus=bus,
        log=actor_logger(name),
        health=Health(clock),
    )


class Host:
    """Runs one actor in its own cancel scope so a test can kill it abruptly (a crash)."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()

    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            with self.scope:
                await self.actor.run(task_status=task_status)
        finally:
            self.finished.set()

    async def kill(self) -> None:
        """Cancel the actor mid-flight (no on_stop), and wait until it is gone."""
        self.scope.cancel()
        await self.finished.wait()


async def start(
    tg: TaskGroup,
    factory: Callable[[ActorContext], A],
    name: str,
    settings: Settings,
    clock: Clock,
    bus: Bus,
) -> tuple[A, Host]:
    """Build an actor and start it in ``tg``; returns once it reported itself ready."""
    actor = factory(make_ctx(name, settings, clock, bus))
    host = Host(actor)
    await tg.start(host._run)
    return actor, host


async def delete_prefix(client: Redis, prefix: str) -> None:
    """Delete every key under ``prefix:`` (test clean-up)."""
    keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)


def as_bytes(value: object) -> bytes:
    """``value``, checked to be bytes.

    The test clients do not decode responses, so Redis answers in bytes; redis-py's types
    also cover decoding clients (``str``) and empty replies, hence the check.
    """
    assert isinstance(value, bytes), f"expected bytes from Redis, got {value!r}"
    return value


async def read_stream(client: Redis, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of the stream ``key`` as ``(id, fields)``, oldest first."""
    entries = await client.xrange(key)
    assert entries is not None
    out: list[tuple[bytes, dict[bytes, bytes]]] = []
    for eid, fields in entries:
        assert fields is not None
        out.append((as_bytes(eid), {as_bytes(k): as_bytes(v) for k, v in fields.items()}))
    return out


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ThrowawayRedis:
    """A private ``redis-server`` with an append-only file, to stop and restart in a test.

    ``--appendfsync always`` makes every write durable before it is answered, so what a
    client saw acknowledged survives the restart. Readiness is taken from the server's
    own log line, not from polling.
    """

    def __init__(self, directory: Path, tg: TaskGroup) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._tg = tg
        self._process: Process | None = None
        self.starts = 0

    async def start(self) -> None:
        """Start the server and return once it accepts connections."""
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self._process = await anyio.open_process(
            [
                exe,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
                "--dir", str(self.directory),
                "--daemonize", "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        ready = anyio.Event()
        self._tg.start_soon(_read_log, self._process, ready)
        await ready.wait()
        self.starts += 1

    async def stop(self) -> None:
        """Shut the server down gracefully (SIGTERM: flush the append-only file, exit)."""
        if self._process is not None:
            self._process.terminate()
            await self._process.wait()
            self._process = None


async def _read_log(process: Process, ready: anyio.Event) -> None:
    # Keep reading until the server exits: an unread pipe would eventually block it.
    assert process.stdout is not None
    seen = b""
    async for chunk in process.stdout:
        if not ready.is_set():
            seen += chunk
            if b"Ready to accept connections" in seen:
                ready.set()
