"""Position sizing against hand-computed cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.orchestrator import Sizer
from config.sections.sizing import SizingSettings, SourceStats

STATS = {
    "alpha": SourceStats(win_rate=0.6, payoff=2.0),
    "loser": SourceStats(win_rate=0.3, payoff=1.0),
}


def sizer(**kw: Any) -> Sizer:
    kw.setdefault("sources", STATS)
    return Sizer(SizingSettings(**kw))


def size(s: Sizer, **kw: Any) -> Any:
    base: dict[str, Any] = {"equity": 100_000.0, "entry": 100.0, "stop": 95.0, "source": "alpha"}
    base.update(kw)
    return s.size(**base)


@pytest.mark.parametrize(
    ("cfg", "kw", "qty"),
    [
        # 1% of 100k = 1000 at risk, 5 per share between 100 and 95: 200.
        ({"method": "fixed_risk"}, {}, "200"),
        # No stop: the default 2% stop distance, 2 per share: 500.
        ({"method": "fixed_risk"}, {"stop": None}, "500"),
        # Kelly f = 0.6 - 0.4/2 = 0.4, capped at 0.25: 25,000 / 100 = 250.
        ({"method": "kelly"}, {}, "250"),
        # Half: 0.2 -> 200; quarter: 0.1 -> 100.
        ({"method": "half_kelly"}, {}, "200"),
        ({"method": "quarter_kelly"}, {}, "100"),
        # Uncapped Kelly 0.4 -> 400.
        ({"method": "kelly", "kelly_cap": 1.0}, {}, "400"),
        ({"method": "fixed_dollar", "fixed_dollar": 5_000.0}, {}, "50"),
        ({"method": "fixed_shares", "fixed_shares": 120.0}, {}, "120"),
        # Regime multiplier 0.25: 200 -> 50.
        ({"method": "fixed_risk"}, {"regime_multiplier": 0.25}, "50"),
        # Drawdown 10% from the peak: tier multiplier 0.5; 1% of 90k = 900 / 5 = 180 -> 90.
        ({"method": "fixed_risk"}, {"equity": 90_000.0, "peak_equity": 100_000.0}, "90"),
        # Drawdown 4%: no tier yet; 960 / 5 = 192.
        ({"method": "fixed_risk"}, {"equity": 96_000.0, "peak_equity": 100_000.0}, "192"),
        # Volatility 40 vs reference 20: multiplier 0.5 -> 100; at 10: 2.0 clamped to 1.5 -> 300.
        ({"method": "fixed_risk"}, {"volatility": 40.0}, "100"),
        ({"method": "fixed_risk"}, {"volatility": 10.0}, "300"),
        # Heat cap 6% of 100k = 6000; 5500 open leaves 500 / 5 = 100.
        ({"method": "fixed_risk"}, {"open_risk": 5_500.0}, "100"),
        # Heat multiplier 0.5 halves the cap to 3000; 2800 open leaves 200 / 5 = 40.
        ({"method": "fixed_risk"}, {"open_risk": 2_800.0, "heat_multiplier": 0.5}, "40"),
        # Lot of 100: 250 rounds down to 200.
        ({"method": "kelly", "lot_size": 100.0}, {}, "200"),
        # Fractional lot: 5000 / 30000 = 0.1666.. -> 0.166.
        (
            {"method": "fixed_dollar", "lot_size": 0.001},
            {"entry": 30_000.0, "stop": None},
            "0.166",
        ),
    ],
)
def test_sizes(cfg: dict[str, Any], kw: dict[str, Any], qty: str) -> None:
    got = size(sizer(**cfg), **kw)
    assert got.ok, got
    assert got.qty == Decimal(qty)
    assert str(got.qty) == qty


@pytest.mark.parametrize(
    ("cfg", "kw", "reason"),
    [
        ({"method": "kelly"}, {"source": "loser"}, "kelly_no_edge"),
        ({"method": "kelly"}, {"source": "unknown"}, "kelly_no_stats"),
        ({"method": "fixed_risk"}, {"open_risk": 6_000.0}, "heat_cap"),
        ({"method": "fixed_risk"}, {"regime_multiplier": 0.0}, "multiplier_zero"),
        ({"method": "fixed_shares", "fixed_shares": 50.0, "lot_size": 100.0}, {}, "below_lot"),
        ({"method": "fixed_risk"}, {"equity": 0.0}, "no_equity"),
        ({"method": "fixed_risk"}, {"entry": 0.0}, "no_price"),
    ],
)
def test_zero_size_is_a_rejection_with_a_reason(
    cfg: dict[str, Any], kw: dict[str, Any], reason: str
) -> None:
    got = size(sizer(**cfg), **kw)
    assert not got.ok
    assert got.qty == 0
    assert got.reason == reason
    assert got.detail


def test_source_weights_event_supplies_kelly_stats() -> None:
    s = sizer(method="half_kelly", sources={})
    assert size(s).reason == "kelly_no_stats"
    s.set_stats({"alpha": 0.55}, {"alpha": 1.5})
    # f = 0.55 - 0.45/1.5 = 0.25; half: 0.125 -> 12,500 / 100 = 125.
    assert size(s).qty == Decimal(125)


def test_drawdown_tiers_pick_the_deepest_reached() -> None:
    s = sizer()
    assert s.drawdown_multiplier(100_000, 100_000) == 1.0
    assert s.drawdown_multiplier(95_000, 100_000) == 0.75
    assert s.drawdown_multiplier(85_000, 100_000) == 0.5
    assert s.drawdown_multiplier(50_000, 100_000) == 0.25


def test_volatility_multiplier_bounds() -> None:
    s = sizer()
    assert s.volatility_multiplier(None) == 1.0
    assert s.volatility_multiplier(20.0) == 1.0
    assert s.volatility_multiplier(80.0) == 0.5
    assert s.volatility_multiplier(5.0) == 1.5


def test_published_stats_carry_over_to_a_new_sizer() -> None:
    old = sizer(method="kelly", sources={})
    old.set_stats({"alpha": 0.55}, {"alpha": 1.5})
    new = sizer(method="kelly", sources={})
    new.set_stats(*old.published)
    # f = 0.55 - 0.45/1.5 = 0.25 (at the cap): 25,000 / 100 = 250.
    assert size(new).qty == Decimal(250)


@pytest.mark.parametrize(("win_rate", "payoff"), [(0.0, 0.0), (0.4, 0.0), (0.5, -1.0)])
def test_published_payoff_of_zero_or_less_means_no_edge(win_rate: float, payoff: float) -> None:
    # "alpha" is configured with an edge (W=0.6, R=2 -> 250 shares); the feedback actor
    # then reports no winning trades: the stale configured figures must not be used.
    s = sizer(method="kelly")
    assert size(s).qty == Decimal(250)
    s.set_stats({"alpha": win_rate}, {"alpha": payoff})
    got = size(s)
    assert not got.ok
    assert got.qty == 0
    assert got.reason == "kelly_no_edge"
    assert "payoff" in got.detail


def test_bad_published_stats_leave_the_configured_ones() -> None:
    s = sizer(method="kelly")
    s.set_stats({"alpha": 1.5, "loser": 0.9}, {"alpha": 2.0, "loser": float("nan")})
    assert size(s).qty == Decimal(250)
    assert size(s, source="loser").reason == "kelly_no_edge"


def test_a_source_regains_its_edge_after_a_winning_trade() -> None:
    s = sizer(method="kelly")
    s.set_stats({"alpha": 0.0}, {"alpha": 0.0})
    assert size(s).reason == "kelly_no_edge"
    s.set_stats({"alpha": 0.6}, {"alpha": 2.0})
    assert size(s).qty == Decimal(250)
