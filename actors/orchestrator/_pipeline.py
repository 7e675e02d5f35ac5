"""Stages 1–8 for one accepted signal: from the guard's verdict to a submitted order.

Each stage either passes the signal on or turns it down with a reason code, published
as a :class:`~daemon.messages.SignalVerdict` with ``accepted=False`` and the stage
name, under the signal's correlation id. The audit chain for a traded signal is
``SignalRecord → FusionRecord → RiskDecision → OrderIntent → OrderUpdate/Fill →
ExecutionRecord``.

Sizing runs before the risk request (the gate judges a concrete quantity: buying power,
position share and VaR after the trade depend on it); it is recorded as stage 7.
"""

from __future__ import annotations

import enum
import logging
import math
from decimal import Decimal
from typing import Any, final

import msgspec

from actors.orchestrator._adx import AdxTracker
from actors.orchestrator._execution import Execution
from actors.orchestrator._fusion import Fusion
from actors.orchestrator._ids import correlation_id, entry_order_id
from actors.orchestrator._orders import WorkingOrder
from actors.orchestrator._sizing import Sizer, SizeResult
from config.settings import Settings
from daemon.bus import Service, Topic
from daemon.clock import Clock
from daemon.logs import correlation_id_var
from daemon.messages import (
    Alert,
    ExitIntent,
    ExitReason,
    FusionRecord,
    OrderIntent,
    OrderPurpose,
    OrderType,
    Regime,
    RegimeUpdate,
    RiskDecision,
    RiskRequest,
    Severity,
    Side,
    Signal,
    SignalRecord,
    SignalVerdict,
    SourceWeights,
    TimeInForce,
    TradingMode,
)
from daemon.safety import SafetyGate


class Stage(enum.StrEnum):
    """The nine stages, as named in verdicts and docs."""

    STATE = "state"
    GUARD = "guard"
    REGIME = "regime"
    FUSION = "fusion"
    STRATEGY = "strategy"
    RISK = "risk"
    SIZING = "sizing"
    SUBMIT = "submit"
    FILLS = "fills"


class Reject(enum.StrEnum):
    """Reason codes of the orchestrator's own verdicts."""

    GUARD_REJECTED = "guard_rejected"
    DUPLICATE_ORDER = "duplicate_order"
    KILLED = "killed"
    PAUSED = "paused"
    STOPPED = "stopped"
    NO_SAFETY_GATE = "no_safety_gate"
    REGIME_CONVICTION = "regime_conviction"
    FUSION_OPPOSED = "fusion_opposed"
    FUSION_WEAK = "fusion_weak"
    STRATEGY_TREND = "strategy_not_trending"
    STRATEGY_RANGE = "strategy_not_ranging"
    STRATEGY_NO_ADX = "strategy_no_adx"
    NO_PRICE = "no_price"
    RISK_DENIED = "risk_denied"
    RISK_ERROR = "risk_error"
    SUBMIT_BLOCKED = "submit_blocked"
    EXIT_NO_POSITION = "exit_no_position"
    EXIT_DUPLICATE = "exit_duplicate"
    EXIT_ALREADY_CLOSING = "exit_already_closing"
    INTERNAL = "internal_error"


_MODE_REJECT = {TradingMode.PAUSED: Reject.PAUSED, TradingMode.STOPPED: Reject.STOPPED}

_EXIT_REJECT = {
    "no_position": Reject.EXIT_NO_POSITION,
    "duplicate_exit": Reject.EXIT_DUPLICATE,
    "already_closing": Reject.EXIT_ALREADY_CLOSING,
}
"""Why :meth:`Execution.new_exit` made no order, as the exit signal's reason code."""


class _Prepared(msgspec.Struct, frozen=True):
    """A signal through stages 1–5 and sizing, waiting for its risk decision."""

    signal: Signal
    correlation_id: str
    client_order_id: str
    price: float
    size: SizeResult
    heat: float
    request: RiskRequest


