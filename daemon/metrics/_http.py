"""A small HTTP/1.1 server on the event loop for ``/metrics``, ``/healthz`` and ``/readyz``.

Why not prometheus_client's own ``start_http_server``: it serves from a thread, and the
scrape-time collectors read the runtime (actor records, bus depths, the safety state),
which belongs to the event loop — reading it from another thread would race. Its ASGI
app needs an ASGI server, which tradingd does not otherwise carry. So the transport is
anyio's TCP listener and the HTTP protocol is h11 (python-hyper's sans-I/O HTTP/1.1
implementation: parsing, framing and limits are its job, not ours). Each connection
serves one request and closes (``Connection: close``); Prometheus and load balancers
reconnect per scrape or probe anyway.

Timeouts are on real time (anyio's clock), not the daemon's ``Clock``: they bound how
long a real peer may hold a socket, which has nothing to do with trading time, and a
simulated clock's autojump would fire them whenever the loop waits on socket I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import final
from urllib.parse import parse_qs, urlsplit

import anyio
import h11
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskStatus

_log = logging.getLogger("tradingd.metrics.http")

MAX_REQUEST_BYTES = 16 * 1024
"""Largest request head accepted (h11 refuses anything bigger with 431)."""


@final
@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request as the handlers see it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    """Lower-cased header names; the last value of a repeated header."""


@final
@dataclass(frozen=True, slots=True)
class Response:
    """What a handler answers."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())


Handler = Callable[[Request], Awaitable[Response]]
"""``await handler(request) -> Response`` for one path."""


@final
class HttpServer:
    """Serves ``routes`` (path -> handler) for GET and HEAD on one TCP address."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: Mapping[str, Handler],
        *,
        max_connections: int = 8,
        timeout_s: float = 5.0,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.routes = dict(routes)
        self.timeout_s = timeout_s
        self._limiter = anyio.CapacityLimiter(max_connections)
        self.port = 0
        """The bound port (differs from the requested one when that was 0)."""
        self.requests = 0
        """Requests answered (any status)."""
        self.errors = 0
        """Connections that ended in a protocol error, a timeout or a handler failure."""

    @property
    def address(self) -> str:
        """``host:port`` actually bound (``[v6]:port`` for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bind, report started, and serve until cancelled (raises ``OSError`` if bind fails)."""
        listener = await anyio.create_tcp_listener(
            local_host=self.host, local_port=self.requested_port
        )
        self.port = _bound_port(listener)
        async with listener, anyio.create_task_group() as tg:
            task_status.started()
            await listener.serve(self._connection, task_group=tg)

    async def _connection(self, stream: ByteStream) -> None:
        async with stream, self._limiter:
            try:
                with anyio.fail_after(self.timeout_s):
                    await self._exchange(stream)
            except TimeoutError:
                self.errors += 1
            except (anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError):
                self.errors += 1  # the peer went away; nothing to answer
            except Exception as exc:  # a handler bug must not end the server
                self.errors += 1
                _log.error(
                    "metrics HTTP request failed",
                    exc_info=exc,
                    extra={"event": "metrics_http_error"},
                )

    async def _exchange(self, stream: ByteStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        try:
            request = await _read_request(conn, stream)
        except h11.RemoteProtocolError as exc:
            self.errors += 1
            status = exc.error_status_hint
            await self._send(conn, stream, Response(status, f"bad request: {exc}\n".encode()), True)
            return
        if request is None:
            return
        self.requests += 1
        await self._send(conn, stream, await self._dispatch(request), request.method != "HEAD")

    async def _dispatch(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"only GET and HEAD\n", headers=(("allow", "GET, HEAD"),))
        handler = self.routes.get(request.path)
        if handler is None:
            known = ", ".join(sorted(self.routes))
            return Response(404, f"not found; paths: {known}\n".encode())
        return await handler(request)

    async def _send(
        self, conn: h11.Connection, stream: ByteStream, resp: Response, with_body: bool
    ) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        headers = [
            ("content-type", resp.content_type),
            ("content-length", str(len(resp.body))),
            ("cache-control", "no-store"),
            ("connection", "close"),
            *resp.headers,
        ]
        reason = HTTPStatus(resp.status).phrase.encode("ascii")
        out = (
            conn.send(h11.Response(status_code=resp.status, headers=headers, reason=reason)) or b""
        )
        if with_body and resp.body:
            out += conn.send(h11.Data(data=resp.body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        await stream.send(out)


async def _read_request(conn: h11.Connection, stream: ByteStream) -> Request | None:
    """The next complete request, or None if the peer closed before sending one."""
    head: h11.Request | None = None
    received = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(65_536)
            except anyio.EndOfStream:
                data = b""
            received += len(data)
            if received > MAX_REQUEST_BYTES:
                # h11 bounds only what it buffers of an incomplete event; this bounds the
                # request as a whole, however it arrives.
                raise h11.RemoteProtocolError("request too large", error_status_hint=431)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None  # h11 sends Request before EndOfMessage
            return _request(head)
        elif isinstance(event, h11.ConnectionClosed):
            return None
        # h11.Data (a request body): ignored, no route takes one.


def _request(head: h11.Request) -> Request:
    target = head.target.decode("latin-1")
    parts = urlsplit(target)
    return Request(
        method=head.method.decode("ascii", "replace").upper(),
        path=parts.path or "/",
        query=parse_qs(parts.query),
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers},
    )


def _bound_port(listener: Listener[object]) -> int:
    port: int = listener.extra(SocketAttribute.local_port)
    return port
