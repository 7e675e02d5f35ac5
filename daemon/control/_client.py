"""A small blocking client for the admin socket (used by ``tradingctl`` and scripts).

::

    with ControlClient("/run/tradingd/tradingd.sock") as c:
        status = c.call("status")
        for event in c.stream("watch", {"types": ["Fill"]}):
            ...

Failures are :class:`ClientError` subclasses, each carrying the ``tradingctl`` exit
code that describes it (see :class:`CtlExit`).
"""

from __future__ import annotations

import enum
import errno
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any, final

import msgspec

from daemon.control._protocol import PROTOCOL_VERSION, ErrorCode


class CtlExit(enum.IntEnum):
    """``tradingctl`` exit codes; scripts can rely on these (docs/control.md)."""

    OK = 0
    """The command succeeded."""
    FAILED = 1
    """The daemon answered with an error (refused, bad arguments, internal error)."""
    USAGE = 2
    """Bad command line."""
    NOT_RUNNING = 3
    """No daemon: the socket does not exist or nothing listens on it."""
    NO_ACCESS = 4
    """The socket exists but this user may not use it (file permissions or peer check)."""
    NO_ANSWER = 5
    """No definite answer: timeout, connection lost, or a garbled response. The command
    may or may not have taken effect; check ``tradingctl status``."""
    UNAVAILABLE = 6
    """The daemon does not serve this command now (its owner is not running)."""
    ABORTED = 7
    """A confirmation was declined, or was needed without a terminal (use ``--yes``)."""


class ClientError(Exception):
    """Raised when a request did not succeed; ``exit_code`` says how ``tradingctl`` exits."""

    exit_code: CtlExit = CtlExit.FAILED

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotRunning(ClientError):
    """Raised when the socket is missing or nobody listens on it."""

    exit_code = CtlExit.NOT_RUNNING


class NoAccess(ClientError):
    """Raised when this user may not open the socket or is refused by the daemon."""

    exit_code = CtlExit.NO_ACCESS


class NoAnswer(ClientError):
    """Raised on a timeout, a lost connection or a response that makes no sense."""

    exit_code = CtlExit.NO_ANSWER


class Unavailable(ClientError):
    """Raised when the daemon does not serve the command (unknown or owner not running)."""

    exit_code = CtlExit.UNAVAILABLE


class CommandFailed(ClientError):
    """Raised when the daemon answered ``ok: false``; ``code`` is the protocol error code."""

    exit_code = CtlExit.FAILED


_BY_CODE: dict[str, type[ClientError]] = {
    ErrorCode.FORBIDDEN: NoAccess,
    ErrorCode.UNAVAILABLE: Unavailable,
    ErrorCode.UNKNOWN_COMMAND: Unavailable,
    ErrorCode.TIMEOUT: NoAnswer,
}

_MAX_RESPONSE = 64 * 1024 * 1024


