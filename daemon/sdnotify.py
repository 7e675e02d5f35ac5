"""The systemd notification protocol (sd_notify), spoken directly: no dependency.

systemd passes ``NOTIFY_SOCKET`` (a datagram socket path, ``@`` for the abstract
namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). The
daemon sends newline-separated ``KEY=value`` datagrams:

* ``READY=1`` once every core actor is ready and every ready gate (reconciliation,
  kernel warm-up) has passed;
* ``WATCHDOG=1`` every half watchdog interval, from :func:`run_watchdog`, and only
  while the supervisor says every core actor is running and none is stuck — a stuck
  actor stops the pings, and systemd restarts the service;
* ``RELOADING=1`` (with ``MONOTONIC_USEC``) then ``READY=1`` around a reload;
* ``STOPPING=1`` when a graceful stop begins;
* ``STATUS=`` a one-line summary shown by ``systemctl status``.

Sending never raises: losing a notification must not take the daemon down, so
failures are logged (once per kind) and counted.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import final

from daemon.clock import Clock

_log = logging.getLogger("tradingd.sdnotify")

__all__ = ("SdNotifier", "run_watchdog")


@final
class SdNotifier:
    """Sends sd_notify datagrams to ``address``; does nothing when ``address`` is None."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec if watchdog_usec and watchdog_usec > 0 else None
        self.sent = 0
        self.failed = 0
        self._target: str | bytes | None = None
        self._warned: set[str] = set()
        if address:
            if address.startswith("@"):
                # Abstract namespace: a leading NUL instead of '@'.
                self._target = b"\0" + address[1:].encode()
            elif address.startswith("/"):
                self._target = address
            else:
                _log.warning(
                    "NOTIFY_SOCKET is not a Unix socket address; systemd notifications off",
                    extra={"event": "sdnotify_unsupported", "address": address},
                )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SdNotifier:
        """Build from ``NOTIFY_SOCKET`` / ``WATCHDOG_USEC`` / ``WATCHDOG_PID``."""
        env = os.environ if env is None else env
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if raw.isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(env.get("NOTIFY_SOCKET") or None, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        """True when notifications go somewhere."""
        return self._target is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to ping: half the watchdog timeout (None: no watchdog)."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` as one datagram; False (logged, counted) if it could not be sent."""
        if self._target is None:
            return False
        data = "\n".join(fields).encode()
        try:
            # A socket per message, as libsystemd does: nothing to leak or to go stale,
            # and the rate (a few per watchdog interval) makes the cost irrelevant.
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(data, self._target)
        except OSError as exc:
            self.failed += 1
            kind = type(exc).__name__
            if kind not in self._warned:
                self._warned.add(kind)
                _log.warning(
                    "could not notify systemd",
                    extra={"event": "sdnotify_failed", "error": str(exc), "fields": fields[0]},
                )
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "") -> bool:
        """``READY=1`` (start-up finished, or a reload finished)."""
        return self.notify("READY=1", *self._status(status))

    def reloading(self, status: str = "reloading configuration") -> bool:
        """``RELOADING=1``; systemd expects ``READY=1`` when the reload is done."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}", *self._status(status))

    def stopping(self, status: str = "stopping") -> bool:
        """``STOPPING=1``: a graceful stop has begun."""
        return self.notify("STOPPING=1", *self._status(status))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive and making progress."""
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """``STATUS=text`` (one line)."""
        return self.notify(*self._status(text))

    @staticmethod
    def _status(text: str) -> tuple[str, ...]:
        line = " ".join(text.split())
        return (f"STATUS={line}",) if line else ()


async def run_watchdog(
    notifier: SdNotifier,
    healthy: Callable[[], bool],
    summary: Callable[[], str],
    clock: Clock,
    *,
    status_interval_s: float = 5.0,
) -> None:
    """Ping the watchdog while ``healthy()``; keep ``STATUS=`` current. Runs until cancelled.

    Pings go out every half watchdog interval (``WATCHDOG_USEC``). The moment
    ``healthy()`` turns false the pings stop, an error is logged and the status line
    says why; if health comes back, so do the pings. Without a watchdog the loop only
    refreshes the status line. Waits use the daemon's clock (the live clock in
    production), so tests can drive the loop on simulated time.
    """
    interval = notifier.watchdog_interval_s or status_interval_s
    last_status = ""
    was_healthy = True
    while True:
        ok = healthy()
        line = summary()
        if not ok:
            line = f"WATCHDOG WITHHELD · {line}"
        if ok != was_healthy:
            if ok:
                _log.warning("core actors healthy again; watchdog pings resume")
            else:
                _log.error(
                    "a core actor is down or stuck; withholding watchdog pings",
                    extra={"event": "watchdog_withheld", "status": line},
                )
            was_healthy = ok
        if line != last_status:
            notifier.status(line)
            last_status = line
        if ok and notifier.watchdog_usec is not None:
            notifier.watchdog()
        await clock.sleep(interval)
