"""Process exit codes of ``tradingd`` (documented in docs/operations.md)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What the daemon's exit status means; systemd and scripts rely on these."""

    OK = 0
    """Stopped cleanly (SIGTERM, SIGINT or ``tradingctl stop --daemon``); all work drained."""
    INTERNAL_ERROR = 1
    """An unexpected error; the traceback is in the log."""
    CONFIG_ERROR = 2
    """Invalid command line or configuration; nothing was started."""
    STARTUP_FAILED = 3
    """A precondition failed at start (e.g. database schema behind, socket in use)."""
    STOP_TIMEOUT = 4
    """Stopped, but in-flight work did not drain within ``daemon.stop_timeout_s``."""
    CHECK_FAILED = 5
    """A tool's check failed: ``audit verify`` found a broken chain, ``trace`` found nothing."""
    ESCALATED = 70
    """A core actor exceeded its restart intensity: kill switch engaged, clean shutdown."""
