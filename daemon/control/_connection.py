"""One client connection: read request lines, dispatch, answer, audit, stream.

Nothing a client sends can end the daemon or even this connection: every bad line is
answered with an error code. A connection ends when the client closes it, stays idle
past ``control.idle_timeout_s``, or stops reading its responses for
``control.write_timeout_s``.

The timeouts here are on real time (anyio's monotonic clock), not on the daemon's
``Clock``: they bound how long a real peer may hold a socket, which has nothing to do
with trading time — and a simulated clock's autojump would fire them spuriously
whenever the loop waits on socket I/O.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, final

import anyio
from anyio import BrokenResourceError, ClosedResourceError, EndOfStream
from anyio.abc import ByteStream, TaskGroup

from config.sections.control import ControlSettings
from daemon.control._protocol import (
    CommandError,
    ErrorCode,
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_ok,
    encode_stream,
    encode_stream_start,
)
from daemon.control._registry import Call, Handler, Peer, StreamHandler
from daemon.messages import ControlCommand

if TYPE_CHECKING:
    from daemon.control._server import ControlServer

_log = logging.getLogger("tradingd.control")


class Gone(Exception):
    """Raised when the client went away or stopped reading; the connection ends quietly."""


@final
class _Oversize:
    def __repr__(self) -> str:
        return "OVERSIZE"


OVERSIZE: Final = _Oversize()
"""Returned by :meth:`LineReader.next` for a line past the size limit."""


@final
class LineReader:
    """Splits a byte stream into lines of at most ``limit`` bytes.

    A longer line is reported once, as soon as it passes the limit, and the rest of it is
    discarded up to its newline, so the next request is read correctly.
    """

    def __init__(self, stream: ByteStream, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._buf = bytearray()
        self._scan = 0
        self._discarding = False
        self.eof = False

    async def next(self) -> bytes | _Oversize | None:
        """The next line (without its newline), :data:`OVERSIZE`, or None at end of stream."""
        buf = self._buf
        while True:
            nl = buf.find(b"\n", self._scan)
            if nl >= 0:
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                self._scan = 0
                if self._discarding:
                    self._discarding = False
                    continue
                if len(line) > self._limit:
                    return OVERSIZE
                return line
            if self._discarding:
                buf.clear()
                self._scan = 0
            elif len(buf) > self._limit:
                buf.clear()
                self._scan = 0
                self._discarding = True
                return OVERSIZE
            else:
                self._scan = len(buf)
            if self.eof:
                return None
            try:
                data = await self._stream.receive(65_536)
            except (EndOfStream, BrokenResourceError, ClosedResourceError, ConnectionError):
                self.eof = True
                if buf and not self._discarding:
                    # A last request without its newline is still a request.
                    line = bytes(buf)
                    buf.clear()
                    self._scan = 0
                    return line if len(line) <= self._limit else OVERSIZE
                return None
            buf += data


@final
class _Stream:
    """The server side of one streaming response (implements ``EventStream``)."""

    def __init__(self, conn: Connection, request_id: Any) -> None:
        self._conn = conn
        self._rid = request_id
        self._scopes: set[anyio.CancelScope] = set()
        self._reason = ""
        self.task_group: TaskGroup | None = None

    @property
    def closed(self) -> bool:
        return bool(self._reason)

    @property
    def close_reason(self) -> str:
        return self._reason

    def close(self, reason: str) -> None:
        if not self._reason:
            self._reason = reason or "closed"
            for scope in self._scopes:
                scope.cancel()

    def close_on(self, event: anyio.Event, reason: str) -> None:
        assert self.task_group is not None

        async def wait() -> None:
            await event.wait()
            self.close(reason)

        self.task_group.start_soon(wait)

    async def until_closed(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        if self._reason:
            return None
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                return await fn()
            finally:
                self._scopes.discard(scope)
        return None

    async def start(self, info: dict[str, Any]) -> None:
        await self._conn.send(encode_stream_start(self._rid, info))

    async def send(self, event_json: bytes, shed: int) -> None:
        await self._conn.send(encode_stream(self._rid, event_json, shed))


@final
class Connection:
    """Serves one accepted client until it leaves."""

    def __init__(
        self,
        server: ControlServer,
        stream: ByteStream,
        peer: Peer,
        cfg: ControlSettings,
        raw: socket.socket | None = None,
    ) -> None:
        self._server = server
        self._stream = stream
        self._raw = raw
        self.peer = peer
        self._cfg = cfg
        self._reader = LineReader(stream, cfg.max_request_bytes)

    async def send(self, data: bytes) -> None:
        """Write ``data``; raises :class:`Gone` if the client left or stopped reading."""
        sent = 0
        if self._raw is not None:
            # Fast path: a response almost always fits in the socket buffer, and a
            # non-blocking send then needs no timeout scope (~15 us each on uvloop).
            # anyio's Unix stream writes to the same raw socket, so order is kept.
            try:
                sent = self._raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise Gone(str(exc) or type(exc).__name__) from exc
            if sent == len(data):
                return
        try:
            with anyio.fail_after(self._cfg.write_timeout_s):
                await self._stream.send(data[sent:])
        except (TimeoutError, BrokenResourceError, ClosedResourceError, OSError) as exc:
            raise Gone(str(exc) or type(exc).__name__) from exc

    async def run(self) -> None:
        """Answer requests until the client closes or idles out."""
        try:
            await self._loop()
        except Gone as exc:
            _log.debug("control client gone", extra={"uid": self.peer.uid, "why": str(exc)})

    async def _loop(self) -> None:
        cfg = self._cfg
        # One scope for the whole connection whose deadline is armed only while waiting
        # for a request: moving a deadline is far cheaper than a scope per request.
        with anyio.CancelScope() as idle:
            while True:
                idle.deadline = anyio.current_time() + cfg.idle_timeout_s
                item = await self._reader.next()
                idle.deadline = math.inf
                if item is None:
                    return
                if isinstance(item, _Oversize):
                    msg = f"request longer than {cfg.max_request_bytes} bytes; discarded"
                    await self.send(encode_error(None, ErrorCode.TOO_LARGE, msg))
                    continue
                line = item.strip()
                if line:
                    await self._dispatch(line)
        if idle.cancelled_caught:
            msg = f"no request for {cfg.idle_timeout_s:g}s; closing the connection"
            await self.send(encode_error(None, ErrorCode.TIMEOUT, msg))

    async def _dispatch(self, line: bytes) -> None:
        try:
            req = decode_request(line)
        except ProtocolError as exc:
            await self.send(encode_error(exc.request_id, exc.code, exc.message))
            return
        registry = self._server.registry
        spec = registry.spec(req.cmd)
        error: CommandError | None = None
        out = b""
        try:
            binding = registry.resolve(req.cmd)
            args = binding.spec.parse_args(req.args)
            call = Call(req.id, req.cmd, self.peer)
            if binding.stream_handler is not None:
                result = await self._run_stream(binding.stream_handler, call, args)
            else:
                assert binding.handler is not None
                result = await self._run_unary(binding.handler, call, args)
            out = encode_ok(req.id, result)
        except CommandError as exc:
            error = exc
        except Gone:
            raise
        except Exception as exc:
            _log.error(
                "control command failed unexpectedly",
                exc_info=exc,
                extra={"event": "control_internal_error", "cmd": req.cmd, "uid": self.peer.uid},
            )
            error = CommandError(
                ErrorCode.INTERNAL,
                f"{req.cmd} failed: {type(exc).__name__}: {exc} (details in the daemon log)",
            )
        if error is not None:
            out = encode_error(req.id, error.code, error.message)
        if spec is not None and spec.mutating:
            await self._audit(req, error)
        await self.send(out)

    async def _run_unary(self, handler: Handler, call: Call, args: Any) -> Any:
        timeout = self._cfg.request_timeout_s
        try:
            with anyio.fail_after(timeout):
                return await handler(call, args)
        except TimeoutError:
            raise CommandError(
                ErrorCode.TIMEOUT,
                f"{call.cmd} did not finish within {timeout:g}s; it may still take effect "
                "(check status)",
            ) from None

    async def _run_stream(self, handler: StreamHandler, call: Call, args: Any) -> Any:
        stream = _Stream(self, call.request_id)

        async def client_stop() -> None:
            # Any line, or the end of the client's input, ends the stream; the final
            # response still goes out if the client is reading.
            await self._reader.next()
            stream.close("client")

        # The handler's own errors must come out as themselves (CommandError, Gone), not
        # wrapped in the task group's ExceptionGroup.
        failure: Exception | None = None
        result: Any = None
        try:
            async with anyio.create_task_group() as tg:
                stream.task_group = tg
                tg.start_soon(client_stop)
                try:
                    result = await handler(call, args, stream)
                except Exception as exc:
                    failure = exc
                finally:
                    tg.cancel_scope.cancel()
        except anyio.get_cancelled_exc_class():
            # The daemon is being torn down under an open stream: still end it with a
            # final response, so the client knows the stream did not just stall.
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(1.0),
                contextlib.suppress(Gone),
            ):
                await self.send(encode_ok(call.request_id, {"ended": "daemon stopped"}))
            raise
        if failure is not None:
            raise failure
        return result

    async def _audit(self, req: Request, error: CommandError | None) -> None:
        server = self._server
        peer = self.peer
        _log.info(
            "control command",
            extra={
                "event": "control_command",
                "cmd": req.cmd,
                "uid": peer.uid,
                "pid": peer.pid,
                "ok": error is None,
                "code": "" if error is None else str(error.code),
            },
        )
        await server.audit.publish(
            ControlCommand(
                request_id="" if req.id is None else str(req.id),
                cmd=req.cmd,
                args=req.args,
                peer_uid=peer.uid,
                peer_pid=peer.pid,
                ok=error is None,
                error="" if error is None else f"{error.code}: {error.message}",
                ts=server.clock.now_ns(),
            )
        )
