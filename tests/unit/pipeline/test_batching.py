"""Batched risk requests (``Service.call_many``) and the risk gate's buying-power debit."""

from __future__ import annotations

from decimal import Decimal

import anyio

from actors.risk_gate import Portfolio
from daemon.bus import Service
from daemon.messages import Fill, PositionSnapshot, PositionUpdate, Side


async def test_call_many_answers_in_order_with_failures_in_place() -> None:
    svc: Service[int, int] = Service("t")
    rounds = 0

    async def server() -> None:
        nonlocal rounds
        while True:
            calls = await svc.next_calls()
            rounds += 1
            for c in calls:
                if c.request == 3:
                    c.fail(ValueError("three"))
                else:
                    c.reply(c.request * 10)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(server)
            got = await svc.call_many([1, 2, 3, 4])
            tg.cancel_scope.cancel()
    assert got[:2] == [10, 20]
    assert isinstance(got[2], ValueError)
    assert got[3] == 40
    assert rounds == 1  # one round trip for the whole batch


def _fill(side: Side, qty: int, price: str) -> Fill:
    return Fill(
        fill_id=f"f-{side}-{qty}",
        client_order_id="o",
        symbol="AAPL",
        side=side,
        qty=Decimal(qty),
        price=Decimal(price),
        ts=0,
    )


def test_exposure_increasing_fills_are_debited_never_credited() -> None:
    pf = Portfolio(100_000.0, 10**12)
    pf.on_fill(_fill(Side.BUY, 10, "100"))
    assert pf.buying_power == 99_000.0
    pf.on_position(
        PositionUpdate(
            position=PositionSnapshot(symbol="AAPL", qty=Decimal(10), avg_price=Decimal(100)),
            ts=0,
        )
    )
    # Selling 5 reduces exposure: no credit until the next account snapshot.
    pf.on_fill(_fill(Side.SELL, 5, "100"))
    assert pf.buying_power == 99_000.0
    pf.on_position(
        PositionUpdate(
            position=PositionSnapshot(symbol="AAPL", qty=Decimal(5), avg_price=Decimal(100)),
            ts=0,
        )
    )
    # Selling 25 flips to 20 short: gross exposure grows from 5 to 20, 15 are debited.
    pf.on_fill(_fill(Side.SELL, 25, "100"))
    assert pf.buying_power == 97_500.0
