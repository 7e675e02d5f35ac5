"""BENCH=control: admin-socket round trips against a real daemon, vs a bare socket echo.

A real daemon (live clock, uvloop, the shipped actors on a paper broker and a SQLite
file, no Redis) runs in a background event loop; a blocking client in the main thread
talks to it over its Unix socket, as ``tradingctl`` does.

* baseline ``echo``: a line written to a Unix socket and echoed back by an anyio server
  in the same event loop — the floor for any request/response over the socket;
* ``version_rtt``: the protocol alone (decode, dispatch, encode; no owner asked);
* ``status_rtt``: the full ``status`` (the safety actor and the broker are asked too);
* ``kill_to_blocked``: from writing ``kill`` to the moment the safety store's gate
  starts refusing entries (stamped inside the store when it recomputes the gate, which
  it does synchronously as the switch engages);
* ``kill_rtt``: from writing ``kill`` to its answer, which comes after the kill switch
  state is durable (fsync of the state file and its directory). ``reset-kill`` between
  iterations, and letting its events settle, is not timed.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
from anyio.abc import SocketStream
from anyio.from_thread import BlockingPortal, start_blocking_portal

from config import settings_from_mapping
from daemon.messages import OrderPurpose
from daemon.runtime import Daemon
from daemon.safety import SafetyStore
from tests.bench._common import Result, latency_result, percentile

N_ECHO = 5000
N_VERSION = 5000
N_STATUS = 2000
N_KILL = 200


class _Client:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = b""

    def roundtrip(self, line: bytes) -> bytes:
        self.sock.sendall(line)
        while b"\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        out, self.buf = self.buf.split(b"\n", 1)
        return out

    def close(self) -> None:
        self.sock.close()


def _timed(client: _Client, line: bytes, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.roundtrip(line)
        samples.append(time.perf_counter() - t0)
    return samples


async def _echo_server(path: str, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    listener = await anyio.create_unix_listener(path)

    async def echo(stream: SocketStream) -> None:
        async with stream:
            buf = b""
            async for chunk in stream:
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    await stream.send(line + b"\n")

    async with listener:
        task_status.started()
        await listener.serve(echo)


def _us(samples: list[float], q: float) -> float:
    return round(percentile(samples, q) * 1e6, 1)


def _start_daemon(portal: BlockingPortal, base: str) -> Daemon:
    settings = settings_from_mapping(
        {
            "daemon": {
                "state_dir": f"{base}/state",
                "socket_path": f"{base}/ctl.sock",
                "log_level": "warning",
            },
            "storage": {"url": f"sqlite+aiosqlite:///{base}/db.sqlite", "auto_migrate": True},
            "safety": {"create_state_dir": True},
        }
    )
    daemon = Daemon(settings, handle_signals=False, serve_control=True)
    portal.start_task_soon(daemon.run)

    async def ready() -> None:
        with anyio.fail_after(120):
            await daemon.ready.wait()

    portal.call(ready)
    return daemon


def _kill_to_blocked(
    portal: BlockingPortal, daemon: Daemon, path: str
) -> tuple[list[float], list[float]]:
    store: SafetyStore = daemon.resources[SafetyStore]
    seen: list[float] = []
    refresh = store._refresh

    def timed_refresh() -> None:
        # Bench instrumentation: the store recomputes its gate synchronously when the
        # switch engages; stamp the first recomputation that blocks entries.
        refresh()
        if not seen and store.may_submit(OrderPurpose.ENTRY) is not None:
            seen.append(time.perf_counter())

    # mypy forbids assigning to a method; patching this one instance is the instrumentation.
    store._refresh = timed_refresh  # type: ignore[method-assign]
    client = _Client(path)
    kill = msgspec.json.encode({"id": 1, "cmd": "kill", "args": {"reason": "bench"}}) + b"\n"
    reset = msgspec.json.encode({"id": 2, "cmd": "reset-kill", "args": {"reason": "bench"}})
    blocked: list[float] = []
    rtt: list[float] = []
    for _ in range(N_KILL):
        seen.clear()
        t0 = time.perf_counter()
        answer = client.roundtrip(kill)
        rtt.append(time.perf_counter() - t0)
        assert b'"ok":true' in answer, answer
        blocked.append(seen[0] - t0)
        assert b'"ok":true' in client.roundtrip(reset + b"\n")
        # Untimed: let the reset's events (audit, alerts, storage, journal) settle, so
        # each kill meets an idle daemon, as an operator's kill normally does.
        assert daemon.supervisor is not None
        portal.call(daemon.supervisor.wait_quiescent)
    client.close()
    store._refresh = refresh  # type: ignore[method-assign]
    return blocked, rtt


def _fsync_floor(directory: str, n: int = 200) -> list[float]:
    """The durability floor of a kill: atomic replace of a small file, fsyncs included."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "probe")
    dfd = os.open(directory, os.O_RDONLY)
    samples = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, b"x" * 256 + str(i).encode())
            os.fsync(fd)
            os.close(fd)
            os.replace(path + ".tmp", path)
            os.fsync(dfd)
            samples.append(time.perf_counter() - t0)
    finally:
        os.close(dfd)
    return samples


def run() -> Iterator[Result]:
    """Measure the control round trips; yield one result per figure."""
    base = tempfile.mkdtemp(prefix="tdbench-", dir="/tmp")
    try:
        with start_blocking_portal("asyncio", backend_options={"use_uvloop": True}) as portal:
            echo_path = os.path.join(base, "echo.sock")
            echo_server = portal.start_task_soon(_echo_server, echo_path)
            while not os.path.exists(echo_path):
                time.sleep(0.001)  # the bench's own setup, not a measurement
            echo = _Client(echo_path)
            _timed(echo, b'{"id":1,"cmd":"version"}\n', 500)  # warm up
            base_s = _timed(echo, b'{"id":1,"cmd":"version"}\n', N_ECHO)
            echo.close()
            echo_server.cancel()
            base_p50, base_p99 = _us(base_s, 0.5), _us(base_s, 0.99)

            daemon = _start_daemon(portal, base)
            path = os.path.join(base, "ctl.sock")
            client = _Client(path)
            version = b'{"id":1,"cmd":"version"}\n'
            status = b'{"id":2,"cmd":"status"}\n'
            _timed(client, version, 500)
            _timed(client, status, 200)
            ver = _timed(client, version, N_VERSION)
            st = _timed(client, status, N_STATUS)
            client.close()
            blocked, kill_rtt = _kill_to_blocked(portal, daemon, path)
            portal.call(daemon.request_stop, "bench over")
        floor = _fsync_floor(os.path.join(base, "state", "probe"))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    echo_what = "bare Unix-socket line echo round trip (anyio, same loop)"
    durable = {"atomic_fsync_write_p50_us": _us(floor, 0.5), "p99_us": _us(floor, 0.99)}
    for name, samples, n in (
        ("version_rtt", ver, N_VERSION),
        ("status_rtt", st, N_STATUS),
        ("kill_to_blocked", blocked, N_KILL),
        ("kill_rtt", kill_rtt, N_KILL),
    ):
        extra: dict[str, Any] = {"n": n, **(durable if name == "kill_rtt" else {})}
        for q, label, base_q in ((0.5, "p50", base_p50), (0.99, "p99", base_p99)):
            yield latency_result(
                "control",
                f"{name}_{label}",
                _us(samples, q),
                "us",
                f"{echo_what} {label}",
                base_q,
                **extra,
            )
