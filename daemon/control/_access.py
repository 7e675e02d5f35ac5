"""Who may talk to the admin socket: peer credentials and the access policy."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct

from config.sections.control import ControlSettings
from daemon.control._registry import Peer

_UCRED = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> Peer:
    """The connecting process's pid, uid and gid, as the kernel saw them at connect()."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return Peer(uid=uid, gid=gid, pid=pid)


def group_gid(name: str) -> int | None:
    """The gid of group ``name`` (None when ``name`` is empty); KeyError if unknown."""
    if not name:
        return None
    return grp.getgrnam(name).gr_gid


def peer_allowed(peer: Peer, control: ControlSettings, own_uid: int | None = None) -> bool:
    """Whether ``peer`` may use the socket under ``control``'s policy.

    With ``allowed_uids`` empty, the daemon's own user and root are allowed; otherwise
    exactly the listed users. Members of ``socket_group`` (primary group or listed in the
    group database) are allowed too.
    """
    me = os.geteuid() if own_uid is None else own_uid
    if control.allowed_uids:
        if peer.uid in control.allowed_uids:
            return True
    elif peer.uid in (me, 0):
        return True
    return bool(control.socket_group) and _in_group(peer, control.socket_group)


def _in_group(peer: Peer, group: str) -> bool:
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return False
    if peer.gid == entry.gr_gid:
        return True
    try:
        user = pwd.getpwuid(peer.uid).pw_name
    except KeyError:
        return False
    return user in entry.gr_mem
