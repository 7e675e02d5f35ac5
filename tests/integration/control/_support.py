"""A real daemon with its admin socket, run in a background event loop for socket tests.

The daemon runs the real ``safety``, ``broker`` (paper) and ``signal_guard`` actors; the
``orchestrator`` and ``lifecycle`` slots are filled by recorders that consume exactly
the channels the real actors consume (their bus contract), so a test can see what a
command sent. The orchestrator's recorder also serves the real books service over real
(empty) books, as ``positions``/``orders`` ask it. :func:`trading_definitions` runs the
whole trading path for real instead. Time is a :class:`SimClock` that only moves when a
test moves it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, TypeVarTuple, overload

import anyio
import msgspec
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal

from actors.broker import DEFINITION as BROKER
from actors.orchestrator import DEFINITION as ORCHESTRATOR
from actors.orchestrator import Execution
from actors.orchestrator._books_service import BooksService
from actors.risk_gate import DEFINITION as RISK_GATE
from actors.safety import DEFINITION as SAFETY
from actors.signal_guard import DEFINITION as GUARD
from config import Settings, settings_from_mapping
from daemon import names
from daemon.actor import Actor, ActorDefinition
from daemon.clock import SimClock
from daemon.exitcodes import ExitCode
from daemon.runtime import Daemon
from daemon.safety import SafetyGate, SafetyStore

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Notebook:
    """What the recorder actors received, with a way to wait for it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._changed = anyio.Event()

    def add(self, where: str, item: Any) -> None:
        self.items.append((where, item))
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_for(self, n: int) -> list[tuple[str, Any]]:
        with anyio.fail_after(10):
            while len(self.items) < n:
                await self._changed.wait()
        return list(self.items)


def recorder(
    name: str, channels: tuple[str, ...], book: Notebook, *, books: bool = False
) -> ActorDefinition:
    """A core actor named ``name`` consuming ``channels`` and noting what arrives.

    With ``books`` it also serves the orchestrator's books service (real code, empty
    books), which the ``positions`` and ``orders`` commands ask.
    """

    class Recorder(Actor):
        async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with anyio.create_task_group() as tg:
                for ch in channels:
                    tg.start_soon(self._drain, ch)
                if books:
                    # Not maybe_resource(): mypy rejects a Protocol where type[T] is
                    # expected (python/mypy#4717); the annotation types the lookup instead.
                    safety: SafetyGate | None = self.ctx.resources.get(SafetyGate)
                    ex = Execution(
                        self.ctx.settings,
                        clock=self.clock,
                        bus=self.bus,
                        safety=safety,
                        log=self.log,
                    )
                    service = BooksService(ex, bus=self.bus, clock=self.clock, log=self.log)
                    tg.start_soon(service.serve)
                task_status.started()

        async def _drain(self, ch: str) -> None:
            channel = self.bus.channel(ch)
            while True:
                for item in await self.next_batch(channel):
                    book.add(ch, item)
                self.health.idle()

    return ActorDefinition(name=name, factory=Recorder, description=f"recorder for {name}")


class ControlTestDaemon(Daemon):
    """The runtime, plus a safety store if this runtime's prepare() does not make one."""

    async def prepare(self) -> None:
        await super().prepare()
        if SafetyStore not in self.resources:
            self.resources[SafetyStore] = await SafetyStore.open(
                self.settings, clock=self.clock, bus=self.bus
            )


def short_dir() -> str:
    """A fresh directory with a short path (Unix socket paths are limited to 107 bytes)."""
    d = tempfile.mkdtemp(prefix="tdctl-", dir="/tmp")
    os.chmod(d, 0o755)
    return d


def make_settings(base: str, extra: dict[str, Any] | None = None, **control: Any) -> Settings:
    """Settings with the socket and state under ``base`` (``extra``: more sections)."""
    return settings_from_mapping(
        {
            "daemon": {
                "state_dir": os.path.join(base, "state"),
                "socket_path": os.path.join(base, "run", "ctl.sock"),
                "stop_timeout_s": 5.0,
            },
            "safety": {"create_state_dir": True},
            "guard": {"sources": ["operator", "strategy-a"]},
            "control": control,
            **(extra or {}),
        }
    )


