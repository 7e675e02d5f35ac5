"""Every command over the real socket against a real daemon (real safety, broker, guard)."""

from __future__ import annotations

import os
from typing import Any

import anyio
import msgspec

from config import Settings, settings_from_mapping
from daemon import names
from daemon.bus import Subscription
from daemon.control import Call, CommandSpec, ControlRegistry, Peer
from daemon.messages import (
    CancelAllOrders,
    ControlCommand,
    ExitReason,
    FlattenAll,
    Heartbeat,
    OrderPurpose,
    SignalVerdict,
)
from daemon.safety import SafetyStore
from tests.integration.control._support import (
    LineClient,
    Running,
    make_settings,
    running_daemon,
    short_dir,
)


def _gate(run: Running) -> SafetyStore:
    store: SafetyStore = run.daemon.resources[SafetyStore]
    return store


def _entries_blocked(run: Running) -> str | None:
    return run.call(lambda: _gate(run).may_submit(OrderPurpose.ENTRY))


def _audit(run: Running) -> Subscription[Any]:
    sub: Subscription[Any] = run.call(
        lambda: run.daemon.events.subscribe("test-audit", types=(ControlCommand,))
    )
    return sub


def _drain(run: Running, sub: Subscription[Any]) -> list[Any]:
    def take() -> list[Any]:
        out = []
        while sub.channel.depth():
            out.append(sub.channel.receive_nowait())
        return out

    result: list[Any] = run.call(take)
    return result


# -- read-only commands ------------------------------------------------------------------


def test_status_reports_every_part() -> None:
    with running_daemon() as run, run.connect() as c:
        r = c.ok("status")
        d = r["daemon"]
        assert d["state"] == "running"
        assert d["pid"] == os.getpid()
        assert d["protocol"] == 1
        assert d["uptime_s"] >= 0
        assert d["account"] == "paper"
        assert r["healthy"] is True
        assert [a["name"] for a in r["actors"]] == [
            "safety",
            "broker",
            "orchestrator",
            "lifecycle",
            "signal_guard",
        ]
        assert all(a["state"] == "running" and not a["stuck"] for a in r["actors"])
        assert r["safety"]["killed"] is False
        assert r["safety"]["mode"] == "running"
        assert r["safety"]["day"]["realized_pnl"] == "0"
        assert r["positions"] == []
        assert r["orders"] == []
        assert r["account"]["cash"] == "100000.0"
        assert r["unavailable"] == {}


def test_status_without_owners_names_what_is_missing() -> None:
    with running_daemon(definitions=[]) as run, run.connect() as c:
        r = c.ok("status")
        assert r["actors"] == []
        # No safety actor to ask, but the runtime's safety state (the gate) still reads.
        assert r["safety"]["killed"] is False
        assert set(r["unavailable"]) == {"positions", "orders", "account"}
        assert "orchestrator actor's books" in r["unavailable"]["positions"]


def test_version_and_help() -> None:
    with running_daemon() as run, run.connect() as c:
        v = c.ok("version")
        assert v["protocol"] == 1
        assert v["schema"] >= 1
        assert v["version"]
        h = c.ok("help")
        by_name = {x["cmd"]: x for x in h["commands"]}
        assert by_name["kill"]["available"] is True
        assert by_name["kill"]["mutating"] is True
        assert by_name["kill"]["args"] == ["reason", "flatten"]
        assert by_name["reconcile"]["available"] is False
        assert by_name["watch"]["streaming"] is True


def test_positions_orders_and_account_answer_when_empty() -> None:
    with running_daemon() as run, run.connect() as c:
        assert c.ok("positions") == []
        assert c.ok("positions", {"symbol": "AAPL"}) == []
        assert c.ok("positions", {"broker": True}) == []
        assert c.ok("orders") == []
        assert c.ok("orders", {"broker": True}) == []
        acct = c.ok("account")
        assert acct["type"] == "AccountSnapshot"
        assert acct["equity"] == "100000.0"


