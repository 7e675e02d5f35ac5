"""Kill switch commands on the store: engage, reset, mode, automatic trips, failed writes."""

from __future__ import annotations

import errno
import functools
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from daemon import names
from daemon.bus import Bus, Subscription
from daemon.clock import SimClock
from daemon.messages import (
    Alert,
    CancelAllOrders,
    ExitReason,
    FlattenAll,
    KillSwitchEvent,
    OrderPurpose,
    TradingMode,
    TradingModeChanged,
)
from daemon.safety import KillTrigger, ReplyCode, SafetyStore
from daemon.safety.state import DayRecord, SafetyState, decode_state
from tests.unit.safety.support import FaultyOps, enospc, make_settings, ns, open_store

T0 = ns(2024, 3, 1, 10)
ENTRY, EXIT, FLATTEN = OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.FLATTEN


class Rig:
    """A store on a temp dir with its bus endpoints and a fault-injecting FileOps."""

    def __init__(self, store: SafetyStore, bus: Bus, ops: FaultyOps, path: Path) -> None:
        self.store = store
        self.bus = bus
        self.ops = ops
        self.path = path
        self.events: Subscription[Any] = bus.topic(names.EVENTS).subscribe("test")

    def on_disk(self) -> SafetyState:
        return decode_state(self.path.read_bytes())

    def drain(self, name: str) -> list[Any]:
        ch = self.bus.channel(name)
        out = []
        while ch.depth():
            out.append(ch.receive_nowait())
        return out

    def published(self) -> list[Any]:
        out = []
        while self.events.channel.depth():
            out.append(self.events.channel.receive_nowait())
        return out


async def _rig(tmp_path: Path, **safety: Any) -> AsyncIterator[Rig]:
    d = tmp_path / "state"
    d.mkdir()
    bus, ops = Bus(), FaultyOps()
    store = await open_store(make_settings(d, **safety), SimClock(T0), bus, ops)
    try:
        yield Rig(store, bus, ops, d / "safety.state")
    finally:
        store.close()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path):
        yield r


async def _in_thread_wait(ev: threading.Event) -> None:
    assert await anyio.to_thread.run_sync(ev.wait, 30)


# -- engage -----------------------------------------------------------------------------


async def test_engage_blocks_entries_before_the_state_is_durable(rig: Rig) -> None:
    hold, entered = threading.Event(), threading.Event()
    rig.ops.hold["fsync"], rig.ops.entered["fsync"] = hold, entered
    assert rig.store.may_submit(ENTRY) is None
    async with anyio.create_task_group() as tg:
        tg.start_soon(rig.store.engage, "operator says stop")
        await _in_thread_wait(entered)
        # The write is stuck in fsync, and yet: entries refused, cancels already out.
        why = rig.store.may_submit(ENTRY)
        assert why is not None
        assert "operator says stop" in why
        assert rig.store.snapshot().killed
        assert not rig.on_disk().kill.engaged
        assert [type(m) for m in rig.drain(names.ORCHESTRATOR_CONTROL)] == [CancelAllOrders]
        hold.set()
    assert rig.on_disk().kill.engaged
    assert rig.store.may_submit(EXIT) is None
    assert rig.store.may_submit(FLATTEN) is None


async def test_engage_records_who_why_and_emits_the_event(rig: Rig) -> None:
    reply = await rig.store.engage("fat finger", by="alice", flatten=False)
    assert reply.ok
    assert reply.changed
    kill = rig.on_disk().kill
    assert (kill.engaged, kill.reason, kill.trigger, kill.by, kill.since_ns) == (
        True,
        "fat finger",
        "operator",
        "alice",
        T0,
    )
    [event] = [e for e in rig.published() if isinstance(e, KillSwitchEvent)]
    assert event.engaged
    assert event.by == "alice"
    assert event.trigger == "operator"
    assert reply.snapshot.killed


