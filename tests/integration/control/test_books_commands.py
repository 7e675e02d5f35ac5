"""``positions``, ``orders``, ``status`` and ``cancel ORDER`` over the real socket against a
daemon running the whole trading path for real (safety, risk gate, orchestrator, paper
broker, guard): the books are the orchestrator's, a single cancel reaches the broker."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest

from actors.orchestrator import entry_order_id
from daemon import names
from daemon.bus import Subscription
from daemon.messages import Alert, ExecutionRecord, OrderStatus, OrderUpdate, Tick
from tests.integration.control._support import (
    Notebook,
    Running,
    make_settings,
    running_daemon,
    short_dir,
    trading_definitions,
)
from tests.pipeline_support import data_path, have_data, read_bars

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")

SYMBOLS = ("AAPL", "SPY")


def close(symbol: str) -> float:
    """The last close of the real daily file (the price the test trades at)."""
    return read_bars(symbol, 1)[0][4]


def trading_daemon(base: str) -> Any:
    settings = make_settings(
        base,
        {
            "guard": {"sources": ["operator"], "cooldown_s": 0.0},
            "sizing": {"method": "fixed_shares", "fixed_shares": 10.0},
            "risk": {"history_files": {s: str(data_path(s)) for s in SYMBOLS}},
            # Entries are limit orders at the signal's entry price: one below the market
            # rests, one above it fills at once.
            "orchestrator": {"initial_regime": "bull", "entry_order_type": "limit"},
            # The daemon's simulated clock moves only when a test moves it: a venue without
            # latency answers at once.
            "broker": {"paper": {"ack_latency_ms": 0.0, "fill_latency_ms": 0.0}},
        },
    )
    return running_daemon(definitions=trading_definitions(Notebook()), settings=settings, base=base)


def watch(run: Running) -> Subscription[Any]:
    sub: Subscription[Any] = run.call(
        lambda: run.daemon.events.subscribe(
            "test-books", types=(OrderUpdate, ExecutionRecord, Alert)
        )
    )
    return sub


def wait_for(run: Running, sub: Subscription[Any], pred: Any) -> Any:
    """The first event on ``sub`` for which ``pred`` holds (waits on the bus, no sleeps)."""

    async def take() -> Any:
        with anyio.fail_after(10):
            while True:
                for ev in await sub.receive_batch():
                    if pred(ev):
                        return ev

    return run.call(take)


def mark(run: Running, symbol: str, price: float) -> None:
    async def publish() -> None:
        tick = Tick(symbol=symbol, price=price, size=1_000_000.0, ts=run.daemon.clock.now_ns())
        await run.daemon.bus.topic(names.MARKET).publish(tick)

    run.call(publish)


def buy(symbol: str, sid: str, entry: float) -> dict[str, Any]:
    px = close(symbol)
    return {
        "symbol": symbol,
        "side": "buy",
        "conviction": 70,
        "signal_id": sid,
        "entry_price": entry,
        "stop_price": round(px * 0.9, 2),
        "target_price": round(px * 1.1, 2),
    }


def test_books_serve_positions_and_orders_and_a_single_cancel_reaches_the_broker() -> None:
    base = short_dir()
    aapl, spy = close("AAPL"), close("SPY")
    with trading_daemon(base) as run, run.connect() as c:
        sub = watch(run)
        mark(run, "AAPL", aapl)
        mark(run, "SPY", spy)

        # A marketable limit: filled, so the books hold 10 AAPL.
        filled = entry_order_id("paper", "operator", "fill-1")
        r = c.ok("signal", buy("AAPL", "fill-1", round(aapl + 1.0, 2)))
        assert r["verdict"]["accepted"] is True
        wait_for(
            run,
            sub,
            lambda e: isinstance(e, ExecutionRecord) and e.client_order_id == filled,
        )
        (pos,) = c.ok("positions")
        assert (pos["symbol"], pos["qty"]) == ("AAPL", "10")
        assert c.ok("positions", {"symbol": "SPY"}) == []
        (broker_pos,) = c.ok("positions", {"broker": True})
        assert (broker_pos["symbol"], broker_pos["qty"]) == ("AAPL", "10")

        # A limit below the market rests: a working order in the books.
        resting = entry_order_id("paper", "operator", "rest-1")
        limit = round(spy - 5.0, 2)
        assert c.ok("signal", buy("SPY", "rest-1", limit))["verdict"]["accepted"] is True
        wait_for(
            run,
            sub,
            lambda e: (
                isinstance(e, OrderUpdate)
                and e.client_order_id == resting
                and e.status is OrderStatus.ACCEPTED
            ),
        )
        (order,) = c.ok("orders")
        assert order["client_order_id"] == resting
        assert (order["symbol"], order["side"], order["qty"]) == ("SPY", "buy", "10")
        assert (order["status"], order["order_type"]) == ("accepted", "limit")
        assert Decimal(order["limit_price"]) == Decimal(repr(limit))
        assert order["purpose"] == "entry"
        assert order["acked"] is True
        assert c.ok("orders", {"symbol": "AAPL"}) == []
        broker_orders = c.ok("orders", {"broker": True})
        assert [o["client_order_id"] for o in broker_orders] == [resting]
        status = c.ok("status")
        assert [p["symbol"] for p in status["positions"]] == ["AAPL"]
        assert [o["client_order_id"] for o in status["orders"]] == [resting]
        assert status["unavailable"] == {}

        # An id the books do not hold: a clear error, nothing is cancelled.
        err = c.error("cancel", {"order": "no-such-order"})
        assert err["code"] == "bad_args"
        assert "no working order 'no-such-order'" in err["message"]
        assert [o["client_order_id"] for o in c.ok("orders")] == [resting]

        # The working order by its id: cancelled at the broker, gone from the books.
        r = c.ok("cancel", {"order": resting, "reason": "changed my mind"})
        assert r == {"requested": "cancel", "order": resting, "symbol": "SPY", "status": "accepted"}
        rec = wait_for(
            run,
            sub,
            lambda e: isinstance(e, ExecutionRecord) and e.client_order_id == resting,
        )
        assert rec.status is OrderStatus.CANCELLED
        assert c.ok("orders") == []
        assert c.ok("orders", {"broker": True}) == []
        # The filled one is no longer working either: cancelling it is refused clearly.
        assert c.error("cancel", {"order": filled})["code"] == "bad_args"
        assert [p["symbol"] for p in c.ok("positions")] == ["AAPL"]
        assert run.alive()
