"""A single-order cancel on the orchestrator's control channel (``CancelOrder``)."""

from __future__ import annotations

import anyio
import pytest

from actors.orchestrator import entry_order_id
from daemon import names
from daemon.messages import Alert, CancelOrder, ExecutionRecord, OrderStatus, OrderUpdate
from tests.integration.pipeline._harness import last_close, pipeline_settings, running_pipeline
from tests.pipeline_support import have_data, signal

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")


async def test_cancel_one_working_order_and_refuse_an_unknown_id() -> None:
    settings = pipeline_settings(
        orchestrator={"entry_order_type": "limit"},
        sizing={"method": "fixed_shares", "fixed_shares": 10.0},
    )
    px, spy = last_close("AAPL"), last_close("SPY")
    below = round(px - 5.0, 2)
    with anyio.fail_after(20):
        async with running_pipeline(settings) as p:
            await p.tick("AAPL", px)
            await p.tick("SPY", spy)
            stops = {"stop_price": round(px * 0.9, 2), "target_price": round(px * 1.1, 2)}
            await p.send(signal(p.clock, "r1", entry_price=below, **stops))
            await p.send(
                signal(
                    p.clock,
                    "r2",
                    symbol="SPY",
                    entry_price=round(spy - 5.0, 2),
                    stop_price=round(spy * 0.9, 2),
                    target_price=round(spy * 1.1, 2),
                )
            )
            await p.events.wait_kind(
                OrderUpdate, n=2, where=lambda u: u.status is OrderStatus.ACCEPTED
            )
            control = p.bus.channel(names.ORCHESTRATOR_CONTROL)
            await control.send(CancelOrder(client_order_id="nope", reason="x", ts=p.clock.now_ns()))
            (alert,) = await p.events.wait_kind(Alert, where=lambda a: a.code == "cancel_refused")
            r1 = entry_order_id("paper", "alpha", "r1")
            await control.send(CancelOrder(client_order_id=r1, reason="op", ts=p.clock.now_ns()))
            (rec,) = await p.events.wait_kind(ExecutionRecord)
            # Cancelling it again: it is no longer working, and says so.
            await control.send(CancelOrder(client_order_id=r1, reason="op", ts=p.clock.now_ns()))
            await p.events.wait_kind(Alert, n=2, where=lambda a: a.code == "cancel_refused")
    assert "no working order nope" in alert.text
    assert (rec.client_order_id, rec.status) == (r1, OrderStatus.CANCELLED)
    again = p.events.of(Alert)[-1]
    assert again.code == "cancel_refused"
    assert "no longer working" in again.text
    # Only r1 was cancelled: r2 still works.
    r2 = entry_order_id("paper", "alpha", "r2")
    assert list(p.orchestrator.execution.orders.working) == [r2]