async def test_engage_without_reason_is_still_engaged(rig: Rig) -> None:
    reply = await rig.store.engage("   ")
    assert reply.ok
    assert rig.store.snapshot().kill_reason == "(no reason given)"


async def test_flatten_goes_to_the_lifecycle_and_cancels_everything(rig: Rig) -> None:
    await rig.store.engage("close all", by="ops", flatten=True)
    [cancel] = rig.drain(names.ORCHESTRATOR_CONTROL)
    assert isinstance(cancel, CancelAllOrders)
    assert not cancel.entries_only
    [flat] = rig.drain(names.LIFECYCLE_CONTROL)
    assert isinstance(flat, FlattenAll)
    assert flat.exit_reason is ExitReason.OPERATOR
    assert rig.on_disk().kill.flatten


async def test_kill_cancels_entries_only_when_configured(tmp_path: Path) -> None:
    async for r in _rig(tmp_path, kill_cancels="entries"):
        await r.store.engage("x")
        [cancel] = r.drain(names.ORCHESTRATOR_CONTROL)
        assert cancel.entries_only
        await r.store.engage("now flatten", flatten=True)
        [cancel] = r.drain(names.ORCHESTRATOR_CONTROL)
        assert not cancel.entries_only, "flattening replaces the exits, so cancel them all"


async def test_engaging_twice_keeps_the_first_cause_and_resends_cancels(rig: Rig) -> None:
    await rig.store.engage("first", by="a")
    seq = rig.on_disk().seq
    rig.published()
    again = await rig.store.engage("second", by="b")
    assert again.ok
    assert not again.changed
    assert rig.on_disk().seq == seq
    assert rig.store.snapshot().kill_reason == "first"
    assert len(rig.drain(names.ORCHESTRATOR_CONTROL)) == 2
    assert rig.published() == []
    flat = await rig.store.engage("and flatten", flatten=True)
    assert flat.changed
    assert rig.on_disk().kill.flatten
    assert rig.store.snapshot().kill_reason == "first"
    assert len(rig.drain(names.LIFECYCLE_CONTROL)) == 1


# -- reset ------------------------------------------------------------------------------


async def test_reset_needs_a_reason(rig: Rig) -> None:
    await rig.store.engage("x")
    reply = await rig.store.reset("  ", by="ops")
    assert not reply.ok
    assert reply.code is ReplyCode.REASON_REQUIRED
    assert rig.store.snapshot().killed


async def test_reset_when_not_engaged_changes_nothing(rig: Rig) -> None:
    reply = await rig.store.reset("why not", by="ops")
    assert reply.ok
    assert not reply.changed


async def test_reset_is_audited_and_emits_the_event(rig: Rig) -> None:
    await rig.store.engage("x", by="a")
    rig.published()
    reply = await rig.store.reset("all clear", by="bob")
    assert reply.ok
    assert reply.changed
    assert rig.store.may_submit(ENTRY) is None
    st = rig.on_disk()
    assert not st.kill.engaged
    assert st.last_reset is not None
    assert (st.last_reset.reason, st.last_reset.by, st.last_reset.forced) == (
        "all clear",
        "bob",
        False,
    )
    assert st.last_reset.trigger == "operator"
    [event] = rig.published()
    assert isinstance(event, KillSwitchEvent)
    assert not event.engaged
    assert event.by == "bob"
    assert event.trigger == "operator"


async def test_reset_releases_only_after_the_state_is_durable(rig: Rig) -> None:
    await rig.store.engage("x")
    hold, entered = threading.Event(), threading.Event()
    rig.ops.hold["fsync"], rig.ops.entered["fsync"] = hold, entered
    async with anyio.create_task_group() as tg:
        tg.start_soon(functools.partial(rig.store.reset, "ok now", by="ops"))
        await _in_thread_wait(entered)
        assert rig.store.may_submit(ENTRY) is not None
        assert rig.store.snapshot().killed
        hold.set()
    assert rig.store.may_submit(ENTRY) is None


