"""Inbound payloads (signals, market data) decoded and validated at the Redis boundary.

Every failure raises :class:`~daemon.messages.MessageDecodeError` whose text is msgspec's,
naming the bad field's path (``Expected `int` <= 100, got `150` - at `$.conviction```),
so the dead letter tells the producer exactly what to fix.
"""

from __future__ import annotations

from typing import Any

import msgspec
from redis.asyncio import Redis

from daemon.messages import Bar, MarketBatch, MessageDecodeError, Signal, Tick
from daemon.messages.codec import decode_json_as

MAX_PAYLOAD_BYTES = 65_536
"""Larger inbound payloads are dead-lettered unread (and kept truncated to this size)."""

_market_decoder = msgspec.json.Decoder(Tick | Bar | MarketBatch | list[Tick | Bar])


def _check_size(raw: bytes) -> None:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise MessageDecodeError(
            f"payload of {len(raw)} bytes is larger than the {MAX_PAYLOAD_BYTES}-byte limit"
        )


def decode_signal(raw: bytes) -> Signal:
    """A :class:`Signal` from its JSON (the ``"type": "Signal"`` tag is optional)."""
    _check_size(raw)
    return decode_json_as(raw, Signal)


def decode_market(raw: bytes) -> list[Tick | Bar]:
    """Ticks and bars from one payload: a Tick, a Bar, a MarketBatch or a JSON array of them.

    Each object needs its ``"type"`` (``"Tick"`` or ``"Bar"``) since the two overlap.
    """
    _check_size(raw)
    try:
        value = _market_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise MessageDecodeError(str(exc)) from exc
    if isinstance(value, MarketBatch):
        return list(value.items)
    if isinstance(value, list):
        return value
    return [value]


def fields_as_json(fields: dict[Any, Any]) -> bytes:
    """A stream entry's fields as JSON text (for dead letters of entries without ``data``)."""
    return msgspec.json.encode(
        {_text(k): _text(v) for k, v in fields.items()},
    )


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


async def write_dead_letter(
    client: Redis,
    stream: str,
    *,
    maxlen: int,
    origin: str,
    error: str,
    raw: bytes,
    now_ns: int,
    ack: tuple[str, str, bytes] | None = None,
) -> None:
    """Append a dead letter; with ``ack=(stream, group, id)`` also XACK it, atomically."""
    pipe = client.pipeline(transaction=True)
    pipe.xadd(
        stream,
        {"origin": origin, "error": error, "raw": raw[:MAX_PAYLOAD_BYTES], "ts": str(now_ns)},
        maxlen=maxlen,
        approximate=True,
    )
    if ack is not None:
        pipe.xack(*ack)
    await pipe.execute()


StreamEntry = tuple[bytes, dict[bytes, bytes]]
"""One stream entry as read: its id and its fields (empty when deleted while pending)."""


def read_entries(resp: Any) -> list[StreamEntry]:
    """The entries of an XREAD/XREADGROUP reply on one stream (RESP2, as our clients speak)."""
    if not resp:
        return []
    return [(eid, fields or {}) for eid, fields in resp[0][1]]


def claimed_entries(resp: Any) -> tuple[bytes, list[StreamEntry]]:
    """The next cursor and the claimed entries of an XAUTOCLAIM reply."""
    cursor: bytes = resp[0] if isinstance(resp[0], bytes) else str(resp[0]).encode()
    return cursor, [(eid, fields or {}) for eid, fields in resp[1]]