def default_definitions(book: Notebook) -> list[ActorDefinition]:
    """Safety, broker and guard for real; orchestrator and lifecycle recorded."""
    return [
        SAFETY,
        BROKER,
        recorder(
            "orchestrator",
            (names.ORCHESTRATOR_IN, names.ORCHESTRATOR_CONTROL, names.ORCHESTRATOR_BROKER),
            book,
            books=True,
        ),
        recorder("lifecycle", (names.LIFECYCLE_CONTROL,), book),
        GUARD,
    ]


def trading_definitions(book: Notebook) -> list[ActorDefinition]:
    """Safety, risk gate, orchestrator, broker and guard for real; lifecycle recorded."""
    return [
        SAFETY,
        RISK_GATE,
        ORCHESTRATOR,
        BROKER,
        recorder("lifecycle", (names.LIFECYCLE_CONTROL,), book),
        GUARD,
    ]


class Running:
    """A daemon running in a background event loop, driven from a synchronous test."""

    def __init__(self, portal: BlockingPortal, daemon: Daemon, book: Notebook, base: str) -> None:
        self.portal = portal
        self.daemon = daemon
        self.book = book
        self.base = base
        self.exit_code: ExitCode | None = None

    @property
    def path(self) -> str:
        assert self.daemon.control_server is not None
        return self.daemon.control_server.path

    def connect(self) -> LineClient:
        return LineClient(self.path)

    @overload
    def call(self, fn: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T: ...

    @overload
    def call(self, fn: Callable[[*Ts], T], *args: *Ts) -> T: ...

    def call(self, fn: Callable[[*Ts], Any], *args: *Ts) -> Any:
        """Run ``await fn(*args)`` (or ``fn(*args)``) in the daemon's event loop."""
        return self.portal.call(fn, *args)

    def alive(self) -> bool:
        sup = self.daemon.supervisor
        return (
            sup is not None
            and not sup.shutdown_requested.is_set()
            and self.exit_code is None
            and sup.core_healthy()
        )


@contextmanager
def running_daemon(
    *,
    definitions: list[ActorDefinition] | None = None,
    settings: Settings | None = None,
    base: str | None = None,
    reload_loader: Callable[[], Settings] | None = None,
    **control: Any,
) -> Iterator[Running]:
    """Start a daemon with its socket; stop it (and check it stopped cleanly) at exit."""
    base = base or short_dir()
    book = Notebook()
    settings = settings or make_settings(base, **control)
    defs = definitions if definitions is not None else default_definitions(book)
    try:
        with start_blocking_portal("asyncio") as portal:
            daemon = ControlTestDaemon(
                settings,
                clock=SimClock(),
                definitions=defs,
                handle_signals=False,
                serve_control=True,
                reload_loader=reload_loader,
            )
            run = Running(portal, daemon, book, base)

            async def main() -> None:
                run.exit_code = await daemon.run()

            future = portal.start_task_soon(main)
            portal.call(_wait_ready, daemon)
            try:
                yield run
            finally:
                portal.call(daemon.request_stop, "test over")
                future.result(timeout=30)
    finally:
        shutil.rmtree(base, ignore_errors=True)


async def _wait_ready(daemon: Daemon) -> None:
    with anyio.fail_after(20):
        await daemon.ready.wait()


class LineClient:
    """A blocking line-protocol client on a raw Unix socket."""

    def __init__(self, path: str, timeout_s: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.buf = b""

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, obj: Any) -> None:
        self.sock.sendall(msgspec.json.encode(obj) + b"\n")

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError(f"connection closed; unread: {self.buf[:200]!r}")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, Any] = msgspec.json.decode(line)
        return msg

    def at_eof(self) -> bool:
        """True when the server closed the connection (and nothing is left to read)."""
        if self.buf:
            return False
        return self.sock.recv(1) == b""

    def request(self, cmd: str, args: dict[str, Any] | None = None, rid: Any = 1) -> dict[str, Any]:
        self.send({"id": rid, "cmd": cmd, "args": args or {}})
        return self.recv()

    def ok(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        resp = self.request(cmd, args)
        assert resp["ok"] is True, resp
        return resp["result"]

    def error(self, cmd: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self.request(cmd, args)
        assert resp["ok"] is False, resp
        err: dict[str, Any] = resp["error"]
        return err
