"""A configuration reload keeps what the feedback actor published (weights, Kelly stats)."""

from __future__ import annotations

import anyio
import pytest

from actors.orchestrator import correlation_id
from config import Settings
from daemon import names
from daemon.messages import FusionRecord, RiskDecision, Signal, SignalVerdict, SourceWeights
from tests.integration.pipeline._harness import (
    Pipeline,
    last_close,
    pipeline_settings,
    running_pipeline,
)
from tests.pipeline_support import have_data, signal

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

# Both sources have a configured edge (Kelly f = 0.6 - 0.4/2 = 0.4, half: 0.2).
SIZING = {
    "method": "half_kelly",
    "sources": {
        "alpha": {"win_rate": 0.6, "payoff": 2.0},
        "beta": {"win_rate": 0.6, "payoff": 2.0},
    },
}


def settings(alpha_weight: float, beta_weight: float) -> Settings:
    return pipeline_settings(
        sizing=SIZING,
        orchestrator={"fusion": {"weights": {"alpha": alpha_weight, "beta": beta_weight}}},
    )


def buy(p: Pipeline, sid: str, symbol: str, source: str = "alpha") -> Signal:
    """A buy at the symbol's last real close, stop 5% below, target 10% above."""
    px = last_close(symbol)
    return signal(
        p.clock,
        sid,
        source=source,
        symbol=symbol,
        entry_price=px,
        stop_price=round(px * 0.95, 2),
        target_price=round(px * 1.1, 2),
    )


def fusion_weight(records: list[FusionRecord], cid: str) -> float:
    (rec,) = [r for r in records if r.correlation_id == cid]
    (comp,) = rec.components
    return comp.weight


async def test_reload_keeps_published_weights_and_stats() -> None:
    before = settings(1.0, 1.0)
    after = settings(3.0, 2.0)
    with anyio.fail_after(20):
        async with running_pipeline(before) as p:
            # The feedback actor: alpha has had no winning trade (no edge), weight 0.5.
            await p.bus.topic(names.EVENTS).publish(
                SourceWeights(
                    weights={"alpha": 0.5},
                    win_rate={"alpha": 0.0},
                    payoff={"alpha": 0.0},
                    ts=p.clock.now_ns(),
                )
            )
            # The orchestrator applies published events before the next signal batch:
            # this signal's verdict shows they were taken before the reload below.
            await p.send(buy(p, "a1", "AAPL"))
            cid1 = correlation_id("alpha", "a1")
            await p.events.wait_kind(SignalVerdict, where=lambda v: v.correlation_id == cid1)

            await p.orchestrator.on_reload(after)

            await p.send(buy(p, "a2", "GOOG"))
            await p.send(buy(p, "b1", "GOOG", source="beta"))
            cid2 = correlation_id("alpha", "a2")
            cid3 = correlation_id("beta", "b1")
            (no_edge,) = await p.events.wait_kind(
                SignalVerdict, where=lambda v: v.correlation_id == cid2
            )
            await p.events.wait_kind(RiskDecision, where=lambda d: d.correlation_id == cid3)
    first = [v for v in p.events.of(SignalVerdict) if v.correlation_id == cid1]
    assert [(v.stage, v.reason) for v in first] == [("sizing", "size_kelly_no_edge")]
    # After the reload alpha still has its published weight and "no edge" statistics...
    assert (no_edge.stage, no_edge.reason) == ("sizing", "size_kelly_no_edge")
    records = p.events.of(FusionRecord)
    assert fusion_weight(records, cid1) == 0.5
    # (GOOG's fusion memory holds alpha's a2 at weight 0.5 beside beta's b1 at 2.0.)
    (rec3,) = [r for r in records if r.correlation_id == cid3]
    assert {c.source: c.weight for c in rec3.components} == {"alpha": 0.5, "beta": 2.0}
    # ...while beta, with nothing published, is sized from the reloaded configuration
    # and reaches the risk gate (which may turn it down: sizing passed it).
    beta = [v.stage for v in p.events.of(SignalVerdict) if v.correlation_id == cid3]
    assert "sizing" not in beta
