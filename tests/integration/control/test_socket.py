"""The admin socket itself: permissions, peer checks, limits, and garbage of every kind."""

from __future__ import annotations

import grp
import os
import socket
import stat
from collections.abc import Iterator

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.control import ErrorCode
from daemon.exitcodes import ExitCode
from tests.integration.control._fork import NOBODY, needs_root, run_as
from tests.integration.control._support import (
    ControlTestDaemon,
    LineClient,
    Running,
    make_settings,
    running_daemon,
    short_dir,
)

CODES = {str(c) for c in ErrorCode}


def _connect_and_ask(path: str) -> int:
    """Child side: 0 = answered ok, 13 = EACCES at connect, 2 = refused by the daemon."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
    except PermissionError:
        return 13
    s.sendall(b'{"id": 1, "cmd": "version"}\n')
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return 0 if msgspec.json.decode(data)["ok"] else 2


# -- the socket file ---------------------------------------------------------------------


def test_socket_is_owner_only_and_removed_at_stop() -> None:
    with running_daemon() as run:
        st_ = os.stat(run.path)
        assert stat.S_ISSOCK(st_.st_mode)
        assert stat.S_IMODE(st_.st_mode) == 0o600
        assert st_.st_uid == os.geteuid()
        path = run.path
        leftovers = [n for n in os.listdir(os.path.dirname(path)) if n != "ctl.sock"]
        assert leftovers == []  # the private bind directory is gone
    assert not os.path.exists(path)


@needs_root
def test_other_users_cannot_open_an_owner_only_socket() -> None:
    with running_daemon() as run:
        code, err = run_as(NOBODY, NOBODY, lambda: _connect_and_ask(run.path))
        assert code == 13, err
        assert run.alive()


@needs_root
def test_group_socket_is_0660_and_lets_group_members_in() -> None:
    group = grp.getgrgid(NOBODY).gr_name
    with running_daemon(socket_group=group) as run:
        st_ = os.stat(run.path)
        assert stat.S_IMODE(st_.st_mode) == 0o660
        assert st_.st_gid == NOBODY
        code, err = run_as(NOBODY, NOBODY, lambda: _connect_and_ask(run.path))
        assert code == 0, err
        # The same user outside the group is stopped by the file mode.
        outsider = grp.getgrnam("daemon").gr_gid if _has_group("daemon") else 4242
        code, err = run_as(NOBODY, outsider, lambda: _connect_and_ask(run.path))
        assert code == 13, err


def _has_group(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def test_a_peer_not_in_allowed_uids_is_refused_and_the_daemon_lives_on() -> None:
    with running_daemon(allowed_uids=[4242]) as run:
        with run.connect() as c:
            msg = c.recv()  # refused before it even asks
            assert msg["ok"] is False
            assert msg["error"]["code"] == "forbidden"
            assert f"uid {os.geteuid()}" in msg["error"]["message"]
            assert c.at_eof()
        server = run.daemon.control_server
        assert server is not None
        assert server.refused == 1
        assert run.alive()


def test_a_second_daemon_on_a_live_socket_refuses_to_start() -> None:
    with running_daemon() as run:
        second = ControlTestDaemon(run.daemon.settings, serve_control=True, handle_signals=False)
        assert anyio.run(second.run) == ExitCode.STARTUP_FAILED
        assert run.alive()
        with run.connect() as c:  # the first daemon's socket is untouched
            assert c.ok("version")["protocol"] == 1


def test_a_stale_socket_is_replaced_and_a_regular_file_is_not() -> None:
    base = short_dir()
    path = os.path.join(base, "run", "ctl.sock")
    os.makedirs(os.path.dirname(path))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # bound, never listening: what a crashed daemon leaves
    stale.close()
    with running_daemon(base=base) as run, run.connect() as c:
        assert c.ok("version")["protocol"] == 1
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("not a socket")
    daemon = ControlTestDaemon(make_settings(base), serve_control=True, handle_signals=False)
    assert anyio.run(daemon.run) == ExitCode.STARTUP_FAILED
    with open(path) as f:
        assert f.read() == "not a socket"


# -- many clients, limits, timeouts ------------------------------------------------------


def test_several_clients_at_once_each_get_their_own_answers() -> None:
    with running_daemon() as run:
        clients = [run.connect() for _ in range(6)]
        try:
            for i, c in enumerate(clients):
                c.send({"id": f"c{i}-a", "cmd": "version"})
            for i, c in enumerate(reversed(clients)):
                c.send({"id": f"r{i}", "cmd": "help"})
            for i, c in enumerate(clients):
                first = c.recv()
                assert first["id"] == f"c{i}-a"
                assert first["ok"] is True
                assert c.recv()["ok"] is True
        finally:
            for c in clients:
                c.close()


def test_pipelined_requests_in_one_write_are_answered_in_order() -> None:
    with running_daemon() as run, run.connect() as c:
        c.send_raw(
            b'{"id":1,"cmd":"version"}\n\n  \r\n{"id":2,"cmd":"nope"}\n{"id":3,"cmd":"help"}\n'
        )
        got = [c.recv() for _ in range(3)]
        assert [m["id"] for m in got] == [1, 2, 3]
        assert [m["ok"] for m in got] == [True, False, True]
        assert got[1]["error"]["code"] == "unknown_command"


def test_one_client_too_many_is_told_busy() -> None:
    with running_daemon(max_clients=2) as run:
        a, b = run.connect(), run.connect()
        try:
            assert a.ok("version")
            assert b.ok("version")
            with run.connect() as c:
                msg = c.recv()
                assert msg["error"]["code"] == "busy"
                assert c.at_eof()
        finally:
            a.close()
            b.close()
        server = run.daemon.control_server
        assert server is not None
        run.call(server.wait_idle)  # the server has seen both leave
        with run.connect() as d:  # room again once the others left
            assert d.ok("version")


def test_an_idle_connection_is_closed_with_a_timeout_error() -> None:
    with running_daemon(idle_timeout_s=0.2) as run, run.connect() as c:
        assert c.ok("version")
        msg = c.recv()  # nothing sent: the server gives up on us
        assert msg["error"]["code"] == "timeout"
        assert c.at_eof()
        assert run.alive()


# -- garbage -----------------------------------------------------------------------------


def _assert_error_then_alive(c: LineClient, expect: str | None = None) -> None:
    c.send({"id": "probe", "cmd": "version"})
    msgs = []
    while True:
        m = c.recv()
        if m.get("id") == "probe":
            break
        msgs.append(m)
    assert m["ok"] is True
    for m in msgs:
        assert isinstance(m["ok"], bool)
        if expect is not None or not m["ok"]:
            assert m["ok"] is False
            assert m["error"]["code"] in CODES
            assert m["error"]["message"]
    if expect is not None:
        assert [m["error"]["code"] for m in msgs] == [expect]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"\x00\x01\x02\xff\xfe binary", "not_utf8"),
        (b"\xc3\x28", "not_utf8"),
        (b"not json at all", "bad_request"),
        (b'{"id": 1, "cmd": "status"', "bad_request"),
        (b"[]", "bad_request"),
        (b'{"id": 1}', "bad_request"),
        (b'{"id": 1, "cmd": "status", "v": 2}', "unsupported_version"),
        (b'{"id": 1, "cmd": "frobnicate"}', "unknown_command"),
        (b'{"id": 1, "cmd": "kill", "args": {"reason": 7}}', "bad_args"),
        (b'{"id": 1, "cmd": "status", "args": {"verbose": true}}', "bad_args"),
    ],
)
def test_each_kind_of_bad_request_gets_its_code(line: bytes, code: str) -> None:
    with running_daemon() as run, run.connect() as c:
        c.send_raw(line + b"\n")
        _assert_error_then_alive(c, code)
        assert run.alive()


def test_oversized_lines_are_rejected_and_the_stream_resyncs() -> None:
    with running_daemon(max_request_bytes=1024) as run, run.connect() as c:
        c.send_raw(b'{"id": 1, "cmd": "status", "args": {"x": "' + b"a" * 5000 + b'"}}\n')
        _assert_error_then_alive(c, "too_large")
        # A huge line sent in pieces, then a normal request in the same write.
        for _ in range(20):
            c.send_raw(b"b" * 4096)
        c.send_raw(b'\n{"id": 2, "cmd": "version"}\n')
        assert c.recv()["error"]["code"] == "too_large"
        assert c.recv()["id"] == 2
        assert run.alive()


def test_a_client_vanishing_mid_request_does_not_hurt() -> None:
    with running_daemon() as run:
        for _ in range(5):
            c = run.connect()
            c.send_raw(b'{"id": 1, "cmd": "sta')
            c.close()
            c = run.connect()
            c.send({"id": 1, "cmd": "status"})
            c.close()  # gone before the answer
        with run.connect() as c:
            assert c.ok("status")["healthy"] is True
        assert run.alive()


@pytest.fixture(scope="module")
def shared() -> Iterator[Running]:
    # One daemon for the fuzz examples (hypothesis runs hundreds against it).
    with running_daemon(max_request_bytes=4096) as run:
        yield run


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "cmd", "args", "v", "reason"]) | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=15,
)
garbage = st.one_of(
    st.binary(min_size=1, max_size=600),
    json_values.map(msgspec.json.encode),
    st.builds(
        lambda cmd, args: msgspec.json.encode({"id": "g", "cmd": cmd, "args": args}),
        st.sampled_from(["kill", "reset-kill", "signal", "cancel", "flatten", "status"]),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    ),
    st.integers(min_value=4097, max_value=20_000).map(lambda n: b"x" * n),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(garbage, min_size=1, max_size=4))
def test_fuzzed_garbage_gets_error_responses_and_the_daemon_survives(
    shared: Running, lines: list[bytes]
) -> None:
    with shared.connect() as c:
        for line in lines:
            c.send_raw(line.replace(b"\n", b" ") + b"\n")
        _assert_error_then_alive(c)
    assert shared.alive()


def test_a_failed_start_leaves_no_socket_behind() -> None:
    base = short_dir()

    class Broken(ControlTestDaemon):
        async def prepare(self) -> None:
            raise RuntimeError("state directory on fire")

    daemon = Broken(make_settings(base), serve_control=True, handle_signals=False)
    with pytest.raises(RuntimeError, match="on fire"):
        anyio.run(daemon.run)
    assert not os.path.exists(os.path.join(base, "run", "ctl.sock"))
