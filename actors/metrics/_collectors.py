"""Custom prometheus_client collectors: everything the metrics actor exports, per scrape.

* :class:`EventCollector` — the counters, histograms and last values the
  :class:`~actors.metrics._recorder.EventRecorder` derived from domain events;
* :class:`RuntimeCollector` — state read at scrape time: readiness, actors, channels,
  the safety state, uptime;
* :class:`StorageCollector` — the storage writer's counters, outage state and spool;
* :class:`JournalCollector` — the journal's frames and bytes written, buffer, losses;
* :class:`RedisCollector` — every Redis link's connection state and the signal
  stream's backlog.

Collectors run on the event loop (the HTTP server and the control command both run
there), so they read the runtime without locks and never await.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, final

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from actors.journal import JournalActor
from actors.metrics._families import (
    counter,
    counter_value,
    gauge,
    gauge_value,
    histogram,
    summary,
)
from actors.metrics._recorder import EventRecorder
from actors.metrics._redis_probe import StreamProbe
from actors.storage_writer import StorageWriter
from config.settings import Settings
from daemon.bus import Bus, Subscription
from daemon.clock import NS_PER_S, Clock
from daemon.messages import ActorState, TradingMode
from daemon.metrics import HealthProbe
from daemon.redislink import RedisLink
from daemon.safety import SafetySnapshot

STORAGE_WRITER = "storage_writer"
JOURNAL = "journal"


def _f(x: Decimal | float | int) -> float:
    return float(x)


@final
class EventCollector(Collector):
    """Metrics derived from domain events (see docs/observability.md)."""

    def __init__(
        self, recorder: EventRecorder, sub: Callable[[], Subscription[Any] | None]
    ) -> None:
        self.r = recorder
        self._sub = sub

    def collect(self) -> Iterator[Metric]:
        """Yield every event-derived family."""
        yield from self._signals()
        yield from self._orders()
        yield from self._books()
        yield from self._operations()
        yield from self._self()

    def _signals(self) -> Iterator[Metric]:
        r = self.r
        yield counter(
            "tradingd_signals_received",
            "Signals that reached the signal guard, by source (unconfigured sources: other).",
            ["source"],
            r.signals_received,
        )
        yield counter(
            "tradingd_signals_accepted",
            "Signals the signal guard accepted, by source.",
            ["source"],
            r.signals_accepted,
        )
        yield counter(
            "tradingd_signals_rejected",
            "Signals turned down, by the stage that did it (guard or an orchestrator stage) "
            "and its reason code.",
            ["stage", "reason"],
            r.signals_rejected,
        )
        yield counter(
            "tradingd_signals_invalid",
            "Inbound payloads that could not be decoded into a signal, by origin.",
            ["origin"],
            r.signals_invalid,
        )
        yield counter(
            "tradingd_risk_decisions",
            "Risk gate decisions, by outcome (approved, rejected).",
            ["outcome"],
            r.risk_decisions,
        )
        yield counter(
            "tradingd_risk_check_failures",
            "Risk checks that failed, by check name (a rejection may fail several).",
            ["check"],
            r.risk_check_failures,
        )
        yield histogram(
            "tradingd_signal_to_order_seconds",
            "From a signal's arrival (received_ns) to its order's acceptance by the broker "
            "(OrderUpdate accepted), joined by correlation id.",
            r.latency,
        )
        yield gauge_value(
            "tradingd_signals_awaiting_order",
            "Signals recorded whose order has not been accepted or turned down yet.",
            len(r.pending_signals),
        )
        yield counter_value(
            "tradingd_signal_latency_evicted",
            "Signals forgotten before their order was accepted (metrics.max_tracked_signals).",
            r.pending_evicted,
        )

    def _orders(self) -> Iterator[Metric]:
        r = self.r
        yield counter(
            "tradingd_order_updates",
            "Order status updates published by the orchestrator, by status and purpose.",
            ["status", "purpose"],
            r.order_updates,
        )
        yield gauge(
            "tradingd_orders_working",
            "Orders sent and not yet in a terminal status, by purpose.",
            ["purpose"],
            r.working_count,
        )
        yield counter_value(
            "tradingd_orders_working_evicted",
            "Working orders forgotten by the metrics (metrics.max_tracked_orders).",
            r.working_evicted,
        )
        yield counter("tradingd_fills", "Fills, by side and purpose.", ["side", "purpose"], r.fills)
        yield counter_value(
            "tradingd_fill_notional", "Sum of fill quantity x price.", r.fill_notional
        )
        yield counter_value("tradingd_commission", "Commission paid on fills.", r.commission)
        yield counter(
            "tradingd_execution_problems",
            "Finished orders with a problem (rejected, zero_fill, partial_fill, slippage...).",
            ["problem"],
            r.execution_problems,
        )
        yield histogram(
            "tradingd_slippage_bps",
            "Fill price vs expected price of finished orders with fills, in basis points; "
            "positive means filled worse than expected.",
            r.slippage,
        )

    def _books(self) -> Iterator[Metric]:
        r = self.r
        qty: dict[str, float] = {}
        upnl: dict[str, float] = {}
        gross = net = 0.0
        for sym, p in r.positions.items():
            q = _f(p.qty)
            px = p.last_price if p.last_price is not None else _f(p.avg_price)
            qty[sym] = q
            upnl[sym] = _f(p.unrealized_pnl)
            gross += abs(q * px)
            net += q * px
        yield gauge_value(
            "tradingd_open_positions", "Open positions in the books.", len(r.positions)
        )
        yield gauge(
            "tradingd_position_qty",
            "Signed quantity of each open position (series exist only while open).",
            ["symbol"],
            qty,
        )
        yield gauge(
            "tradingd_position_unrealized_pnl",
            "Unrealized P&L of each open position at its last mark.",
            ["symbol"],
            upnl,
        )
        yield gauge_value(
            "tradingd_gross_exposure", "Sum of |qty x last price| over open positions.", gross
        )
        yield gauge_value(
            "tradingd_net_exposure", "Sum of qty x last price over open positions.", net
        )
        a = r.account
        if a is not None:
            for name, value, doc in (
                ("tradingd_equity", a.equity, "Account equity (books)."),
                ("tradingd_cash", a.cash, "Account cash (books)."),
                ("tradingd_buying_power", a.buying_power, "Buying power (books)."),
                ("tradingd_realized_pnl", a.realized_pnl, "Realized P&L since start (books)."),
                ("tradingd_unrealized_pnl", a.unrealized_pnl, "Unrealized P&L (books)."),
                ("tradingd_fees", a.fees, "Fees paid (books)."),
            ):
                yield gauge_value(name, doc, _f(value))
        yield counter(
            "tradingd_trades_closed",
            "Finished round trips, by outcome (win, loss, flat).",
            ["outcome"],
            r.trades,
        )

    def _operations(self) -> Iterator[Metric]:
        r = self.r
        yield counter(
            "tradingd_kill_switch_events",
            "Kill switch changes, by action (engaged, reset) and trigger.",
            ["action", "trigger"],
            r.kill_events,
        )
        yield counter(
            "tradingd_trading_mode_changes",
            "Trading mode changes, by the new mode.",
            ["mode"],
            r.mode_changes,
        )
        if r.regime:
            yield gauge("tradingd_regime", "Current market regime (1).", ["regime"], {r.regime: 1})
        yield counter(
            "tradingd_actor_transitions",
            "Actor lifecycle changes, by actor and new state (crashed, restarting...).",
            ["actor", "state"],
            r.actor_transitions,
        )
        yield counter(
            "tradingd_reconciliations",
            "Reconciliation runs, by trigger (startup, periodic, reconnect, operator).",
            ["trigger"],
            r.reconciliations,
        )
        yield counter(
            "tradingd_reconciliation_discrepancies",
            "Discrepancies found between our books and the broker's, by kind.",
            ["kind"],
            r.discrepancies,
        )
        last = r.last_reconciliation
        if last is not None:
            yield gauge_value(
                "tradingd_reconciliation_last_discrepancies",
                "Discrepancies found by the latest reconciliation run.",
                len(last.discrepancies),
            )
            yield gauge_value(
                "tradingd_reconciliation_last_timestamp_seconds",
                "When the latest reconciliation run finished (Unix time).",
                last.ts / NS_PER_S,
            )
        yield gauge(
            "tradingd_service_up",
            "Outside dependency health as its users report it (1 up, 0 down).",
            ["service", "reporter"],
            {k: 1.0 if v else 0.0 for k, v in r.services.items()},
        )
        yield counter(
            "tradingd_service_outages",
            "Times a user of an outside dependency found it down (redis, storage...).",
            ["service"],
            r.service_outages,
        )
        yield counter(
            "tradingd_service_recoveries",
            "Times an outside dependency came back (for redis: reconnects).",
            ["service"],
            r.service_recoveries,
        )
        yield gauge(
            "tradingd_broker_connected",
            "Broker connection state (1 connected).",
            ["broker"],
            {k: 1.0 if v else 0.0 for k, v in r.brokers.items()},
        )
        yield counter(
            "tradingd_broker_disconnects",
            "Times the broker connection was lost.",
            ["broker"],
            r.broker_disconnects,
        )
        yield counter(
            "tradingd_alerts",
            "Alerts raised, by severity and code.",
            ["severity", "code"],
            r.alerts,
        )
        if r.last_heartbeat_ns:
            yield gauge_value(
                "tradingd_last_heartbeat_timestamp_seconds",
                "When the daemon's latest heartbeat event was published (Unix time).",
                r.last_heartbeat_ns / NS_PER_S,
            )

    def _self(self) -> Iterator[Metric]:
        r = self.r
        sub = self._sub()
        yield counter(
            "tradingd_metrics_events",
            "Events the metrics actor recorded, by type.",
            ["type"],
            {kind.__name__: n for kind, n in r.events.items()},
        )
        yield counter_value(
            "tradingd_metrics_events_shed",
            "Events the metrics actor's subscription dropped because it was full "
            "(metrics undercount by this much).",
            sub.shed if sub is not None else 0,
        )
        yield counter_value(
            "tradingd_metrics_record_errors",
            "Events the metrics actor failed to record (logged).",
            r.errors,
        )


@final
class RuntimeCollector(Collector):
    """Readiness, actors, channels, the safety state and uptime, read when scraped."""

    def __init__(
        self,
        *,
        bus: Bus,
        clock: Clock,
        settings: Callable[[], Settings],
        probe: HealthProbe | None,
        safety: Callable[[], SafetySnapshot | None],
        recorder: EventRecorder,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.probe = probe
        self.safety = safety
        self.recorder = recorder

    def collect(self) -> Iterator[Metric]:
        """Yield the runtime families."""
        yield from self._health()
        yield from self._channels()
        yield from self._safety()

    def _health(self) -> Iterator[Metric]:
        probe = self.probe
        if probe is None:
            return
        readiness = probe.readiness()
        yield gauge_value(
            "tradingd_ready",
            "1 when /readyz answers 200 (see tradingd_ready_check).",
            readiness.ready,
        )
        yield gauge(
            "tradingd_ready_check",
            "Each readiness condition (1 holds, 0 does not).",
            ["check"],
            {c.name: 1.0 if c.ok else 0.0 for c in readiness.checks},
        )
        yield gauge_value(
            "tradingd_uptime_seconds", "Seconds since the daemon started.", probe.uptime_s()
        )
        sup = probe.supervisor
        if sup is None:
            return
        stuck = set(sup.stuck_actors())
        now = self.clock.now_ns()
        up: dict[tuple[str, str], float] = {}
        is_stuck: dict[str, float] = {}
        restarts: dict[str, float] = {}
        processed: dict[str, float] = {}
        busy: dict[str, float] = {}
        for name, rec in sup.records.items():
            up[(name, "core" if rec.definition.core else "optional")] = (
                1.0 if rec.state is ActorState.RUNNING else 0.0
            )
            is_stuck[name] = 1.0 if name in stuck else 0.0
            restarts[name] = rec.restarts
            processed[name] = rec.health.processed
            busy[name] = rec.health.stuck_for_ns(now) / NS_PER_S
        yield gauge("tradingd_actor_up", "1 while the actor is running.", ["actor", "kind"], up)
        yield gauge(
            "tradingd_actor_stuck",
            "1 while the actor has been busy on one piece of work past daemon.stall_timeout_s.",
            ["actor"],
            is_stuck,
        )
        yield counter("tradingd_actor_restarts", "Supervisor restarts.", ["actor"], restarts)
        yield counter(
            "tradingd_actor_processed", "Units of work the actor took.", ["actor"], processed
        )
        yield gauge(
            "tradingd_actor_busy_seconds",
            "How long the actor has been busy on its current piece of work (0 idle).",
            ["actor"],
            busy,
        )

    def _channels(self) -> Iterator[Metric]:
        bus = self.bus
        depth: dict[str, float] = {}
        capacity: dict[str, float] = {}
        blocked: dict[str, float] = {}
        for name, ch in bus.channels.items():
            depth[name] = ch.depth()
            capacity[name] = ch.capacity
            blocked[name] = ch.stats.blocked
        for topic in bus.topics.values():
            for sub in topic.subscriptions:
                ch = sub.channel
                depth[ch.name] = ch.depth()
                capacity[ch.name] = ch.capacity
                blocked[ch.name] = ch.stats.blocked
        for name, svc in bus.services.items():
            depth[name] = svc.depth()
        yield gauge(
            "tradingd_channel_depth",
            "Messages buffered in each channel, subscription and service queue.",
            ["channel"],
            depth,
        )
        yield gauge(
            "tradingd_channel_capacity", "Buffer size of each channel.", ["channel"], capacity
        )
        yield counter(
            "tradingd_channel_blocked",
            "Sends that had to wait because the channel was full (backpressure).",
            ["channel"],
            blocked,
        )
        yield counter(
            "tradingd_channel_shed",
            "Events dropped by best-effort subscriptions that were full.",
            ["channel"],
            bus.shed_counts(),
        )

    def _safety(self) -> Iterator[Metric]:
        snap = self.safety()
        settings = self.settings()
        limit = settings.risk.daily_loss_limit_pct
        yield gauge_value(
            "tradingd_daily_loss_limit_percent",
            "The daily loss limit, in percent of start-of-day equity (risk.daily_loss_limit_pct).",
            limit,
        )
        if snap is None:
            r = self.recorder
            if r.kill_engaged is not None:
                yield gauge_value(
                    "tradingd_kill_switch_engaged",
                    "1 while the kill switch is engaged.",
                    r.kill_engaged,
                )
            if r.mode is not None:
                yield _mode_gauge(r.mode)
            return
        yield gauge_value(
            "tradingd_kill_switch_engaged", "1 while the kill switch is engaged.", snap.killed
        )
        if snap.killed and snap.kill_ns:
            yield gauge_value(
                "tradingd_kill_switch_engaged_timestamp_seconds",
                "When the kill switch was engaged (Unix time).",
                snap.kill_ns / NS_PER_S,
            )
        yield _mode_gauge(snap.mode)
        yield gauge_value(
            "tradingd_safety_state_writable",
            "0 when the safety state file cannot be written (new risk is halted).",
            snap.writable,
        )
        yield gauge_value(
            "tradingd_consecutive_losses",
            "Current losing streak (circuit breaker input).",
            snap.consecutive_losses,
        )
        yield gauge_value(
            "tradingd_circuit_breaker_active",
            "1 while the circuit breaker's cooldown runs.",
            snap.breaker_until_ns > self.clock.now_ns(),
        )
        start = _decimal(snap.day.start_equity)
        yield gauge_value(
            "tradingd_day_start_equity", "Equity at the start of the trading day.", _f(start)
        )
        yield gauge_value(
            "tradingd_day_realized_pnl",
            "Realized P&L of trades closed today.",
            _f(_decimal(snap.day.realized_pnl)),
        )
        account = self.recorder.account
        if start > 0 and account is not None:
            loss = max(Decimal(0), start - account.equity) / start * 100
            yield gauge_value(
                "tradingd_daily_loss_percent",
                "Today's loss in percent of start-of-day equity (0 when up); the risk gate "
                "refuses entries at tradingd_daily_loss_limit_percent.",
                _f(loss),
            )


def _mode_gauge(mode: TradingMode) -> Metric:
    return gauge(
        "tradingd_trading_mode",
        "The trading mode (1 for the current one).",
        ["mode"],
        {m.value: 1.0 if m is mode else 0.0 for m in TradingMode},
    )


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return Decimal(0)


@final
class StorageCollector(Collector):
    """The storage writer's state: up or in an outage, what it holds, the spool on disk."""

    def __init__(self, probe: HealthProbe | None) -> None:
        self.probe = probe

    def collect(self) -> Iterator[Metric]:
        """Yield the storage families (nothing when there is no storage writer)."""
        sup = self.probe.supervisor if self.probe is not None else None
        rec = sup.records.get(STORAGE_WRITER) if sup is not None else None
        actor = rec.actor if rec is not None else None
        if not isinstance(actor, StorageWriter):
            return
        s = actor.stats
        yield gauge_value(
            "tradingd_storage_up",
            "0 while the database is unreachable (records spool).",
            not s.outage,
        )
        yield counter_value("tradingd_storage_outages", "Database outages.", s.outages)
        yield gauge_value(
            "tradingd_storage_pending_events", "Events waiting in memory for a batch.", s.pending
        )
        yield gauge_value(
            "tradingd_storage_spool_frames",
            "Spooled batches waiting to be replayed.",
            s.backlog_frames,
        )
        yield gauge_value(
            "tradingd_storage_spool_bytes",
            "Bytes in the spool's segment files (growing: the database is away).",
            _dir_bytes(actor.spool_dir),
        )
        for name, value, doc in (
            ("tradingd_storage_batches", s.batches, "Transactions committed."),
            ("tradingd_storage_recorded", s.recorded, "Events newly written to the database."),
            ("tradingd_storage_duplicates", s.duplicates, "Events found already recorded."),
            ("tradingd_storage_spooled", s.spooled, "Events written to the local spool."),
            ("tradingd_storage_replayed", s.replayed, "Spooled events replayed to the database."),
            (
                "tradingd_storage_rejected",
                s.rejected,
                "Events the database refused (dead letters).",
            ),
        ):
            yield counter_value(name, doc, value)
        yield summary(
            "tradingd_storage_batch_seconds",
            "Time spent writing batches to the database (count: committed batches); "
            "rate(sum)/rate(count) is the mean batch latency.",
            s.batches,
            s.write_seconds,
        )
        yield gauge_value(
            "tradingd_storage_last_batch_seconds",
            "How long the latest committed batch write took.",
            s.last_write_s,
        )


