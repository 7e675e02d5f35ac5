"""The wire format of events published on Redis: a versioned JSON envelope.

::

    {"v": 1, "kind": "fill", "account": "paper", "seq": 42, "boot": 1700000000000000000,
     "published_ns": 1700000000123456789, "event": {"type": "Fill", ...}}

``event`` is the message exactly as :func:`daemon.messages.codec.encode_json` writes it
(decimals as strings, times as integer nanoseconds, ``type`` naming the message).
``seq`` counts events from one publisher incarnation, identified by ``boot``: a gap in
``seq`` within one ``boot`` means events were shed.
"""

from __future__ import annotations

import re
from typing import Any, final

import msgspec

from daemon.messages.codec import SCHEMA_VERSION, Event, decode_json, json_encoder

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One published event, with the schema version and ordering information."""

    v: int
    kind: str
    account: str
    seq: int
    boot: int
    published_ns: int
    event: msgspec.Raw


_envelope_decoder = msgspec.json.Decoder(Envelope)


_kinds: dict[type[Any], str] = {}


def kind_of(cls: type[Any]) -> str:
    """The event kind of a message class: its name in snake case (``Fill`` → ``fill``)."""
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kinds[cls] = _CAMEL.sub("_", cls.__name__).lower()
    return kind


@final
class EnvelopeWriter:
    """Wraps events in envelopes for one publisher incarnation (``boot``)."""

    __slots__ = ("account", "boot", "seq")

    def __init__(self, account: str, boot: int) -> None:
        self.account = account
        self.boot = boot
        self.seq = 0

    def encode(self, event: msgspec.Struct, published_ns: int) -> bytes:
        """The envelope of ``event`` as JSON bytes (the next ``seq``)."""
        self.seq += 1
        env = Envelope(
            v=SCHEMA_VERSION,
            kind=kind_of(type(event)),
            account=self.account,
            seq=self.seq,
            boot=self.boot,
            published_ns=published_ns,
            event=msgspec.Raw(json_encoder.encode(event)),
        )
        return json_encoder.encode(env)


def decode_envelope(data: bytes | str) -> Envelope:
    """Parse an envelope (the event stays raw JSON); raises ``msgspec`` errors if invalid."""
    return _envelope_decoder.decode(data)


def decode_event(env: Envelope) -> Event:
    """The typed message inside ``env`` (raises MessageDecodeError if it does not validate)."""
    return decode_json(bytes(env.event))