async def test_reset_that_cannot_be_written_is_not_made(rig: Rig) -> None:
    await rig.store.engage("x")
    rig.ops.fail["fsync"] = OSError(errno.EIO, "Input/output error")
    reply = await rig.store.reset("try", by="ops")
    assert not reply.ok
    assert reply.code is ReplyCode.WRITE_FAILED
    assert rig.store.snapshot().killed
    assert rig.on_disk().kill.engaged


async def test_reset_refused_while_an_automatic_condition_holds(rig: Rig) -> None:
    assert await rig.store.trip(KillTrigger.BROKER_DISCONNECT, "broker down 90s")
    reply = await rig.store.reset("please", by="ops")
    assert not reply.ok
    assert reply.code is ReplyCode.CONDITIONS_HOLD
    assert reply.conditions == ("broker_disconnect: broker down 90s",)
    assert rig.store.snapshot().killed
    rig.store.clear(KillTrigger.BROKER_DISCONNECT)
    assert (await rig.store.reset("reconnected", by="ops")).ok


async def test_forced_reset_overrides_and_acknowledges_until_the_condition_clears(
    rig: Rig,
) -> None:
    await rig.store.trip(KillTrigger.DAILY_LOSS, "down 3.1%")
    reply = await rig.store.reset("I know", by="ops", force=True)
    assert reply.ok
    st = rig.on_disk()
    assert st.last_reset is not None
    assert st.last_reset.forced
    assert st.last_reset.overridden == ("daily_loss: down 3.1%",)
    assert not rig.store.snapshot().killed
    # Still holding: no re-engage, but it stays listed.
    assert not await rig.store.trip(KillTrigger.DAILY_LOSS, "down 3.2%")
    assert not rig.store.snapshot().killed
    assert "daily_loss" in rig.store.conditions()
    # Once it clears, a new breach engages again.
    rig.store.clear(KillTrigger.DAILY_LOSS)
    assert await rig.store.trip(KillTrigger.DAILY_LOSS, "down 3.0% again")
    assert rig.store.snapshot().killed


async def test_automatic_trips_flatten_as_configured(rig: Rig) -> None:
    await rig.store.trip(KillTrigger.DAILY_LOSS, "loss")
    [flat] = rig.drain(names.LIFECYCLE_CONTROL)
    assert flat.exit_reason is ExitReason.EMERGENCY
    assert rig.store.snapshot().kill_trigger == "daily_loss"
    rig.store.clear(KillTrigger.DAILY_LOSS)
    await rig.store.reset("ok", by="ops")
    await rig.store.trip(KillTrigger.BROKER_DISCONNECT, "down")
    assert rig.drain(names.LIFECYCLE_CONTROL) == []
    assert len(rig.drain(names.ORCHESTRATOR_CONTROL)) == 2


async def test_trip_is_once_per_occurrence(rig: Rig) -> None:
    assert await rig.store.trip(KillTrigger.RECONCILIATION, "mismatch")
    assert not await rig.store.trip(KillTrigger.RECONCILIATION, "mismatch again")
    assert rig.store.conditions()[KillTrigger.RECONCILIATION] == "mismatch again"
    assert len(rig.drain(names.ORCHESTRATOR_CONTROL)) == 1


async def test_reconciler_engage_holds_its_condition(rig: Rig) -> None:
    await rig.store.engage("books off by 3", trigger=KillTrigger.RECONCILIATION, by="reconciler")
    assert not (await rig.store.reset("x", by="ops")).ok
    rig.store.clear(KillTrigger.RECONCILIATION)
    assert (await rig.store.reset("x", by="ops")).ok


async def test_escalation_hook_engages_and_holds_for_the_process(rig: Rig) -> None:
    await rig.store.on_escalation("orchestrator", "core actor orchestrator exceeded 5 restarts")
    snap = rig.store.snapshot()
    assert snap.killed
    assert snap.kill_trigger == "actor_escalation"
    assert "exceeded" in snap.kill_reason
    assert not (await rig.store.reset("x", by="ops")).ok


