"""The state file's format: round trip, and every kind of damage named, never half-read."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.messages import TradingMode
from daemon.safety.state import (
    FORMAT,
    FORMAT_VERSION,
    DayRecord,
    DayTrade,
    Envelope,
    KillRecord,
    ModeRecord,
    SafetyState,
    StateDamage,
    StateFileError,
    decode_state,
    encode_state,
)

STATE = SafetyState(
    seq=7,
    written_ns=1,
    account="paper",
    kill=KillRecord(engaged=True, reason="r", trigger="operator", by="ops", since_ns=5),
    mode=ModeRecord(mode=TradingMode.PAUSED, reason="lunch", by="ops", since_ns=4),
    day=DayRecord(
        trading_day="2024-03-01",
        start_equity=Decimal("100000.10"),
        realized_pnl=Decimal("-12.345678901234567890"),
        trade_count=3,
    ),
    day_trades=(DayTrade(day="2024-03-01", symbol="AAPL", trade_id="t1"),),
)
DATA = encode_state(STATE)


def _damage(data: bytes) -> StateFileError:
    with pytest.raises(StateFileError) as info:
        decode_state(data, path="f")
    return info.value


def test_round_trip_is_exact() -> None:
    back = decode_state(DATA)
    assert back == STATE
    assert back.day.realized_pnl == Decimal("-12.345678901234567890")


def test_empty_and_truncated_files_are_truncated() -> None:
    assert _damage(b"").damage is StateDamage.TRUNCATED
    err = _damage(DATA[: len(DATA) // 2])
    assert err.damage is StateDamage.TRUNCATED
    assert "truncated" in err.detail


def test_garbage_is_not_a_state_file() -> None:
    assert _damage(b"\x00\xff garbage \x13\x37" * 10).damage is StateDamage.GARBAGE
    assert _damage(msgspec.msgpack.encode([1, 2, 3])).damage is StateDamage.GARBAGE
    foreign = Envelope(format="other", version=1, sha256=b"", body=b"")
    err = _damage(msgspec.msgpack.encode(foreign))
    assert err.damage is StateDamage.GARBAGE
    assert "'other'" in err.detail


def test_wrong_version_is_named() -> None:
    body = msgspec.msgpack.encode(STATE)
    env = Envelope(
        format=FORMAT, version=FORMAT_VERSION + 1, sha256=hashlib.sha256(body).digest(), body=body
    )
    err = _damage(msgspec.msgpack.encode(env))
    assert err.damage is StateDamage.VERSION
    assert f"version {FORMAT_VERSION + 1}" in err.detail


def test_checksum_mismatch_is_detected() -> None:
    env = msgspec.msgpack.decode(DATA, type=Envelope)
    body = env.body.replace(b"lunch", b"LUNCH")
    tampered = msgspec.structs.replace(env, body=body)
    err = _damage(msgspec.msgpack.encode(tampered))
    assert err.damage is StateDamage.CHECKSUM


def test_valid_checksum_over_invalid_body_is_garbage() -> None:
    body = msgspec.msgpack.encode({"seq": "not an int"})
    env = Envelope(
        format=FORMAT, version=FORMAT_VERSION, sha256=hashlib.sha256(body).digest(), body=body
    )
    assert _damage(msgspec.msgpack.encode(env)).damage is StateDamage.GARBAGE


@given(cut=st.integers(min_value=0, max_value=len(DATA) - 1))
def test_any_truncation_is_detected(cut: int) -> None:
    with pytest.raises(StateFileError):
        decode_state(DATA[:cut])


@given(pos=st.integers(min_value=0, max_value=len(DATA) - 1), bit=st.integers(0, 7))
def test_any_bit_flip_is_detected_or_harmless(pos: int, bit: int) -> None:
    flipped = bytearray(DATA)
    flipped[pos] ^= 1 << bit
    try:
        back = decode_state(bytes(flipped))
    except StateFileError:
        return
    # A flip inside the envelope's framing that msgpack tolerates must leave the
    # checksummed body, and so the state, untouched.
    assert back == STATE