@final
class EntryPipeline:
    """Stages 1–8; owns the regime, fusion memory, ADX and the sizer."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        events: Topic[Any],
        risk: Service[Any, Any],
        execution: Execution,
        safety: SafetyGate | None,
        log: logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.clock = clock
        self.log = log
        self.events = events
        self.risk = risk
        self.execution = execution
        self.safety = safety
        o = settings.orchestrator
        self.regime: Regime = o.initial_regime
        self.volatility: float | None = None
        self.fusion = Fusion(o.fusion)
        self.adx = AdxTracker(o.strategy.adx_period)
        self.sizer = Sizer(settings.sizing)
        self.stage_counts: dict[str, int] = {}
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Flatten the settings the hot path reads (and take new ones on reload)."""
        o = settings.orchestrator
        self.account = settings.daemon.account
        self.profiles = dict(o.regimes)
        self.strategy = o.strategy
        self.styles = dict(o.strategy.styles)
        self.fusion_min = o.fusion.min_conviction
        self.fusion.configure(o.fusion)
        published = self.sizer.published
        self.sizer = Sizer(settings.sizing)
        self.sizer.set_stats(*published)
        self.vol_key = settings.sizing.volatility_input
        self.limit_entries = o.entry_order_type == "limit"
        self.limit_offset = o.limit_offset_bps / 10_000.0
        self.tick = Decimal(repr(o.price_tick))
        self.tif = TimeInForce.GTC if o.tif == "gtc" else TimeInForce.DAY
        if self.adx.period != o.strategy.adx_period:
            self.adx = AdxTracker(o.strategy.adx_period)

    # -- inputs besides signals -------------------------------------------------------

    def on_event(self, ev: object) -> None:
        """Regime and source-weight updates from the ``events`` topic."""
        if isinstance(ev, RegimeUpdate):
            self.regime = ev.regime
            if self.vol_key:
                v = ev.inputs.get(self.vol_key)
                if v is not None:
                    self.volatility = v
        elif isinstance(ev, SourceWeights):
            self.fusion.publish_weights(ev.weights)
            self.sizer.set_stats(ev.win_rate, ev.payoff)

    # -- the stages ---------------------------------------------------------------------

    async def handle(self, verdict: SignalVerdict) -> None:
        """Run one guard verdict through stages 1–8."""
        await self.handle_batch([verdict])

    async def handle_batch(self, verdicts: list[SignalVerdict]) -> None:
        """Run a batch of verdicts through stages 1–8, in order.

        Stages 1–5 and sizing run signal by signal; the batch's risk requests then go to
        the risk gate together (one round trip, answered in order, each approval
        reserving its exposure before the next is judged), and the approved orders are
        submitted in the original order.
        """
        batch_coids: set[str] = set()
        ready: list[_Prepared] = []
        for verdict in verdicts:
            # Every log line about this signal carries its correlation id (set in _prepare).
            token = correlation_id_var.set("")
            try:
                prepared = await self._prepare(verdict, batch_coids)
            except Exception as exc:  # one bad signal must not stop the batch
                await self._internal_error(verdict.signal, exc)
                continue
            finally:
                correlation_id_var.reset(token)
            if prepared is not None:
                ready.append(prepared)
        if not ready:
            return
        answers = await self.risk.call_many([p.request for p in ready])
        for prepared, answer in zip(ready, answers, strict=True):
            token = correlation_id_var.set(prepared.correlation_id)
            try:
                await self._complete(prepared, answer)
            except Exception as exc:
                self.execution.heat_working -= prepared.heat
                await self._internal_error(prepared.signal, exc)
            finally:
                correlation_id_var.reset(token)

    async def _prepare(self, verdict: SignalVerdict, batch_coids: set[str]) -> _Prepared | None:
        """Stages 1–5 and sizing; the risk request to send, or None when turned down."""
        sig = verdict.signal
        cid = correlation_id(sig.source, sig.signal_id)
        correlation_id_var.set(cid)  # reset by handle_batch after this signal
        if not verdict.accepted:
            await self._reject(sig, cid, Stage.GUARD, Reject.GUARD_REJECTED, verdict.reason)
            return None
        ex = self.execution
        coid = entry_order_id(self.account, sig.source, sig.signal_id)
        if coid in batch_coids or ex.orders.known(coid):
            # The same signal again (a re-delivery the guard no longer remembers).
            await self._reject(sig, cid, Stage.SUBMIT, Reject.DUPLICATE_ORDER, coid)
            return None
        batch_coids.add(coid)
        now = self.clock.now_ns()
        publish = self.events.publish
        await publish(SignalRecord(correlation_id=cid, signal=sig, ts=now))

        # 1. trading state: entries need RUNNING and no kill; exits always pass.
        if sig.is_exit:
            await self._exit_signal(sig, cid, now)
            return None
        if self.safety is None:
            await self._reject(sig, cid, Stage.STATE, Reject.NO_SAFETY_GATE, "")
            return None
        snap = self.safety.snapshot()
        if snap.killed:
            await self._reject(sig, cid, Stage.STATE, Reject.KILLED, snap.kill_reason)
            return None
        if snap.mode is not TradingMode.RUNNING:
            await self._reject(sig, cid, Stage.STATE, _MODE_REJECT[snap.mode], "")
            return None

        # 2. guard verdict: accepted (checked above). 3. regime adaptation.
        regime = self.regime
        profile = self.profiles.get(regime)
        if profile is not None and sig.conviction < profile.min_conviction:
            await self._reject(
                sig,
                cid,
                Stage.REGIME,
                Reject.REGIME_CONVICTION,
                f"conviction {sig.conviction} < {profile.min_conviction:g} in {regime}",
            )
            return None

        # 4. fusion, 5. strategy selection (recorded together in the FusionRecord).
        fused = self.fusion.fuse(sig, now)
        strategy, why_not = self._strategy(sig)
        await publish(
            FusionRecord(
                correlation_id=cid,
                symbol=sig.symbol,
                side=fused.side,
                conviction=round(fused.conviction, 4),
                components=fused.components,
                regime=regime,
                strategy=strategy,
                ts=now,
            )
        )
        if fused.side is not sig.side:
            await self._reject(
                sig, cid, Stage.FUSION, Reject.FUSION_OPPOSED, f"fused side is {fused.side}"
            )
            return None
        if fused.conviction <= 0.0 or fused.conviction < self.fusion_min:
            await self._reject(
                sig,
                cid,
                Stage.FUSION,
                Reject.FUSION_WEAK,
                f"fused conviction {fused.conviction:.2f} < {self.fusion_min:g}",
            )
            return None
        if why_not is not None:
            await self._reject(sig, cid, Stage.STRATEGY, why_not, strategy)
            return None

        # 7. sizing (before the request: the gate judges this quantity).
        price = sig.entry_price or ex.last_price.get(sig.symbol)
        if price is None or not price > 0.0:
            await self._reject(sig, cid, Stage.SIZING, Reject.NO_PRICE, "no entry or last price")
            return None
        size = self.sizer.size(
            equity=ex.equity(),
            entry=price,
            stop=sig.stop_price,
            source=sig.source,
            open_risk=ex.open_risk(),
            peak_equity=ex.peak_equity,
            regime_multiplier=profile.size_multiplier if profile is not None else 1.0,
            heat_multiplier=profile.heat_multiplier if profile is not None else 1.0,
            volatility=self.volatility,
        )
        if not size.ok:
            await self._reject(sig, cid, Stage.SIZING, f"size_{size.reason}", size.detail)
            return None
        # The heat is held from here, so later signals of the same batch are sized
        # against it; it is handed back if the entry does not go out.
        heat = float(size.qty) * size.risk_per_unit
        ex.heat_working += heat
        request = RiskRequest(
            correlation_id=cid,
            symbol=sig.symbol,
            side=sig.side,
            qty=size.qty,
            price=price,
            stop_price=sig.stop_price,
            trade_type=sig.trade_type,
            source=sig.source,
            regime=regime,
            ts=now,
        )
        return _Prepared(sig, cid, coid, price, size, heat, request)

    async def _complete(self, p: _Prepared, answer: object) -> None:
        """Stage 6's answer, then stage 8: submit the approved entry."""
        ex = self.execution
        sig, cid = p.signal, p.correlation_id
        if not isinstance(answer, RiskDecision):
            ex.heat_working -= p.heat
            await self._reject(sig, cid, Stage.RISK, Reject.RISK_ERROR, repr(answer))
            return
        await self.events.publish(answer)
        if not answer.approved:
            ex.heat_working -= p.heat
            await self._reject(sig, cid, Stage.RISK, Reject.RISK_DENIED, answer.reason)
            return
        size = p.size
        order_type = OrderType.MARKET
        limit: Decimal | None = None
        if self.limit_entries and sig.entry_price is not None:
            order_type = OrderType.LIMIT
            raw = sig.entry_price * (1.0 + self.limit_offset * sig.side.sign)
            limit = (Decimal(repr(raw)) / self.tick).quantize(Decimal(1)) * self.tick
        intent = OrderIntent(
            client_order_id=p.client_order_id,
            correlation_id=cid,
            symbol=sig.symbol,
            side=sig.side,
            qty=size.qty,
            order_type=order_type,
            limit_price=limit,
            tif=self.tif,
            purpose=OrderPurpose.ENTRY,
            reason=self.sizer.method,
            ts=self.clock.now_ns(),
        )
        order = WorkingOrder(
            intent,
            expected_price=float(limit) if limit is not None else p.price,
            submitted_ns=intent.ts,
            source=sig.source,
            trade_type=sig.trade_type,
            stop_price=sig.stop_price,
            target_price=sig.target_price,
            risk_per_unit=size.risk_per_unit,
        )
        if not await ex.submit(order):
            await self._reject(sig, cid, Stage.SUBMIT, Reject.SUBMIT_BLOCKED, "safety gate")

    async def _internal_error(self, sig: Signal, exc: Exception) -> None:
        """A bug or bad data in one signal: log it, say so, and carry on with the rest."""
        cid = correlation_id(sig.source, sig.signal_id)
        self.log.error(
            "signal failed in the pipeline",
            exc_info=exc,
            extra={
                "event": "pipeline_error",
                "signal_id": sig.signal_id,
                "correlation_id": cid,
                "symbol": sig.symbol,
            },
        )
        text = f"{type(exc).__name__}: {exc}"
        await self._reject(sig, cid, Stage.STATE, Reject.INTERNAL, text)
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"orchestrator-pipeline_error-{cid}-{now}",
                severity=Severity.ERROR,
                code="pipeline_error",
                text=f"signal {sig.signal_id} from {sig.source}: {text}",
                payload={"correlation_id": cid},
                ts=now,
            )
        )

    def _strategy(self, sig: Signal) -> tuple[str, Reject | None]:
        st = self.strategy
        style = self.styles.get(sig.source, "any")
        if not st.enabled or style == "any":
            return style, None
        adx = self.adx.value(sig.symbol)
        if math.isnan(adx):
            label = f"{style} adx=n/a"
            return label, (Reject.STRATEGY_NO_ADX if st.missing_adx == "reject" else None)
        label = f"{style} adx={adx:.2f}"
        if style == "trend" and adx < st.trend_min_adx:
            return label, Reject.STRATEGY_TREND
        if style == "mean_reversion" and adx > st.mean_reversion_max_adx:
            return label, Reject.STRATEGY_RANGE
        return label, None

    async def _exit_signal(self, sig: Signal, cid: str, now: int) -> None:
        """A strategy's exit signal closes its position through the exit path."""
        held = self.execution.books.qty(sig.symbol)
        # An exit signal's side is the closing order's side: a sell closes a long.
        if held == 0 or (held > 0) != (sig.side is Side.SELL):
            await self._reject(
                sig, cid, Stage.SUBMIT, Reject.EXIT_NO_POSITION, f"held {held} {sig.symbol}"
            )
            return
        ex = ExitIntent(
            exit_id=f"signal:{sig.source}:{sig.signal_id}",
            symbol=sig.symbol,
            side=sig.side,
            reason=ExitReason.EXIT_SIGNAL,
            trigger_price=sig.entry_price,
            correlation_id=cid,
            ts=now,
        )
        why = await self.submit_exit(ex)
        # Every exit signal ends in a recorded outcome (a Redis stream entry is
        # acknowledged on it): the exit order's intent when one was made — also when the
        # safety gate then blocked it — else this verdict.
        reject = _EXIT_REJECT.get(why or "")
        if reject is not None:
            await self._reject(sig, cid, Stage.SUBMIT, reject, f"{sig.symbol}: {why}")

    async def submit_exit(self, ex: ExitIntent) -> str | None:
        """The exit path: straight to submission, no entry checks; None when sent."""
        exe = self.execution
        order = exe.new_exit(ex, self.clock.now_ns())
        if isinstance(order, str):
            return order
        if ex.qty is None:
            await exe.cancel_entries(ex.symbol, f"closing position: {ex.reason}")
        sent = await exe.submit(order)
        return None if sent else "blocked"

    async def _reject(self, sig: Signal, cid: str, stage: Stage, reason: str, detail: str) -> None:
        key = f"{stage}:{reason}"
        self.stage_counts[key] = self.stage_counts.get(key, 0) + 1
        await self.events.publish(
            SignalVerdict(
                signal=sig,
                accepted=False,
                reason=reason,
                detail=detail,
                ts=self.clock.now_ns(),
                stage=stage,
                correlation_id=cid,
            )
        )
