"""How the runtime sets the control socket up: bind early, bind commands once actors are known."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from daemon.control._daemon_commands import install_daemon_commands
from daemon.control._owner_commands import install_owner_commands
from daemon.control._registry import ControlRegistry
from daemon.control._server import ControlServer

if TYPE_CHECKING:
    from daemon.runtime import Daemon

_log = logging.getLogger("tradingd.control")


def open_control(daemon: Daemon) -> ControlServer | None:
    """Bind the admin socket for ``daemon`` (None when ``control.enabled`` is off).

    Called before anything else starts, so a second daemon on the same socket fails
    fast; raises :class:`~daemon.control.ControlSocketError`.
    """
    if not daemon.settings.control.enabled:
        return None
    server = ControlServer(
        daemon.resources[ControlRegistry],
        settings=lambda: daemon.settings,
        clock=daemon.clock,
        audit=daemon.events,
    )
    server.bind()
    return server


def install_commands(daemon: Daemon) -> None:
    """Bind the runtime's commands and those of every owner actor present."""
    registry: ControlRegistry = daemon.resources[ControlRegistry]
    install_daemon_commands(daemon, registry)
    bound = install_owner_commands(daemon, registry)
    missing = [s["cmd"] for s in registry.catalogue() if not s["available"]]
    _log.info(
        "control commands bound",
        extra={"event": "control_commands", "owner_bound": bound, "unavailable": missing},
    )