@final
class ControlClient:
    """One connection to the admin socket; requests are sent one at a time."""

    def __init__(self, path: str, *, timeout_s: float = 35.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._next_id = 0
        self.last_result: Any = None
        """The final result of the last :meth:`stream`."""
        self.stream_info: Any = None
        """The opening line's ``stream`` member of the last :meth:`stream`."""

    def __enter__(self) -> ControlClient:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection, mapping OS errors to the client's errors (naming the path)."""
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.path)
        except FileNotFoundError:
            sock.close()
            raise NotRunning(
                f"tradingd is not running: there is no socket at {self.path}"
            ) from None
        except ConnectionRefusedError:
            sock.close()
            raise NotRunning(
                f"tradingd is not running: nothing is listening on {self.path} "
                "(a stale socket from a daemon that stopped)"
            ) from None
        except PermissionError:
            sock.close()
            raise NoAccess(
                f"permission denied opening {self.path}: run as the tradingd user or root, "
                "or as a member of control.socket_group"
            ) from None
        except TimeoutError:
            sock.close()
            raise NoAnswer(f"timed out connecting to {self.path}") from None
        except OSError as exc:
            sock.close()
            if exc.errno == errno.ENOTSOCK or exc.errno == errno.ECONNREFUSED:
                raise NotRunning(f"{self.path} is not a tradingd socket ({exc.strerror})") from None
            raise NoAnswer(f"cannot connect to {self.path}: {exc.strerror or exc}") from None
        self._sock = sock

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send one request and return its result, or raise :class:`ClientError`."""
        rid = self._send(cmd, args)
        while True:
            msg = self._read()
            if "event" in msg or "stream" in msg:
                continue  # a stream line of a previous request; not ours
            return self._final(msg, rid)

    def stream(self, cmd: str, args: dict[str, Any] | None = None) -> Iterator[Any]:
        """Yield each streamed event of ``cmd``; the final result lands in ``last_result``."""
        rid = self._send(cmd, args)
        while True:
            msg = self._read(wait_forever=True)
            if msg.get("id") == rid and "event" in msg:
                yield msg["event"]
                continue
            if msg.get("id") == rid and "stream" in msg:
                self.stream_info = msg["stream"]
                continue
            self.last_result = self._final(msg, rid)
            return

    def stop_stream(self) -> None:
        """Ask the daemon to end the current stream (it then sends the final response)."""
        self._write(b"\n")

    # -- internals ---------------------------------------------------------------------

    def _send(self, cmd: str, args: dict[str, Any] | None) -> int:
        self.connect()
        self._next_id += 1
        req = {"v": PROTOCOL_VERSION, "id": self._next_id, "cmd": cmd, "args": args or {}}
        try:
            self._write(msgspec.json.encode(req) + b"\n")
        except NoAnswer as lost:
            # A daemon that refuses us (forbidden, busy) says why and hangs up, possibly
            # before our request went out: its reason is the better error.
            try:
                msg = self._read()
            except ClientError:
                raise lost from None
            self._final(msg, self._next_id)
            raise
        return self._next_id

    def _write(self, data: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(data)
        except TimeoutError:
            raise NoAnswer(f"timed out sending to {self.path}") from None
        except OSError as exc:
            raise NoAnswer(f"connection to {self.path} lost: {exc.strerror or exc}") from None

    def _read(self, *, wait_forever: bool = False) -> dict[str, Any]:
        sock = self._sock
        assert sock is not None
        buf = self._buf
        sock.settimeout(None if wait_forever else self.timeout_s)
        while True:
            nl = buf.find(b"\n")
            if nl >= 0:
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                try:
                    msg = msgspec.json.decode(line)
                except msgspec.DecodeError as exc:
                    raise NoAnswer(f"garbled response from the daemon: {exc}") from None
                if not isinstance(msg, dict):
                    raise NoAnswer("garbled response from the daemon: not a JSON object")
                return msg
            if len(buf) > _MAX_RESPONSE:
                raise NoAnswer("response from the daemon is implausibly large")
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                raise NoAnswer(
                    f"no answer from the daemon within {self.timeout_s:g}s; the command may "
                    "still take effect (check status)"
                ) from None
            except OSError as exc:
                raise NoAnswer(f"connection to {self.path} lost: {exc.strerror or exc}") from None
            if not data:
                raise NoAnswer(f"the daemon closed the connection ({self.path})")
            buf += data

    @staticmethod
    def _final(msg: dict[str, Any], rid: int) -> Any:
        if msg.get("ok") is True and "result" in msg:
            return msg["result"]
        err = msg.get("error")
        if msg.get("ok") is False and isinstance(err, dict):
            code = str(err.get("code", ""))
            text = str(err.get("message", ""))
            raise _BY_CODE.get(code, CommandFailed)(text, code=code)
        raise NoAnswer(f"unexpected response to request {rid}: {str(msg)[:200]}")