# -- trading mode and kill switch --------------------------------------------------------


def test_pause_resume_stop_start() -> None:
    with running_daemon() as run, run.connect() as c:
        assert _entries_blocked(run) is None
        r = c.ok("pause", {"reason": "lunch"})
        assert r["mode"] == "paused"
        assert r["changed"] is True
        assert _entries_blocked(run) is not None
        assert c.ok("status")["safety"]["mode_reason"] == "lunch"
        assert c.ok("resume")["mode"] == "running"
        assert _entries_blocked(run) is None
        err = c.error("resume")
        assert err["code"] == "refused"
        assert "not paused" in err["message"]
        stop = c.ok("stop", {"reason": "end of day"})
        assert stop["mode"] == "stopped"
        assert stop["cancelled_entries"] is True
        (where, cancel), *_ = run.call(run.book.wait_for, 1)
        assert where == names.ORCHESTRATOR_CONTROL
        assert isinstance(cancel, CancelAllOrders)
        assert cancel.entries_only is True
        assert "end of day" in cancel.reason
        assert c.ok("start")["mode"] == "running"
        assert c.ok("start")["changed"] is False  # already running: said so, no change


def test_kill_blocks_entries_cancels_and_flattens_then_reset_releases() -> None:
    with running_daemon() as run, run.connect() as c:
        r = c.ok("kill", {"reason": "smoke test", "flatten": True})
        assert r["killed"] is True
        assert _entries_blocked(run) is not None
        snap = r["safety"]
        assert snap["kill_reason"] == "smoke test"
        assert snap["kill_by"] == f"ctl:uid={os.geteuid()}"
        assert snap["kill_trigger"] == "operator"
        got = dict(run.call(run.book.wait_for, 2))
        assert isinstance(got[names.ORCHESTRATOR_CONTROL], CancelAllOrders)
        flat = got[names.LIFECYCLE_CONTROL]
        assert isinstance(flat, FlattenAll)
        assert flat.symbol == ""
        assert c.ok("status")["safety"]["killed"] is True
        assert c.error("reset-kill", {})["code"] == "bad_args"  # a reason is required
        reset = c.ok("reset-kill", {"reason": "checked, all fine"})
        assert reset["killed"] is False
        assert _entries_blocked(run) is None


def test_commands_without_their_owner_are_unavailable_and_say_why() -> None:
    with running_daemon(definitions=[]) as run, run.connect() as c:
        for cmd, args, who in (
            ("kill", {"reason": "x"}, "safety state"),
            ("flatten", {}, "lifecycle"),
            ("close", {"symbol": "AAPL"}, "lifecycle"),
            ("cancel", {"order": "all"}, "orchestrator"),
            ("signal", {"symbol": "AAPL", "side": "buy"}, "signal guard"),
            ("positions", {}, "broker"),
            ("reconcile", {}, "reconciler"),
        ):
            err = c.error(cmd, args)
            assert err["code"] == "unavailable", cmd
            assert who in err["message"], (cmd, err)
        assert run.alive()


# -- owner channels ------------------------------------------------------------------------


def test_flatten_close_and_cancel_reach_their_owners() -> None:
    with running_daemon() as run, run.connect() as c:
        assert c.ok("flatten")["symbol"] == "all"
        assert c.ok("flatten", {"symbol": "MSFT", "reason": "earnings"})["symbol"] == "MSFT"
        assert c.ok("close", {"symbol": "AAPL"})["symbol"] == "AAPL"
        assert c.ok("cancel", {"order": "all", "symbol": "AAPL", "entries_only": True})
        items = run.call(run.book.wait_for, 4)
        flats = [i for w, i in items if w == names.LIFECYCLE_CONTROL]
        assert [f.symbol for f in flats] == ["", "MSFT", "AAPL"]
        assert all(f.exit_reason is ExitReason.OPERATOR for f in flats)
        assert "earnings" in flats[1].reason
        assert f"uid={os.geteuid()}" in flats[0].reason
        (cancel,) = [i for w, i in items if w == names.ORCHESTRATOR_CONTROL]
        assert (cancel.symbol, cancel.entries_only) == ("AAPL", True)
        err = c.error("cancel", {"order": "abc-123"})
        assert err["code"] == "bad_args"
        assert "no working order 'abc-123'" in err["message"]
        err = c.error("cancel", {"order": "abc-123", "symbol": "AAPL"})
        assert err["code"] == "bad_args"
        assert "cancel all" in err["message"]
        assert c.error("close", {})["code"] == "bad_args"


