"""``tradingctl`` against a real daemon: output, --json, exit codes, confirmations."""

from __future__ import annotations

import io
import os
import socket
import threading
from typing import Any

import msgspec
import pytest

from daemon import ctl
from daemon.control._client import CtlExit
from daemon.messages import Heartbeat, OrderPurpose
from daemon.safety import SafetyStore
from tests.integration.control._fork import NOBODY, needs_root, run_as
from tests.integration.control._support import Running, running_daemon, short_dir


def _killed(run: Running) -> bool:
    store: SafetyStore = run.daemon.resources[SafetyStore]
    return bool(run.call(lambda: store.snapshot().killed))


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_as_tables_and_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    with running_daemon() as run:
        assert ctl.main(["-s", run.path, "status"]) == CtlExit.OK
        out = capsys.readouterr().out
        for text in (
            "kill switch",
            "mode",
            "actors",
            "signal_guard",
            "positions: none",
            "equity 100000.0",
        ):
            assert text in out
        # Options may also follow the command.
        assert ctl.main(["status", "--socket", run.path, "--json"]) == CtlExit.OK
        status = msgspec.json.decode(capsys.readouterr().out)
        assert status["daemon"]["state"] == "running"
        assert status["safety"]["killed"] is False


def test_help_version_and_empty_books(capsys: pytest.CaptureFixture[str]) -> None:
    with running_daemon() as run:
        assert ctl.main(["-s", run.path, "help"]) == CtlExit.OK
        out = capsys.readouterr().out
        assert "reset-kill" in out
        assert "reconcile" in out
        assert ctl.main(["-s", run.path, "--json", "version"]) == CtlExit.OK
        assert msgspec.json.decode(capsys.readouterr().out)["protocol"] == 1
        assert ctl.main(["-s", run.path, "positions"]) == CtlExit.OK
        assert "no positions" in capsys.readouterr().out
        assert ctl.main(["-s", run.path, "account"]) == CtlExit.OK
        out = capsys.readouterr().out
        assert "buying_power" in out
        assert "2023-11-14 22:13:20Z" in out  # the SimClock's start, as a time


def test_the_socket_path_can_come_from_the_configuration(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    with running_daemon() as run:
        conf = tmp_path / "tradingd.toml"
        conf.write_text(f'[daemon]\nsocket_path = "{run.path}"\n')
        assert ctl.main(["-c", str(conf), "--json", "version"]) == CtlExit.OK
        assert msgspec.json.decode(capsys.readouterr().out)["protocol"] == 1


def test_no_daemon_exits_3_and_names_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    base = short_dir()
    missing = os.path.join(base, "nothing.sock")
    assert ctl.main(["-s", missing, "status"]) == CtlExit.NOT_RUNNING
    err = capsys.readouterr().err
    assert "not running" in err
    assert missing in err
    stale = os.path.join(base, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    assert ctl.main(["-s", stale, "--json", "status"]) == CtlExit.NOT_RUNNING
    out = capsys.readouterr()
    assert "nothing is listening" in out.err
    assert stale in out.err
    assert msgspec.json.decode(out.out)["ok"] is False


def test_a_refused_user_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    with running_daemon(allowed_uids=[4242]) as run:
        assert ctl.main(["-s", run.path, "status"]) == CtlExit.NO_ACCESS
        assert "forbidden" in capsys.readouterr().err


@needs_root
def test_no_permission_on_the_socket_exits_4_and_names_the_path() -> None:
    with running_daemon() as run:
        code, err = run_as(NOBODY, NOBODY, lambda: ctl.main(["-s", run.path, "status"]))
        assert code == CtlExit.NO_ACCESS, err
        assert "permission denied" in err
        assert run.path in err


def test_kill_needs_confirmation_and_never_prompts_without_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_daemon() as run:
        monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # not a terminal
        assert ctl.main(["-s", run.path, "kill", "-r", "test"]) == CtlExit.ABORTED
        assert "--yes" in capsys.readouterr().err
        assert not _killed(run)
        monkeypatch.setattr("sys.stdin", _Tty("n\n"))
        assert ctl.main(["-s", run.path, "flatten"]) == CtlExit.ABORTED
        assert "Close EVERY position" in capsys.readouterr().err
        assert run.book.items == []
        monkeypatch.setattr("sys.stdin", _Tty("yes\n"))
        assert ctl.main(["-s", run.path, "kill", "--flatten", "smoke", "test"]) == CtlExit.OK
        assert "and close EVERY position?" in capsys.readouterr().err
        assert _killed(run)
        assert run.call(lambda: run.daemon.resources[SafetyStore].snapshot().kill_reason) == (
            "smoke test"
        )
        assert run.call(lambda: run.daemon.resources[SafetyStore].may_submit(OrderPurpose.ENTRY))
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        assert ctl.main(["-s", run.path, "reset-kill", "all", "flat"]) == CtlExit.OK
        assert not _killed(run)
        assert ctl.main(["-s", run.path, "--yes", "close", "AAPL"]) == CtlExit.OK


def test_refusals_unavailable_commands_and_usage_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with running_daemon() as run:
        assert ctl.main(["-s", run.path, "resume"]) == CtlExit.FAILED
        assert "refused: trading is not paused" in capsys.readouterr().err
        assert ctl.main(["-s", run.path, "reconcile"]) == CtlExit.UNAVAILABLE
        assert "reconciler" in capsys.readouterr().err
        assert ctl.main(["-s", run.path, "kill"]) == CtlExit.USAGE  # --reason is required
        assert ctl.main(["-s", run.path, "launch"]) == CtlExit.USAGE
        assert ctl.main(["-s", run.path, "--json", "cancel", "x-1"]) == CtlExit.FAILED
        assert msgspec.json.decode(capsys.readouterr().out)["error"]["code"] == "bad_args"


def test_signal_reports_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    with running_daemon() as run:
        args = ["-s", run.path, "--json", "signal", "AAPL", "buy", "--conviction", "60"]
        assert ctl.main([*args, "--stop", "90", "--entry", "100"]) == CtlExit.OK
        r = msgspec.json.decode(capsys.readouterr().out)
        assert r["verdict"]["accepted"] is True


def test_watch_prints_json_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_daemon() as run:
        topic = run.daemon.events
        subscribed = threading.Event()
        real = topic.subscribe

        def spy(*a: Any, **kw: Any) -> Any:
            sub = real(*a, **kw)
            subscribed.set()
            return sub

        monkeypatch.setattr(topic, "subscribe", spy)
        codes: list[int] = []
        t = threading.Thread(
            target=lambda: codes.append(
                ctl.main(["-s", run.path, "watch", "-t", "Heartbeat", "-n", "2"])
            )
        )
        t.start()
        assert subscribed.wait(10)

        async def beat() -> None:
            for i in range(3):
                await topic.publish(Heartbeat(uptime_s=i, mode="running", killed=False, ts=i))

        run.call(beat)
        t.join(10)
        assert codes == [CtlExit.OK]
        out = capsys.readouterr()
        lines = [msgspec.json.decode(x) for x in out.out.splitlines()]
        assert [x["uptime_s"] for x in lines] == [0.0, 1.0]
        assert "2 events, 0 shed" in out.err


def test_watch_over_redis_needs_a_redis(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRADINGD_REDIS__URL", raising=False)
    assert ctl.main(["watch", "--redis"]) == CtlExit.USAGE
    assert "no Redis configured" in capsys.readouterr().err
