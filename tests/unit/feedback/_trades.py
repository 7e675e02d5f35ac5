"""The crafted trade sequence of the feedback tests and its hand-computed outcome.

Every trade has an entry notional of 100 × 10 = 1000, so a P&L of ``x`` dollars is a
return of ``x / 1000``. Settings: window 4, min 3 trades, recompute every 3 trades,
floor 0.2, cap 2.0, decay 0.5 (see ``SETTINGS``). Trades arrive A, B, C, A, B, C, …

Round 3 (trades 7–9; every source now has 3 trades, so they qualify):

* A returns +.02 +.01 +.03: mean .02, deviations 0 −.01 +.01, variance 2e-4/2 = 1e-4,
  sd .01 → Sharpe 2; win rate 1; no losses → payoff = cap 10.
* B returns +.02 −.01 −.04: mean −.01, deviations .03 0 −.03, variance 18e-4/2 = 9e-4,
  sd .03 → Sharpe −1/3; win rate 1/3; payoff .02 / ((.01+.04)/2) = 0.8.
* C returns +.01 −.01 +.03: mean .01, deviations 0 −.02 .02, variance 8e-4/2 = 4e-4,
  sd .02 → Sharpe 1/2; win rate 2/3; payoff ((.01+.03)/2) / .01 = 2.
* Confidence: A 1, B (Sharpe < 0) 1 · 0.5 = 0.5, C 1. Scores: A 2, B 0, C 0.5;
  mean 2.5/3. Weights: A 2/(2.5/3) = 2.4 → cap 2.0; B 0 → floor 0.2; C 0.5/(2.5/3) = 0.6.

Round 4 (trades 10–12: A −.02, B −.01, C +.01; windows of 4):

* A +.02 +.01 +.03 −.02: mean .01, squared deviations 1e-4 0 4e-4 9e-4 = 14e-4,
  variance 14e-4/3 → Sharpe .01/√(14e-4/3) = √(3/14); win 3/4; payoff .02/.02 = 1.
* B +.02 −.01 −.04 −.01: mean −.01, squared deviations 9e-4 0 9e-4 0 = 18e-4,
  variance 6e-4 → Sharpe −.01/√6e-4 = −√(1/6); win 1/4; payoff .02/.02 = 1.
* C +.01 −.01 +.03 +.01: mean .01, squared deviations 0 4e-4 4e-4 0 = 8e-4 → Sharpe
  .01/√(8e-4/3) = √(3/8); win 3/4; payoff ((.01+.03+.01)/3)/.01 = 5/3.
* Confidence: B underperforms again: 0.5 · 0.5 = 0.25. Scores: A √(3/14), B 0,
  C √(3/8); weights A = 3·√(3/14)/(√(3/14)+√(3/8)), C = 3·√(3/8)/(…), B floor 0.2.

Round 5 (trades 13–15: A +.02, B +.08, C −.02):

* A +.01 +.03 −.02 +.02: mean .01, squared deviations 0 4e-4 9e-4 1e-4 = 14e-4 →
  Sharpe √(3/14) again.
* B −.01 −.04 −.01 +.08: mean .005, squared deviations 2.25e-4 20.25e-4 2.25e-4
  56.25e-4 = 81e-4, variance 27e-4 → Sharpe .005/√27e-4 = √(1/108) > 0: B performs,
  confidence recovers only to 0.25 / 0.5 = 0.5, so its score is √(1/108) · 0.5.
* C −.01 +.03 +.01 −.02: mean .0025, squared deviations 1.5625e-4 7.5625e-4 .5625e-4
  5.0625e-4 = 14.75e-4 → Sharpe .0025/√(14.75e-4/3) = √(3/236).
* Mean score m = (√(3/14) + √(1/108)/2 + √(3/236))/3; A √(3/14)/m ≈ 2.23 → cap 2.0;
  B (√(1/108)/2)/m; C √(3/236)/m.
"""

from __future__ import annotations

import math
from decimal import Decimal

from config.sections.feedback import FeedbackSettings
from daemon.messages import Side, TradeClosed

SETTINGS = FeedbackSettings(
    window_trades=4,
    min_trades=3,
    recompute_every=3,
    weight_floor=0.2,
    weight_cap=2.0,
    confidence_decay=0.5,
    confidence_min=0.1,
    sharpe_cap=3.0,
    payoff_cap=10.0,
)

PNL: list[tuple[str, int]] = [
    ("A", 20), ("B", 20), ("C", 10),
    ("A", 10), ("B", -10), ("C", -10),
    ("A", 30), ("B", -40), ("C", 30),
    ("A", -20), ("B", -10), ("C", 10),
    ("A", 20), ("B", 80), ("C", -20),
]  # fmt: skip
"""(source, P&L in dollars) of trades 1–15, in arrival order."""

T0 = 1_700_000_000 * 10**9


def trade(i: int, source: str | None = None, pnl: int | None = None) -> TradeClosed:
    """Trade number ``i`` (1-based) of the sequence, or a custom one."""
    src, dollars = PNL[i - 1] if source is None else (source, pnl or 0)
    return TradeClosed(
        trade_id=f"t{i}",
        correlation_id=f"c{i}",
        symbol="SPY",
        side=Side.BUY,
        qty=Decimal(10),
        entry_price=Decimal(100),
        exit_price=Decimal(100) + Decimal(dollars) / 10,
        entry_ns=T0 + i * 10**9,
        exit_ns=T0 + i * 10**9 + 1,
        pnl=Decimal(dollars),
        source=src,
        ts=T0 + i * 10**9 + 1,
    )


_A4 = math.sqrt(3 / 14)
_C4 = math.sqrt(3 / 8)
_M5 = (math.sqrt(3 / 14) + math.sqrt(1 / 108) / 2 + math.sqrt(3 / 236)) / 3

EXPECTED: dict[int, dict[str, dict[str, float]]] = {
    9: {
        "weights": {"A": 2.0, "B": 0.2, "C": 0.6},
        "sharpe": {"A": 2.0, "B": -1 / 3, "C": 0.5},
        "win_rate": {"A": 1.0, "B": 1 / 3, "C": 2 / 3},
        "payoff": {"A": 10.0, "B": 0.8, "C": 2.0},
        "confidence": {"A": 1.0, "B": 0.5, "C": 1.0},
    },
    12: {
        "weights": {"A": 3 * _A4 / (_A4 + _C4), "B": 0.2, "C": 3 * _C4 / (_A4 + _C4)},
        "sharpe": {"A": _A4, "B": -math.sqrt(1 / 6), "C": _C4},
        "win_rate": {"A": 0.75, "B": 0.25, "C": 0.75},
        "payoff": {"A": 1.0, "B": 1.0, "C": 5 / 3},
        "confidence": {"A": 1.0, "B": 0.25, "C": 1.0},
    },
    15: {
        "weights": {
            "A": 2.0,
            "B": math.sqrt(1 / 108) / 2 / _M5,
            "C": math.sqrt(3 / 236) / _M5,
        },
        "sharpe": {"A": _A4, "B": math.sqrt(1 / 108), "C": math.sqrt(3 / 236)},
        "win_rate": {"A": 0.75, "B": 0.25, "C": 0.5},
        "payoff": {"A": 1.0, "B": 0.08 / 0.02, "C": 0.02 / 0.015},
        "confidence": {"A": 1.0, "B": 0.5, "C": 1.0},
    },
}
"""Hand-computed statistics after the recompute at trade 9, 12 and 15 (see above)."""
