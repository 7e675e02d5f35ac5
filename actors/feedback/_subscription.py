"""A topic subscription that survives the actor's restarts."""

from __future__ import annotations

from typing import Any

from daemon.bus import Subscription, Topic


def shared_subscription(
    topic: Topic[Any], name: str, types: tuple[type[Any], ...]
) -> Subscription[Any]:
    """The lossless subscription ``name`` on ``topic``, created once per bus.

    A restarted actor takes over its predecessor's subscription (and the events
    buffered in it) instead of adding a second one, which would lose those events and
    leave the first to fill up and hold up every publisher.
    """
    wanted = f"{topic.name}->{name}"
    for sub in topic.subscriptions:
        if sub.channel.name == wanted:
            return sub
    return topic.subscribe(name, types=types, lossless=True)
