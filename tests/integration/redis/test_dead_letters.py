"""Malformed signals become dead letters (error + original bytes), are acked, never crash."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from actors.redis_signals import RedisSignalIngest
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import MessageDecodeError, Signal, SignalRejected
from daemon.messages.codec import encode_json
from daemon.redislink import MAX_PAYLOAD_BYTES, RedisKeys, decode_signal
from tests.integration.redis._support import as_bytes, make_settings, read_stream, start

pytestmark = pytest.mark.redis

_VALID: dict[str, Any] = {
    "signal_id": "s1",
    "source": "test",
    "symbol": "AAPL",
    "side": "buy",
    "created_ns": 1_700_000_000_000_000_000,
}

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _corrupt(field: str, value: Any) -> bytes:
    return msgspec.json.encode({**_VALID, field: value})


def _rejected(raw: bytes) -> bool:
    try:
        decode_signal(raw)
    except MessageDecodeError:
        return True
    return False


garbage = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    _json_values.map(msgspec.json.encode),
    st.builds(_corrupt, st.sampled_from([*sorted(_VALID), "conviction"]), _json_values),
    st.just(b'{"signal_id": "x", ' + b" " * MAX_PAYLOAD_BYTES + b"}"),
).filter(_rejected)

_run = itertools.count()


def _expected_error(raw: bytes) -> str:
    try:
        decode_signal(raw)
    except MessageDecodeError as exc:
        return str(exc)
    raise AssertionError("payload unexpectedly valid")


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(payloads=st.lists(garbage, min_size=1, max_size=8))
async def test_garbage_is_dead_lettered_acked_and_counted(
    payloads: list[bytes], redis_url: str, prefix: str, redis_client: Redis
) -> None:
    run = next(_run)
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings_ = make_settings(redis_url, f"{prefix}_{run}", redis={"signals": {"consumer": "c1"}})
    keys = RedisKeys.from_settings(settings_)
    rejected = bus.topic(names.EVENTS).subscribe("test", types=(SignalRejected,))
    good = encode_json(msgspec.convert({**_VALID, "created_ns": clock.now_ns()}, Signal))
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                ingest, _ = await start(
                    tg, RedisSignalIngest, "redis_signals", settings_, clock, bus
                )
                ids = [
                    as_bytes(await redis_client.xadd(keys.signal_stream, {"data": raw}))
                    for raw in payloads
                ]
                await redis_client.xadd(keys.signal_stream, {"data": good})
                await redis_client.xadd(keys.signal_stream, {"payload": b"no data field"})
                n = len(payloads) + 1
                await ingest.progress.wait_for(lambda: ingest.stats.dead_lettered == n)
                await ingest.progress.wait_for(lambda: ingest.stats.forwarded == 1)
                tg.cancel_scope.cancel()

        letters = await read_stream(redis_client, keys.dead_letter)
        assert len(letters) == n
        for eid, raw, (_, letter) in zip(ids, payloads, letters, strict=False):
            assert letter[b"raw"] == raw[:MAX_PAYLOAD_BYTES]
            assert letter[b"error"].decode() == _expected_error(raw)
            assert letter[b"origin"].decode() == f"stream {keys.signal_stream} {eid.decode()}"
        assert letters[-1][1][b"error"] == b"stream entry has no `data` field"
        # Every entry, good or bad, is settled: bad ones acked with their dead letter.
        info = await redis_client.xpending(keys.signal_stream, keys.group)
        assert info["pending"] == 1  # only the good signal, which waits for its verdict
        events = [await rejected.receive() for _ in range(n)]
        assert [e.error for e in events[:-1]] == [_expected_error(r) for r in payloads]
        forwarded = bus.channel(names.SIGNALS_IN).receive_nowait()
        assert isinstance(forwarded, Signal)
        assert forwarded.signal_id == "s1"
    finally:
        keys_left = [k async for k in redis_client.scan_iter(match=f"{prefix}_{run}:*")]
        if keys_left:
            await redis_client.delete(*keys_left)


async def test_malformed_pubsub_signals_are_dead_lettered(
    redis_url: str, prefix: str, redis_client: Redis
) -> None:
    clock = SimClock()
    bus = Bus(default_capacity=1024)
    settings_ = make_settings(redis_url, prefix, redis={"signals": {"stream_enabled": False}})
    keys = RedisKeys.from_settings(settings_)
    bad = _corrupt("conviction", 150)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ingest, _ = await start(tg, RedisSignalIngest, "redis_signals", settings_, clock, bus)
            await redis_client.publish(keys.signal_channel, bad)
            await ingest.progress.wait_for(lambda: ingest.stats.dead_lettered == 1)
            tg.cancel_scope.cancel()
    [(_, letter)] = await read_stream(redis_client, keys.dead_letter)
    assert letter[b"raw"] == bad
    assert letter[b"origin"] == f"pubsub {keys.signal_channel}".encode()
    assert letter[b"error"] == b"Expected `int` <= 100 - at `$.conviction`"
