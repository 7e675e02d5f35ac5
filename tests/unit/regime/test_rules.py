"""The rule table and its margins, on hand-made features."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from actors.regime import Features, RegimeRules
from config.sections.regime import RegimeSettings
from daemon.messages import Regime

CFG = RegimeSettings()


def feat(**kw: Any) -> Features:
    """A calm, rising market unless overridden."""
    base: dict[str, Any] = {
        "close": 102.0,
        "ema": 100.0,
        "ema_slope_pct": 2.0,
        "adx": 25.0,
        "plus_di": 30.0,
        "minus_di": 15.0,
        "atr_pct": 1.0,
        "realized_vol": 12.0,
        "drawdown_pct": 1.0,
    }
    base.update(kw)
    return Features(**base)


def classify(f: Features, vix: float | None = None, current: Regime | None = None) -> Regime:
    return RegimeRules(CFG).classify(f, vix, current).regime


@pytest.mark.parametrize(
    ("features", "vix", "expected"),
    [
        ({}, None, Regime.BULL),
        ({"realized_vol": 40.0}, None, Regime.CRISIS),
        ({}, 35.0, Regime.CRISIS),
        ({"drawdown_pct": 25.0, "realized_vol": 25.0, "ema_slope_pct": 3.0}, None, Regime.CRISIS),
        ({"drawdown_pct": 25.0, "realized_vol": 24.9, "ema_slope_pct": -0.1}, None, Regime.BEAR),
        ({"ema_slope_pct": -1.0, "close": 98.0}, None, Regime.BEAR),
        # Falling EMA but the close is back above it: not BEAR, not BULL.
        ({"ema_slope_pct": -1.5, "close": 101.0}, None, Regime.SIDEWAYS),
        # Falling EMA without trend strength: ADX below trend_min_adx.
        ({"ema_slope_pct": -1.5, "close": 98.0, "adx": 14.9}, None, Regime.SIDEWAYS),
        ({"ema_slope_pct": 0.99}, None, Regime.SIDEWAYS),
        ({"close": 99.0}, None, Regime.SIDEWAYS),
        ({"drawdown_pct": 10.0}, None, Regime.SIDEWAYS),
        ({"realized_vol": 25.0}, None, Regime.SIDEWAYS),
        ({}, 25.0, Regime.SIDEWAYS),
        ({}, 24.9, Regime.BULL),
        ({"adx": 14.0}, None, Regime.SIDEWAYS),
    ],
)
def test_rule_table(features: dict[str, Any], vix: float | None, expected: Regime) -> None:
    assert classify(feat(**features), vix) is expected


def test_margins_keep_the_regime_in_force() -> None:
    # Volatility 35: not enough to enter CRISIS (40), enough to stay (0.8 · 40 = 32).
    f = feat(realized_vol=35.0, ema_slope_pct=-2.0, close=95.0)
    assert classify(f, current=Regime.BEAR) is Regime.BEAR
    assert classify(f, current=Regime.CRISIS) is Regime.CRISIS
    calmer = feat(realized_vol=31.9, ema_slope_pct=-2.0, close=95.0)
    assert classify(calmer, current=Regime.CRISIS) is Regime.BEAR

    # Slope 0.85 %: too flat to enter BULL (1.0), enough to stay (0.8); a close 0.5 %
    # under the EMA is inside the 1 % band for a BULL in force.
    f = feat(ema_slope_pct=0.85, close=99.5)
    assert classify(f, current=Regime.SIDEWAYS) is Regime.SIDEWAYS
    assert classify(f, current=Regime.BULL) is Regime.BULL
    assert classify(feat(ema_slope_pct=0.79), current=Regime.BULL) is Regime.SIDEWAYS
    assert classify(feat(close=98.9), current=Regime.BULL) is Regime.SIDEWAYS

    # A BEAR in force survives a slightly rising EMA with a deep drawdown.
    f = feat(drawdown_pct=17.0, ema_slope_pct=0.1, close=101.0, realized_vol=15.0)
    assert classify(f, current=Regime.SIDEWAYS) is Regime.SIDEWAYS
    assert classify(f, current=Regime.BEAR) is Regime.BEAR


def test_a_crisis_overrides_any_regime_in_force() -> None:
    for current in (None, *Regime):
        assert classify(feat(realized_vol=55.0), current=current) is Regime.CRISIS


def test_reason_names_the_rule_and_its_numbers() -> None:
    v = RegimeRules(CFG).classify(feat(realized_vol=52.25), None, None)
    assert v.regime is Regime.CRISIS
    assert v.reason == "realized_vol 52.2 >= 40.0"
    v = RegimeRules(CFG).classify(feat(), 36.0, None)
    assert v.reason == "vix 36.0 >= 35.0"


def test_thresholds_come_from_configuration() -> None:
    cfg = msgspec.structs.replace(CFG, crisis_vol=60.0, trend_slope_pct=3.0)
    rules = RegimeRules(cfg)
    assert rules.classify(feat(realized_vol=50.0), None, None).regime is Regime.SIDEWAYS
    assert rules.classify(feat(ema_slope_pct=3.0), None, None).regime is Regime.BULL
