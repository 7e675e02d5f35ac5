"""The admin socket: a Unix stream socket, owner-only, peer credentials checked.

The socket file never exists with looser permissions than configured, even for an
instant: it is bound inside a fresh private (0700) directory next to its final path,
given its mode and group there, then hard-linked into place — ``link`` refuses to
replace an existing name, so two daemons starting at once cannot steal each other's
socket. A stale socket left by a crashed daemon (nobody accepting on it) is removed at
start; a live one means another daemon owns the path, and this one refuses to start.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable
from typing import Any, final

import anyio
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskStatus

from config.settings import Settings
from daemon.bus import Topic
from daemon.clock import Clock
from daemon.control._access import group_gid, peer_allowed, peer_credentials
from daemon.control._connection import Connection, Gone
from daemon.control._protocol import ErrorCode, encode_error
from daemon.control._registry import ControlRegistry
from daemon.errors import TradingdError

_log = logging.getLogger("tradingd.control")

_MAX_SUN_PATH = 107
"""``sockaddr_un.sun_path`` holds 108 bytes including the terminating NUL."""


class ControlSocketError(TradingdError):
    """Raised when the admin socket cannot be created (path in use, unusable, bad group)."""


@final
class ControlServer:
    """Accepts admin clients and serves each in its own task until it leaves.

    ``settings`` is called for every new connection, so a reload changes the access
    policy, limits and timeouts for new clients; the path and group are fixed at bind.
    """

    def __init__(
        self,
        registry: ControlRegistry,
        *,
        settings: Callable[[], Settings],
        clock: Clock,
        audit: Topic[Any],
        path: str | None = None,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.audit = audit
        self._settings = settings
        initial = settings()
        self.path = os.path.abspath(path or initial.daemon.socket_path)
        self._group = initial.control.socket_group
        self._sock: socket.socket | None = None
        self._ident: tuple[int, int] | None = None
        self.active = 0
        """Connections being served now."""
        self._idle: anyio.Event | None = None
        self.accepted = 0
        self.refused = 0
        """Connections turned away (uid not allowed, or too many clients)."""

    # -- socket file -------------------------------------------------------------------

    def bind(self) -> None:
        """Create and listen on the socket, or raise :class:`ControlSocketError`."""
        if self._sock is not None:
            return
        path = self.path
        if len(os.fsencode(path)) > _MAX_SUN_PATH:
            raise ControlSocketError(
                f"socket path {path} is longer than {_MAX_SUN_PATH} bytes; choose a shorter "
                "daemon.socket_path"
            )
        try:
            gid = group_gid(self._group)
        except KeyError:
            raise ControlSocketError(
                f"control.socket_group {self._group!r} is not a group on this system"
            ) from None
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            # Only a directory we create is ours to set up: private, or open to the group
            # that may use the socket (systemd's RuntimeDirectory= is made for us).
            try:
                os.makedirs(parent, mode=0o750)
                if gid is not None:
                    os.chown(parent, -1, gid)
            except OSError as exc:
                raise ControlSocketError(f"cannot create {parent} for the socket: {exc}") from exc
        self._clear_stale(path)
        mode = 0o660 if gid is not None else 0o600
        try:
            private = tempfile.mkdtemp(prefix=".sock-", dir=parent)
        except OSError as exc:
            raise ControlSocketError(f"cannot create the socket in {parent}: {exc}") from exc
        tmp = os.path.join(private, "s")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if len(os.fsencode(tmp)) > _MAX_SUN_PATH:
                raise ControlSocketError(
                    f"socket directory {parent} is too deep for a Unix socket path; "
                    "choose a shorter daemon.socket_path"
                )
            sock.bind(tmp)
            os.chmod(tmp, mode)
            if gid is not None:
                os.chown(tmp, -1, gid)
            sock.listen(128)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ControlSocketError(
                    f"{path} appeared while this daemon was starting: another tradingd is "
                    "starting on the same socket"
                ) from None
            st = os.stat(path)
            self._ident = (st.st_dev, st.st_ino)
        except ControlSocketError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise ControlSocketError(f"cannot create the socket {path}: {exc}") from exc
        finally:
            shutil.rmtree(private, ignore_errors=True)
        sock.setblocking(False)
        self._sock = sock
        _log.info(
            "control socket listening",
            extra={"event": "control_listening", "path": path, "mode": oct(mode)},
        )

    @staticmethod
    def _clear_stale(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ControlSocketError(f"cannot inspect {path}: {exc}") from exc
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlSocketError(f"{path} exists and is not a socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            _log.warning(
                "removed a stale control socket (no daemon was listening on it)",
                extra={"event": "control_stale_socket", "path": path},
            )
            return
        except TimeoutError:
            pass  # someone is listening, only too busy to accept us
        except OSError as exc:
            if exc.errno != errno.EAGAIN:  # EAGAIN: a full backlog, so a live listener
                raise ControlSocketError(f"cannot check the existing socket {path}: {exc}") from exc
        finally:
            probe.close()
        raise ControlSocketError(f"another tradingd is already listening on {path}")

    def close(self) -> None:
        """Give the socket up without serving (start-up failed after :meth:`bind`)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._unlink()

    def _unlink(self) -> None:
        # Only remove the file if it is still ours: a newer daemon may own the path now.
        if self._ident is None:
            return
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._ident:
                os.unlink(self.path)
        except OSError:
            pass
        self._ident = None

    # -- serving -----------------------------------------------------------------------

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Accept clients until cancelled, then close the socket and remove its file."""
        self.bind()
        assert self._sock is not None
        listener = await SocketListener.from_socket(self._sock)
        self._sock = None
        try:
            async with anyio.create_task_group() as tg:
                task_status.started()
                while True:
                    try:
                        stream = await listener.accept()
                    except OSError as exc:
                        # EMFILE/ENFILE/ENOBUFS: keep serving the clients we have and
                        # retry shortly instead of dying (real time: see _connection).
                        _log.error(
                            "control socket accept failed; retrying",
                            extra={"event": "control_accept_failed", "error": str(exc)},
                        )
                        await anyio.sleep(0.1)
                        continue
                    self.accepted += 1
                    tg.start_soon(self._serve_client, stream)
        finally:
            with anyio.CancelScope(shield=True):
                await listener.aclose()
            self._unlink()

    async def _serve_client(self, stream: SocketStream) -> None:
        try:
            async with stream:
                await self._admit(stream)
        except Exception as exc:
            # One client must never take the daemon down with it.
            _log.error(
                "control connection failed",
                exc_info=exc,
                extra={"event": "control_connection_error", "error": str(exc)},
            )

    async def _admit(self, stream: SocketStream) -> None:
        cfg = self._settings().control
        raw = stream.extra(SocketAttribute.raw_socket)
        peer = peer_credentials(raw)
        conn = Connection(self, stream, peer, cfg, raw)
        if not peer_allowed(peer, cfg):
            self.refused += 1
            _log.warning(
                "control connection refused: user not allowed",
                extra={"event": "control_forbidden", "uid": peer.uid, "pid": peer.pid},
            )
            await self._goodbye(
                conn,
                ErrorCode.FORBIDDEN,
                f"uid {peer.uid} may not use this socket (control.allowed_uids, "
                "control.socket_group)",
            )
            return
        if self.active >= cfg.max_clients:
            self.refused += 1
            _log.warning(
                "control connection refused: too many clients",
                extra={"event": "control_busy", "uid": peer.uid, "clients": self.active},
            )
            await self._goodbye(
                conn, ErrorCode.BUSY, f"{self.active} clients connected (the limit); try again"
            )
            return
        self.active += 1
        try:
            await conn.run()
        finally:
            self.active -= 1
            if self.active == 0 and self._idle is not None:
                self._idle.set()
                self._idle = None

    async def wait_idle(self) -> None:
        """Return once no connection is being served (every handler has finished)."""
        while self.active:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    @staticmethod
    async def _goodbye(conn: Connection, code: ErrorCode, message: str) -> None:
        with contextlib.suppress(Gone):
            await conn.send(encode_error(None, code, message))