# -- mode -------------------------------------------------------------------------------


async def test_pause_is_reduce_only_and_survives_a_restart(tmp_path: Path) -> None:
    d = tmp_path / "s"
    async for r in _rig(tmp_path):
        d = r.path.parent
        reply = await r.store.set_mode(TradingMode.PAUSED, reason="FOMC", by="ops")
        assert reply.changed
        why = r.store.may_submit(ENTRY)
        assert why is not None
        assert "paused" in why
        assert r.store.may_submit(EXIT) is None
        [ev] = r.published()
        assert isinstance(ev, TradingModeChanged)
        assert (ev.mode, ev.previous, ev.by) == (TradingMode.PAUSED, TradingMode.RUNNING, "ops")
    again = await open_store(make_settings(d), SimClock(T0))
    try:
        assert again.snapshot().mode is TradingMode.PAUSED
        assert again.snapshot().mode_reason == "FOMC"
        assert again.may_submit(ENTRY) is not None
    finally:
        again.close()


async def test_stopped_refuses_entries_and_running_allows_them(rig: Rig) -> None:
    await rig.store.set_mode(TradingMode.STOPPED, reason="eod", by="ops")
    assert "stopped" in (rig.store.may_submit(ENTRY) or "")
    assert rig.store.may_submit(EXIT) is None
    same = await rig.store.set_mode(TradingMode.STOPPED, reason="again", by="ops")
    assert same.ok
    assert not same.changed
    await rig.store.set_mode(TradingMode.RUNNING, reason="morning", by="ops")
    assert rig.store.may_submit(ENTRY) is None


async def test_mode_change_needs_a_reason(rig: Rig) -> None:
    reply = await rig.store.set_mode(TradingMode.PAUSED, reason="", by="ops")
    assert reply.code is ReplyCode.REASON_REQUIRED
    assert rig.store.snapshot().mode is TradingMode.RUNNING


async def test_resume_is_not_made_unless_durable(rig: Rig) -> None:
    await rig.store.set_mode(TradingMode.PAUSED, reason="x", by="ops")
    rig.ops.fail["write"] = enospc()
    reply = await rig.store.set_mode(TradingMode.RUNNING, reason="y", by="ops")
    assert reply.code is ReplyCode.WRITE_FAILED
    assert rig.store.snapshot().mode is TradingMode.PAUSED


async def test_kill_and_mode_are_independent(rig: Rig) -> None:
    await rig.store.set_mode(TradingMode.PAUSED, reason="x", by="ops")
    await rig.store.engage("k")
    await rig.store.reset("r", by="ops")
    assert "paused" in (rig.store.may_submit(ENTRY) or "")


# -- failed writes ----------------------------------------------------------------------


async def test_a_later_failed_write_halts_new_risk_alerts_and_recovers(rig: Rig) -> None:
    rig.published()
    rig.ops.fail["write"] = enospc()
    st = await rig.store.update(
        lambda s: msgspec.structs.replace(s, day=msgspec.structs.replace(s.day, trade_count=1))
    )
    assert st.day.trade_count == 1, "facts stand in memory"
    snap = rig.store.snapshot()
    assert not snap.writable
    assert "No space left" in snap.write_error
    why = rig.store.may_submit(ENTRY)
    assert why is not None
    assert "cannot be persisted" in why
    assert rig.store.may_submit(EXIT) is None
    assert not snap.killed, "a failed write halts risk; it is not a kill"
    [alert] = rig.published()
    assert isinstance(alert, Alert)
    assert alert.code == "safety_write_failed"
    assert not await rig.store.retry_write()
    assert rig.published() == [], "one alert per outage, not one per attempt"
    del rig.ops.fail["write"]
    assert await rig.store.retry_write()
    assert rig.store.may_submit(ENTRY) is None
    assert rig.on_disk().day.trade_count == 1
    [alert] = rig.published()
    assert alert.code == "safety_write_recovered"


