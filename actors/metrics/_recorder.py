"""Domain events -> counters, histograms and last-known values, cheaply.

The recorder keeps plain Python numbers in dicts keyed by label values; nothing is
locked or formatted per event. prometheus_client's instrumented ``Counter`` takes a lock
and resolves label children on every ``inc()``, which is several times the cost of a
dict increment; here the events arrive on one event loop and the scrape runs on the
same loop, so no lock is needed, and the conversion to metric families happens only
when someone scrapes (:mod:`actors.metrics._families`).

Label values come from code (reason codes, statuses, check names) except two that come
from outside: a signal's ``source`` is kept only when it is a configured source
(``guard.sources``) and is ``other`` otherwise, and a position's ``symbol`` exists only
while the position is open — so a hostile or buggy sender cannot grow the series count.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, final

from config.sections.metrics import MetricsSettings
from daemon.clock import NS_PER_S
from daemon.messages import (
    ZERO,
    AccountSnapshot,
    ActorStatus,
    Alert,
    BrokerStatus,
    ExecutionRecord,
    Fill,
    Heartbeat,
    KillSwitchEvent,
    OrderPurpose,
    OrderStatus,
    OrderUpdate,
    PositionSnapshot,
    PositionUpdate,
    ReconciliationReport,
    RegimeUpdate,
    RiskDecision,
    ServiceStatus,
    Side,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
    TradeClosed,
    TradingMode,
    TradingModeChanged,
)

_TERMINAL = frozenset(s for s in OrderStatus if s.is_terminal)

OTHER = "other"
"""Label value standing for every value outside a bounded set."""


@final
class Buckets:
    """A histogram's state: a count per bucket, the sum and the count of observations."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose upper bound is >= it (Prometheus ``le``)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= it)`` pairs, ending with ``(+inf, count)``."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


