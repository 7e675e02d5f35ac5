"""Fusion by source weight and age; the incremental ADX against the kernels' reference."""

from __future__ import annotations

import math

import pytest

from actors.kernels._indicators import adx_reference
from actors.orchestrator import AdxTracker, Fusion, correlation_id, entry_order_id, exit_order_id
from config.sections.orchestrator import FusionSettings
from daemon.clock import SimClock
from daemon.messages import Side
from tests.pipeline_support import have_data, read_bars, signal


def test_single_source_passes_straight_through(sim_clock: SimClock) -> None:
    f = Fusion(FusionSettings())
    got = f.fuse(signal(sim_clock, conviction=63), sim_clock.now_ns())
    assert (got.side, got.conviction, len(got.components)) == (Side.BUY, 63.0, 1)


def test_weighted_and_decayed_combination(sim_clock: SimClock) -> None:
    f = Fusion(FusionSettings(weights={"alpha": 2.0, "beta": 1.0}, half_life_s=60, window_s=300))
    f.fuse(signal(sim_clock, "a", source="alpha", conviction=80), sim_clock.now_ns())
    sim_clock.advance(60)  # alpha's weight halves: 2 -> 1
    got = f.fuse(
        signal(
            sim_clock,
            "b",
            source="beta",
            side=Side.SELL,
            conviction=40,
            stop_price=105.0,
            target_price=90.0,
        ),
        sim_clock.now_ns(),
    )
    # score = (1·80 − 1·40) / (1 + 1) = 20: a buy at conviction 20.
    assert got.side is Side.BUY
    assert got.conviction == pytest.approx(20.0)
    assert {c.source: c.weight for c in got.components} == {"alpha": 1.0, "beta": 1.0}


def test_old_signals_leave_the_window(sim_clock: SimClock) -> None:
    f = Fusion(FusionSettings(window_s=100))
    f.fuse(
        signal(sim_clock, "a", source="alpha", side=Side.SELL, conviction=90), sim_clock.now_ns()
    )
    sim_clock.advance(101)
    got = f.fuse(signal(sim_clock, "b", source="beta", conviction=30), sim_clock.now_ns())
    assert (got.side, got.conviction) == (Side.BUY, 30.0)
    assert [c.source for c in got.components] == ["beta"]


def test_source_weights_from_events_replace_config(sim_clock: SimClock) -> None:
    f = Fusion(FusionSettings(weights={"alpha": 1.0}))
    f.weights.update({"alpha": 0.0})
    f.fuse(
        signal(sim_clock, "a", source="alpha", side=Side.SELL, conviction=90), sim_clock.now_ns()
    )
    got = f.fuse(signal(sim_clock, "b", source="beta", conviction=30), sim_clock.now_ns())
    assert (got.side, got.conviction) == (Side.BUY, 30.0)


def test_fusion_memory_is_bounded(sim_clock: SimClock) -> None:
    f = Fusion(FusionSettings(max_symbols=3))
    for i in range(10):
        f.fuse(signal(sim_clock, f"s{i}", symbol=f"S{i}"), sim_clock.now_ns())
    assert len(f._recent) == 3


@pytest.mark.skipif(not have_data(), reason="shared market data absent")
def test_incremental_adx_matches_the_reference_on_real_bars() -> None:
    bars = read_bars("SPY", 300)
    high = [b[2] for b in bars]
    low = [b[3] for b in bars]
    close = [b[4] for b in bars]
    ref = adx_reference(high, low, close, 14)
    t = AdxTracker(14)
    got = [t.update("SPY", h, lo, c) for h, lo, c in zip(high, low, close, strict=True)]
    for a, b in zip(got, ref, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9)
    assert not math.isnan(got[-1])
    assert t.value("SPY") == got[-1]
    assert math.isnan(t.value("QQQ"))


def test_ids_are_deterministic_and_distinct() -> None:
    assert correlation_id("alpha", "1") == correlation_id("alpha", "1")
    assert correlation_id("alpha", "1") != correlation_id("beta", "1")
    assert entry_order_id("acct", "alpha", "1") != entry_order_id("other", "alpha", "1")
    assert exit_order_id("acct", "x").startswith("x")
    assert len(entry_order_id("acct", "alpha", "1")) == 21


def test_published_weights_survive_a_reload() -> None:
    f = Fusion(FusionSettings(weights={"alpha": 1.0}))
    f.publish_weights({"alpha": 0.25})
    f.configure(FusionSettings(weights={"alpha": 3.0, "beta": 2.0}))
    assert f.weight("alpha") == 0.25
    assert f.weight("beta") == 2.0
    assert f.weight("gamma") == 1.0
