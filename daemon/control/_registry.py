"""Which handler serves which command: the :class:`ControlRegistry` resource.

The runtime puts one registry in ``Daemon.resources[ControlRegistry]`` and binds the
daemon-level commands; an owner (an actor, the safety state) binds its own commands —
typically a handler that sends the owner a message or calls its request/reply
``Service``, so the owner's state is only ever touched in the owner's own loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, final

import anyio
import msgspec

from daemon.control._commands import COMMANDS, Args, CommandSpec
from daemon.control._protocol import CommandError, ErrorCode, RequestId


@dataclass(frozen=True, slots=True)
class Peer:
    """The process on the other end of a connection (from SO_PEERCRED)."""

    uid: int
    gid: int
    pid: int

    @property
    def label(self) -> str:
        """How the peer is named in audit records and kill/mode changes (``ctl:uid=N``)."""
        return f"ctl:uid={self.uid}"


@dataclass(frozen=True, slots=True)
class Call:
    """One request being served: who asked, under which id."""

    request_id: RequestId
    cmd: str
    peer: Peer


class EventStream(Protocol):
    """What a streaming handler writes to (implemented by the server's connection)."""

    @property
    def closed(self) -> bool:
        """True once the client asked to stop (sent a line or closed) or :meth:`close` ran."""
        ...

    def close(self, reason: str) -> None:
        """End the stream from the handler's side (e.g. the daemon is stopping)."""
        ...

    @property
    def close_reason(self) -> str:
        """Why the stream ended (``client``, or what :meth:`close` was given)."""
        ...

    def close_on(self, event: anyio.Event, reason: str) -> None:
        """Close the stream with ``reason`` when ``event`` is set (e.g. daemon stopping)."""
        ...

    async def until_closed(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """Await ``fn()``; returns None early if the stream closes meanwhile."""
        ...

    async def start(self, info: dict[str, Any]) -> None:
        """Send the stream's opening line once subscribed (call once, before ``send``)."""
        ...

    async def send(self, event_json: bytes, shed: int) -> None:
        """Write one already-encoded event; raises if the client is gone."""
        ...


Handler = Callable[[Call, Any], Awaitable[Any]]
"""``await handler(call, args) -> result`` (anything msgspec encodes to JSON)."""
StreamHandler = Callable[[Call, Any, EventStream], Awaitable[Any]]
"""``await handler(call, args, stream) -> final result``."""


@final
@dataclass(frozen=True, slots=True)
class Binding:
    """A command bound to its handler."""

    spec: CommandSpec
    handler: Handler | None = None
    stream_handler: StreamHandler | None = None


@final
class ControlRegistry:
    """Command name → spec and handler. Re-binding replaces (a restarted owner re-registers)."""

    def __init__(self, specs: Iterable[CommandSpec] = COMMANDS) -> None:
        self._specs: dict[str, CommandSpec] = {}
        self._bindings: dict[str, Binding] = {}
        for spec in specs:
            self.declare(spec)

    def declare(self, spec: CommandSpec) -> None:
        """Make ``spec`` a known command (owners may add commands of their own)."""
        existing = self._specs.get(spec.name)
        if existing is not None and existing != spec:
            self._bindings.pop(spec.name, None)
        self._specs[spec.name] = spec

    def register(self, name: str, handler: Handler) -> None:
        """Serve the declared command ``name`` with ``handler``."""
        spec = self._known(name)
        if spec.streaming:
            raise ValueError(f"command {name} streams; use register_stream")
        self._bindings[name] = Binding(spec, handler=handler)

    def register_stream(self, name: str, handler: StreamHandler) -> None:
        """Serve the declared streaming command ``name`` with ``handler``."""
        spec = self._known(name)
        if not spec.streaming:
            raise ValueError(f"command {name} does not stream; use register")
        self._bindings[name] = Binding(spec, stream_handler=handler)

    def unregister(self, name: str) -> None:
        """Stop serving ``name``; it is answered ``unavailable`` until bound again."""
        self._bindings.pop(name, None)

    def resolve(self, name: str) -> Binding:
        """The binding for ``name``, or ``unknown_command`` / ``unavailable``."""
        binding = self._bindings.get(name)
        if binding is not None:
            return binding
        spec = self._specs.get(name)
        if spec is None:
            raise CommandError(
                ErrorCode.UNKNOWN_COMMAND,
                f"unknown command {name!r}; known: {', '.join(sorted(self._specs))}",
            )
        raise CommandError(
            ErrorCode.UNAVAILABLE,
            f"{name} is not available in this daemon: it is served by {spec.provider}, "
            "which is not running or not connected to the control socket",
        )

    def spec(self, name: str) -> CommandSpec | None:
        """The declared spec of ``name``, if any."""
        return self._specs.get(name)

    def is_bound(self, name: str) -> bool:
        """True when ``name`` has a handler."""
        return name in self._bindings

    def catalogue(self) -> list[dict[str, Any]]:
        """Every declared command, its summary, arguments and whether it is served."""
        out: list[dict[str, Any]] = []
        for name in sorted(self._specs):
            spec = self._specs[name]
            out.append(
                {
                    "cmd": name,
                    "summary": spec.summary,
                    "args": _arg_names(spec.args),
                    "mutating": spec.mutating,
                    "streaming": spec.streaming,
                    "available": name in self._bindings,
                    "provider": spec.provider,
                }
            )
        return out

    def _known(self, name: str) -> CommandSpec:
        spec = self._specs.get(name)
        if spec is None:
            raise KeyError(f"command {name} is not declared; declare a CommandSpec first")
        return spec


def _arg_names(kind: type[Args]) -> list[str]:
    return [f.encode_name for f in msgspec.structs.fields(kind)]
