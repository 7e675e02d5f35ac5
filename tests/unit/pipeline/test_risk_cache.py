"""The risk engine keeps derived state between requests; it must never go stale.

A long-lived engine and a fresh one (no caches) judge the same request on the same
portfolio and history, after random changes to positions, reservations, equity,
history, safety state, time and limits: their decisions must be identical, value,
limit and detail included. The open-symbol set the portfolio keeps incrementally is
checked against its definition after every change.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from actors.risk_gate import MarketHistory, Portfolio, RiskEngine
from config import Settings
from daemon.clock import NS_PER_S
from daemon.messages import (
    AccountSnapshot,
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
from tests.pipeline_support import data_path, have_data, with_settings

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

SYMBOLS = ("AAPL", "GOOG", "SPY", "AAPL2", "NVDA", "SHORT", "NOHIST")
T0 = 1_700_000_000 * NS_PER_S


def _limits(draw: st.DrawFn) -> Settings:
    risk: dict[str, Any] = {
        "max_position_pct": draw(st.sampled_from([0.5, 10.0, 100.0])),
        "max_sector_pct": draw(st.sampled_from([1.0, 100.0])),
        "sectors": draw(
            st.sampled_from(
                [{}, {"AAPL": "tech", "GOOG": "tech", "AAPL2": "tech", "NOHIST": "tech"}]
            )
        ),
        "max_correlation": draw(st.sampled_from([0.5, 1.0])),
        "min_adv": draw(st.sampled_from([1.0, 1e8])),
        "max_adv_pct": draw(st.sampled_from([1e-4, 100.0])),
        "var_limit_pct": draw(st.sampled_from([0.01, 50.0])),
        "var_confidence": draw(st.sampled_from([0.6, 0.95, 0.99])),
        "require_history": draw(st.booleans()),
        "min_history": draw(st.sampled_from([2, 20, 100])),
        "correlation_window": draw(st.sampled_from([3, 60])),
        "max_open_positions": draw(st.sampled_from([1, 10])),
        "pdt_max_day_trades": draw(st.sampled_from([0, 3])),
        "max_orders_per_window": draw(st.sampled_from([2, 1000])),
        "buying_power_buffer_pct": draw(st.sampled_from([0.0, 10.0])),
        "reservation_ttl_s": draw(st.sampled_from([1.0, 3600.0])),
        "regimes": draw(
            st.sampled_from(
                [
                    {},
                    {
                        "bull": {"allow_long": False, "limit_multiplier": 0.5},
                        "sideways": {"allow_short": False},
                    },
                ]
            )
        ),
    }
    return with_settings(Settings(), risk=risk)


LIMITS = st.composite(_limits)()


def _engine(cfg: Settings) -> RiskEngine:
    hist = MarketHistory(cfg.risk.var_window + 1)
    for sym in ("AAPL", "GOOG", "SPY", "NVDA"):
        hist.load_csv(sym, data_path(sym))
    hist.load_csv("AAPL2", data_path("AAPL"))  # a perfect twin of AAPL
    for i in range(10):
        hist.add_bar("SHORT", 17_000 + i, 10.0 + i, 1e6)
    return RiskEngine(cfg, hist, Portfolio(100_000.0, 3600 * NS_PER_S))


def _fresh_decision(
    e: RiskEngine, cfg: Settings, req: RiskRequest, snap: SafetySnapshot, now: int
) -> Any:
    """What an engine without any cache decides, leaving the portfolio as it found it."""
    fresh = RiskEngine(cfg, e.history, e.portfolio)
    fresh._approvals = deque(e._approvals)  # the same order-rate history
    d = fresh.evaluate(req, snap, now)
    if d.approved:
        e.portfolio.release(req.correlation_id)
    return d


def _open_by_definition(pf: Portfolio) -> set[str]:
    return set(pf.holdings) | {s for s, q in pf.reserved_qty.items() if q != 0.0}


@settings(
    derandomize=True,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_cached_decisions_equal_fresh_ones(data: st.DataObject) -> None:
    cfg = data.draw(LIMITS)
    e = _engine(cfg)
    pf = e.portfolio
    now = T0
    snap = SafetySnapshot()
    approved: list[str] = []
    day = 17_600  # a period after every real history's last bar
    for step in range(data.draw(st.integers(20, 120))):
        op = data.draw(
            st.sampled_from(
                ["req"] * 5 + ["pos", "fill", "order", "acct", "time", "snap", "bar", "reload"]
            )
        )
        if op == "req":
            sym = data.draw(st.sampled_from(SYMBOLS))
            s = e.history.series.get(sym)
            price = (s.last_close if s is not None and s.n else 50.0) * data.draw(
                st.sampled_from([1.0, 1.001, 0.01])
            )
            req = RiskRequest(
                correlation_id=f"c{step}",
                symbol=sym,
                side=data.draw(st.sampled_from(list(Side))),
                qty=Decimal(data.draw(st.sampled_from([0, 1, 3, 40, 250]))),
                price=price,
                trade_type=data.draw(st.sampled_from(list(TradeType))),
                regime=data.draw(st.sampled_from(list(Regime))),
                ts=now,
            )
            want = _fresh_decision(e, cfg, req, snap, now)
            got = e.evaluate(req, snap, now)
            assert got == want, step
            if got.approved:
                approved.append(req.correlation_id)
        elif op == "pos":
            sym = data.draw(st.sampled_from(SYMBOLS))
            pf.on_position(
                PositionUpdate(
                    position=PositionSnapshot(
                        symbol=sym,
                        qty=Decimal(data.draw(st.sampled_from([0, 5, -5, 20]))),
                        avg_price=Decimal("10.5"),
                    ),
                    ts=now,
                )
            )
        elif op in ("fill", "order") and approved:
            cid = data.draw(st.sampled_from(approved))
            r = pf.reservations.get(cid)
            sym = r.symbol if r is not None else "AAPL"
            if op == "fill":
                pf.on_fill(
                    Fill(
                        fill_id=f"f{step}",
                        client_order_id=cid,
                        correlation_id=cid,
                        symbol=sym,
                        side=Side.BUY,
                        qty=Decimal(data.draw(st.sampled_from([1, 2, 40]))),
                        price=Decimal("10.25"),
                        ts=now,
                    )
                )
            else:
                pf.on_order(
                    OrderUpdate(
                        client_order_id=cid,
                        correlation_id=cid,
                        symbol=sym,
                        side=Side.BUY,
                        status=data.draw(
                            st.sampled_from([OrderStatus.FILLED, OrderStatus.ACCEPTED])
                        ),
                        qty=Decimal(1),
                        ts=now,
                    )
                )
        elif op == "acct":
            equity = data.draw(st.sampled_from([100_000.0, 20_000.0, 0.0, 1e7]))
            pf.on_account(
                AccountSnapshot(
                    cash=Decimal(0),
                    equity=Decimal(str(equity)),
                    buying_power=Decimal(str(equity * data.draw(st.sampled_from([0.01, 2.0])))),
                    ts=now,
                )
            )
        elif op == "time":
            now += data.draw(st.sampled_from([1, NS_PER_S, 61 * NS_PER_S, 86_400 * NS_PER_S]))
        elif op == "snap":
            snap = SafetySnapshot(
                day=DayFigures(
                    start_equity=data.draw(st.sampled_from(["0", "100000", "120000", "x"]))
                ),
                day_trades=tuple(
                    data.draw(
                        st.lists(
                            st.sampled_from(["2023-11-10", "2023-11-13", "2023-11-14"]), max_size=3
                        )
                    )
                ),
                consecutive_losses=data.draw(st.integers(0, 3)),
                breaker_until_ns=data.draw(st.sampled_from([0, now + 5 * NS_PER_S])),
            )
        elif op == "bar":
            # A new (or revised) day for some symbols: one period for all of them, so
            # that the aligned matrices of held symbols change too.
            day += data.draw(st.sampled_from([0, 1]))
            for sym in data.draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, unique=True)):
                e.history.add_bar(
                    sym,
                    day,
                    data.draw(st.sampled_from([10.0, 555.0, math.nan])),
                    data.draw(st.sampled_from([0.0, 1e9])),
                )
        elif op == "reload":
            cfg = data.draw(LIMITS)
            e.configure(cfg)
        assert pf.open_symbols() == _open_by_definition(pf), step


def test_reload_recomputes_what_the_limits_decide(sim_clock: Any) -> None:
    # Correlation and VaR used to be cached across a reload: a new min_history still
    # judged open positions by the old one. Here NOHIST has three bars (two returns).
    cfg = with_settings(Settings(), risk={"min_history": 2})
    e = _engine(cfg)
    for i in range(3):
        e.history.add_bar("NOHIST", 17_000 + i, 10.0 + i, 1e6)
    e.portfolio.on_position(
        PositionUpdate(
            position=PositionSnapshot(symbol="NOHIST", qty=Decimal(1), avg_price=Decimal(12)),
            ts=0,
        )
    )
    price = e.history.series["SPY"].last_close

    def var_detail(cid: str) -> str:
        req = RiskRequest(
            correlation_id=cid, symbol="SPY", side=Side.BUY, qty=Decimal(1), price=price, ts=T0
        )
        d = e.evaluate(req, SafetySnapshot(), T0)
        e.portfolio.release(cid)
        return next(c.detail for c in d.checks if c.name == "var")

    assert var_detail("c1") == "only 0 common periods"  # NOHIST's periods are not SPY's
    e.configure(with_settings(Settings(), risk={"min_history": 20}))
    assert var_detail("c2").endswith("; no history: NOHIST")


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["reserve", "fill", "release", "position", "expire"]),
            st.sampled_from(["A", "B", "C"]),
            st.integers(0, 5),
            st.sampled_from([0.0, 0.1, 0.2, 0.3, 1.0 / 3.0, 1.0, -0.7]),
        ),
        max_size=60,
    )
)
@example(  # 0.1 + 0.2 - 0.1 - 0.2 leaves 2.8e-17 reserved: dropped, so B closes
    ops=[
        ("reserve", "B", 0, 0.1),
        ("reserve", "B", 1, 0.2),
        ("release", "B", 0, 0.0),
        ("release", "B", 1, 0.0),
    ]
)
def test_open_set_follows_its_definition(ops: list[tuple[str, str, int, float]]) -> None:
    # Fractional quantities leave float residue (0.1 + 0.2 - 0.3 is not 0): a symbol
    # whose reservations are gone but whose residue is not exactly zero must leave the
    # open set exactly when the portfolio drops the residue.
    pf = Portfolio(100_000.0, 10)
    now = 0
    for op, sym, n, qty in ops:
        before = (pf.open_version, pf.open_symbols())
        cid = f"c{n}"
        if op == "reserve":
            pf.reserve(cid, sym, qty, 10.0, None, now)
        elif op == "fill":
            pf.on_fill(
                Fill(
                    fill_id="f",
                    client_order_id=cid,
                    correlation_id=cid,
                    symbol=sym,
                    side=Side.BUY,
                    qty=Decimal(str(abs(qty))),
                    price=Decimal(10),
                    ts=now,
                )
            )
        elif op == "release":
            pf.release(cid)
        elif op == "position":
            pf.on_position(
                PositionUpdate(
                    position=PositionSnapshot(
                        symbol=sym, qty=Decimal(str(qty)), avg_price=Decimal(10)
                    ),
                    ts=now,
                )
            )
        else:
            now += n
            pf.expire(now)
        assert pf.open_symbols() == _open_by_definition(pf)
        assert pf.open_sorted() == tuple(sorted(_open_by_definition(pf)))
        if pf.open_version == before[0]:  # what the engine's caches rely on
            assert pf.open_symbols() == before[1]


def test_expiry_entries_stay_proportional_to_reservations() -> None:
    # Released reservations leave expiry entries behind; they are compacted away.
    pf = Portfolio(100_000.0, 3600 * NS_PER_S)
    for i in range(50_000):
        pf.reserve(f"c{i}", "A", 1.0, 10.0, None, i)
        pf.release(f"c{i}")
    pf.reserve("live", "A", 1.0, 10.0, None, 50_000)
    assert len(pf._expiry) <= 2 * len(pf.reservations) + 1025
    # One id reserved again and again at one instant leaves twin entries, which all
    # match the live reservation: they are compacted too (this was quadratic).
    for _ in range(50_000):
        pf.reserve("same", "A", 1.0, 10.0, None, 50_001)
    assert len(pf._expiry) <= 2 * len(pf.reservations) + 1025
    pf.expire(50_001 + 3600 * NS_PER_S)
    assert pf.reservations == {}
