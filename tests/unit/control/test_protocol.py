"""The wire protocol: request decoding, error classification, response shapes."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.control import PROTOCOL_VERSION, ErrorCode
from daemon.control._protocol import (
    ProtocolError,
    decode_request,
    encode_error,
    encode_ok,
    encode_stream,
)
from daemon.messages import Heartbeat
from daemon.messages.codec import encode_json


def test_a_full_request_decodes() -> None:
    req = decode_request(b'{"v": 1, "id": "a1", "cmd": "kill", "args": {"reason": "x"}}')
    assert (req.id, req.cmd, req.args, req.v) == ("a1", "kill", {"reason": "x"}, 1)


def test_id_version_and_args_are_optional() -> None:
    req = decode_request(b'{"cmd": "status"}')
    assert (req.id, req.args, req.v) == (None, {}, PROTOCOL_VERSION)


@pytest.mark.parametrize(
    ("line", "code", "rid"),
    [
        (b"\xff\xfe\x00garbage", ErrorCode.NOT_UTF8, None),
        (b"{not json", ErrorCode.BAD_REQUEST, None),
        (b"[1, 2]", ErrorCode.BAD_REQUEST, None),
        (b'"status"', ErrorCode.BAD_REQUEST, None),
        (b'{"id": 7}', ErrorCode.BAD_REQUEST, 7),
        (b'{"id": "x", "cmd": 5}', ErrorCode.BAD_REQUEST, "x"),
        (b'{"id": "x", "cmd": "status", "extra": 1}', ErrorCode.BAD_REQUEST, "x"),
        (b'{"id": "x", "cmd": "status", "args": []}', ErrorCode.BAD_REQUEST, "x"),
        (b'{"id": 1.5, "cmd": "status"}', ErrorCode.BAD_REQUEST, None),
        (b'{"id": true, "cmd": ""}', ErrorCode.BAD_REQUEST, None),
        (b'{"id": 3, "cmd": "status", "v": 99}', ErrorCode.UNSUPPORTED_VERSION, 3),
    ],
)
def test_bad_lines_are_classified_and_keep_their_id(
    line: bytes, code: ErrorCode, rid: object
) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_request(line)
    assert info.value.code is code
    assert info.value.request_id == rid
    assert info.value.message


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(ProtocolError, match=r"\$\.cmd"):
        decode_request(b'{"id": 1, "cmd": 5}')


def test_responses_have_the_documented_shape() -> None:
    ok = msgspec.json.decode(encode_ok("r", {"a": 1}))
    assert ok == {"v": PROTOCOL_VERSION, "id": "r", "ok": True, "result": {"a": 1}}
    none = msgspec.json.decode(encode_ok(2, None))
    assert none == {"v": PROTOCOL_VERSION, "id": 2, "ok": True, "result": None}
    err = msgspec.json.decode(encode_error(None, ErrorCode.BAD_ARGS, "nope"))
    assert err == {
        "v": PROTOCOL_VERSION,
        "id": None,
        "ok": False,
        "error": {"code": "bad_args", "message": "nope"},
    }


def test_stream_lines_embed_the_event_json_verbatim() -> None:
    ev = Heartbeat(uptime_s=1.5, mode="running", killed=False, ts=5)
    line = encode_stream(9, encode_json(ev), shed=3)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    msg = msgspec.json.decode(line)
    assert msg["id"] == 9
    assert msg["shed"] == 3
    assert msg["ok"] is True
    assert msg["event"]["type"] == "Heartbeat"
    assert msg["event"]["uptime_s"] == 1.5
    assert "result" not in msg
    assert "error" not in msg


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_any_bytes_decode_or_raise_a_protocol_error(line: bytes) -> None:
    error: ProtocolError | None = None
    try:
        decode_request(line)
    except ProtocolError as exc:
        error = exc
    if error is not None:
        assert error.code in set(ErrorCode)
        assert error.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "cmd", "args", "v", "x"]) | st.text(max_size=5),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_any_json_decodes_or_raises_a_protocol_error(value: object) -> None:
    line = msgspec.json.encode(value)
    try:
        req = decode_request(line)
    except ProtocolError as exc:
        code = exc.code
    else:
        assert isinstance(value, dict)
        assert req.cmd == value["cmd"]
        return
    assert code in (ErrorCode.BAD_REQUEST, ErrorCode.UNSUPPORTED_VERSION)
