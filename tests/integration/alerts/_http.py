"""A tiny scripted HTTP server standing in for a webhook receiver."""

from __future__ import annotations

import re

import anyio
import msgspec
from anyio.abc import SocketAttribute, SocketStream, TaskStatus

from daemon.progress import Progress

_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


class Receiver:
    """Answers each request by the next action of its script (then ``ok``).

    Actions: ``ok`` (200), ``500``, ``400``, ``429:<seconds>`` (with Retry-After), and
    ``hang`` (read the request, never answer until :attr:`release` is set).
    """

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.bodies: list[bytes] = []
        self.heads: list[bytes] = []
        self.progress = Progress()
        self.release = anyio.Event()

    def json(self, i: int) -> dict[str, object]:
        """The ``i``-th request body, parsed."""
        body: dict[str, object] = msgspec.json.decode(self.bodies[i])
        return body

    async def serve(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on a free local port (reported through ``task_status``) until cancelled."""
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            task_status.started(listener.extra(SocketAttribute.local_port))
            await listener.serve(self._handle)

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += await stream.receive()
            head, _, body = buf.partition(b"\r\n\r\n")
            m = _LENGTH.search(head)
            length = int(m.group(1)) if m else 0
            while len(body) < length:
                body += await stream.receive()
            action = self.script.pop(0) if self.script else "ok"
            self.heads.append(head)
            self.bodies.append(body)
            self.progress.notify()
            if action == "hang":
                await self.release.wait()
                return
            extra = ""
            if action.startswith("429:"):
                extra = f"Retry-After: {action[4:]}\r\n"
                action = "429"
            status = 200 if action == "ok" else int(action)
            reply = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n"
            await stream.send(f"{reply}{extra}\r\n".encode())
