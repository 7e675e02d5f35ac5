"""Signal guard: every rejection reason, bounded memory, and the actor on a real bus."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from actors.signal_guard import DEFINITION, ExpiringSet, GuardReason, GuardRules
from config import Settings
from config.sections.guard import GuardSettings
from daemon import names
from daemon.bus import Bus
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import Side, SignalRejected, SignalVerdict, TradeType
from tests.pipeline_support import context, signal, with_settings

CFG = GuardSettings(
    sources=["alpha", "beta"],
    max_age_intraday_s=30,
    max_age_swing_s=300,
    cooldown_s=60,
    dedup_window_s=600,
)


def rules(**kw: Any) -> GuardRules:
    return GuardRules(
        GuardSettings(**{**{f: getattr(CFG, f) for f in CFG.__struct_fields__}, **kw})
    )


def test_valid_signal_is_accepted(sim_clock: SimClock) -> None:
    assert rules().check(signal(sim_clock), sim_clock.now_ns()) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"symbol": "aapl"}, GuardReason.BAD_SYMBOL),
        ({"symbol": "A APL"}, GuardReason.BAD_SYMBOL),
        ({"side": "long"}, GuardReason.BAD_SIDE),
        ({"trade_type": "scalp"}, GuardReason.BAD_TRADE_TYPE),
        ({"conviction": 101}, GuardReason.BAD_CONVICTION),
        ({"conviction": -1}, GuardReason.BAD_CONVICTION),
        ({"source": "gamma"}, GuardReason.UNKNOWN_SOURCE),
        ({"entry_price": -1.0}, GuardReason.BAD_PRICE),
        ({"entry_price": math.nan}, GuardReason.BAD_PRICE),
        ({"stop_price": math.inf}, GuardReason.BAD_PRICE),
        ({"target_price": 2_000_000.0}, GuardReason.BAD_PRICE),
        ({"stop_price": 101.0}, GuardReason.PRICE_SIDE_MISMATCH),
        ({"target_price": 99.0}, GuardReason.PRICE_SIDE_MISMATCH),
        ({"side": Side.SELL}, GuardReason.PRICE_SIDE_MISMATCH),
        ({"stop_price": 40.0}, GuardReason.BAD_STOP),
        ({"created_ns": 0}, GuardReason.BAD_TIME),
    ],
)
def test_invalid_signals(sim_clock: SimClock, changes: dict[str, Any], reason: GuardReason) -> None:
    got = rules().check(signal(sim_clock, **changes), sim_clock.now_ns())
    assert got is not None
    assert got[0] == reason, got


def test_sell_with_stop_above_and_target_below_is_valid(sim_clock: SimClock) -> None:
    sig = signal(sim_clock, side=Side.SELL, stop_price=105.0, target_price=90.0)
    assert rules().check(sig, sim_clock.now_ns()) is None


def test_unknown_symbol_when_symbols_are_listed(sim_clock: SimClock) -> None:
    r = rules(symbols=["MSFT"])
    assert r.check(signal(sim_clock), sim_clock.now_ns()) == (
        GuardReason.UNKNOWN_SYMBOL,
        "symbol AAPL is not in guard.symbols",
    )


def test_low_conviction(sim_clock: SimClock) -> None:
    got = rules(min_conviction=80).check(signal(sim_clock, conviction=79), sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.LOW_CONVICTION


def test_no_sources_configured_rejects_everything(sim_clock: SimClock) -> None:
    got = rules(sources=[]).check(signal(sim_clock), sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.UNKNOWN_SOURCE


@pytest.mark.parametrize(
    ("trade_type", "age_s", "stale"),
    [
        (TradeType.INTRADAY, 30.0, False),
        (TradeType.INTRADAY, 30.5, True),
        (TradeType.SWING, 299.0, False),
        (TradeType.SWING, 301.0, True),
    ],
)
def test_freshness_per_trade_type(
    sim_clock: SimClock, trade_type: TradeType, age_s: float, stale: bool
) -> None:
    sig = signal(sim_clock, trade_type=trade_type)
    sim_clock.advance(age_s)
    got = rules().check(sig, sim_clock.now_ns())
    assert (got is not None and got[0] == GuardReason.STALE) is stale


def test_from_the_future(sim_clock: SimClock) -> None:
    sig = signal(sim_clock, created_ns=sim_clock.now_ns() + 6 * NS_PER_S)
    got = rules().check(sig, sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.FROM_FUTURE
    ok = signal(sim_clock, "s2", created_ns=sim_clock.now_ns() + 4 * NS_PER_S)
    assert rules().check(ok, sim_clock.now_ns()) is None


def test_duplicate_id_and_content(sim_clock: SimClock) -> None:
    r = rules(cooldown_s=0)
    now = sim_clock.now_ns()
    assert r.check(signal(sim_clock, "s1"), now) is None
    got = r.check(signal(sim_clock, "s1", entry_price=101.0), now)
    assert got is not None
    assert got[0] == GuardReason.DUPLICATE_ID
    got = r.check(signal(sim_clock, "s2"), now)
    assert got is not None
    assert got[0] == GuardReason.DUPLICATE_CONTENT
    # The same id from another source is another signal.
    assert r.check(signal(sim_clock, "s1", source="beta", entry_price=100.5), now) is None


def test_duplicates_forgotten_after_the_window(sim_clock: SimClock) -> None:
    r = rules(cooldown_s=0, dedup_window_s=10)
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None
    sim_clock.advance(10.5)
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None


def test_rejected_signal_redelivered_is_a_duplicate(sim_clock: SimClock) -> None:
    r = rules()
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None
    got = r.check(signal(sim_clock, "s2", entry_price=100.5), sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.COOLDOWN
    sim_clock.advance(61)
    again = signal(sim_clock, "s2", entry_price=100.5)
    got = r.check(again, sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.DUPLICATE_ID


def test_cooldown_per_symbol(sim_clock: SimClock) -> None:
    r = rules()
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None
    sim_clock.advance(30)
    got = r.check(signal(sim_clock, "s2", source="beta", entry_price=100.2), sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.COOLDOWN
    assert r.check(signal(sim_clock, "s3", symbol="MSFT"), sim_clock.now_ns()) is None
    sim_clock.advance(31)
    assert r.check(signal(sim_clock, "s4", entry_price=100.3), sim_clock.now_ns()) is None


def test_cooldown_per_source_symbol_lets_other_sources_through(sim_clock: SimClock) -> None:
    r = rules(cooldown_key="source_symbol")
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None
    assert r.check(signal(sim_clock, "s2", source="beta"), sim_clock.now_ns()) is None
    got = r.check(signal(sim_clock, "s3", entry_price=100.4), sim_clock.now_ns())
    assert got is not None
    assert got[0] == GuardReason.COOLDOWN


def test_exit_signals_skip_price_checks_and_cooldown(sim_clock: SimClock) -> None:
    r = rules()
    assert r.check(signal(sim_clock, "s1"), sim_clock.now_ns()) is None
    ex = signal(sim_clock, "s2", side=Side.SELL, is_exit=True, stop_price=None, target_price=None)
    assert r.check(ex, sim_clock.now_ns()) is None


def test_expiring_set_is_bounded_and_expires_in_order() -> None:
    s = ExpiringSet(ttl_ns=100, capacity=3)
    for i in range(10):
        s.add(i, now_ns=i)
    assert len(s) == 3
    assert not s.contains(6, 10)
    assert s.contains(9, 10)
    s.add(9, now_ns=50)  # re-adding extends
    s.expire(109)  # 8 goes, and 9's first entry, but 9 itself was renewed
    assert s.contains(9, 109)
    assert not s.contains(8, 109)
    assert len(s) == 1
    s.expire(150)
    assert len(s) == 0


async def test_guard_actor_publishes_verdicts_and_forwards_accepted(sim_clock: SimClock) -> None:
    settings = with_settings(Settings(), guard={"sources": ["alpha"]})
    bus = Bus()
    events = bus.topic(names.EVENTS).subscribe("test")
    guard = DEFINITION.factory(context("signal_guard", settings, sim_clock, bus))
    inbox = bus.channel(names.SIGNALS_IN)
    out = bus.channel(names.ORCHESTRATOR_IN)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(guard.run)
            await inbox.send(signal(sim_clock, "a"))
            await inbox.send(signal(sim_clock, "b", source="nobody"))
            await inbox.send("not a signal")
            await inbox.send(signal(sim_clock, "a"))
            forwarded = await out.receive()
            got: list[Any] = []
            while len(got) < 4:
                got.extend(await events.receive_batch())
            tg.cancel_scope.cancel()
    assert isinstance(forwarded, SignalVerdict)
    assert forwarded.accepted
    assert forwarded.signal.received_ns == sim_clock.now_ns()
    verdicts = [v for v in got if isinstance(v, SignalVerdict)]
    assert [(v.signal.signal_id, v.accepted, v.reason) for v in verdicts] == [
        ("a", True, ""),
        ("b", False, "unknown_source"),
        ("a", False, "duplicate_id"),
    ]
    assert [type(v) for v in got].count(SignalRejected) == 1
    assert out.depth() == 0
