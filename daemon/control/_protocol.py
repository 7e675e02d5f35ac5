"""The admin-socket wire protocol: JSON lines, one request and one final response each.

Request (one line, UTF-8 JSON, at most ``control.max_request_bytes``)::

    {"v": 1, "id": "42", "cmd": "status", "args": {}}

``v`` (protocol version) and ``args`` are optional; ``id`` (string or integer) is echoed.

Final response (exactly one per request)::

    {"v": 1, "id": "42", "ok": true, "result": {...}}
    {"v": 1, "id": "42", "ok": false, "error": {"code": "bad_args", "message": "..."}}

A streaming command (``watch``) first sends one line with ``stream`` once it is
subscribed (nothing published after it is missed), then zero or more lines with
``event``, then its final response; only the final response has ``result``/``error``::

    {"v": 1, "id": "42", "ok": true, "stream": {"types": ["Fill"], "buffer": 4096}}
    {"v": 1, "id": "42", "ok": true, "shed": 0, "event": {"type": "Fill", ...}}
    {"v": 1, "id": "42", "ok": true, "result": {"events": 1, "shed": 0, "ended": "client"}}
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, TypeAlias

import msgspec

from daemon.errors import TradingdError

PROTOCOL_VERSION = 1
"""Bumped only for incompatible changes; a request asking for a newer one is refused."""

RequestId: TypeAlias = Annotated[str, msgspec.Meta(max_length=128)] | int | None
"""What a client may use to match responses to requests (echoed back unchanged)."""


class ErrorCode(enum.StrEnum):
    """Stable error codes; scripts branch on these, never on the message text."""

    BAD_REQUEST = "bad_request"
    """Not a JSON object of the request shape (the message says what is wrong)."""
    NOT_UTF8 = "not_utf8"
    """The line is not UTF-8 text (binary garbage)."""
    TOO_LARGE = "too_large"
    """The line is longer than ``control.max_request_bytes``; it was discarded."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """The request asks for a protocol version this daemon does not speak."""
    UNKNOWN_COMMAND = "unknown_command"
    """No such command (``help`` lists them)."""
    BAD_ARGS = "bad_args"
    """The command's arguments are invalid (the message names the bad field)."""
    UNAVAILABLE = "unavailable"
    """The command exists but what serves it is not running in this daemon."""
    REFUSED = "refused"
    """Valid, but the daemon's state does not allow it now (the message says why)."""
    FORBIDDEN = "forbidden"
    """The connecting user is not allowed to use the socket."""
    BUSY = "busy"
    """Too many clients are connected; try again."""
    TIMEOUT = "timeout"
    """The command or the connection timed out (a command may still take effect)."""
    INTERNAL = "internal"
    """An unexpected error inside the daemon; the daemon log has the traceback."""


class CommandError(TradingdError):
    """Raised by a command handler (or the server) to answer with an error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ProtocolError(CommandError):
    """Raised when a request line cannot be decoded; carries whatever id could be recovered."""

    def __init__(self, code: ErrorCode, message: str, request_id: RequestId = None) -> None:
        super().__init__(code, message)
        self.request_id = request_id


class Request(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One decoded request line."""

    cmd: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    id: RequestId = None
    args: dict[str, Any] = {}
    v: int = PROTOCOL_VERSION


class ErrorBody(msgspec.Struct, frozen=True):
    """The ``error`` member of a failed response."""

    code: str
    message: str


class Response(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A final response: ``result`` when ``ok``, ``error`` otherwise."""

    v: int  # no default: omit_defaults would drop it
    id: RequestId
    ok: bool
    result: Any = msgspec.UNSET
    error: ErrorBody | msgspec.UnsetType = msgspec.UNSET


class StreamLine(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a streaming response; ``event`` is already-encoded JSON."""

    v: int = PROTOCOL_VERSION
    id: RequestId
    ok: bool = True
    shed: int = 0
    event: msgspec.Raw


def _enc_hook(obj: Any) -> Any:
    # Results may hold sets or enums from owners' handlers; anything else is a bug.
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise NotImplementedError(f"cannot encode {type(obj).__name__} in a control response")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
_request_decoder = msgspec.json.Decoder(Request)
_any_decoder = msgspec.json.Decoder()


def encode_ok(request_id: RequestId, result: Any) -> bytes:
    """The response line for a successful request."""
    resp = Response(v=PROTOCOL_VERSION, id=request_id, ok=True, result=result)
    return _encoder.encode(resp) + b"\n"


def encode_error(request_id: RequestId, code: ErrorCode, message: str) -> bytes:
    """The response line for a failed request."""
    body = ErrorBody(str(code), message)
    resp = Response(v=PROTOCOL_VERSION, id=request_id, ok=False, error=body)
    return _encoder.encode(resp) + b"\n"


def encode_stream(request_id: RequestId, event_json: bytes, shed: int) -> bytes:
    """A stream line carrying one already-encoded event."""
    line = StreamLine(id=request_id, shed=shed, event=msgspec.Raw(event_json))
    return _encoder.encode(line) + b"\n"


class StreamStart(msgspec.Struct, frozen=True, kw_only=True):
    """The first line of a stream: the subscription is live; nothing after it is missed."""

    v: int = PROTOCOL_VERSION
    id: RequestId
    ok: bool = True
    stream: Any


def encode_stream_start(request_id: RequestId, info: Any) -> bytes:
    """The line that opens a stream (``stream`` describes it)."""
    return _encoder.encode(StreamStart(id=request_id, stream=info)) + b"\n"


def encode_result(result: Any) -> bytes:
    """A handler result as JSON (used when a result must be checked before sending)."""
    return _encoder.encode(result)


def decode_request(line: bytes) -> Request:
    """Decode one request line or raise :class:`ProtocolError` saying what is wrong."""
    try:
        req = _request_decoder.decode(line)
    except msgspec.MsgspecError as exc:
        raise _classify(line, exc) from None
    if req.v != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"this daemon speaks protocol version {PROTOCOL_VERSION}; "
            f"the request asked for {req.v}",
            req.id,
        )
    return req


def _classify(line: bytes, exc: msgspec.MsgspecError) -> ProtocolError:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as ue:
        return ProtocolError(
            ErrorCode.NOT_UTF8, f"request is not UTF-8 text (bad byte at offset {ue.start})"
        )
    try:
        raw = _any_decoder.decode(line)
    except msgspec.DecodeError as de:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"request is not valid JSON: {de}")
    if not isinstance(raw, dict):
        return ProtocolError(
            ErrorCode.BAD_REQUEST,
            'a request is a JSON object like {"id": 1, "cmd": "status", "args": {}}; '
            f"got a JSON {type(raw).__name__}",
        )
    rid = raw.get("id")
    if not (isinstance(rid, int) and not isinstance(rid, bool)) and not (
        isinstance(rid, str) and len(rid) <= 128
    ):
        rid = None
    return ProtocolError(ErrorCode.BAD_REQUEST, f"malformed request: {exc}", rid)
