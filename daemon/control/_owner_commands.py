"""Commands served by an owner actor: the handler sends the owner a message or calls
its request/reply service, so the owner's state is only touched in the owner's loop.

A command is bound only when its owner is among the daemon's actors; while the owner
is disabled or failed it is answered ``unavailable``, naming the actor.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from daemon import names
from daemon.control._commands import (
    CancelArgs,
    CloseArgs,
    FlattenArgs,
    KillArgs,
    NoArgs,
    QueryArgs,
    ReasonArgs,
    ResetKillArgs,
    SignalArgs,
)
from daemon.control._protocol import CommandError, ErrorCode
from daemon.control._registry import Call, ControlRegistry
from daemon.control._status import SAFETY_ACTOR
from daemon.messages import (
    ActorState,
    CancelAllOrders,
    CancelOrder,
    ExitReason,
    FlattenAll,
    OrderStatus,
    Signal,
    SignalVerdict,
    TradingMode,
)
from daemon.messages.codec import to_builtins

if TYPE_CHECKING:
    from actors.orchestrator.books_api import LocalOrder
    from daemon.runtime import Daemon
    from daemon.safety.api import SafetyReply

GUARD_ACTOR = "signal_guard"
LIFECYCLE_ACTOR = "lifecycle"
ORCHESTRATOR_ACTOR = "orchestrator"
RECONCILER_ACTOR = "reconciler"
BROKER_ACTOR = "broker"

_GONE = (ActorState.DISABLED, ActorState.FAILED, ActorState.STOPPED)
_sub_ids = itertools.count(1)


def has_actor(daemon: Daemon, actor: str) -> bool:
    """True when ``actor`` is one of the daemon's supervised actors."""
    sup = daemon.supervisor
    return sup is not None and actor in sup.records


def require_actor(daemon: Daemon, actor: str) -> None:
    """Raise ``unavailable`` unless ``actor`` is present and not disabled/failed/stopped."""
    sup = daemon.supervisor
    rec = sup.records.get(actor) if sup is not None else None
    if rec is None:
        raise CommandError(
            ErrorCode.UNAVAILABLE, f"actor {actor} is not running in this daemon (not enabled)"
        )
    if rec.state in _GONE:
        raise CommandError(
            ErrorCode.UNAVAILABLE,
            f"actor {actor} is {rec.state}"
            + (f" after: {rec.last_error}" if rec.last_error else ""),
        )


def install_owner_commands(daemon: Daemon, registry: ControlRegistry) -> list[str]:
    """Bind every command whose owner is among the daemon's actors; returns their names."""
    bound: list[str] = []
    if has_actor(daemon, SAFETY_ACTOR):
        _install_safety(daemon, registry)
        bound += ["start", "stop", "pause", "resume", "kill", "reset-kill"]
    if has_actor(daemon, GUARD_ACTOR):
        _install_signal(daemon, registry)
        bound.append("signal")
    if has_actor(daemon, LIFECYCLE_ACTOR):
        _install_lifecycle(daemon, registry)
        bound += ["flatten", "close"]
    if has_actor(daemon, ORCHESTRATOR_ACTOR):
        _install_orchestrator(daemon, registry)
        bound.append("cancel")
    if has_actor(daemon, ORCHESTRATOR_ACTOR) or has_actor(daemon, BROKER_ACTOR):
        _install_book_queries(daemon, registry)
        bound += ["positions", "orders"]
    if has_actor(daemon, BROKER_ACTOR):
        _install_broker_account(daemon, registry)
        bound.append("account")
    return bound


# -- safety: trading mode and kill switch --------------------------------------------