@final
class JournalCollector(Collector):
    """The journal's writing: what it encoded and wrote, what waits, what it lost."""

    def __init__(self, probe: HealthProbe | None) -> None:
        self.probe = probe

    def collect(self) -> Iterator[Metric]:
        """Yield the journal families (nothing when the journal actor is not running)."""
        sup = self.probe.supervisor if self.probe is not None else None
        rec = sup.records.get(JOURNAL) if sup is not None else None
        actor = rec.actor if rec is not None else None
        if not isinstance(actor, JournalActor):
            return
        s = actor.stats
        for name, value, doc in (
            ("tradingd_journal_frames", s.frames, "Inputs encoded as journal frames."),
            ("tradingd_journal_written_frames", s.written_frames, "Frames written to disk."),
            ("tradingd_journal_written_bytes", s.written_bytes, "Bytes written to disk."),
            ("tradingd_journal_batches", s.batches, "Batch writes (each fsynced unless off)."),
            (
                "tradingd_journal_dropped",
                s.dropped,
                "Frames dropped because the buffer was full: the replay of this session "
                "will miss them.",
            ),
            ("tradingd_journal_write_errors", s.write_errors, "Failed batch writes."),
        ):
            yield counter_value(name, doc, value)
        yield gauge_value(
            "tradingd_journal_buffered_bytes",
            "Encoded bytes waiting for the next write (growing: the disk is slow or failing).",
            s.buffered_bytes,
        )
        yield gauge_value(
            "tradingd_journal_last_write_seconds",
            "How long the latest batch write took, fsync included.",
            s.last_write_s,
        )


