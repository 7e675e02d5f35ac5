"""Per-event cost of the optional actors' cores: a regime bar and a feedback trade.

``make bench BENCH=regime``.

* ``regime_bar``: one reference bar through :class:`RegimeDetector` (indicators via the
  numba bank, realised volatility, drawdown, rules, hysteresis), over the real SPY daily
  file replayed several times. Baseline: the bank's compiled EMA/ATR/ADX update alone for
  the same bar — the part that cannot be avoided.
* ``feedback_trade``: one TradeClosed turned into a return and credited to its source
  (window statistics recomputed), with a weight recompute every 10 trades, window 50.
  Baseline: building the TradeClosed message itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from actors.feedback import FeedbackBook, outcome
from actors.kernels import IndicatorBank, batch_buffers
from actors.regime import RegimeDetector, read_bars
from config.sections.feedback import FeedbackSettings
from config.sections.regime import RegimeSettings
from daemon.messages import Side, TradeClosed
from tests.bench._common import Result, best_of, latency_result, now

SPY = Path("/work/shared/data/daily/yahoofinance-SPY-20080101-20180101.csv")
REPEAT = 8


def _regime() -> Iterator[Result]:
    bars = read_bars(SPY)
    day = 86_400 * 10**9
    span = bars[-1].ts - bars[0].ts + day
    stream = [(b.ts + k * span, b.high, b.low, b.close) for k in range(REPEAT) for b in bars]
    n = len(stream)

    def detector() -> float:
        det = RegimeDetector(RegimeSettings())
        t0 = now()
        for ts, h, lo, c in stream:
            det.on_bar(ts, h, lo, c)
        return now() - t0

    def bank_only() -> float:
        cfg = RegimeSettings()
        bank = IndicatorBank(
            ema_period=cfg.ema_period, atr_period=cfg.atr_period, adx_period=cfg.adx_period
        )
        sym, hi, lo, cl = batch_buffers(1)
        sym[0] = bank.column("SPY")
        t0 = now()
        for _, h, low, c in stream:
            hi[0] = h
            lo[0] = low
            cl[0] = c
            bank.update(sym, hi, lo, cl, 1)
        return now() - t0

    detector()  # compile / load the kernels outside the timing
    ours = best_of(5, detector) / n * 1e6
    base = best_of(5, bank_only) / n * 1e6
    yield latency_result(
        "regime",
        "regime_bar",
        round(ours, 3),
        "us/bar",
        "numba EMA+ATR+ADX update",
        round(base, 3),
        bars=n,
    )


def _feedback() -> Iterator[Result]:
    n = 20_000
    sources = ("alpha", "beta", "gamma", "delta")

    def make(i: int) -> TradeClosed:
        pnl = Decimal((i * 7919) % 200 - 90)
        return TradeClosed(
            trade_id=f"t{i}",
            correlation_id=f"c{i}",
            symbol="SPY",
            side=Side.BUY,
            qty=Decimal(10),
            entry_price=Decimal(100),
            exit_price=Decimal(100) + pnl / 10,
            entry_ns=i,
            exit_ns=i + 1,
            pnl=pnl,
            source=sources[i % len(sources)],
            ts=i + 1,
        )

    trades = [make(i) for i in range(n)]

    def credit() -> float:
        book = FeedbackBook(FeedbackSettings())
        t0 = now()
        for t in trades:
            book.credit(outcome(t))
            if book.recompute_due:
                book.recompute()
        return now() - t0

    def build() -> float:
        t0 = now()
        for i in range(n):
            make(i)
        return now() - t0

    ours = best_of(5, credit) / n * 1e6
    base = best_of(5, build) / n * 1e6
    yield latency_result(
        "regime",
        "feedback_trade",
        round(ours, 3),
        "us/trade",
        "building the TradeClosed",
        round(base, 3),
        trades=n,
        window=50,
        recompute_every=10,
    )


def run() -> Iterator[Result]:
    """Yield the regime-bar and feedback-trade figures."""
    if not SPY.is_file():
        raise SystemExit(f"real data missing: {SPY}")
    yield from _regime()
    yield from _feedback()
