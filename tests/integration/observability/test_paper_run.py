"""Scrape ``/metrics`` after a short paper-trading run and check it against what happened.

The daemon runs every shipped actor its configuration enables (as ``tradingd run``
does) on a simulated clock. The test sends signals that end every way a signal can —
filled, refused by the guard (unknown source, duplicate), refused by the risk gate —
then compares each counter with the events the test itself saw on the ``events`` topic,
and a few with hand-known values.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from daemon import ctl
from daemon.messages import (
    AccountSnapshot,
    ExecutionRecord,
    Fill,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    RiskDecision,
    SignalRecord,
    SignalVerdict,
)
from tests.integration.observability._support import (
    SYMBOLS,
    Running,
    last_close,
    obs_settings,
    parse,
    running_daemon,
    value,
)
from tests.pipeline_support import have_data

pytestmark = pytest.mark.skipif(not have_data(), reason="/work/shared/data is absent")


async def _trade(run: Running) -> None:
    """Four signals: a fill, a risk refusal, an unknown source, a duplicate id."""
    async with run.clock.autojumping():
        for sym in SYMBOLS:
            await run.tick(sym, last_close(sym))
        await run.signal("s1", "AAPL")
        with anyio.fail_after(20):
            await run.events.wait_kind(
                PositionUpdate, where=lambda u: u.position.symbol == "AAPL" and u.position.qty > 0
            )
            await run.events.wait_kind(ExecutionRecord)
        # 40 GOOG at ~$1100 is ~44% of equity: over risk.max_position_pct.
        await run.signal("s2", "GOOG")
        await run.signal("s3", "AAPL", source="strategy-z")
        await run.signal("s1", "AAPL")
        with anyio.fail_after(20):
            await run.events.wait_kind(RiskDecision, n=2)
            await run.events.wait_kind(SignalVerdict, n=4, where=lambda v: not v.correlation_id)
    # The clock stands still from here; let every actor finish what it holds.
    await wait_all_tasks_blocked()


async def test_counters_match_the_events_of_a_paper_run(base: Path) -> None:
    async with running_daemon(obs_settings(base)) as run:
        await _trade(run)
        m = await run.scrape()
        seen = run.events

        # Signals: every guard verdict is a received signal; rejections by stage/reason.
        guard = [v for v in seen.of(SignalVerdict) if not v.correlation_id]
        by_source = Counter(
            v.signal.source if v.signal.source == "alpha" else "other" for v in guard
        )
        assert by_source == {"alpha": 3, "other": 1}
        for source, n in by_source.items():
            assert value(m, "tradingd_signals_received_total", source=source) == n
        accepted = sum(1 for v in guard if v.accepted and v.signal.source == "alpha")
        assert value(m, "tradingd_signals_accepted_total", source="alpha") == accepted == 2
        rejected = Counter(
            (v.stage, str(v.reason)) for v in seen.of(SignalVerdict) if not v.accepted
        )
        assert rejected[("guard", "unknown_source")] == 1
        assert rejected[("guard", "duplicate_id")] == 1
        for (stage, reason), n in rejected.items():
            assert value(m, "tradingd_signals_rejected_total", stage=stage, reason=reason) == n

        # Risk: one approval (AAPL), one refusal (GOOG) by the position-size check.
        decisions = seen.of(RiskDecision)
        assert value(m, "tradingd_risk_decisions_total", outcome="approved") == 1
        assert value(m, "tradingd_risk_decisions_total", outcome="rejected") == 1
        (refused,) = [d for d in decisions if not d.approved]
        for check in refused.failed:
            assert value(m, "tradingd_risk_check_failures_total", check=check.name) == 1

        # Orders and fills, as published.
        updates = Counter((str(u.status), str(u.purpose)) for u in seen.of(OrderUpdate))
        assert updates[("filled", "entry")] == 1
        for (status, purpose), n in updates.items():
            assert value(m, "tradingd_order_updates_total", status=status, purpose=purpose) == n
        fills = seen.of(Fill)
        assert len(fills) >= 1
        assert value(m, "tradingd_fills_total", side="buy", purpose="entry") == len(fills)
        notional = sum(float(f.qty * f.price) for f in fills)
        assert value(m, "tradingd_fill_notional_total") == pytest.approx(notional)

        # Latency: one observation per signal whose order the broker accepted.
        cids = {r.correlation_id for r in seen.of(SignalRecord)}
        accepted_orders = [
            u
            for u in seen.of(OrderUpdate)
            if u.status is OrderStatus.ACCEPTED and u.correlation_id in cids
        ]
        assert value(m, "tradingd_signal_to_order_seconds_count") == len(accepted_orders) == 1
        assert value(m, "tradingd_signals_awaiting_order") == 0
        # Negative buckets (price improvement): no _sum/_count by convention; +Inf counts.
        executions = [e for e in seen.of(ExecutionRecord) if e.filled_qty > 0]
        assert value(m, "tradingd_slippage_bps_bucket", le="+Inf") == len(executions) == 1

        # Books: the position and the account as last published.
        (pos,) = [u.position for u in seen.of(PositionUpdate)]
        assert value(m, "tradingd_open_positions") == 1
        assert value(m, "tradingd_position_qty", symbol="AAPL") == float(pos.qty) == 40.0
        account = seen.of(AccountSnapshot)[-1]
        assert value(m, "tradingd_equity") == pytest.approx(float(account.equity))
        assert value(m, "tradingd_cash") == pytest.approx(float(account.cash))

        # State read at scrape time.
        assert value(m, "tradingd_ready") == 1
        assert value(m, "tradingd_kill_switch_engaged") == 0
        assert value(m, "tradingd_trading_mode", mode="running") == 1
        assert value(m, "tradingd_actor_up", actor="orchestrator", kind="core") == 1
        assert value(m, "tradingd_actor_up", actor="metrics", kind="optional") == 1
        assert value(m, "tradingd_storage_up") == 1
        # The journal wrote the session's inputs (each signal and price) and lost none.
        assert value(m, "tradingd_journal_frames_total") >= len(seen.of(SignalRecord))
        assert value(m, "tradingd_journal_dropped_total") == 0
        assert value(m, "tradingd_journal_write_errors_total") == 0
        assert ("tradingd_storage_batch_seconds_count", frozenset()) in m
        assert value(m, "tradingd_channel_capacity", channel="guard.in") > 0
        assert value(m, "tradingd_metrics_events_shed_total") == 0
        assert value(m, "tradingd_metrics_record_errors_total") == 0
        assert value(m, "tradingd_daily_loss_limit_percent") == 3.0
        assert value(m, "process_resident_memory_bytes") > 0

        # Health endpoints.
        ready = await run.get("/readyz")
        assert (ready.status_code, ready.text.splitlines()[0]) == (200, "ready")
        health = await run.get("/healthz")
        assert health.status_code == 200
        assert health.text.startswith("ok\n")


async def test_openmetrics_is_served_when_asked_for(base: Path) -> None:
    async with running_daemon(obs_settings(base)) as run:
        resp = await run.get("/metrics", headers={"accept": "application/openmetrics-text"})
        assert resp.headers["content-type"].startswith("application/openmetrics-text")
        assert resp.text.rstrip().endswith("# EOF")


async def test_tradingctl_metrics_prints_the_same_exposition(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = obs_settings(base)
    async with running_daemon(settings, serve_control=True) as run:
        await _trade(run)
        sock = settings.daemon.socket_path
        code = await anyio.to_thread.run_sync(ctl.main, ["--socket", sock, "metrics"])
        assert code == 0
        printed = parse(capsys.readouterr().out)
        assert value(printed, "tradingd_signals_received_total", source="alpha") == 3
        assert value(printed, "tradingd_fills_total", side="buy", purpose="entry") >= 1
        http = await run.scrape()
        assert value(http, "tradingd_risk_decisions_total", outcome="rejected") == value(
            printed, "tradingd_risk_decisions_total", outcome="rejected"
        )


async def test_tradingctl_metrics_without_the_metrics_actor_says_how_to_enable_it(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = obs_settings(base, metrics={"enabled": False})
    async with running_daemon(settings, serve_control=True):
        code = await anyio.to_thread.run_sync(
            ctl.main, ["--socket", settings.daemon.socket_path, "metrics"]
        )
        assert code == 6  # CtlExit.UNAVAILABLE
        assert "[metrics] enabled = true" in capsys.readouterr().err
