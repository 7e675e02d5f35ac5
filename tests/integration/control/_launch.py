"""``python -m tests.integration.control._launch CONFIG``: tradingd with test actors.

Exactly what ``tradingd run`` does (signals, admin socket, sd_notify from the
environment, live clock), but the actors are two test ones instead of the shipped set:

* ``ticker`` — a healthy core actor;
* ``hanger`` — a core actor that registers a ``hang`` command on the admin socket (as
  any owner registers its commands) and, when asked, takes a piece of work and never
  finishes it: the stuck actor the systemd watchdog must notice.

Not shipped in ``actors/``: a hanging actor has no place in production.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskStatus

from config import load_settings
from daemon.actor import Actor, ActorDefinition
from daemon.control import Call, CommandSpec, ControlRegistry
from daemon.logs import setup_logging
from daemon.runtime import Daemon
from daemon.sdnotify import SdNotifier

HANG = "test.hang"


class Ticker(Actor):
    """Core, healthy, idle."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()


class Hanger(Actor):
    """Core; hangs on the first piece of work it is given."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        inbox = self.bus.channel(HANG)
        registry = self.ctx.resource(ControlRegistry)
        registry.declare(
            CommandSpec(name="hang", summary="test: make a core actor hang", provider="hanger")
        )

        async def hang(call: Call, args: Any) -> Any:
            await inbox.send("hang")
            return {"hanging": True}

        registry.register("hang", hang)
        task_status.started()
        while True:
            await self.next_batch(inbox)  # marks this actor busy ...
            await anyio.Event().wait()  # ... with work that never finishes


DEFINITIONS = [
    ActorDefinition(name="ticker", factory=Ticker, description="test: healthy"),
    ActorDefinition(name="hanger", factory=Hanger, description="test: hangs on request"),
]


def main(argv: list[str]) -> int:
    """Run the daemon on the configuration file ``argv[0]``."""
    path = argv[0]
    settings = load_settings(path)
    setup_logging(settings.daemon.log_level, settings.daemon.log_format)
    daemon = Daemon(
        settings,
        definitions=DEFINITIONS,
        reload_loader=partial(load_settings, path),
        serve_control=True,
        notifier=SdNotifier.from_env(),
    )
    return int(anyio.run(daemon.run))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
