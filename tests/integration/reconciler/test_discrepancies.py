"""Each discrepancy the issue names, made behind the daemon's back with the paper broker's
backdoor, detected and handled as configured — real actors, real bus, simulated clock."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from actors.reconciler import Kind
from daemon.messages import (
    Discrepancy,
    PositionUpdate,
    ReconciliationReport,
    TradeClosed,
)
from tests.integration.reconciler._support import QTY, last_close, recon_settings, running
from tests.pipeline_support import have_data

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")


def only(report: ReconciliationReport, kind: Kind) -> Discrepancy:
    found = [d for d in report.discrepancies if d.kind == kind]
    assert len(found) == 1, report.discrepancies
    return found[0]


async def test_startup_run_comes_before_any_signal(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            (first,) = sys.events.of(ReconciliationReport)
            assert first.trigger == "startup"
            assert first.discrepancies == ()
            assert not first.kill_engaged
            await sys.open_long("AAPL", "s1")
    # The guard's first verdict came after the start-up report.
    kinds = [type(x).__name__ for x in sys.events.items]
    assert kinds.index("ReconciliationReport") < kinds.index("SignalVerdict")


async def test_position_closed_behind_our_back_is_closed_locally(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            await sys.open_long("AAPL", "s1")
            px = 190.5
            await sys.tick("AAPL", px)
            sys.paper.backdoor.close_position("AAPL")
            report = await sys.reconcile()
            assert sys.held("AAPL") == 0
            await sys.events.wait_kind(
                PositionUpdate, where=lambda u: u.position.symbol == "AAPL" and u.position.qty == 0
            )
            with anyio.fail_after(5):
                while sys.lifecycle.book.row("AAPL") is not None:
                    await anyio.lowlevel.checkpoint()
    d = only(report, Kind.GHOST_POSITION)
    assert d.symbol == "AAPL"
    assert d.before.startswith(f"{QTY} @ ")
    assert d.after == "flat at the broker"
    assert d.action == f"closed_locally: at {Decimal(repr(px))} (last price)"
    (trade,) = [t for t in sys.events.of(TradeClosed) if t.exit_reason == "reconcile_ghost"]
    assert trade.exit_price == Decimal(repr(px))
    assert trade.qty == QTY


async def test_orphan_is_adopted_and_protected(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            px = last_close("GOOG")
            await sys.tick("GOOG", px)
            sys.paper.backdoor.add_position("GOOG", Decimal(7), Decimal("500.25"))
            report = await sys.reconcile()
            assert sys.held("GOOG") == Decimal(7)
            with anyio.fail_after(5):
                while sys.lifecycle.book.row("GOOG") is None:
                    await anyio.lowlevel.checkpoint()
    d = only(report, Kind.ORPHAN_POSITION)
    assert (d.before, d.after) == ("flat", "7 @ 500.25")
    assert d.action == "adopted: default exits"
    (upd,) = [u for u in sys.events.of(PositionUpdate) if u.position.symbol == "GOOG"]
    assert upd.cause == "reconcile:adopt"
    assert upd.position.stop_price is None  # the lifecycle applies its default exits


async def test_orphan_only_reported_when_configured(tmp_path: Path) -> None:
    settings = recon_settings(tmp_path, reconciler={"orphan_positions": "report"})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            await sys.tick("GOOG", last_close("GOOG"))
            sys.paper.backdoor.add_position("GOOG", Decimal(7), Decimal("500.25"))
            report = await sys.reconcile()
            again = await sys.reconcile()
            assert sys.held("GOOG") == 0
    assert only(report, Kind.ORPHAN_POSITION).action.startswith("reported")
    assert only(again, Kind.ORPHAN_POSITION).action.startswith("reported")
    assert not [u for u in sys.events.of(PositionUpdate) if u.position.symbol == "GOOG"]


@pytest.mark.parametrize(
    ("new_qty", "kind"),
    [(Decimal(25), Kind.QUANTITY_MISMATCH), (Decimal(-10), Kind.SIDE_MISMATCH)],
)
async def test_quantity_change_sets_books_to_the_broker(
    tmp_path: Path, new_qty: Decimal, kind: Kind
) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            await sys.open_long("AAPL", "s1")
            sys.paper.backdoor.set_quantity("AAPL", new_qty)
            report = await sys.reconcile()
            assert sys.held("AAPL") == new_qty
            broker_pos = sys.paper.books.position("AAPL")
            assert broker_pos is not None
            ours = sys.orchestrator.execution.books.position("AAPL")
            assert ours is not None
            assert ours.avg_price == broker_pos.avg_price
            clean = await sys.reconcile()
    d = only(report, kind)
    assert d.before.startswith(f"{QTY} @ ")
    assert d.after == f"{new_qty} @ {broker_pos.avg_price.normalize():f}"
    assert d.action == "set_to_broker"
    assert d.notional > 0
    assert clean.discrepancies == ()