def _dir_bytes(path: Path) -> int:
    total = 0
    try:
        with os.scandir(path) as it:
            for entry in it:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0
    return total


@final
class RedisCollector(Collector):
    """Every Redis link an actor holds, and the signal stream's backlog."""

    def __init__(self, probe: HealthProbe | None, stream: Callable[[], StreamProbe | None]) -> None:
        self.probe = probe
        self.stream = stream

    def collect(self) -> Iterator[Metric]:
        """Yield the Redis families (nothing when Redis is not used)."""
        links = list(self._links())
        sp = self.stream()
        if sp is not None and sp.link.healthy is not None:
            links.append(sp.link)
        if links:
            yield gauge(
                "tradingd_redis_connected",
                "1 while the link is connected to Redis.",
                ["link"],
                {ln.reporter: 1.0 if ln.healthy else 0.0 for ln in links},
            )
            yield counter(
                "tradingd_redis_reconnects",
                "Connections made after the first one (reconnects).",
                ["link"],
                {ln.reporter: max(0, ln.connects - 1) for ln in links},
            )
            yield counter(
                "tradingd_redis_connect_failures",
                "Connection attempts or sessions that failed.",
                ["link"],
                {ln.reporter: ln.failures for ln in links},
            )
        sp = self.stream()
        if sp is None:
            return
        yield gauge_value(
            "tradingd_redis_probe_up", "1 when the latest stream probe succeeded.", sp.ok
        )
        f = sp.last
        if f is None:
            return
        key = (f.stream, f.group)
        yield gauge(
            "tradingd_redis_stream_length",
            "Entries in the stream.",
            ["stream"],
            {f.stream: f.length},
        )
        if f.lag is not None:
            yield gauge(
                "tradingd_redis_stream_lag",
                "Entries not yet delivered to the consumer group.",
                ["stream", "group"],
                {key: f.lag},
            )
        yield gauge(
            "tradingd_redis_stream_pending",
            "Entries delivered to the group and not yet acknowledged.",
            ["stream", "group"],
            {key: f.pending},
        )

    def _links(self) -> Iterable[RedisLink]:
        sup = self.probe.supervisor if self.probe is not None else None
        if sup is None:
            return
        for rec in sup.records.values():
            if rec.actor is None:
                continue
            for value in vars(rec.actor).values():
                # A link never started (a feature turned off) is not a connection.
                if isinstance(value, RedisLink) and value.healthy is not None:
                    yield value
