"""``[daemon]``: the process itself."""

from __future__ import annotations

from typing import Literal

from config.sections._base import PosInt, Seconds, Section


class DaemonSettings(Section, frozen=True, kw_only=True):
    """Where the daemon keeps its state, how it logs and how long it takes to stop."""

    state_dir: str = "./var/state"
    """Directory of the safety-state file and the journal; must be writable."""
    socket_path: str = "./var/run/tradingd.sock"
    """Admin control socket (Unix domain socket)."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console", "auto"] = "auto"
    """``auto``: human-readable on a terminal, JSON otherwise."""
    account: str = "paper"
    """Trading account this daemon owns; also the Redis channel prefix's account part."""
    stop_timeout_s: Seconds = 20.0
    """Graceful stop: actors finish in-flight work within this, then are cancelled."""
    heartbeat_interval_s: Seconds = 5.0
    stall_timeout_s: Seconds = 30.0
    """An actor busy on one piece of work for longer than this is reported stuck."""
    channel_capacity: PosInt = 65_536
    """Buffer of each bus channel; full channels apply backpressure."""
    timezone: str = "America/New_York"
    """Exchange time zone for the trading day, end-of-day flatten and rollover."""
