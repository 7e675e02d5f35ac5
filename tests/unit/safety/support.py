"""Helpers for the safety tests: settings in a temp dir, a fault-injecting FileOps."""

from __future__ import annotations

import datetime as dt
import errno
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config import Settings, settings_from_mapping
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.safety import OsFileOps, SafetyStore

NY = ZoneInfo("America/New_York")


def ns(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = NY) -> int:
    """Nanoseconds of a wall-clock time (New York by default)."""
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=tz).timestamp()) * 1_000_000_000


OPS = (
    "read_bytes",
    "is_dir",
    "exists",
    "makedirs",
    "open_new",
    "write",
    "fsync",
    "close",
    "replace",
    "fsync_dir",
    "unlink",
    "lock",
)


def make_settings(state_dir: Path, **safety: Any) -> Settings:
    """Default settings with the state in ``state_dir`` and ``[safety]`` overrides."""
    raw: dict[str, Any] = {"daemon": {"state_dir": str(state_dir), "account": "paper"}}
    risk = safety.pop("risk", None)
    if risk:
        raw["risk"] = risk
    raw["safety"] = safety
    return settings_from_mapping(raw)


class FaultyOps:
    """The real :class:`OsFileOps`, with chosen calls failing or pausing on demand.

    ``fail[op] = exc`` makes every call of ``op`` raise ``exc`` until removed;
    ``hold[op]`` is a :class:`threading.Event` the call waits for (the write runs in a
    worker thread, so the event loop keeps going meanwhile).
    """

    def __init__(self) -> None:
        self.real = OsFileOps()
        self.fail: dict[str, BaseException] = {}
        self.hold: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.calls: list[str] = []

    def _wrap(self, name: str) -> Callable[..., Any]:
        real = getattr(self.real, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            if name in self.entered:
                self.entered[name].set()
            if name in self.hold:
                assert self.hold[name].wait(30), f"{name} held for too long"
            exc = self.fail.get(name)
            if exc is not None:
                raise exc
            return real(*args)

        return call

    def __getattr__(self, name: str) -> Any:
        if name in OPS:
            return self._wrap(name)
        raise AttributeError(name)


def enospc() -> OSError:
    """What a full disk says."""
    return OSError(errno.ENOSPC, "No space left on device")


def erofs() -> OSError:
    """What a read-only file system says."""
    return OSError(errno.EROFS, "Read-only file system")


async def open_store(
    settings: Settings,
    clock: SimClock | None = None,
    bus: Bus | None = None,
    ops: Any = None,
) -> SafetyStore:
    """Open a store the way the daemon does."""
    return await SafetyStore.open(
        settings, clock=clock or SimClock(), bus=bus or Bus(), fileops=ops
    )
