"""Reading both sides: the orchestrator's books and the broker's, each within a deadline."""

from __future__ import annotations

from actors.broker.queries import BrokerClient
from actors.orchestrator.books_api import LocalSnapshot
from actors.reconciler._compare import BrokerView, needs_lookup
from config.sections.reconciler import ReconcilerSettings
from daemon.messages import BrokerOrder


async def broker_view(
    client: BrokerClient, local: LocalSnapshot, cfg: ReconcilerSettings, now: int
) -> BrokerView:
    """The broker's positions and open orders, and its answer for every working order of
    ours that is not open there (raises the broker's error when it cannot answer)."""
    positions = {p.symbol: p for p in await client.positions() if p.qty != 0}
    open_orders = {o.client_order_id: o for o in await client.open_orders()}
    lookups: dict[str, BrokerOrder | None] = {}
    for o in local.orders:
        coid = o.client_order_id
        if coid not in open_orders and needs_lookup(o, cfg, now):
            lookups[coid] = await client.get_order(coid)
    return BrokerView(positions=positions, open_orders=open_orders, lookups=lookups)
