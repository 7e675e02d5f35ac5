"""Encoders and decoders for the message catalogue, made once and reused.

msgpack is the internal format (journal, spool); JSON is the edge format (Redis,
admin socket, logs). Decoding validates: a malformed payload raises
:class:`MessageDecodeError` whose text names the bad field's path, e.g.
``Expected `int` <= 100, got `150` - at `$.conviction```.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from daemon.messages.books import AccountSnapshot, PositionUpdate, TradeClosed
from daemon.messages.market import Bar, MarketBatch, Tick
from daemon.messages.ops import (
    ActorStatus,
    Alert,
    BrokerStatus,
    ControlCommand,
    Heartbeat,
    ReconciliationReport,
    ServiceStatus,
)
from daemon.messages.orders import (
    CancelOrder,
    ExecutionRecord,
    Fill,
    OrderIntent,
    OrderUpdate,
    SubmitOrder,
)
from daemon.messages.risk import RiskDecision, RiskRequest
from daemon.messages.safety import (
    CancelAllOrders,
    ExitIntent,
    FlattenAll,
    KillSwitchEvent,
    TradingModeChanged,
)
from daemon.messages.signals import (
    FusionRecord,
    RegimeUpdate,
    Signal,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
    SourceWeights,
)

Event = (
    Signal
    | SignalVerdict
    | SignalRejected
    | SignalRecord
    | FusionRecord
    | RegimeUpdate
    | SourceWeights
    | RiskRequest
    | RiskDecision
    | OrderIntent
    | SubmitOrder
    | CancelOrder
    | OrderUpdate
    | Fill
    | ExecutionRecord
    | PositionUpdate
    | TradeClosed
    | AccountSnapshot
    | Tick
    | Bar
    | MarketBatch
    | KillSwitchEvent
    | TradingModeChanged
    | ExitIntent
    | CancelAllOrders
    | FlattenAll
    | BrokerStatus
    | ServiceStatus
    | ReconciliationReport
    | Alert
    | ActorStatus
    | ControlCommand
    | Heartbeat
)
"""Every message in the catalogue; decoders dispatch on the ``type`` tag."""

EVENT_TYPES: tuple[type[msgspec.Struct], ...] = Event.__args__

SCHEMA_VERSION = 1
"""Bumped only for incompatible changes; additive changes keep it (new fields have defaults)."""

T = TypeVar("T")


class MessageDecodeError(ValueError):
    """Raised when bytes do not decode into a valid message; the text names the bad field."""


def _enc_hook(obj: Any) -> Any:
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


msgpack_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook, decimal_format="string")
json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
_msgpack_event_decoder = msgspec.msgpack.Decoder(Event)
_json_event_decoder = msgspec.json.Decoder(Event)


def encode_msgpack(msg: msgspec.Struct) -> bytes:
    """Internal binary form (journal, spool)."""
    return msgpack_encoder.encode(msg)


def encode_json(msg: msgspec.Struct) -> bytes:
    """Edge form (Redis, socket, logs): UTF-8 JSON, decimals as strings."""
    return json_encoder.encode(msg)


def decode_msgpack(data: bytes) -> Event:
    """Decode any catalogue message from msgpack, validating every field."""
    try:
        event: Event = _msgpack_event_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MessageDecodeError(str(exc)) from exc
    return event


def decode_json(data: bytes | str) -> Event:
    """Decode any catalogue message from JSON, validating every field."""
    try:
        event: Event = _json_event_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MessageDecodeError(str(exc)) from exc
    return event


_typed_json_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode_json_as(data: bytes | str, kind: type[T]) -> T:
    """Decode JSON into exactly ``kind`` (decoders are cached per type)."""
    dec = _typed_json_decoders.get(kind)
    if dec is None:
        dec = _typed_json_decoders[kind] = msgspec.json.Decoder(kind)
    try:
        result: T = dec.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MessageDecodeError(str(exc)) from exc
    return result


def to_builtins(msg: msgspec.Struct) -> Any:
    """Plain dict/list form with decimals as strings (for logs and SQL JSON columns)."""
    return msgspec.to_builtins(msg, enc_hook=_enc_hook, builtin_types=(), order=None)


def as_decimal(value: float | int | str) -> Decimal:
    """Exact decimal of a float's shortest repr (``0.1`` → ``Decimal('0.1')``)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