def test_signal_goes_through_the_guard_and_reports_its_verdict() -> None:
    with running_daemon() as run, run.connect() as c:
        r = c.ok(
            "signal",
            {"symbol": "AAPL", "side": "buy", "conviction": 70, "signal_id": "manual-1"},
        )
        assert r["signal_id"] == "manual-1"
        assert r["verdict"]["accepted"] is True
        (where, verdict), *_ = run.call(run.book.wait_for, 1)
        assert where == names.ORCHESTRATOR_IN
        assert isinstance(verdict, SignalVerdict)
        assert verdict.signal.source == "operator"
        assert verdict.signal.conviction == 70
        again = c.ok("signal", {"symbol": "AAPL", "side": "buy", "signal_id": "manual-1"})
        assert again["verdict"]["accepted"] is False
        assert again["verdict"]["reason"] == "duplicate_id"
        nowait = c.ok("signal", {"symbol": "MSFT", "side": "sell", "wait_s": 0})
        assert nowait["submitted"] is True
        assert nowait["verdict"] is None
        assert c.error("signal", {"symbol": "AAPL", "side": "up"})["code"] == "bad_args"


# -- reload --------------------------------------------------------------------------------


def test_reload_applies_valid_settings_and_refuses_invalid_ones() -> None:
    base = short_dir()
    plans: list[Settings | Exception] = []

    def loader() -> Settings:
        nxt = plans.pop(0)
        if isinstance(nxt, Exception):
            raise nxt
        return nxt

    with running_daemon(base=base, reload_loader=loader) as run, run.connect() as c:
        plans.append(make_settings(base, max_clients=3))
        assert c.ok("reload") == {"reloaded": True}
        assert run.daemon.settings.control.max_clients == 3
        plans.append(ValueError("risk.max_position_pct: expected a number, got 150"))
        err = c.error("reload")
        assert err["code"] == "refused"
        assert "max_position_pct" in err["message"]
        assert run.daemon.settings.control.max_clients == 3


def test_reload_without_a_configuration_file_is_refused() -> None:
    with running_daemon() as run, run.connect() as c:
        err = c.error("reload")
        assert err["code"] == "refused"
        assert "without a configuration file" in err["message"]


# -- audit -------------------------------------------------------------------------------


def test_every_state_changing_command_is_audited_with_the_peer() -> None:
    with running_daemon() as run:
        sub = _audit(run)
        with run.connect() as c:
            c.ok("status")
            c.ok("pause", {"reason": "audit me"})
            c.error("kill", {"reason": ""})
            c.ok("flatten", {"symbol": "IBM"})
            c.error("reconcile")
            c.ok("positions")
        audits = _drain(run, sub)
    assert [a.cmd for a in audits] == ["pause", "kill", "flatten", "reconcile"]
    assert all(a.peer_uid == os.geteuid() for a in audits)
    assert all(a.peer_pid == os.getpid() for a in audits)
    assert [a.ok for a in audits] == [True, False, True, False]
    assert audits[0].args == {"reason": "audit me"}
    assert audits[0].request_id == "1"
    assert audits[1].error.startswith("bad_args")
    assert audits[3].error.startswith("unavailable")


# -- watch -------------------------------------------------------------------------------


def _heartbeat(n: int) -> Heartbeat:
    return Heartbeat(uptime_s=float(n), mode="running", killed=False, ts=n)