async def test_engage_while_the_disk_is_full_still_blocks(rig: Rig) -> None:
    rig.ops.fail["fsync"] = enospc()
    reply = await rig.store.engage("now")
    assert not reply.ok
    assert reply.changed
    assert reply.code is ReplyCode.WRITE_FAILED
    assert rig.store.snapshot().killed
    assert rig.store.may_submit(ENTRY) is not None
    del rig.ops.fail["fsync"]
    assert await rig.store.retry_write()
    assert rig.on_disk().kill.engaged


async def test_update_cannot_touch_the_kill_switch_or_mode(rig: Rig) -> None:
    await rig.store.engage("k")
    await rig.store.update(
        lambda s: msgspec.structs.replace(
            s,
            kill=msgspec.structs.replace(s.kill, engaged=False),
            day=DayRecord(trading_day="2024-03-01", trade_count=9),
        )
    )
    assert rig.store.snapshot().killed
    assert rig.on_disk().kill.engaged
    assert rig.on_disk().day.trade_count == 9


async def test_unchanged_update_writes_nothing(rig: Rig) -> None:
    seq = rig.on_disk().seq
    await rig.store.update(lambda s: s)
    assert rig.on_disk().seq == seq


async def test_a_forced_reset_survives_a_restart_on_the_same_day(tmp_path: Path) -> None:
    d = tmp_path / "state"
    async for r in _rig(tmp_path):
        d = r.path.parent
        await r.store.trip(KillTrigger.DAILY_LOSS, "down 3.1%")
        await r.store.trip(KillTrigger.BROKER_DISCONNECT, "down")
        assert (await r.store.reset("I know", by="ops", force=True)).ok
    for day, loss_engages in ((ns(2024, 3, 1, 15), False), (ns(2024, 3, 4, 10), True)):
        again = await open_store(make_settings(d), SimClock(day))
        try:
            assert await again.trip(KillTrigger.DAILY_LOSS, "down 3.1%") is loss_engages
            assert again.snapshot().killed is loss_engages
        finally:
            again.close()


async def test_a_non_day_scoped_acknowledgement_ends_with_the_process(tmp_path: Path) -> None:
    d = tmp_path / "state"
    async for r in _rig(tmp_path):
        d = r.path.parent
        await r.store.trip(KillTrigger.BROKER_DISCONNECT, "down")
        assert (await r.store.reset("I know", by="ops", force=True)).ok
        assert not await r.store.trip(KillTrigger.BROKER_DISCONNECT, "still down")
    again = await open_store(make_settings(d), SimClock(T0))
    try:
        assert await again.trip(KillTrigger.BROKER_DISCONNECT, "down after the restart")
    finally:
        again.close()


# -- writing on the loop thread (replays) -----------------------------------------------


class _ThreadSpy:
    """The real file operations, noting which thread made each call."""

    def __init__(self, real: Any, threads: list[int]) -> None:
        self._real = real
        self._threads = threads

    def __getattr__(self, name: str) -> Any:
        op = getattr(self._real, name)

        def call(*args: Any) -> Any:
            self._threads.append(threading.get_ident())
            return op(*args)

        return call


async def test_written_on_the_loop_thread_the_same_steps_and_the_same_failures(
    tmp_path: Path,
) -> None:
    async for rig in _rig(tmp_path, write_in_thread=False):
        threads: list[int] = []
        rig.ops.real = _ThreadSpy(rig.ops.real, threads)  # type: ignore[assignment]
        reply = await rig.store.engage("replayed kill", flatten=False)
        assert reply.ok
        assert rig.on_disk().kill.engaged
        assert set(threads) == {threading.get_ident()}
        steps = ["open_new", "write", "fsync", "close", "replace", "fsync_dir"]
        assert rig.ops.calls[-6:] == steps
        rig.ops.fail["fsync"] = enospc()
        await rig.store.set_mode(TradingMode.PAUSED, reason="a failed write still halts risk")
        assert not rig.store.writable
