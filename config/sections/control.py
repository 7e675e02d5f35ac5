"""``[control]``: the admin control socket (the socket path itself is ``daemon.socket_path``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.sections._base import PosInt, Seconds, Section

RequestBytes = Annotated[int, msgspec.Meta(ge=1024, le=16 * 1024 * 1024)]
"""A request size limit between 1 KiB and 16 MiB."""
Uid = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 2)]
"""A numeric user id."""


class ControlSettings(Section, frozen=True, kw_only=True):
    """Who may use the admin socket, and how much a client may ask of it.

    ``socket_group``, ``enabled`` and ``daemon.socket_path`` take effect at start; the
    other keys are re-read for each new connection, so ``reload`` applies them.
    """

    enabled: bool = True
    """Serve the admin socket (``tradingctl`` needs it)."""
    socket_group: str = ""
    """Group name: the socket becomes 0660 and owned by this group, whose members may connect.
    Empty: the socket is 0600, owner only."""
    allowed_uids: list[Uid] = []
    """User ids allowed to connect (checked with SO_PEERCRED). Empty: the daemon's own user
    and root. When set, exactly these users (plus ``socket_group`` members)."""
    max_request_bytes: RequestBytes = 65_536
    """Longest request line; a longer one is answered ``too_large`` and discarded."""
    max_clients: PosInt = 16
    """Connections served at once; one more is answered ``busy`` and closed."""
    idle_timeout_s: Seconds = 300.0
    """A connection with no complete request for this long is closed."""
    request_timeout_s: Seconds = 30.0
    """A command still running after this is answered ``timeout`` (it may still take effect)."""
    write_timeout_s: Seconds = 10.0
    """A client that does not read its responses for this long is disconnected."""
    watch_buffer: PosInt = 4096
    """Events buffered for each ``watch`` client; beyond it events are shed and counted."""
