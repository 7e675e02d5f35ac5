"""Regime classification on real SPY daily bars, 2008–2017 (no volatility index).

The expectations are about the market everybody remembers: the 2008 crash and the
2009 trough are BEAR/CRISIS, 2013 was a steady bull market. The features themselves
are checked against whole-series references computed independently.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime

import numpy as np
import pytest

from actors.kernels._indicators import adx_reference, ema_reference
from actors.regime import RegimeDetector, read_bars
from config.sections.regime import RegimeSettings
from daemon.clock import NS_PER_S
from daemon.messages import Regime
from tests.pipeline_support import data_path

SPY = data_path("SPY")
pytestmark = pytest.mark.skipif(not SPY.is_file(), reason=f"real data missing: {SPY}")


Rows = list[tuple[date, Regime | None, Regime | None]]
"""(day, regime in force, raw classification) per bar."""


def _day(ts: int) -> date:
    # History bars are stamped at the end of their day (00:00 UTC of the next one).
    return datetime.fromtimestamp(ts / NS_PER_S - 1, UTC).date()


def _run(cfg: RegimeSettings) -> tuple[Rows, int]:
    """(day, regime in force, raw classification) per bar, and the number of changes."""
    det = RegimeDetector(cfg)
    out: Rows = []
    changes = 0
    for b in read_bars(SPY):
        if det.on_bar(b.ts, b.high, b.low, b.close) is not None:
            changes += 1
        raw = det.last_verdict.regime if det.features is not None and det.last_verdict else None
        out.append((_day(b.ts), det.current, raw))
    return out, changes


@pytest.fixture(scope="module")
def history() -> Rows:
    return _run(RegimeSettings())[0]


def _between(rows: Rows, first: str, last: str) -> list[Regime | None]:
    lo, hi = date.fromisoformat(first), date.fromisoformat(last)
    return [r for d, r, _ in rows if lo <= d <= hi]


def _longest_run(regimes: list[Regime | None], which: Regime) -> int:
    best = cur = 0
    for r in regimes:
        cur = cur + 1 if r is which else 0
        best = max(best, cur)
    return best


def test_warm_up_then_classified_from_spring_2008(history: Rows) -> None:
    det = RegimeDetector(RegimeSettings())
    assert det.warm_up_bars == 70  # ema 50 + slope 20
    first = next(d for d, r, _ in history if r is not None)
    assert date(2008, 4, 1) <= first <= date(2008, 5, 1)


def test_autumn_2008_crash_is_crisis(history: Rows) -> None:
    crash = _between(history, "2008-10-10", "2008-12-31")
    assert crash
    assert all(r is Regime.CRISIS for r in crash)


def test_2008_2009_shows_long_bear_and_crisis_stretches(history: Rows) -> None:
    span = _between(history, "2008-05-01", "2009-06-30")
    counts = Counter(span)
    assert counts[Regime.BEAR] + counts[Regime.CRISIS] > 0.6 * len(span)
    assert _longest_run(span, Regime.BEAR) >= 20
    assert _longest_run(span, Regime.CRISIS) >= 100
    # The March 2009 bottom is still a crisis; no bull market is declared before the rally.
    assert _between(history, "2009-03-09", "2009-03-09") == [Regime.CRISIS]
    assert Regime.BULL not in _between(history, "2008-06-15", "2009-06-30")


def test_2013_is_a_bull_market(history: Rows) -> None:
    year = _between(history, "2013-01-01", "2013-12-31")
    counts = Counter(year)
    assert counts[Regime.BULL] > 0.65 * len(year)
    assert counts[Regime.BEAR] == 0
    assert counts[Regime.CRISIS] == 0


def test_august_2011_downgrade_selloff_is_crisis(history: Rows) -> None:
    assert Regime.CRISIS in _between(history, "2011-08-08", "2011-09-30")


def test_hysteresis_cuts_flapping_on_real_data() -> None:
    rows, changes = _run(RegimeSettings())
    _, raw_changes = _run(
        RegimeSettings(confirm_bars=1, crisis_confirm_bars=1, exit_margin=0.0, ema_band_pct=0.0)
    )
    assert changes < 0.6 * raw_changes
    # Every change was the raw classification for the bars needed just before it.
    cfg = RegimeSettings()
    for i in range(1, len(rows)):
        new, old = rows[i][1], rows[i - 1][1]
        if new is not old and old is not None:
            need = cfg.crisis_confirm_bars if new is Regime.CRISIS else cfg.confirm_bars
            assert all(raw is new for _, _, raw in rows[i - need + 1 : i + 1]), rows[i][0]


def _reference_features(cfg: RegimeSettings) -> dict[str, list[float]]:
    bars = read_bars(SPY)
    high = [b.high for b in bars]
    low = [b.low for b in bars]
    close = np.array([b.close for b in bars])
    ema = ema_reference(list(close), cfg.ema_period)
    slope = [math.nan] * len(bars)
    for t in range(cfg.slope_bars, len(bars)):
        slope[t] = 100.0 * (ema[t] / ema[t - cfg.slope_bars] - 1.0)
    logret = np.diff(np.log(close))
    vol = [math.nan] * len(bars)
    for t in range(cfg.vol_window, len(bars)):
        window = logret[t - cfg.vol_window : t]
        vol[t] = 100.0 * float(np.std(window, ddof=1)) * math.sqrt(cfg.periods_per_year)
    dd = [
        100.0 * (1.0 - close[t] / close[max(0, t - cfg.drawdown_window + 1) : t + 1].max())
        for t in range(len(bars))
    ]
    return {
        "ema": ema,
        "ema_slope_pct": slope,
        "adx": adx_reference(high, low, list(close), cfg.adx_period),
        "realized_vol": vol,
        "drawdown_pct": dd,
    }


def test_features_match_whole_series_references() -> None:
    cfg = RegimeSettings()
    ref = _reference_features(cfg)
    det = RegimeDetector(cfg)
    checked = 0
    for t, b in enumerate(read_bars(SPY)):
        det.on_bar(b.ts, b.high, b.low, b.close)
        f = det.features
        if f is None:
            continue
        for name in ref:
            assert getattr(f, name) == pytest.approx(ref[name][t], rel=1e-9, abs=1e-9), (t, name)
        checked += 1
    assert checked > 2400