def _publish(run: Running, *events: Any) -> None:
    async def pub() -> None:
        for e in events:
            await run.daemon.events.publish(e)

    run.call(pub)


def _watch(c: LineClient, rid: Any, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Open a watch; returns its opening line (after which nothing published is missed)."""
    c.send({"id": rid, "cmd": "watch", "args": args or {}})
    head = c.recv()
    assert head["id"] == rid
    assert head["ok"] is True
    stream: dict[str, Any] = head["stream"]
    return stream


def _watchers(run: Running) -> int:
    subs = run.daemon.events.subscriptions
    return sum(1 for s in subs if s.channel.name.startswith("events->control.watch"))


def _wait_idle(run: Running) -> None:
    server = run.daemon.control_server
    assert server is not None
    run.call(server.wait_idle)


def test_watch_streams_filtered_events_until_max_events() -> None:
    with running_daemon() as run, run.connect() as c:
        head = _watch(c, "w", {"types": ["Heartbeat"], "max_events": 3})
        assert head == {"types": ["Heartbeat"], "buffer": 4096}
        _publish(run, _heartbeat(1), FlattenAll(reason="not a heartbeat", ts=1), _heartbeat(2))
        _publish(run, _heartbeat(3), _heartbeat(4))
        lines = [c.recv() for _ in range(4)]
        assert [m["event"]["uptime_s"] for m in lines[:3]] == [1.0, 2.0, 3.0]
        assert all(m["id"] == "w" and m["event"]["type"] == "Heartbeat" for m in lines[:3])
        assert lines[3]["result"] == {"events": 3, "shed": 0, "ended": "max_events"}
        assert c.ok("version")["protocol"] == 1  # the connection serves requests again
        assert _watchers(run) == 0


def test_watch_ends_when_the_client_sends_a_line_or_leaves() -> None:
    with running_daemon() as run:
        with run.connect() as c:
            _watch(c, 1)
            _publish(run, _heartbeat(1))
            assert c.recv()["event"]["type"] == "Heartbeat"
            c.send_raw(b"\n")
            final = c.recv()
            assert final["result"]["ended"] == "client"
            assert final["result"]["events"] >= 1
            assert _watchers(run) == 0
        with run.connect() as c:
            _watch(c, 2)
            assert _watchers(run) == 1
        _wait_idle(run)
        assert _watchers(run) == 0  # gone with its connection
        assert run.alive()


def test_a_slow_watcher_sheds_and_is_told_how_much() -> None:
    with running_daemon(watch_buffer=4) as run, run.connect() as c:
        assert _watch(c, 1, {"types": ["Heartbeat"]})["buffer"] == 4

        def burst() -> None:  # synchronously: the watcher cannot drain in between
            for i in range(50):
                run.daemon.events.publish_nowait(_heartbeat(i))

        run.call(burst)
        # The buffer holds the first four; the other 46 are shed.
        seen = [c.recv() for _ in range(4)]
        assert [m["event"]["uptime_s"] for m in seen] == [0.0, 1.0, 2.0, 3.0]
        _publish(run, _heartbeat(99))
        nxt = c.recv()
        assert nxt["event"]["uptime_s"] == 99.0
        assert nxt["shed"] == 46
        c.send_raw(b"stop\n")
        assert c.recv()["result"] == {"events": 5, "shed": 46, "ended": "client"}


def test_watch_ends_cleanly_when_the_daemon_stops() -> None:
    c: LineClient | None = None
    with running_daemon() as run:
        c = run.connect()
        _watch(c, 1, {"types": ["ActorStatus"]})
    assert run.exit_code == 0
    msgs = []
    while True:
        m = c.recv()
        msgs.append(m)
        if "result" in m:
            break
    # Normally the watch sees the stop coming; if teardown wins the race, the server
    # still closes the stream with a final response.
    assert msgs[-1]["result"]["ended"] in ("daemon stopping", "daemon stopped")
    c.close()


def test_watch_rejects_unknown_event_types() -> None:
    with running_daemon() as run, run.connect() as c:
        err = c.error("watch", {"types": ["Heartbeat", "Nonsense"]})
        assert err["code"] == "bad_args"
        assert "Nonsense" in err["message"]


# -- owners' own commands, failures inside handlers -------------------------------------------


def test_owner_commands_errors_and_timeouts_never_hurt_the_daemon() -> None:
    with running_daemon(request_timeout_s=0.3) as run:
        reg: ControlRegistry = run.daemon.resources[ControlRegistry]
        never = anyio.Event()

        async def boom(call: Call, args: Any) -> Any:
            raise RuntimeError("owner bug")

        async def stuck(call: Call, args: Any) -> Any:
            await never.wait()

        async def unencodable(call: Call, args: Any) -> Any:
            return object()

        def install() -> None:
            for name, fn in (("boom", boom), ("stuck", stuck), ("odd", unencodable)):
                reg.declare(CommandSpec(name=name, summary="test", provider="a test"))
                reg.register(name, fn)

        run.call(install)
        with run.connect() as c:
            err = c.error("boom")
            assert err["code"] == "internal"
            assert "owner bug" in err["message"]
            err = c.error("stuck")
            assert err["code"] == "timeout"
            assert "may still take effect" in err["message"]
            assert c.error("odd")["code"] == "internal"
            assert c.ok("version")["protocol"] == 1
        assert run.alive()


def test_settings_from_mapping_round_trip_of_control_section() -> None:
    s = settings_from_mapping({"control": {"allowed_uids": [1000], "socket_group": "ops"}})
    assert s.control.allowed_uids == [1000]
    assert msgspec.to_builtins(s.control)["socket_group"] == "ops"


def test_identical_signals_sent_at_once_each_get_their_own_verdict() -> None:
    # Two handlers started in the same loop turn: both would subscribe before the guard
    # judges either, which is exactly when verdicts could be mixed up.
    with running_daemon() as run:
        reg: ControlRegistry = run.daemon.resources[ControlRegistry]
        binding = reg.resolve("signal")
        handler = binding.handler
        assert handler is not None
        args = binding.spec.parse_args(
            {"symbol": "NVDA", "side": "buy", "signal_id": "twin", "note": "same"}
        )
        peer = Peer(uid=os.geteuid(), gid=os.getegid(), pid=os.getpid())
        results: list[Any] = []

        async def both() -> None:
            async def one() -> None:
                results.append(await handler(Call(1, "signal", peer), args))

            async with anyio.create_task_group() as tg:
                tg.start_soon(one)
                tg.start_soon(one)

        run.call(both)
        reasons = sorted(r["verdict"]["reason"] or "accepted" for r in results)
        assert reasons == ["accepted", "duplicate_id"]


def test_a_signal_call_never_takes_over_another_clients_subscription() -> None:
    # Topics key subscriptions by name, so a name derived from the signal id would hand
    # a call the subscription of another client waiting on the same id, and the first to
    # finish would close it under the other. Stand in for that other client with the
    # very subscription such a name would have asked for.
    with running_daemon() as run, run.connect() as c:
        topic = run.daemon.events

        def other_client() -> Subscription[Any]:
            return topic.subscribe(
                "control.signal.twin-2", types=(SignalVerdict,), lossless=False, capacity=256
            )

        theirs = run.call(other_client)
        r = c.ok("signal", {"symbol": "AAPL", "side": "buy", "signal_id": "twin-2"})
        assert r["verdict"]["accepted"] is True
        # Still theirs, still open, and it saw the verdict as any subscriber does.
        assert run.call(other_client) is theirs
        assert theirs in topic.subscriptions
        verdict = run.call(theirs.channel.receive_nowait)
        assert isinstance(verdict, SignalVerdict)
        assert verdict.signal.signal_id == "twin-2"
        run.call(topic.unsubscribe, theirs)
