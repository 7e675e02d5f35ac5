"""The signal guard actor: every inbound signal gets a verdict; accepted ones go on."""

from __future__ import annotations

from typing import Any, final

import anyio
import msgspec
from anyio.abc import TaskStatus

from actors.signal_guard._rules import GuardReason, GuardRules
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.messages import Signal, SignalRejected, SignalVerdict


@final
class SignalGuard(Actor):
    """Validates, de-duplicates, ages and cools down signals from ``guard.in``.

    Every verdict is published on the ``events`` topic (so it is stored and counted);
    accepted signals are forwarded, as their verdict, to ``orchestrator.in``.
    """

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.rules = GuardRules(ctx.settings.guard)
        self.inbox = self.bus.channel(names.SIGNALS_IN)
        self.out = self.bus.channel(names.ORCHESTRATOR_IN)
        self.events = self.bus.topic(names.EVENTS)
        self.accepted = 0
        self.rejected: dict[str, int] = {}

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Judge signals in batches until cancelled."""
        task_status.started()
        inbox, out, publish, clock = self.inbox, self.out, self.events.publish, self.clock
        while True:
            batch: list[Any] = await self.next_batch(inbox)
            for item in batch:
                now = clock.now_ns()
                if not isinstance(item, Signal):
                    await publish(self._not_a_signal(item, now))
                    continue
                verdict = self.judge(item, now)
                await publish(verdict)
                if verdict.accepted:
                    try:
                        out.send_nowait(verdict)
                    except anyio.WouldBlock:
                        await out.send(verdict)

    def judge(self, sig: Signal, now_ns: int) -> SignalVerdict:
        """The verdict on ``sig`` at ``now_ns`` (never raises)."""
        try:
            if sig.received_ns == 0:
                sig = msgspec.structs.replace(sig, received_ns=now_ns)
            bad = self.rules.check(sig, now_ns)
        except Exception as exc:  # a malformed object must become a verdict, not a crash
            bad = GuardReason.INVALID, f"{type(exc).__name__}: {exc}"
        if bad is None:
            self.accepted += 1
            return SignalVerdict(signal=sig, accepted=True, ts=now_ns)
        reason, detail = bad
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self.log.debug(
            "signal rejected",
            extra={"event": "signal_rejected", "signal_id": sig.signal_id, "reason": reason},
        )
        return SignalVerdict(signal=sig, accepted=False, reason=reason, detail=detail, ts=now_ns)

    def _not_a_signal(self, item: object, now_ns: int) -> SignalRejected:
        self.rejected[GuardReason.INVALID] = self.rejected.get(GuardReason.INVALID, 0) + 1
        return SignalRejected(
            origin=names.SIGNALS_IN,
            error=f"expected a Signal, got {type(item).__name__}",
            raw=repr(item)[:2000],
            ts=now_ns,
        )

    async def on_reload(self, settings: Settings) -> None:
        """Take the new ``[guard]`` limits; dedup and cooldown memory is kept."""
        await super().on_reload(settings)
        self.rules.configure(settings.guard)