def _install_safety(daemon: Daemon, registry: ControlRegistry) -> None:
    from daemon.safety.api import EngageKill, GetSafety, ReplyCode, ResetKill, SetMode

    service = daemon.bus.service(names.SAFETY)

    async def ask(request: Any) -> SafetyReply:
        require_actor(daemon, SAFETY_ACTOR)
        reply: SafetyReply = await service.call(request)
        if not reply.ok:
            code = {
                ReplyCode.REASON_REQUIRED: ErrorCode.BAD_ARGS,
                ReplyCode.CONDITIONS_HOLD: ErrorCode.REFUSED,
            }.get(reply.code, ErrorCode.INTERNAL)
            detail = f" (conditions: {'; '.join(reply.conditions)})" if reply.conditions else ""
            raise CommandError(code, f"{reply.code}: {reply.message}{detail}")
        return reply

    def answer(reply: SafetyReply) -> dict[str, Any]:
        snap = reply.snapshot
        return {
            "changed": reply.changed,
            "message": reply.message,
            "mode": str(snap.mode),
            "killed": snap.killed,
            "conditions": list(reply.conditions),
            "safety": to_builtins(snap),
        }

    def reason_of(call: Call, args: ReasonArgs) -> str:
        return args.reason or f"{call.cmd} via the admin socket (no reason given)"

    async def set_mode(call: Call, args: ReasonArgs, mode: TradingMode) -> dict[str, Any]:
        reply = await ask(SetMode(mode=mode, reason=reason_of(call, args), by=call.peer.label))
        return answer(reply)

    async def start(call: Call, args: ReasonArgs) -> Any:
        return await set_mode(call, args, TradingMode.RUNNING)

    async def stop(call: Call, args: ReasonArgs) -> Any:
        result = await set_mode(call, args, TradingMode.STOPPED)
        # Stopping keeps exits working; only entry orders still working are cancelled.
        if has_actor(daemon, ORCHESTRATOR_ACTOR):
            await daemon.bus.channel(names.ORCHESTRATOR_CONTROL).send(
                CancelAllOrders(
                    reason=f"trading stopped: {reason_of(call, args)}",
                    entries_only=True,
                    ts=daemon.clock.now_ns(),
                )
            )
            result["cancelled_entries"] = True
        return result

    async def pause(call: Call, args: ReasonArgs) -> Any:
        return await set_mode(call, args, TradingMode.PAUSED)

    async def resume(call: Call, args: ReasonArgs) -> Any:
        current = await ask(GetSafety())
        if current.snapshot.mode is not TradingMode.PAUSED:
            raise CommandError(
                ErrorCode.REFUSED,
                f"trading is not paused (mode is {current.snapshot.mode}); use start",
            )
        return await set_mode(call, args, TradingMode.RUNNING)

    async def kill(call: Call, args: KillArgs) -> Any:
        reply = await ask(EngageKill(reason=args.reason, by=call.peer.label, flatten=args.flatten))
        return answer(reply)

    async def reset_kill(call: Call, args: ResetKillArgs) -> Any:
        reply = await ask(ResetKill(reason=args.reason, by=call.peer.label, force=args.force))
        return answer(reply)

    registry.register("start", start)
    registry.register("stop", stop)
    registry.register("pause", pause)
    registry.register("resume", resume)
    registry.register("kill", kill)
    registry.register("reset-kill", reset_kill)


# -- signal guard: manual signals ------------------------------------------------------


def _install_signal(daemon: Daemon, registry: ControlRegistry) -> None:
    inbox = daemon.bus.channel(names.SIGNALS_IN)
    # One manual signal in flight at a time: two identical submissions (same id, same
    # content) cannot be told apart by their verdicts, and must each get their own.
    one_at_a_time = anyio.Lock()

    def ours(v: SignalVerdict, sig: Signal) -> bool:
        # The guard stamps received_ns; everything else is what we sent.
        return v.stage == "guard" and msgspec.structs.replace(v.signal, received_ns=0) == sig

    async def submit_and_wait(sig: Signal, wait_s: float) -> SignalVerdict | None:
        topic = daemon.events
        async with one_at_a_time:
            # Subscribed before sending, so the verdict cannot slip past; a name of its
            # own, as topics key subscriptions by name.
            sub = topic.subscribe(
                f"control.signal.{next(_sub_ids)}",
                types=(SignalVerdict,),
                lossless=False,
                capacity=256,
            )
            try:
                await inbox.send(sig)
                with anyio.move_on_after(wait_s):
                    while True:
                        batch: list[SignalVerdict] = await sub.receive_batch(64)
                        for v in batch:
                            if ours(v, sig):
                                return v
            finally:
                topic.unsubscribe(sub)
                sub.channel.close()
        return None

    async def signal(call: Call, args: SignalArgs) -> Any:
        require_actor(daemon, GUARD_ACTOR)
        now = daemon.clock.now_ns()
        sig = Signal(
            signal_id=args.signal_id or f"ctl-{call.peer.uid}-{now}",
            source=args.source,
            symbol=args.symbol,
            side=args.side,
            trade_type=args.trade_type,
            conviction=args.conviction,
            entry_price=args.entry_price,
            stop_price=args.stop_price,
            target_price=args.target_price,
            created_ns=now,
            is_exit=args.is_exit,
            note=args.note or f"manual signal from {call.peer.label}",
        )
        if args.wait_s <= 0:
            await inbox.send(sig)
            return {"signal_id": sig.signal_id, "submitted": True, "verdict": None}
        verdict = await submit_and_wait(sig, args.wait_s)
        return {
            "signal_id": sig.signal_id,
            "submitted": True,
            "verdict": None
            if verdict is None
            else {
                "accepted": verdict.accepted,
                "reason": verdict.reason,
                "detail": verdict.detail,
                "stage": verdict.stage,
            },
        }

    registry.register("signal", signal)


# -- lifecycle monitor: flatten and close ----------------------------------------------


def _install_lifecycle(daemon: Daemon, registry: ControlRegistry) -> None:
    channel = daemon.bus.channel(names.LIFECYCLE_CONTROL)

    async def send(call: Call, symbol: str, reason: str) -> dict[str, Any]:
        require_actor(daemon, LIFECYCLE_ACTOR)
        text = reason or f"{call.cmd} via the admin socket"
        await channel.send(
            FlattenAll(
                reason=f"{text} (by {call.peer.label})",
                symbol=symbol,
                exit_reason=ExitReason.OPERATOR,
                ts=daemon.clock.now_ns(),
            )
        )
        return {"requested": "flatten", "symbol": symbol or "all"}

    async def flatten(call: Call, args: FlattenArgs) -> Any:
        symbol = "" if args.symbol.lower() in ("", "all") else args.symbol
        return await send(call, symbol, args.reason)

    async def close(call: Call, args: CloseArgs) -> Any:
        return await send(call, args.symbol, args.reason)

    registry.register("flatten", flatten)
    registry.register("close", close)