def _inc(d: dict[Any, int], key: Any, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


@final
class EventRecorder:
    """Turns each domain event into metric updates; see docs/observability.md."""

    def __init__(self, cfg: MetricsSettings, known_sources: Iterable[str] = ()) -> None:
        self.known_sources = frozenset(known_sources)
        self.max_signals = cfg.max_tracked_signals
        self.max_orders = cfg.max_tracked_orders
        self.events: dict[type[Any], int] = {}
        """Events recorded, by type (named at scrape time)."""
        self.errors = 0
        """Events the recorder failed on (logged by the actor; counting goes on)."""
        # signals
        self.signals_received: dict[str, int] = {}
        self.signals_accepted: dict[str, int] = {}
        self.signals_rejected: dict[tuple[str, str], int] = {}
        self.signals_invalid: dict[str, int] = {}
        # risk
        self.risk_decisions: dict[str, int] = {}
        self.risk_check_failures: dict[str, int] = {}
        # orders and executions
        self.order_updates: dict[tuple[OrderStatus, OrderPurpose], int] = {}
        self.working: OrderedDict[str, OrderPurpose] = OrderedDict()
        self.working_count: dict[OrderPurpose, int] = {}
        """Working orders by purpose, kept as :attr:`working` changes (a scrape reads it)."""
        self.working_evicted = 0
        self.fills: dict[tuple[Side, OrderPurpose], int] = {}
        self.fill_notional = ZERO
        self.commission = ZERO
        self.execution_problems: dict[str, int] = {}
        self.slippage = Buckets(cfg.slippage_buckets_bps)
        self.latency = Buckets(cfg.latency_buckets_s)
        self.pending_signals: OrderedDict[str, int] = OrderedDict()
        self.pending_evicted = 0
        # books
        self.positions: dict[str, PositionSnapshot] = {}
        self.account: AccountSnapshot | None = None
        self.trades: dict[str, int] = {}
        # safety, regime, operations
        self.kill_events: dict[tuple[str, str], int] = {}
        self.kill_engaged: bool | None = None
        self.mode: TradingMode | None = None
        self.mode_changes: dict[str, int] = {}
        self.regime = ""
        self.actor_transitions: dict[tuple[str, str], int] = {}
        self.reconciliations: dict[str, int] = {}
        self.discrepancies: dict[str, int] = {}
        self.last_reconciliation: ReconciliationReport | None = None
        self.services: dict[tuple[str, str], bool] = {}
        self.service_outages: dict[str, int] = {}
        self.service_recoveries: dict[str, int] = {}
        self.brokers: dict[str, bool] = {}
        self.broker_disconnects: dict[str, int] = {}
        self.alerts: dict[tuple[str, str], int] = {}
        self.last_heartbeat_ns = 0
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            SignalVerdict: self._verdict,
            SignalRejected: self._invalid,
            SignalRecord: self._signal_record,
            RiskDecision: self._risk,
            OrderUpdate: self._order,
            Fill: self._fill,
            ExecutionRecord: self._execution,
            PositionUpdate: self._position,
            AccountSnapshot: self._account,
            TradeClosed: self._trade,
            KillSwitchEvent: self._kill,
            TradingModeChanged: self._mode,
            RegimeUpdate: self._regime,
            ActorStatus: self._actor,
            ReconciliationReport: self._reconciliation,
            ServiceStatus: self._service,
            BrokerStatus: self._broker,
            Alert: self._alert,
            Heartbeat: self._heartbeat,
        }

    @property
    def types(self) -> tuple[type[Any], ...]:
        """The event types the recorder reads (the actor subscribes to exactly these)."""
        return tuple(self._handlers)

    def record(self, event: Any) -> None:
        """Update the metrics for one event (unknown types are ignored)."""
        kind = type(event)
        handler = self._handlers.get(kind)
        if handler is None:
            return
        events = self.events
        events[kind] = events.get(kind, 0) + 1
        handler(event)

    def record_all(self, events: Iterable[Any]) -> int:
        """Record each event; an event that fails is counted in :attr:`errors` and skipped.

        Returns how many failed (the caller logs them).
        """
        failed = 0
        record = self.record
        for event in events:
            try:
                record(event)
            except Exception:
                failed += 1
        self.errors += failed
        return failed

    # -- signals -----------------------------------------------------------------------

    def source_label(self, source: str) -> str:
        """``source`` when it is configured, else ``other`` (bounded label values)."""
        return source if source in self.known_sources else OTHER

    def _verdict(self, v: SignalVerdict) -> None:
        if not v.correlation_id:
            # The guard's verdict: every signal that reached the daemon gets exactly one.
            src = self.source_label(v.signal.source)
            _inc(self.signals_received, src)
            if v.accepted:
                _inc(self.signals_accepted, src)
                return
        elif v.accepted:
            return
        _inc(self.signals_rejected, (v.stage, v.reason))
        if v.correlation_id:
            self.pending_signals.pop(v.correlation_id, None)

    def _invalid(self, r: SignalRejected) -> None:
        _inc(self.signals_invalid, r.origin)

    def _signal_record(self, r: SignalRecord) -> None:
        start = r.signal.received_ns or r.ts
        pending = self.pending_signals
        pending[r.correlation_id] = start
        if len(pending) > self.max_signals:
            pending.popitem(last=False)
            self.pending_evicted += 1

    # -- risk --------------------------------------------------------------------------

    def _risk(self, d: RiskDecision) -> None:
        _inc(self.risk_decisions, "approved" if d.approved else "rejected")
        if not d.approved:
            for c in d.checks:
                if not c.passed:
                    _inc(self.risk_check_failures, c.name)
            self.pending_signals.pop(d.correlation_id, None)

    # -- orders ------------------------------------------------------------------------

    def _order(self, u: OrderUpdate) -> None:
        # The hottest handler (several updates per order): enum members are the keys
        # (a StrEnum hashes and compares as its value), no helper calls.
        status = u.status
        key = (status, u.purpose)
        updates = self.order_updates
        updates[key] = updates.get(key, 0) + 1
        coid = u.client_order_id
        working = self.working
        count = self.working_count
        if status in _TERMINAL:
            gone = working.pop(coid, None)
            if gone is not None:
                count[gone] -= 1
        elif coid not in working:
            working[coid] = purpose = u.purpose
            count[purpose] = count.get(purpose, 0) + 1
            if len(working) > self.max_orders:
                _, evicted = working.popitem(last=False)
                count[evicted] -= 1
                self.working_evicted += 1
        cid = u.correlation_id
        if cid and cid in self.pending_signals:
            if status is OrderStatus.ACCEPTED:
                start = self.pending_signals.pop(cid)
                self.latency.observe(max(0, u.ts - start) / NS_PER_S)
            elif status.is_terminal:
                # Turned down before the broker accepted it: no latency to observe.
                del self.pending_signals[cid]

    def _fill(self, f: Fill) -> None:
        key = (f.side, f.purpose)
        fills = self.fills
        fills[key] = fills.get(key, 0) + 1
        # Decimal sums: cheaper per fill than converting each to float (done at scrape).
        self.fill_notional += f.qty * f.price
        self.commission += f.commission

    def _execution(self, e: ExecutionRecord) -> None:
        for p in e.problems:
            _inc(self.execution_problems, p)
        if e.filled_qty and e.expected_price is not None:
            self.slippage.observe(e.slippage_bps)

    # -- books -------------------------------------------------------------------------

    def _position(self, u: PositionUpdate) -> None:
        p = u.position
        if not p.qty:
            self.positions.pop(p.symbol, None)
        else:
            self.positions[p.symbol] = p

    def _account(self, a: AccountSnapshot) -> None:
        self.account = a

    def _trade(self, t: TradeClosed) -> None:
        pnl = t.pnl
        _inc(self.trades, "win" if pnl > ZERO else "loss" if pnl < ZERO else "flat")

    # -- safety and operations ---------------------------------------------------------

    def _kill(self, k: KillSwitchEvent) -> None:
        _inc(self.kill_events, ("engaged" if k.engaged else "reset", k.trigger))
        self.kill_engaged = k.engaged

    def _mode(self, m: TradingModeChanged) -> None:
        self.mode = m.mode
        _inc(self.mode_changes, m.mode.value)

    def _regime(self, r: RegimeUpdate) -> None:
        self.regime = r.regime.value

    def _actor(self, s: ActorStatus) -> None:
        _inc(self.actor_transitions, (s.actor, s.state.value))

    def _reconciliation(self, r: ReconciliationReport) -> None:
        _inc(self.reconciliations, r.trigger)
        for d in r.discrepancies:
            _inc(self.discrepancies, d.kind)
        self.last_reconciliation = r

    def _service(self, s: ServiceStatus) -> None:
        key = (s.service, s.reporter)
        before = self.services.get(key)
        self.services[key] = s.healthy
        if before is None:
            if not s.healthy:
                _inc(self.service_outages, s.service)
        elif before and not s.healthy:
            _inc(self.service_outages, s.service)
        elif not before and s.healthy:
            _inc(self.service_recoveries, s.service)

    def _broker(self, b: BrokerStatus) -> None:
        before = self.brokers.get(b.broker)
        self.brokers[b.broker] = b.connected
        if not b.connected and before is not False:
            _inc(self.broker_disconnects, b.broker)

    def _alert(self, a: Alert) -> None:
        _inc(self.alerts, (a.severity.value, a.code))

    def _heartbeat(self, h: Heartbeat) -> None:
        self.last_heartbeat_ns = h.ts
