"""The HTTP server on the event loop: routes, methods, bad requests, slow peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from daemon.metrics import HttpServer, Request, Response


async def _hello(request: Request) -> Response:
    who = request.query.get("who", ["world"])[0]
    return Response(200, f"hello {who}\naccept={request.headers.get('accept', '')}\n".encode())


async def _broken(request: Request) -> Response:
    raise RuntimeError("handler bug")


@asynccontextmanager
async def serving(**kw: float) -> AsyncIterator[HttpServer]:
    server = HttpServer(
        "127.0.0.1", 0, {"/hello": _hello, "/broken": _broken}, timeout_s=kw.get("timeout_s", 5.0)
    )
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve)
        try:
            yield server
        finally:
            tg.cancel_scope.cancel()


async def _raw(port: int, data: bytes) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(data)
        out = b""
        with anyio.fail_after(10):
            while True:
                try:
                    out += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return out


async def test_get_head_404_and_405() -> None:
    async with serving() as server, httpx.AsyncClient() as client:
        base = f"http://{server.address}"
        r = await client.get(f"{base}/hello?who=ops", headers={"accept": "text/plain"})
        assert r.status_code == 200
        assert r.text == "hello ops\naccept=text/plain\n"
        assert r.headers["connection"] == "close"
        assert r.headers["cache-control"] == "no-store"
        h = await client.head(f"{base}/hello")
        assert h.status_code == 200
        assert h.content == b""
        assert h.headers["content-length"] == str(len(b"hello world\naccept=*/*\n"))
        missing = await client.get(f"{base}/nope")
        assert missing.status_code == 404
        assert "/hello" in missing.text
        post = await client.post(f"{base}/hello", content=b"x")
        assert post.status_code == 405
        assert post.headers["allow"] == "GET, HEAD"
        assert server.requests == 4


async def test_a_malformed_request_gets_400_and_the_server_goes_on() -> None:
    async with serving() as server:
        answer = await _raw(server.port, b"this is not http\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400")
        ok = await _raw(server.port, b"GET /hello HTTP/1.0\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")
        assert ok.endswith(b"hello world\naccept=\n")


async def test_a_handler_failure_drops_that_connection_only() -> None:
    async with serving() as server:
        assert await _raw(server.port, b"GET /broken HTTP/1.1\r\nhost: x\r\n\r\n") == b""
        assert server.errors == 1
        ok = await _raw(server.port, b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200")


async def test_a_peer_that_never_finishes_its_request_is_cut_off() -> None:
    async with serving(timeout_s=0.2) as server:
        # Half a request: the server waits for the rest only as long as its timeout.
        assert await _raw(server.port, b"GET /hello HTTP/1.1\r\n") == b""
        assert server.errors == 1
        assert server.requests == 0


async def test_an_oversized_request_head_is_refused() -> None:
    async with serving() as server:
        big = b"GET /hello HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 40_000 + b"\r\n\r\n"
        answer = await _raw(server.port, big)
        assert answer.startswith(b"HTTP/1.1 431")


async def test_a_taken_port_fails_to_bind_with_an_os_error() -> None:
    async with serving() as server:
        second = HttpServer("127.0.0.1", server.port, {})
        with pytest.raises(OSError, match="ddress already in use"):
            await second.serve()
