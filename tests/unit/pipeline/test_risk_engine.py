"""Risk gate checks on real daily bars: each check failing on its own, with its reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from actors.risk_gate import CHECK_NAMES, MarketHistory, Portfolio, RiskEngine
from config import Settings
from daemon.clock import NS_PER_S, SimClock
from daemon.messages import (
    ZERO,
    Fill,
    OrderStatus,
    OrderUpdate,
    PositionSnapshot,
    PositionUpdate,
    Regime,
    RiskRequest,
    Side,
    TradeType,
)
from daemon.safety import DayFigures, SafetySnapshot
from tests.pipeline_support import data_path, have_data, read_bars, with_settings

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

AAPL_CLOSE = read_bars("AAPL", 1)[0][4] if have_data() else 0.0


def engine(risk: dict[str, Any] | None = None, equity: float = 100_000.0) -> RiskEngine:
    settings = with_settings(Settings(), risk=risk or {})
    hist = MarketHistory(settings.risk.var_window + 1)
    for sym in ("AAPL", "GOOG", "SPY"):
        hist.load_csv(sym, data_path(sym))
    hist.load_csv("AAPL2", data_path("AAPL"))  # a perfect twin of AAPL
    pf = Portfolio(equity, 3600 * NS_PER_S)
    return RiskEngine(settings, hist, pf)


def hold(e: RiskEngine, symbol: str, qty: float) -> None:
    price = e.history.series[symbol].last_close
    e.portfolio.on_position(
        PositionUpdate(
            position=PositionSnapshot(
                symbol=symbol, qty=Decimal(str(qty)), avg_price=Decimal(str(price))
            ),
            ts=0,
        )
    )


def request(clock: SimClock, cid: str = "c1", **kw: Any) -> RiskRequest:
    base: dict[str, Any] = {
        "correlation_id": cid,
        "symbol": "AAPL",
        "side": Side.BUY,
        "qty": Decimal(10),
        "price": AAPL_CLOSE,
        "trade_type": TradeType.SWING,
        "regime": Regime.SIDEWAYS,
        "ts": clock.now_ns(),
    }
    base.update(kw)
    return RiskRequest(**base)


def failed(e: RiskEngine, req: RiskRequest, safety: SafetySnapshot | None = None) -> list[str]:
    d = e.evaluate(req, safety or SafetySnapshot(), req.ts)
    assert [c.name for c in d.checks] == list(CHECK_NAMES)
    assert d.approved is (not d.failed)
    assert d.reason == ",".join(c.name for c in d.failed)
    return [c.name for c in d.failed]


def test_baseline_passes_every_check(sim_clock: SimClock) -> None:
    assert failed(engine(), request(sim_clock)) == []


def test_pdt(sim_clock: SimClock) -> None:
    # 2023-11-14 (Tue) in New York: the last five business days are 8, 9, 10, 13, 14 Nov.
    e = engine(equity=20_000.0)
    snap = SafetySnapshot(day_trades=("2023-11-07", "2023-11-09", "2023-11-10", "2023-11-13"))
    intraday = request(sim_clock, trade_type=TradeType.INTRADAY)
    assert failed(e, intraday, snap) == ["pdt"]
    # Two in the window: one more day trade is allowed; swing trades are never day trades.
    snap2 = SafetySnapshot(day_trades=("2023-11-07", "2023-11-09", "2023-11-10"))
    assert failed(e, request(sim_clock, "c2", trade_type=TradeType.INTRADAY), snap2) == []
    # (a fresh engine: the approval above reserved AAPL, which counts against the limits)
    assert failed(engine(equity=20_000.0), request(sim_clock, "c3"), snap) == []


def test_buying_power(sim_clock: SimClock) -> None:
    e = engine()
    e.portfolio.buying_power = 1_000.0
    assert failed(e, request(sim_clock)) == ["buying_power"]


def test_position_per_symbol(sim_clock: SimClock) -> None:
    assert failed(engine(), request(sim_clock, qty=Decimal(100))) == ["position_symbol"]


def test_position_per_sector(sim_clock: SimClock) -> None:
    e = engine({"sectors": {"AAPL": "tech", "GOOG": "tech"}, "max_sector_pct": 10.0})
    goog = e.history.series["GOOG"].last_close
    hold(e, "GOOG", round(9_000 / goog))
    assert failed(e, request(sim_clock)) == ["position_sector"]


def test_correlation(sim_clock: SimClock) -> None:
    e = engine()
    hold(e, "AAPL2", 10)
    d = e.evaluate(request(sim_clock), SafetySnapshot(), sim_clock.now_ns())
    corr = next(c for c in d.checks if c.name == "correlation")
    assert corr.value == pytest.approx(1.0)
    assert [c.name for c in d.failed] == ["correlation"]


@pytest.mark.parametrize(
    ("risk", "name"),
    [
        ({"min_adv": 1e12}, "liquidity_adv"),
        ({"max_adv_pct": 1e-5}, "liquidity_participation"),
        ({"min_price": 10_000.0}, "liquidity_min_price"),
    ],
)
def test_liquidity(sim_clock: SimClock, risk: dict[str, Any], name: str) -> None:
    assert failed(engine(risk), request(sim_clock)) == [name]


def test_var_value_and_limit(sim_clock: SimClock) -> None:
    e = engine({"var_limit_pct": 0.01})
    d = e.evaluate(request(sim_clock), SafetySnapshot(), sim_clock.now_ns())
    assert [c.name for c in d.failed] == ["var"]
    closes = np.array([b[4] for b in read_bars("AAPL", 251)])
    pnl = (closes[1:] / closes[:-1] - 1.0) * (10 * AAPL_CLOSE)
    expected = -np.quantile(pnl, 0.05) / 100_000.0 * 100.0
    var = next(c for c in d.checks if c.name == "var")
    assert var.value == pytest.approx(expected, rel=1e-6)


def test_regime_matrix(sim_clock: SimClock) -> None:
    e = engine()
    assert failed(e, request(sim_clock, regime=Regime.CRISIS)) == ["regime"]
    assert failed(e, request(sim_clock, "c2", side=Side.SELL, regime=Regime.CRISIS)) == []


def test_max_open_positions(sim_clock: SimClock) -> None:
    e = engine({"max_open_positions": 1})
    hold(e, "GOOG", 1)
    assert failed(e, request(sim_clock)) == ["max_open_positions"]
    # Adding to a symbol already held is not a new position.
    e2 = engine({"max_open_positions": 1})
    hold(e2, "AAPL", 1)
    assert failed(e2, request(sim_clock)) == []


def test_daily_loss(sim_clock: SimClock) -> None:
    snap = SafetySnapshot(day=DayFigures(start_equity="104000"))
    assert failed(engine(), request(sim_clock), snap) == ["daily_loss"]
    ok = SafetySnapshot(day=DayFigures(start_equity="102000"))
    assert failed(engine(), request(sim_clock), ok) == []


def test_circuit_breaker(sim_clock: SimClock) -> None:
    snap = SafetySnapshot(consecutive_losses=4, breaker_until_ns=sim_clock.now_ns() + 60 * NS_PER_S)
    assert failed(engine(), request(sim_clock), snap) == ["circuit_breaker"]


def test_order_rate_denies_beyond_the_limit_and_recovers(sim_clock: SimClock) -> None:
    e = engine({"max_orders_per_window": 2, "order_rate_window_s": 60.0})
    assert failed(e, request(sim_clock, "c1")) == []
    assert failed(e, request(sim_clock, "c2")) == []
    assert failed(e, request(sim_clock, "c3")) == ["order_rate"]
    sim_clock.advance(61)
    assert failed(e, request(sim_clock, "c4")) == []


def test_no_history_fails_closed(sim_clock: SimClock) -> None:
    e = engine()
    got = failed(e, request(sim_clock, symbol="MSFT", price=50.0))
    assert got == ["liquidity_adv", "liquidity_participation", "var"]
    open_ = engine({"require_history": False})
    assert failed(open_, request(sim_clock, symbol="MSFT", price=50.0)) == []


def test_reservations_count_until_the_order_resolves(sim_clock: SimClock) -> None:
    e = engine()
    qty = Decimal(30)  # ~5% of equity each
    assert failed(e, request(sim_clock, "c1", qty=qty)) == []
    assert failed(e, request(sim_clock, "c2", qty=qty)) == ["position_symbol"]
    # A fill moves part of the reservation into the position; the rest stays reserved.
    e.portfolio.on_fill(
        Fill(
            fill_id="f1",
            client_order_id="o1",
            correlation_id="c1",
            symbol="AAPL",
            side=Side.BUY,
            qty=Decimal(10),
            price=Decimal("100"),
            ts=0,
        )
    )
    assert e.portfolio.reserved_qty["AAPL"] == pytest.approx(20.0)
    # The order is cancelled: the rest is released.
    e.portfolio.on_order(
        OrderUpdate(
            client_order_id="o1",
            correlation_id="c1",
            symbol="AAPL",
            side=Side.BUY,
            status=OrderStatus.CANCELLED,
            qty=qty,
            filled_qty=Decimal(10),
            ts=0,
        )
    )
    assert "AAPL" not in e.portfolio.reserved_qty
    assert e.portfolio.reserved_notional == pytest.approx(0.0)
    assert failed(e, request(sim_clock, "c3", qty=qty)) == []


def test_reservations_lapse_after_their_ttl(sim_clock: SimClock) -> None:
    e = engine({"reservation_ttl_s": 10.0})
    assert failed(e, request(sim_clock, "c1", qty=Decimal(30))) == []
    assert failed(e, request(sim_clock, "c2", qty=Decimal(30))) == ["position_symbol"]
    sim_clock.advance(11)
    assert failed(e, request(sim_clock, "c3", qty=Decimal(30))) == []


def test_bad_csv_is_reported_with_file_and_line(tmp_path: Any) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2020-01-02,1,1,1,oops,1,1\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2"):
        MarketHistory(10).load_csv("X", p)


def test_history_is_bounded_and_ordered() -> None:
    h = MarketHistory(5)
    for day in range(100):
        h.add_bar("X", day, 100.0 + day, 1.0)
    h.add_bar("X", 50, 1.0, 1.0)  # older than the last bar: ignored
    h.add_bar("X", 99, 500.0, 2.0)  # same period: replaces the last bar
    s = h.series["X"]
    keys, rets = s.returns()
    assert list(keys) == [96, 97, 98, 99]
    assert rets[-1] == pytest.approx(500.0 / 198.0 - 1.0)
    assert s.adv(5) == pytest.approx((4 * 1.0 + 2.0) / 5)
    assert ZERO == 0
