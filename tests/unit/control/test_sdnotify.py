"""sd_notify: datagrams to a real socket, environment parsing, the watchdog loop."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from daemon.clock import SimClock
from daemon.sdnotify import SdNotifier, run_watchdog


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    try:
        yield path, sock
    finally:
        sock.close()


def _drain(sock: socket.socket) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def test_messages_reach_the_socket(listener: tuple[str, socket.socket]) -> None:
    path, sock = listener
    n = SdNotifier(path, watchdog_usec=2_000_000)
    assert n.enabled
    assert n.watchdog_interval_s == 1.0
    assert n.ready("all good")
    assert n.watchdog()
    assert n.reloading()
    assert n.stopping("bye  now\nreally")
    got = _drain(sock)
    assert got[0] == "READY=1\nSTATUS=all good"
    assert got[1] == "WATCHDOG=1"
    assert got[2].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert got[3] == "STOPPING=1\nSTATUS=bye now really"
    assert n.sent == 4
    assert n.failed == 0


def test_abstract_namespace_address() -> None:
    name = f"tradingd-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    try:
        n = SdNotifier("@" + name)
        assert n.ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_without_notify_socket_nothing_is_sent_and_nothing_fails() -> None:
    n = SdNotifier.from_env({})
    assert not n.enabled
    assert n.watchdog_interval_s is None
    assert n.ready() is False
    assert n.failed == 0


def test_a_vanished_socket_is_counted_not_raised(tmp_path: Path) -> None:
    n = SdNotifier(str(tmp_path / "nobody-listens"))
    assert n.watchdog() is False
    assert n.watchdog() is False
    assert n.failed == 2


def test_watchdog_env_is_honoured_only_for_our_pid() -> None:
    me = str(os.getpid())
    assert SdNotifier.from_env({"WATCHDOG_USEC": "500000"}).watchdog_usec == 500_000
    assert SdNotifier.from_env({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": me}).watchdog_usec
    other = {"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}
    assert SdNotifier.from_env(other).watchdog_usec is None
    assert SdNotifier.from_env({"WATCHDOG_USEC": "junk"}).watchdog_usec is None


async def test_watchdog_pings_only_while_healthy(
    listener: tuple[str, socket.socket], sim_clock: SimClock
) -> None:
    path, sock = listener
    n = SdNotifier(path, watchdog_usec=1_000_000)  # ping every 0.5 s of clock time
    health = {"ok": True}
    summary = {"line": "running"}
    async with anyio.create_task_group() as tg:
        tg.start_soon(run_watchdog, n, lambda: health["ok"], lambda: summary["line"], sim_clock)
        await sim_clock.run_until(sim_clock.now_ns() + 1_000_000_000)
        healthy = _drain(sock)
        health["ok"] = False
        summary["line"] = "running · STUCK: orchestrator"
        await sim_clock.run_until(sim_clock.now_ns() + 5_000_000_000)
        stuck = _drain(sock)
        health["ok"] = True
        await sim_clock.run_until(sim_clock.now_ns() + 1_000_000_000)
        recovered = _drain(sock)
        tg.cancel_scope.cancel()
    assert healthy[0] == "STATUS=running"
    assert healthy.count("WATCHDOG=1") == 3  # at 0, 0.5 and 1.0 s
    assert stuck == ["STATUS=WATCHDOG WITHHELD · running · STUCK: orchestrator"]
    assert recovered[0] == "STATUS=running · STUCK: orchestrator"
    assert recovered.count("WATCHDOG=1") == 2
