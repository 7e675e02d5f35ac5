"""Commands the runtime serves itself: help, version, status, reload, watch."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from daemon.control._commands import NoArgs, WatchArgs
from daemon.control._protocol import PROTOCOL_VERSION, CommandError, ErrorCode
from daemon.control._registry import Call, ControlRegistry, EventStream
from daemon.control._status import collect_status, version_info
from daemon.messages import EVENT_TYPES
from daemon.messages.codec import encode_json

if TYPE_CHECKING:
    from daemon.runtime import Daemon

_EVENT_TYPES_BY_NAME = {t.__name__: t for t in EVENT_TYPES}
_watch_ids = itertools.count(1)


def install_daemon_commands(daemon: Daemon, registry: ControlRegistry) -> None:
    """Bind help, version, status, reload and watch to ``daemon``."""

    async def help_(call: Call, args: NoArgs) -> Any:
        return {"protocol": PROTOCOL_VERSION, "commands": registry.catalogue()}

    async def version(call: Call, args: NoArgs) -> Any:
        return version_info()

    async def status(call: Call, args: NoArgs) -> Any:
        # Each owner gets a third of the request budget, so a stuck one leaves time to
        # answer with everything else.
        part = max(0.05, min(2.0, daemon.settings.control.request_timeout_s / 3))
        return await collect_status(daemon, call, part)

    async def reload(call: Call, args: NoArgs) -> Any:
        if not await daemon.reload():
            why = daemon.reload_error or "see the daemon log"
            raise CommandError(
                ErrorCode.REFUSED,
                f"configuration reload rejected; still running the previous one: {why}",
            )
        return {"reloaded": True}

    async def watch(call: Call, args: WatchArgs, stream: EventStream) -> Any:
        return await _watch(daemon, call, args, stream)

    registry.register("help", help_)
    registry.register("version", version)
    registry.register("status", status)
    registry.register("reload", reload)
    registry.register_stream("watch", watch)


def event_types(names: list[str]) -> tuple[type[Any], ...] | None:
    """The event classes named in ``names`` (None: all); ``bad_args`` for unknown names."""
    if not names:
        return None
    unknown = [n for n in names if n not in _EVENT_TYPES_BY_NAME]
    if unknown:
        raise CommandError(
            ErrorCode.BAD_ARGS,
            f"watch: unknown event type(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_EVENT_TYPES_BY_NAME))}",
        )
    return tuple(_EVENT_TYPES_BY_NAME[n] for n in names)


async def _watch(daemon: Daemon, call: Call, args: WatchArgs, stream: EventStream) -> Any:
    types = event_types(args.types)
    topic = daemon.events
    # Best effort: a slow watcher sheds (and is told how much), it never slows trading.
    sub = topic.subscribe(
        f"control.watch.{next(_watch_ids)}.uid{call.peer.uid}",
        types=types,
        lossless=False,
        capacity=daemon.settings.control.watch_buffer,
    )
    sent = 0
    try:
        await stream.start(
            {
                "types": sorted(t.__name__ for t in types) if types else [],
                "buffer": sub.channel.capacity,
            }
        )
        if daemon.supervisor is not None:
            stream.close_on(daemon.supervisor.shutdown_requested, "daemon stopping")
        while not stream.closed:
            batch = await stream.until_closed(lambda: sub.receive_batch(256))
            if batch is None:
                break
            for event in batch:
                await stream.send(encode_json(event), sub.shed)
                sent += 1
                if args.max_events and sent >= args.max_events:
                    stream.close("max_events")
                    break
    finally:
        topic.unsubscribe(sub)
        sub.channel.close()
    return {"events": sent, "shed": sub.shed, "ended": stream.close_reason or "closed"}
