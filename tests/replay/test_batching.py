"""Handing stretches of market data over as one batch while positions are open changes
no decision: the digest with batching equals the digest bar by bar (``batch_limit=1``).

Each configuration makes a different actor the one that ends a stretch: stops and
targets, trailing and volatility stops, the pattern stop, bar-count and time stops,
scale-outs and the end-of-day flatten (the lifecycle monitor's horizon); the daily-loss
kill switch (its loss horizon); and several symbols at once on real daily bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import Settings, settings_from_mapping
from daemon.replay import (
    MarketItem,
    ReplayConfig,
    ReplayResult,
    bar_steps,
    merge,
    parse_signals,
    run_replay,
)
from tests.replay._support import DAILY, MINUTES, daily_bars, have, spy_minutes

BREAKOUT = "breakout:entry=60,exit=30,stop_pct=0.25,target_pct=0.5"


def _settings(extra: dict[str, Any], interval: int = 60) -> Settings:
    raw: dict[str, Any] = {
        "guard": {"sources": ["breakout", "ema-cross"]},
        "sizing": {"method": "fixed_dollar", "fixed_dollar": 5000.0},
        "risk": {
            "require_history": False,
            "bar_interval_s": interval,
            "min_adv": 0.0,
            "max_adv_pct": 100.0,
            "max_correlation": 1.0,
        },
        "lifecycle": {"bar_interval_s": interval},
    }
    for section, values in extra.items():
        raw.setdefault(section, {}).update(values)
    return settings_from_mapping(raw, "batching test")


async def _both(
    groups: list[list[MarketItem]], settings: Settings, signals: str, out: Path
) -> tuple[ReplayResult, ReplayResult]:
    results = []
    for limit in (1, 4096):
        cfg = ReplayConfig(settings=settings, out_dir=out / str(limit), batch_limit=limit)
        results.append(await run_replay(cfg, bar_steps(iter(groups), parse_signals(signals))))
    return results[0], results[1]


EXIT_RULES: dict[str, dict[str, Any]] = {
    "stops_and_targets": {},
    "trailing_volatility_pattern": {
        "lifecycle": {
            "swing": {
                "stop_loss_pct": 0.0,
                "profit_target_pct": 0.0,
                "trailing_stop_pct": 0.15,
                "trailing_atr_multiple": 3.0,
                "volatility_stop_atr": 4.0,
                "pattern_band_pct": 0.05,
            }
        }
    },
    "time_stops_and_scale_out": {
        "lifecycle": {
            "swing": {
                "max_holding_bars": 40,
                "max_holding_s": 1800.0,
                "scale_out": [{"at_target_fraction": 0.5, "qty_fraction": 0.5}],
            }
        }
    },
    "intraday_end_of_day": {"lifecycle": {"eod_flatten": True, "eod_flatten_time": "15:30"}},
    "daily_loss_kill": {
        "safety": {"daily_loss_kill": True, "breaker_max_losses": 0},
        "risk": {"daily_loss_limit_pct": 0.02},
    },
}


@pytest.mark.skipif(not have(MINUTES), reason="shared SPY minute data absent")
@pytest.mark.parametrize("rules", sorted(EXIT_RULES))
async def test_minute_bars_with_positions_open(tmp_path: Path, rules: str) -> None:
    bars = spy_minutes()[:6000]
    signals = BREAKOUT + (",trade_type=intraday" if rules == "intraday_end_of_day" else "")
    groups: list[list[MarketItem]] = [[b] for b in bars]
    one, batched = await _both(groups, _settings(EXIT_RULES[rules]), signals, tmp_path)
    assert one.by_kind.get("TradeClosed", 0) > 10
    if rules == "daily_loss_kill":
        assert one.by_kind.get("KillSwitchEvent", 0) >= 1
    else:
        assert one.by_kind.get("ExitIntent", 0) > 5
    # It batched with positions open, not only over flat stretches.
    assert batched.deliveries < one.deliveries / 4
    assert one.digest == batched.digest
    assert one.decisions_path.read_bytes() == batched.decisions_path.read_bytes()


@pytest.mark.skipif(
    not have(DAILY / "yahoofinance-AAPL-20040819-20180120.csv"),
    reason="shared daily data absent",
)
async def test_daily_bars_of_several_symbols(tmp_path: Path) -> None:
    start = 1_199_145_600 * 10**9  # 2008-01-01
    series = [
        [b for b in daily_bars(f"yahoofinance-{s}-20040819-20180120.csv", s) if b.ts >= start][:800]
        for s in ("AAPL", "GOOG")
    ]
    groups = list(merge(series))
    settings = _settings({"lifecycle": {"swing": {"trailing_stop_pct": 4.0}}}, 86_400)
    one, batched = await _both(groups, settings, "ema-cross:fast=5,slow=15", tmp_path)
    assert one.by_kind.get("TradeClosed", 0) > 10
    assert one.digest == batched.digest
