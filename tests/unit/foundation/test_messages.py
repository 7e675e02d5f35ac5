"""Messages: every catalogue type round-trips through msgpack and JSON; bad input is named."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.messages import EVENT_TYPES, MessageDecodeError, Side, Signal, codec
from tests.strategies import struct_strategy


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_every_message_round_trips_through_msgpack_and_json(
    cls: type[msgspec.Struct], data: st.DataObject
) -> None:
    msg: Any = data.draw(struct_strategy(cls))
    assert codec.decode_msgpack(codec.encode_msgpack(msg)) == msg
    assert codec.decode_json(codec.encode_json(msg)) == msg
    assert codec.decode_json_as(codec.encode_json(msg), cls) == msg


def test_every_message_is_frozen_tagged_and_keyword_only() -> None:
    for cls in EVENT_TYPES:
        cfg = cls.__struct_config__
        assert cfg.frozen, cls
        assert cfg.tag == cls.__name__, cls
        assert cfg.tag_field == "type", cls
        with pytest.raises(TypeError):
            cls(*range(len(cls.__struct_fields__)))


def test_decimals_travel_as_strings_on_the_json_edge() -> None:
    from daemon.messages import Fill

    fill = Fill(
        fill_id="f1",
        client_order_id="c1",
        symbol="SPY",
        side=Side.BUY,
        qty=Decimal("10"),
        price=Decimal("0.1"),
        ts=1,
    )
    assert b'"price":"0.1"' in codec.encode_json(fill)


def test_invalid_payload_error_names_the_field() -> None:
    raw = (
        b'{"type":"Signal","signal_id":"a","source":"s","symbol":"SPY",'
        b'"side":"buy","created_ns":1,"conviction":150}'
    )
    with pytest.raises(MessageDecodeError, match=r"\$\.conviction"):
        codec.decode_json(raw)
    with pytest.raises(MessageDecodeError, match=r"\$\.side"):
        codec.decode_json(raw.replace(b'"buy"', b'"up"'))
    with pytest.raises(MessageDecodeError, match=r"malformed|truncated"):
        codec.decode_json(b'{"type":"Sig')
    with pytest.raises(MessageDecodeError, match="Invalid value 'Nope'"):
        codec.decode_json(b'{"type":"Nope"}')


def test_signal_defaults_are_safe() -> None:
    s = Signal(signal_id="x", source="s", symbol="SPY", side=Side.SELL, created_ns=5)
    assert s.conviction == 50
    assert s.side.opposite is Side.BUY
    assert s.side.sign == -1
