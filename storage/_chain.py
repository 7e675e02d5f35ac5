"""Canonical payloads, idempotency keys and the audit hash chain (docs/audit.md).

The canonical payload of an event is its JSON with keys sorted, no whitespace and
decimals as strings (msgspec's encoder: deterministic for a given message). Then::

    event_key = sha256(payload).hexdigest()[:32]
    hash      = sha256(f"{account}\\n{seq}\\n{prev_hash}\\n".encode() + payload).hexdigest()

with ``prev_hash`` of the first record being :data:`GENESIS`. Anyone with the rows can
re-derive both without tradingd.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

GENESIS = "0" * 64
"""``prev_hash`` of the first record of every account's chain."""

KEY_LEN = 32
"""Hex digits of the payload's SHA-256 kept as the idempotency key (128 bits)."""


def _enc_hook(obj: Any) -> Any:
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_canonical = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string", order="sorted")
_sha256 = hashlib.sha256


def canonical_encoder() -> msgspec.json.Encoder:
    """The encoder :func:`canonical_payload` uses (for callers that inline it)."""
    return _canonical


def canonical_payload(event: msgspec.Struct) -> bytes:
    """The event's canonical JSON: what the audit log stores and hashes."""
    return _canonical.encode(event)


def event_key(payload: bytes) -> str:
    """Idempotency key of a canonical payload: the same event always gets the same key."""
    return _sha256(payload).hexdigest()[:KEY_LEN]


def link_hash(account: str, seq: int, prev_hash: str, payload: bytes) -> str:
    """Hash of one audit record, chained to the record before it."""
    h = _sha256(f"{account}\n{seq}\n{prev_hash}\n".encode())
    h.update(payload)
    return h.hexdigest()
