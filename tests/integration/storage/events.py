"""Realistic event streams for storage tests and the storage benchmark.

:func:`pipeline_events` emits what the daemon publishes for each signal: the guard's
verdict, the signal record, fusion, the risk decision with its checks, the order intent,
status updates, fills, the execution record and position updates; every other signal is
closed again (exit order, fill, flat position, closed trade). Some signals are rejected,
and alerts, kill-switch, trading-mode, reconciliation, actor-status and undecodable
payload events are mixed in. Deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

from actors.risk_gate import CHECK_NAMES
from daemon.messages import (
    ActorState,
    ActorStatus,
    Alert,
    Discrepancy,
    Event,
    ExecutionRecord,
    ExitIntent,
    ExitReason,
    Fill,
    FusionComponent,
    FusionRecord,
    KillSwitchEvent,
    OrderIntent,
    OrderPurpose,
    OrderStatus,
    OrderUpdate,
    PositionSnapshot,
    PositionUpdate,
    ReconciliationReport,
    RiskCheck,
    RiskDecision,
    Severity,
    Side,
    Signal,
    SignalRecord,
    SignalRejected,
    SignalVerdict,
    TradeClosed,
    TradingMode,
    TradingModeChanged,
)

START_NS = 1_700_000_000 * 1_000_000_000
SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY", "QQQ", "TSLA", "AMZN", "META")
SOURCES = ("momentum", "meanrev", "news", "pairs")
EXIT_REASONS = (ExitReason.PROFIT_TARGET, ExitReason.STOP_LOSS, ExitReason.TRAILING_STOP)


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1_000, 50_000)) / 100


def signal_chain(i: int, ts: int, rng: random.Random, *, close: bool) -> list[Event]:
    """Every event of one accepted signal that is filled (and, if ``close``, closed)."""
    sym = SYMBOLS[i % len(SYMBOLS)]
    src = SOURCES[i % len(SOURCES)]
    side = Side.BUY if i % 3 else Side.SELL
    cid = f"c-{i:08d}"
    coid = f"o-{i:08d}"
    qty = Decimal(rng.randint(1, 500))
    px = _price(rng)
    sig = Signal(
        signal_id=f"s-{i}",
        source=src,
        symbol=sym,
        side=side,
        conviction=rng.randint(40, 100),
        entry_price=float(px),
        stop_price=float(px) * 0.97,
        created_ns=ts - 1_000_000,
        received_ns=ts,
    )
    fill_px = px + Decimal(rng.randint(-5, 5)) / 100
    fee = (qty * Decimal("0.005")).quantize(Decimal("0.01"))
    out: list[Event] = [
        SignalVerdict(signal=sig, accepted=True, ts=ts),
        SignalRecord(correlation_id=cid, signal=sig, ts=ts + 1),
        FusionRecord(
            correlation_id=cid,
            symbol=sym,
            side=side,
            conviction=rng.uniform(40, 100),
            components=(
                FusionComponent(
                    signal_id=sig.signal_id,
                    source=src,
                    side=side,
                    conviction=sig.conviction,
                    weight=0.6,
                    age_s=0.0,
                ),
                FusionComponent(
                    signal_id=f"s-{i - 1}",
                    source=SOURCES[(i + 1) % len(SOURCES)],
                    side=side,
                    conviction=55,
                    weight=0.4,
                    age_s=12.5,
                ),
            ),
            strategy="trend",
            ts=ts + 2,
        ),
        RiskDecision(
            correlation_id=cid,
            symbol=sym,
            approved=True,
            # As many checks as the real risk gate records, each with a detail line.
            checks=tuple(
                RiskCheck(
                    name=name,
                    value=round(rng.uniform(0, 10), 4),
                    limit=10.0,
                    passed=True,
                    detail=f"{sym} {name} {i % 10} within the limit",
                )
                for name in CHECK_NAMES
            ),
            ts=ts + 3,
        ),
        OrderIntent(
            client_order_id=coid, correlation_id=cid, symbol=sym, side=side, qty=qty, ts=ts + 4
        ),
        OrderUpdate(
            client_order_id=coid,
            correlation_id=cid,
            broker_order_id=f"b-{i}",
            symbol=sym,
            side=side,
            status=OrderStatus.ACCEPTED,
            qty=qty,
            ts=ts + 5,
        ),
        Fill(
            fill_id=f"f-{i}",
            client_order_id=coid,
            correlation_id=cid,
            broker_order_id=f"b-{i}",
            symbol=sym,
            side=side,
            qty=qty,
            price=fill_px,
            commission=fee,
            ts=ts + 6,
        ),
        OrderUpdate(
            client_order_id=coid,
            correlation_id=cid,
            broker_order_id=f"b-{i}",
            symbol=sym,
            side=side,
            status=OrderStatus.FILLED,
            qty=qty,
            filled_qty=qty,
            avg_fill_price=fill_px,
            ts=ts + 7,
        ),
        ExecutionRecord(
            correlation_id=cid,
            client_order_id=coid,
            symbol=sym,
            side=side,
            status=OrderStatus.FILLED,
            qty=qty,
            filled_qty=qty,
            avg_fill_price=fill_px,
            expected_price=float(px),
            slippage_bps=float((fill_px - px) / px * 10_000),
            fees=fee,
            ts=ts + 8,
        ),
        PositionUpdate(
            position=PositionSnapshot(
                symbol=sym,
                qty=qty * side.sign,
                avg_price=fill_px,
                fees=fee,
                opened_ns=ts + 6,
                correlation_id=cid,
                source=src,
            ),
            cause="fill",
            ts=ts + 9,
        ),
    ]
    if not close:
        return out
    xcoid = f"x-{i:08d}"
    xside = side.opposite
    reason = EXIT_REASONS[i % len(EXIT_REASONS)]
    exit_px = fill_px + Decimal(rng.randint(-300, 300)) / 100
    pnl = (exit_px - fill_px) * qty * side.sign
    out += [
        ExitIntent(
            exit_id=f"e-{i}",
            symbol=sym,
            side=xside,
            reason=reason,
            correlation_id=cid,
            ts=ts + 10,
        ),
        OrderIntent(
            client_order_id=xcoid,
            correlation_id=cid,
            symbol=sym,
            side=xside,
            qty=qty,
            purpose=OrderPurpose.EXIT,
            reason=reason.value,
            ts=ts + 11,
        ),
        Fill(
            fill_id=f"fx-{i}",
            client_order_id=xcoid,
            correlation_id=cid,
            symbol=sym,
            side=xside,
            qty=qty,
            price=exit_px,
            commission=fee,
            purpose=OrderPurpose.EXIT,
            ts=ts + 12,
        ),
        OrderUpdate(
            client_order_id=xcoid,
            correlation_id=cid,
            symbol=sym,
            side=xside,
            status=OrderStatus.FILLED,
            qty=qty,
            filled_qty=qty,
            avg_fill_price=exit_px,
            purpose=OrderPurpose.EXIT,
            ts=ts + 13,
        ),
        PositionUpdate(
            position=PositionSnapshot(
                symbol=sym,
                qty=Decimal(0),
                avg_price=Decimal(0),
                realized_pnl=pnl,
                fees=fee * 2,
                correlation_id=cid,
                source=src,
            ),
            cause="exit",
            ts=ts + 14,
        ),
        TradeClosed(
            trade_id=f"t-{i}",
            correlation_id=cid,
            symbol=sym,
            side=side,
            qty=qty,
            entry_price=fill_px,
            exit_price=exit_px,
            entry_ns=ts + 6,
            exit_ns=ts + 12,
            pnl=pnl,
            fees=fee * 2,
            exit_reason=reason.value,
            source=src,
            ts=ts + 15,
        ),
    ]
    return out


def _extra(i: int, ts: int, rng: random.Random) -> Event:
    n = i // 4
    kind = n % 6
    if kind == 0:
        sig = Signal(
            signal_id=f"r-{i}",
            source=SOURCES[i % 4],
            symbol=SYMBOLS[i % 8],
            side=Side.BUY,
            created_ns=ts - 10**9,
        )
        return SignalVerdict(signal=sig, accepted=False, reason="stale", detail="age 61s", ts=ts)
    if kind == 1:
        return Alert(
            alert_id=f"a-{i}",
            severity=Severity.WARNING,
            code="slippage_high",
            text=f"slippage {rng.uniform(5, 50):.1f} bps",
            payload={"symbol": SYMBOLS[i % 8], "bps": 12.5},
            ts=ts,
        )
    if kind == 2:
        return SignalRejected(origin="redis", error="Expected `int`", raw='{"x": 1}', ts=ts)
    if kind == 3:
        return ActorStatus(actor="risk_gate", state=ActorState.RUNNING, core=True, ts=ts)
    if kind == 4:
        return ReconciliationReport(
            run_id=f"rec-{i}",
            trigger="periodic",
            positions_checked=8,
            orders_checked=3,
            discrepancies=(
                Discrepancy(kind="qty_mismatch", symbol="AAPL", before="10", after="12"),
            ),
            started_ns=ts - 1000,
            ts=ts,
        )
    engaged = bool(n % 2)
    if n % 12 == 11:
        return TradingModeChanged(
            mode=TradingMode.PAUSED, previous=TradingMode.RUNNING, reason="operator", ts=ts
        )
    return KillSwitchEvent(engaged=engaged, reason="test", trigger="operator", ts=ts)


def pipeline_events(n_signals: int, *, seed: int = 7, start_ns: int = START_NS) -> list[Event]:
    """The events of ``n_signals`` signals (about 13 events each), in publication order."""
    return list(iter_pipeline_events(n_signals, seed=seed, start_ns=start_ns))


def iter_pipeline_events(
    n_signals: int, *, seed: int = 7, start_ns: int = START_NS, first: int = 0
) -> Iterator[Event]:
    """Lazy :func:`pipeline_events`; ``first`` offsets ids so streams can be continued."""
    rng = random.Random(seed + first)
    for k in range(n_signals):
        i = first + k
        ts = start_ns + i * 1_000_000
        yield from signal_chain(i, ts, rng, close=i % 2 == 1)
        if i % 4 == 0:
            yield _extra(i, ts + 500_000, rng)
