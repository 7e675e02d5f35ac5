"""From catalogue events to rows: what the storage writer records, and where.

:func:`Projector.prepare` turns one event into a :class:`Prepared` record: its canonical
payload and idempotency key (for the audit log) and the row tails of every table it
projects into. The first two columns of every row — account and audit sequence — are
filled in by the store at write time, when the chain position is known.

Events with a table of their own are listed in :data:`PROJECTED_TYPES`; the others in
:data:`AUDIT_ONLY_TYPES` are kept in the audit log only (operator commands, exit
intents, broker connectivity...). Market data and heartbeats are not stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

import msgspec

from daemon.messages import (
    AccountSnapshot,
    ActorStatus,
    Alert,
    BrokerStatus,
    CancelAllOrders,
    CancelOrder,
    ControlCommand,
    Event,
    ExecutionRecord,
    ExitIntent,
    Fill,
    FlattenAll,
    FusionRecord,
    KillSwitchEvent,
    OrderIntent,
    OrderStatus,
    OrderUpdate,
    PositionUpdate,
    ReconciliationReport,
    RegimeUpdate,
    RiskDecision,
    Signal,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
    TradeClosed,
    TradingModeChanged,
)
from storage import _tables as t
from storage._chain import KEY_LEN, canonical_encoder

Row = tuple[Any, ...]
Rows = tuple[tuple[t.TableSpec, Row], ...]
IndexedRows = tuple[tuple[int, Row | str], ...]
"""Rows naming their spec by :attr:`TableSpec.index` (see :class:`Prepared`)."""

_json = msgspec.json.Encoder(decimal_format="string", order="sorted")
_ZERO = Decimal(0)


class Prepared(msgspec.Struct, frozen=True, gc=False):
    """One event ready to write: audit fields plus the row tails it projects into.

    Rows hold only plain values (enumerations as their ``_value_`` strings, read without
    the ``.value`` descriptor): tuples of plain values are untracked by the garbage
    collector, so a long queue of records never makes a full collection stall the loop.
    """

    event: Event
    kind: str
    ts: int
    key: str
    correlation_id: str
    payload: bytes
    rows: IndexedRows
    """``(spec index, row tail)`` pairs: plain values only, so the collector lets them be.
    In COPY-text mode a tail is already the row's text fields (a ``str``)."""
    copy_text: bool = False
    """Made by a COPY-text projector (tails may be ``str``)."""


def _signal_cols(s: Signal) -> Row:
    return (
        s.signal_id,
        s.source,
        s.symbol,
        s.side._value_,
        s.trade_type._value_,
        s.conviction,
        s.entry_price,
        s.stop_price,
        s.target_price,
        s.created_ns,
        s.received_ns,
        s.is_exit,
        s.note,
    )