# -- orchestrator: cancel ----------------------------------------------------------------


def _install_orchestrator(daemon: Daemon, registry: ControlRegistry) -> None:
    from actors.orchestrator.books_api import BooksClient

    channel = daemon.bus.channel(names.ORCHESTRATOR_CONTROL)
    books = BooksClient(daemon.bus)

    async def cancel_one(call: Call, args: CancelArgs) -> dict[str, Any]:
        coid = args.order
        if args.symbol or args.entries_only:
            raise CommandError(
                ErrorCode.BAD_ARGS, "symbol and entries_only apply to `cancel all` only"
            )
        # Checked against the books first so an unknown id gets a clear answer here; the
        # orchestrator checks again when it takes the request (the order may finish in
        # between) and says so in an alert.
        local = await books.local_state()
        order = next((o for o in local.orders if o.client_order_id == coid), None)
        if order is None:
            raise CommandError(
                ErrorCode.BAD_ARGS,
                f"no working order {coid!r} in the books (`orders` lists the working ones)",
            )
        if order.status is OrderStatus.REJECTED:
            raise CommandError(ErrorCode.REFUSED, f"order {coid} was rejected: nothing to cancel")
        text = args.reason or "cancel via the admin socket"
        await channel.send(
            CancelOrder(
                client_order_id=coid,
                reason=f"{text} (by {call.peer.label})",
                ts=daemon.clock.now_ns(),
            )
        )
        return {
            "requested": "cancel",
            "order": coid,
            "symbol": order.symbol,
            "status": str(order.status),
        }

    async def cancel(call: Call, args: CancelArgs) -> Any:
        require_actor(daemon, ORCHESTRATOR_ACTOR)
        if args.order.lower() != "all":
            return await cancel_one(call, args)
        text = args.reason or "cancel via the admin socket"
        await channel.send(
            CancelAllOrders(
                reason=f"{text} (by {call.peer.label})",
                entries_only=args.entries_only,
                symbol=args.symbol,
                ts=daemon.clock.now_ns(),
            )
        )
        return {"requested": "cancel", "order": "all", "symbol": args.symbol or "all"}

    registry.register("cancel", cancel)


# -- positions and orders: the daemon's books, or the broker's view ---------------------


def _install_book_queries(daemon: Daemon, registry: ControlRegistry) -> None:
    # The query messages belong to the actor packages; imported here, only when such an
    # actor runs, so the daemon package does not depend on actors/ otherwise.
    from actors.broker.queries import BrokerClient
    from actors.orchestrator.books_api import BooksClient

    books = BooksClient(daemon.bus)
    broker = BrokerClient(daemon.bus)

    def wanted(symbol: str, args: QueryArgs) -> bool:
        return not args.symbol or symbol == args.symbol

    async def positions(call: Call, args: QueryArgs) -> Any:
        if args.broker:
            require_actor(daemon, BROKER_ACTOR)
            return [p for p in await broker.positions() if wanted(p.symbol, args)]
        require_actor(daemon, ORCHESTRATOR_ACTOR)
        local = await books.local_state()
        return [p for p in local.positions if wanted(p.symbol, args)]

    async def orders(call: Call, args: QueryArgs) -> Any:
        if args.broker:
            require_actor(daemon, BROKER_ACTOR)
            return [o for o in await broker.open_orders() if wanted(o.symbol, args)]
        require_actor(daemon, ORCHESTRATOR_ACTOR)
        local = await books.local_state()
        return [_order_row(o) for o in local.orders if wanted(o.symbol, args)]

    registry.register("positions", positions)
    registry.register("orders", orders)


def _order_row(o: LocalOrder) -> dict[str, Any]:
    """A working order of the books, under the column names ``orders`` has always used."""
    return {
        "client_order_id": o.client_order_id,
        "correlation_id": o.correlation_id,
        "symbol": o.symbol,
        "side": str(o.side),
        "qty": o.qty,
        "filled_qty": o.filled,
        "avg_fill_price": o.avg_price,
        "status": str(o.status),
        "order_type": str(o.order_type),
        "limit_price": o.limit_price,
        "purpose": str(o.purpose),
        "acked": o.acked,
        "submitted_ns": o.submitted_ns,
        "broker_order_id": o.broker_order_id,
    }


# -- broker: the account as the broker reports it ---------------------------------------


def _install_broker_account(daemon: Daemon, registry: ControlRegistry) -> None:
    from actors.broker.queries import BrokerClient

    client = BrokerClient(daemon.bus)

    async def account(call: Call, args: NoArgs) -> Any:
        require_actor(daemon, BROKER_ACTOR)
        return await client.account()

    registry.register("account", account)
