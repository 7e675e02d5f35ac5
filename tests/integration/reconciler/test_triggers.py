"""When the reconciler runs: periodically on the clock, after a broker reconnect, and on
demand from the admin socket's ``reconcile`` command."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from actors.broker import BrokerUnavailable
from daemon.control import Call, ControlRegistry, Peer
from daemon.control._commands import NoArgs
from daemon.messages import ReconciliationReport
from tests.integration.reconciler._support import last_close, recon_settings, running
from tests.pipeline_support import have_data

pytestmark = pytest.mark.skipif(not have_data(), reason="shared market data absent")


async def test_periodic_runs_follow_the_interval(tmp_path: Path) -> None:
    settings = recon_settings(tmp_path, reconciler={"interval_s": 30.0})
    with anyio.fail_after(30):
        async with running(settings) as sys:
            start = sys.clock.now_ns()
            rec = sys.reconciler
            await rec.progress.wait_for(
                lambda: sum(r.trigger == "periodic" for r in rec.reports) >= 2
            )
    runs = [r for r in sys.events.of(ReconciliationReport) if r.trigger == "periodic"]
    assert [r.started_ns - start for r in runs[:2]] == [30 * 10**9, 60 * 10**9]


async def test_a_broker_reconnect_triggers_a_run(tmp_path: Path) -> None:
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path)) as sys:
            await sys.tick("GOOG", last_close("GOOG"))
            sys.paper.go_offline()
            with pytest.raises(BrokerUnavailable):
                await sys.reconcile()
            assert sys.reconciler.failures == 1
            # Changed while we were away: found by the run after the reconnect.
            sys.paper.backdoor.add_position("GOOG", Decimal(2), Decimal(100))
            sys.paper.go_online()
            (report,) = await sys.events.wait_kind(
                ReconciliationReport, where=lambda r: r.trigger == "reconnect"
            )
    assert [d.kind for d in report.discrepancies] == ["orphan_position"]
    assert sys.held("GOOG") == Decimal(2)


async def test_the_reconcile_command_runs_now_and_answers_the_report(tmp_path: Path) -> None:
    registry = ControlRegistry()
    with anyio.fail_after(30):
        async with running(recon_settings(tmp_path), {ControlRegistry: registry}) as sys:
            await sys.tick("GOOG", last_close("GOOG"))
            sys.paper.backdoor.add_position("GOOG", Decimal(2), Decimal(100))
            binding = registry.resolve("reconcile")
            assert binding.handler is not None
            answer = await binding.handler(Call("r1", "reconcile", Peer(0, 0, 1)), NoArgs())
    assert answer["trigger"] == "operator"
    assert answer["discrepancies"][0]["kind"] == "orphan_position"
    assert answer["discrepancies"][0]["after"] == "2 @ 100"
    # Unbound when the actor stopped: answered "unavailable" from then on.
    assert not registry.is_bound("reconcile")