def _verdict(e: SignalVerdict, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (e.ts, e.accepted, e.reason, e.detail, e.stage, e.correlation_id)
    return e.correlation_id, ((t.SIGNAL_VERDICTS, tail + _signal_cols(e.signal)),)


def _rejected(e: SignalRejected, _: ZoneInfo) -> tuple[str, Rows]:
    return "", ((t.SIGNAL_REJECTIONS, (e.ts, e.origin, e.error, e.raw)),)


def _signal(e: SignalRecord, _: ZoneInfo) -> tuple[str, Rows]:
    return e.correlation_id, ((t.SIGNALS, (e.correlation_id, e.ts, *_signal_cols(e.signal))),)


def _fusion(e: FusionRecord, _: ZoneInfo) -> tuple[str, Rows]:
    rows: list[tuple[t.TableSpec, Row]] = [
        (
            t.FUSION,
            (
                e.correlation_id,
                e.ts,
                e.symbol,
                e.side._value_,
                e.conviction,
                e.regime._value_,
                e.strategy,
            ),
        )
    ]
    for i, c in enumerate(e.components):
        rows.append(
            (
                t.FUSION_COMPONENTS,
                (i, c.signal_id, c.source, c.side._value_, c.conviction, c.weight, c.age_s),
            )
        )
    return e.correlation_id, tuple(rows)


def _risk(e: RiskDecision, _: ZoneInfo) -> tuple[str, Rows]:
    rows: list[tuple[t.TableSpec, Row]] = [
        (t.RISK_DECISIONS, (e.correlation_id, e.ts, e.symbol, e.approved, e.reason))
    ]
    for i, c in enumerate(e.checks):
        rows.append((t.RISK_CHECKS, (i, c.name, c.value, c.limit, c.passed, c.detail)))
    return e.correlation_id, tuple(rows)


def _intent(e: OrderIntent, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (
        e.client_order_id,
        None,  # last_seq: set when the store folds a status update of the same batch in
        e.correlation_id,
        e.symbol,
        e.side._value_,
        e.qty,
        e.order_type._value_,
        e.limit_price,
        e.stop_price,
        e.tif._value_,
        e.purpose._value_,
        e.reason,
        e.ts,
        OrderStatus.INTENT._value_,
        _ZERO,
        None,
        "",
        e.ts,
    )
    return e.correlation_id, ((t.ORDER_INTENTS, tail),)


def _order_update(e: OrderUpdate, _: ZoneInfo) -> tuple[str, Rows]:
    history = (
        e.client_order_id,
        e.ts,
        e.status._value_,
        e.correlation_id,
        e.broker_order_id,
        e.symbol,
        e.side._value_,
        e.qty,
        e.filled_qty,
        e.avg_fill_price,
        e.purpose._value_,
        e.reason,
    )
    status = (
        e.client_order_id,
        e.correlation_id,
        e.symbol,
        e.side._value_,
        e.qty,
        e.purpose._value_,
        e.reason,
        e.status._value_,
        e.filled_qty,
        e.avg_fill_price,
        e.broker_order_id,
        e.ts,
    )
    return e.correlation_id, ((t.ORDER_EVENTS, history), (t.ORDER_STATUS, status))


def _fill(e: Fill, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (
        e.fill_id,
        e.client_order_id,
        e.correlation_id,
        e.broker_order_id,
        e.ts,
        e.symbol,
        e.side._value_,
        e.qty,
        e.price,
        e.commission,
        e.purpose._value_,
    )
    return e.correlation_id, ((t.FILLS, tail),)


def _execution(e: ExecutionRecord, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (
        e.correlation_id,
        e.client_order_id,
        e.ts,
        e.symbol,
        e.side._value_,
        e.status._value_,
        e.qty,
        e.filled_qty,
        e.avg_fill_price,
        e.expected_price,
        e.slippage_bps,
        e.fees,
        _json.encode(e.problems).decode(),
    )
    return e.correlation_id, ((t.EXECUTIONS, tail),)


def _position(e: PositionUpdate, _: ZoneInfo) -> tuple[str, Rows]:
    p = e.position
    tail = (
        e.ts,
        p.symbol,
        p.qty,
        p.avg_price,
        p.realized_pnl,
        p.unrealized_pnl,
        p.fees,
        p.last_price,
        p.opened_ns,
        p.correlation_id,
        p.source,
        p.trade_type._value_,
        p.stop_price,
        p.target_price,
        e.cause,
    )
    return p.correlation_id, ((t.POSITIONS, tail),)


def trading_day(ts_ns: int, tz: ZoneInfo) -> str:
    """The ``YYYY-MM-DD`` trading day of ``ts_ns`` in the exchange time zone ``tz``."""
    return dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz).date().isoformat()


def _trade(e: TradeClosed, tz: ZoneInfo) -> tuple[str, Rows]:
    tail = (
        e.trade_id,
        e.correlation_id,
        trading_day(e.exit_ns, tz),
        e.symbol,
        e.side._value_,
        e.qty,
        e.entry_price,
        e.exit_price,
        e.entry_ns,
        e.exit_ns,
        max(0, e.exit_ns - e.entry_ns),
        e.pnl,
        e.fees,
        e.exit_reason,
        e.source,
        e.trade_type._value_,
        e.ts,
    )
    return e.correlation_id, ((t.TRADES, tail),)


def _alert(e: Alert, _: ZoneInfo) -> tuple[str, Rows]:
    payload = _json.encode(e.payload).decode() if e.payload else "{}"
    tail = (e.alert_id, e.ts, e.severity._value_, e.code, e.text, payload)
    return "", ((t.ALERTS, tail),)


def _kill(e: KillSwitchEvent, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (e.ts, e.engaged, e.reason, e.trigger, e.by, e.flatten, e.forced)
    return "", ((t.KILL_SWITCH, tail),)


def _mode(e: TradingModeChanged, _: ZoneInfo) -> tuple[str, Rows]:
    tail = (e.ts, e.mode._value_, e.previous._value_, e.reason, e.by)
    return "", ((t.TRADING_MODE, tail),)


def _recon(e: ReconciliationReport, _: ZoneInfo) -> tuple[str, Rows]:
    rows: list[tuple[t.TableSpec, Row]] = [
        (
            t.RECONCILIATION_RUNS,
            (
                e.run_id,
                e.trigger,
                e.positions_checked,
                e.orders_checked,
                len(e.discrepancies),
                e.kill_engaged,
                e.started_ns,
                e.ts,
            ),
        )
    ]
    for i, d in enumerate(e.discrepancies):
        rows.append(
            (
                t.DISCREPANCIES,
                (i, d.kind, d.symbol, d.client_order_id, d.before, d.after, d.notional, d.action),
            )
        )
    return "", tuple(rows)


def _audit_only(e: Any, _: ZoneInfo) -> tuple[str, Rows]:
    cid = getattr(e, "correlation_id", "")
    return cid if isinstance(cid, str) else "", ()


_Projection = Callable[[Any, ZoneInfo], tuple[str, Rows]]

_PROJECTIONS: dict[type[Any], _Projection] = {
    SignalVerdict: _verdict,
    SignalRejected: _rejected,
    SignalRecord: _signal,
    FusionRecord: _fusion,
    RiskDecision: _risk,
    OrderIntent: _intent,
    OrderUpdate: _order_update,
    Fill: _fill,
    ExecutionRecord: _execution,
    PositionUpdate: _position,
    TradeClosed: _trade,
    Alert: _alert,
    KillSwitchEvent: _kill,
    TradingModeChanged: _mode,
    ReconciliationReport: _recon,
}

PROJECTED_TYPES: tuple[type[Any], ...] = tuple(_PROJECTIONS)
"""Events with tables of their own (and a record in the audit log)."""

AUDIT_ONLY_TYPES: tuple[type[Any], ...] = (
    ActorStatus,
    ControlCommand,
    BrokerStatus,
    RegimeUpdate,
    ExitIntent,
    CancelAllOrders,
    CancelOrder,
    FlattenAll,
    AccountSnapshot,
)
"""Events kept in the audit log only."""

STORED_TYPES: tuple[type[Any], ...] = PROJECTED_TYPES + AUDIT_ONLY_TYPES
"""Everything the storage writer subscribes to."""

for _kind in AUDIT_ONLY_TYPES:
    _PROJECTIONS[_kind] = _audit_only


class _Timed(Protocol):
    ts: int


_KEEP_VALUES = frozenset({t.ORDER_STATUS.index, t.ORDER_INTENTS.index, t.TRADES.index})
"""Specs whose rows the store reads (order statuses and intents, daily statistics): kept
as tuples."""
_TEXT_FORMATTERS: tuple[Callable[[Row], str] | None, ...] = tuple(
    None if spec.index in _KEEP_VALUES else spec.tail_text for spec in t.ALL_SPECS
)
"""COPY-text formatter of each spec's row tails, by spec index (None: kept as values)."""
_encode_canonical = canonical_encoder().encode
_sha256 = hashlib.sha256


class Projector:
    """Prepares events for the store; ``tz`` fixes the trading day of trades.

    With ``copy_text`` (PostgreSQL) the row tails of plain-append tables are encoded for
    COPY's text format right here, in the storage writer's drain task — which runs while
    the flusher waits on the database — so writing a batch only prefixes each line with
    its account and sequence number.
    """

    __slots__ = ("copy_text", "tz")

    def __init__(self, tz: ZoneInfo, *, copy_text: bool = False) -> None:
        self.tz = tz
        self.copy_text = copy_text

    def prepare(self, event: Event) -> Prepared:
        """Canonical payload, key and rows of ``event``; raises TypeError for unstored types."""
        kind = type(event)
        fn = _PROJECTIONS.get(kind)
        if fn is None:
            raise TypeError(f"{kind.__name__} is not a stored event type")
        # canonical_payload and event_key, inlined: this runs for every record stored.
        payload = _encode_canonical(event)
        correlation_id, rows = fn(event, self.tz)
        if self.copy_text:
            text = _TEXT_FORMATTERS
            indexed: IndexedRows = tuple(
                [
                    (spec.index, tail if (f := text[spec.index]) is None else f(tail))
                    for spec, tail in rows
                ]
            )
        else:
            indexed = tuple([(spec.index, tail) for spec, tail in rows])
        return Prepared(
            event,
            kind.__name__,
            cast(_Timed, event).ts,
            _sha256(payload).hexdigest()[:KEY_LEN],
            correlation_id,
            payload,
            indexed,
            self.copy_text,
        )
