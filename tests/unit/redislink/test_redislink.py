"""The Redis edge without a server: layout, envelopes, payload decoding, errors, backoff."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import anyio
import msgspec
import pytest
import redis.exceptions as rexc
from hypothesis import given
from hypothesis import strategies as st

from config import settings_from_mapping
from daemon.backoff import Backoff
from daemon.clock import SimClock
from daemon.messages import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    Bar,
    Fill,
    MarketBatch,
    MessageDecodeError,
    Side,
    Tick,
)
from daemon.progress import ClockTimeout, Progress, run_within
from daemon.redislink import (
    MAX_PAYLOAD_BYTES,
    EnvelopeWriter,
    RedisKeys,
    RedisUnavailable,
    decode_envelope,
    decode_event,
    decode_market,
    decode_signal,
    describe,
    is_pattern,
    is_transient,
    kind_of,
)
from daemon.watch import format_line


def test_layout_defaults_and_overrides() -> None:
    s = settings_from_mapping({"daemon": {"account": "live"}, "redis": {"prefix": "td"}})
    k = RedisKeys.from_settings(s)
    assert k.signal_stream == "td:live:signals"
    assert k.signal_channel == "td:live:signals"
    assert k.dead_letter == "td:live:deadletter"
    assert k.market_channels == ("td:live:market", "td:live:market:*")
    assert k.event_channel("fill") == "td:live:events:fill"
    assert k.events_pattern("order_*") == "td:live:events:order_*"
    assert k.alert_channel("critical") == "td:live:alerts:critical"
    assert k.consumer.startswith("live@")
    custom = RedisKeys.from_settings(
        settings_from_mapping(
            {
                "redis": {
                    "signals": {"stream": "sigs", "consumer": "c9"},
                    "market": {"channels": ["px"]},
                }
            }
        )
    )
    assert (custom.signal_stream, custom.consumer, custom.market_channels) == (
        "sigs",
        "c9",
        ("px",),
    )
    assert is_pattern("a:*")
    assert is_pattern("a:[bc]")
    assert not is_pattern("a:b")


def test_prefix_with_glob_characters_is_a_configuration_error() -> None:
    from config import ConfigError

    with pytest.raises(ConfigError, match=r"redis\.prefix"):
        settings_from_mapping({"redis": {"prefix": "trading*"}})


def test_every_event_kind_is_distinct_snake_case() -> None:
    kinds = [kind_of(t) for t in EVENT_TYPES]
    assert len(set(kinds)) == len(kinds)
    assert kind_of(Fill) == "fill"
    assert kind_of(MarketBatch) == "market_batch"
    assert all(k == k.lower() and " " not in k for k in kinds)


def test_envelope_round_trip_and_sequence() -> None:
    w = EnvelopeWriter("acct", boot=42)
    fill = Fill(
        fill_id="f",
        client_order_id="o",
        symbol="AAPL",
        side=Side.BUY,
        qty=Decimal("0.1"),
        price=Decimal("187.250"),
        ts=7,
    )
    first, second = w.encode(fill, 100), w.encode(fill, 101)
    env = decode_envelope(first)
    assert (env.v, env.kind, env.account, env.seq, env.boot, env.published_ns) == (
        SCHEMA_VERSION,
        "fill",
        "acct",
        1,
        42,
        100,
    )
    assert decode_envelope(second).seq == 2
    assert decode_event(env) == fill
    assert b'"qty":"0.1"' in first
    assert b'"price":"187.250"' in first
    assert format_line(first).startswith("1970-01-01T00:00:00.000000Z fill {")
    assert format_line(first, raw=True) == first.decode()
    assert format_line(b"hello").startswith("? not a tradingd envelope")


def test_signal_payload_errors_name_the_field() -> None:
    ok = b'{"signal_id":"s","source":"x","symbol":"AAPL","side":"buy","created_ns":1}'
    assert decode_signal(ok).symbol == "AAPL"
    with pytest.raises(MessageDecodeError, match=r"\$\.side"):
        decode_signal(ok.replace(b'"buy"', b'"up"'))
    with pytest.raises(MessageDecodeError, match="larger than"):
        decode_signal(b" " * (MAX_PAYLOAD_BYTES + 1))


def test_market_payload_forms() -> None:
    tick = Tick(symbol="A", price=1.0, ts=1)
    bar = Bar(symbol="B", open=1, high=2, low=0.5, close=1.5, ts=2)
    enc = msgspec.json.encode
    assert decode_market(enc(tick)) == [tick]
    assert decode_market(enc([tick, bar])) == [tick, bar]
    assert decode_market(enc(MarketBatch(items=(bar, tick), ts=3))) == [bar, tick]
    with pytest.raises(MessageDecodeError, match="type"):
        decode_market(b'{"symbol":"A","price":1.0,"ts":1}')


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_a_decode_error(raw: bytes) -> None:
    for decode in (decode_signal, decode_market):
        with contextlib.suppress(MessageDecodeError):
            decode(raw)


def test_which_failures_mean_retry_later() -> None:
    assert is_transient(rexc.ConnectionError("refused"))
    assert is_transient(rexc.TimeoutError())
    assert is_transient(rexc.BusyLoadingError("LOADING"))
    assert is_transient(rexc.ResponseError("NOGROUP No such key"))
    assert is_transient(rexc.ResponseError("READONLY You can't write against a replica"))
    assert is_transient(ConnectionResetError())
    assert is_transient(RedisUnavailable("x"))
    assert is_transient(ExceptionGroup("g", [rexc.ConnectionError(), OSError()]))
    assert not is_transient(rexc.ResponseError("WRONGTYPE Operation against a key"))
    assert not is_transient(ExceptionGroup("g", [rexc.ConnectionError(), KeyError("bug")]))
    assert not is_transient(ValueError())
    assert describe(ExceptionGroup("g", [rexc.ConnectionError("down")])) == "ConnectionError: down"


def test_backoff_grows_caps_jitters_and_resets() -> None:
    b = Backoff(0.1, 1.0, 0.0)
    assert [b.next_delay() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    b.reset()
    assert b.next_delay() == 0.1
    j1, j2 = Backoff(1.0, 10.0, 0.5, seed=3), Backoff(1.0, 10.0, 0.5, seed=3)
    d = [j1.next_delay() for _ in range(20)]
    assert d == [j2.next_delay() for _ in range(20)]  # seeded: reproducible
    assert all(1.0 <= x < 15.0 for x in d)
    with pytest.raises(ValueError, match="backoff"):
        Backoff(0.0, 1.0, 0.1)


async def test_run_within_times_out_on_the_clock_not_the_wall() -> None:
    clock = SimClock()
    never = anyio.Event()

    async def slow() -> int:
        await never.wait()
        return 1

    async def fast() -> int:
        return 7

    async with anyio.create_task_group() as tg:
        await tg.start(clock.autojump)
        assert await run_within(clock, 3600, fast) == 7
        start = clock.now_ns()
        with pytest.raises(ClockTimeout):
            await run_within(clock, 3600, slow)
        assert clock.now_ns() - start == 3600 * 1_000_000_000
        with pytest.raises(KeyError):
            await run_within(clock, 1, _raise_key_error)
        tg.cancel_scope.cancel()


async def _raise_key_error() -> None:
    raise KeyError("x")


async def test_progress_wakes_waiters_on_each_change() -> None:
    p = Progress()
    box = [0]
    async with anyio.create_task_group() as tg:

        async def bump() -> None:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
                box[0] += 1
                p.notify()

        tg.start_soon(bump)
        with anyio.fail_after(5):
            await p.wait_for(lambda: box[0] == 3)
    assert box[0] == 3
