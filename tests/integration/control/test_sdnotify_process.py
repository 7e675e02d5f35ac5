"""sd_notify end to end: the daemon as a process, NOTIFY_SOCKET pointing at our socket.

These run on the live clock (a real process under a real watchdog interval), and
synchronise on the datagrams the daemon sends. The one wait that is not for a message
is the check that no WATCHDOG=1 arrives while a core actor hangs: absence can only be
observed over time, so the test listens for ten watchdog intervals.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.control._support import LineClient, short_dir

ROOT = Path(__file__).resolve().parents[3]
WATCHDOG_USEC = 200_000  # pings every 0.1 s
INTERVAL_S = WATCHDOG_USEC / 2_000_000


class Notifications:
    """The test's end of NOTIFY_SOCKET: every datagram the daemon sent, in order."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.seen: list[str] = []

    def next(self, timeout_s: float = 30.0) -> str | None:
        self.sock.settimeout(timeout_s)
        try:
            msg = self.sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.seen.append(msg)
        return msg

    def until(self, pred: str, timeout_s: float = 30.0) -> list[str]:
        """Messages up to and including the first containing ``pred``."""
        got: list[str] = []
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self.next(max(0.01, deadline - time.monotonic()))
            if msg is None:
                raise AssertionError(f"no {pred!r} within {timeout_s}s; got {got}")
            got.append(msg)
            if pred in msg:
                return got

    def during(self, seconds: float) -> list[str]:
        """Every message received in the next ``seconds``."""
        got: list[str] = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            msg = self.next(left)
            if msg is not None:
                got.append(msg)
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def base() -> Iterator[str]:
    d = short_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _config(base: str) -> str:
    path = os.path.join(base, "tradingd.toml")
    with open(path, "w") as f:
        f.write(
            f"""
[daemon]
state_dir = "{base}/state"
socket_path = "{base}/run/ctl.sock"
log_format = "json"
stall_timeout_s = 0.5
stop_timeout_s = 1.0

[storage]
url = "sqlite+aiosqlite:///{base}/tradingd.db"
auto_migrate = true

[safety]
create_state_dir = true
"""
        )
    return path


def _spawn(args: list[str], base: str, notify: Notifications) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADINGD_", "WATCHDOG_"))}
    env.update(
        NOTIFY_SOCKET=notify.path,
        WATCHDOG_USEC=str(WATCHDOG_USEC),
        PYTHONPATH=str(ROOT),
    )
    with open(os.path.join(base, "daemon.log"), "wb") as log:  # the child keeps its own fd
        return subprocess.Popen(args, cwd=base, env=env, stdout=log, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen[bytes], base: str) -> str:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return Path(base, "daemon.log").read_text(errors="replace")[-4000:]


def test_ready_watchdog_reload_hang_and_stop(base: str) -> None:
    notify = Notifications(os.path.join(base, "notify"))
    proc = _spawn(
        [sys.executable, "-m", "tests.integration.control._launch", _config(base)], base, notify
    )
    try:
        before = notify.until("READY=1")
        assert not any("WATCHDOG=1" in m for m in before), before
        assert (
            before[-1] == "READY=1\nSTATUS=running · mode running · kill off · 2/2 actors running"
        )

        for _ in range(3):  # periodic pings while everything is healthy
            notify.until("WATCHDOG=1")

        proc.send_signal(signal.SIGHUP)
        reload_msgs = notify.until("RELOADING=1")
        assert "MONOTONIC_USEC=" in reload_msgs[-1]
        assert notify.until("READY=1")[-1].startswith("READY=1")

        with LineClient(f"{base}/run/ctl.sock") as c:
            assert c.ok("hang") == {"hanging": True}
            notify.until("WATCHDOG WITHHELD")
            status = c.ok("status")
        assert status["healthy"] is False
        (hanger,) = [a for a in status["actors"] if a["name"] == "hanger"]
        assert hanger["stuck"] is True

        quiet = notify.during(10 * INTERVAL_S)
        assert not any("WATCHDOG=1" in m for m in quiet), quiet

        proc.send_signal(signal.SIGTERM)
        stopping = notify.until("STOPPING=1")
        assert not any("WATCHDOG=1" in m for m in stopping), stopping
        # The hung actor cannot drain, so the stop times out (and says so in its code).
        assert proc.wait(timeout=30) == 4
    finally:
        log = _finish(proc, base)
        notify.close()
    assert "withholding watchdog pings" in log


def test_tradingd_run_speaks_sd_notify(base: str) -> None:
    notify = Notifications(os.path.join(base, "notify"))
    proc = _spawn(
        [sys.executable, "-m", "daemon.cli", "run", "--config", _config(base)], base, notify
    )
    try:
        ready = notify.until("READY=1", timeout_s=60)
        assert "STATUS=running" in ready[-1]
        assert "kill off" in ready[-1]
        notify.until("WATCHDOG=1")
        with LineClient(f"{base}/run/ctl.sock") as c:
            assert c.ok("status")["healthy"] is True
            assert c.ok("kill", {"reason": "sd_notify test"})["killed"] is True
        assert "KILLED (operator)" in notify.until("STATUS=")[-1]
        notify.until("WATCHDOG=1")  # killed is not unhealthy: the daemon still works
        proc.send_signal(signal.SIGTERM)
        notify.until("STOPPING=1")
        assert proc.wait(timeout=60) == 0
    finally:
        log = _finish(proc, base)
        notify.close()
    mine = ("tradingd.control", "tradingd.sdnotify", "tradingd.daemon")
    errors = [
        line
        for line in log.splitlines()
        if '"level":"error"' in line and any(f'"logger":"{m}"' in line for m in mine)
    ]
    assert errors == []
