"""The lifecycle monitor: protects every open position from fill to close.

Inputs — ``events`` (PositionUpdate, accepted SignalVerdict), ``market`` (Tick, Bar,
MarketBatch) and ``lifecycle.control`` (FlattenAll) — each have a task; they share the
position book under one lock, so a state change is never seen half-done (the only
awaits inside are an offloaded evaluation and sending exits). Exits go to the
orchestrator on ``orchestrator.exits`` and are published on ``events`` for the record.

Per market update: validate at the boundary, feed bars to the indicators, mark the
positions (price, range since the last check, bars held), then evaluate every rule for
every position in one call of the compiled kernel. A symbol seen twice in one batch
splits the batch there, so each price is checked in order and none is skipped.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal
from typing import Any, final

import anyio
import numpy as np
from anyio.abc import TaskStatus

from actors.kernels import (
    CODE_SCALE_OUT,
    REASONS,
    HorizonBoard,
    IndicatorBank,
    KernelInputError,
    MarketColumns,
    Stretch,
    check_bar,
    check_price,
    columns_of,
    evaluate_exits,
    mark_and_check,
    warm_up,
)
from actors.kernels._exits import (
    F_ENTRY,
    F_HIGH,
    F_LAST,
    F_LOW,
    F_SCALE_TARGET,
    F_STOP,
    F_TARGET,
    I_BAR_CLOSED,
    I_EXIT_SIGNAL,
    I_MAX_HOLD_NS,
    I_OPENED_NS,
    I_PENDING,
)
from actors.kernels._indicators import ATR_FIELDS, EMA_FIELDS, new_state
from actors.lifecycle._adopt import broker_positions
from actors.lifecycle._book import PositionBook, RowMeta
from actors.lifecycle._eod import DailyTime
from actors.lifecycle._marks import Marker
from actors.lifecycle._rules import levels_for
from config.sections.lifecycle import LifecycleSettings
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Topic
from daemon.clock import NS_PER_S
from daemon.messages import (
    Alert,
    Bar,
    ExitIntent,
    ExitReason,
    FlattenAll,
    MarketBatch,
    PositionSnapshot,
    PositionUpdate,
    Severity,
    SignalVerdict,
    Tick,
    TradeType,
)

_NO_DEADLINE = np.iinfo(np.int64).max
HORIZON_NAME = "lifecycle"
"""The monitor's name on the :class:`~actors.kernels.HorizonBoard`."""


@final
class LifecycleMonitor(Actor):
    """Watches open positions and emits exactly one exit intent per exit decision."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self._configure(ctx.settings)
        cfg = self.cfg
        self.book = PositionBook(cfg.capacity)
        self.bank = IndicatorBank(ema_period=cfg.ema_fast_period, atr_period=cfg.atr_period)
        self._reason = np.zeros(self.book.capacity, np.int64)
        self._trigger = np.zeros(self.book.capacity, np.float64)
        self._touched = np.zeros(self.book.capacity, np.int64)
        self.marker = Marker(self.book, self.bank, cfg.bar_interval_s, cfg.max_batch)
        self.exits = self.bus.channel(names.ORCHESTRATOR_EXITS)
        self.control = self.bus.channel(names.LIFECYCLE_CONTROL)
        self.events: Topic[Any] = self.bus.topic(names.EVENTS)
        self.event_sub = self.events.subscribe("lifecycle", types=(PositionUpdate, SignalVerdict))
        self.market_sub = self.bus.topic(names.MARKET).subscribe(
            "lifecycle", types=(Tick, Bar, MarketBatch)
        )
        self._lock = anyio.Lock(fast_acquire=True)
        self._wake = anyio.Event()
        self._timer_scope: anyio.CancelScope | None = None
        self._intraday = 0
        self._next_eod = self._eod.next_after(self.clock.now_ns())
        self.rejected = 0
        """Inputs refused at the boundary (bad prices, inconsistent positions)."""
        self.exits_sent = 0
        self.handled = {"market": 0, "events": 0, "control": 0}
        """Messages fully handled per input (metrics; tests synchronise on them)."""

    def _configure(self, settings: Settings) -> None:
        self.cfg: LifecycleSettings = settings.lifecycle
        self._eod = DailyTime(settings.daemon.timezone, self.cfg.eod_flatten_time)
        self._retry_ns = round(self.cfg.exit_retry_s * NS_PER_S)

    # -- running -------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Warm the kernels, adopt open positions, then serve every input until cancelled."""
        report = await anyio.to_thread.run_sync(warm_up)
        self.log.info("numba kernels ready", extra={"event": "kernels_warm", **report.as_log()})
        if self.cfg.adopt_on_start:
            await self._adopt()
        board = self.ctx.maybe_resource(HorizonBoard)
        if board is None:
            board = self.ctx.resources[HorizonBoard] = HorizonBoard()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._event_loop)
                tg.start_soon(self._control_loop)
                tg.start_soon(self._timer_loop)
                board.register(HORIZON_NAME, self.horizon)
                task_status.started()
                await self._market_loop()
        finally:
            board.unregister(HORIZON_NAME)

    async def on_reload(self, settings: Settings) -> None:
        """Take new settings; exit rules apply to positions opened from now on.

        Indicator periods and the book's capacity keep their start-up values until the
        actor restarts (the indicator state was built with them).
        """
        await super().on_reload(settings)
        async with self._lock:
            self._configure(settings)
            self.marker.bar_interval_s = self.cfg.bar_interval_s
            self._kick()

    async def emergency_close_all(
        self, reason: str, *, exit_reason: ExitReason = ExitReason.EMERGENCY, symbol: str = ""
    ) -> int:
        """Emit an exit for every open position (or ``symbol``'s); returns how many.

        Positions with an exit already in flight are not sent a second one.
        """
        async with self._lock:
            intents = self._flatten(symbol, exit_reason, self.clock.now_ns())
            await self._emit(intents)
        self.log.warning(
            "flatten requested",
            extra={
                "event": "flatten_all",
                "exits": len(intents),
                "symbol": symbol or "all",
                "exit_reason": str(exit_reason),
                "reason": reason,
            },
        )
        return len(intents)

    async def _market_loop(self) -> None:
        while True:
            batch = await self.next_batch(self.market_sub, self.cfg.max_batch)
            async with self._lock:
                await self._on_market(batch)
            self.handled["market"] += len(batch)

    async def _event_loop(self) -> None:
        while True:
            batch = await self.event_sub.receive_batch()
            async with self._lock:
                now = self.clock.now_ns()
                changed = False
                for ev in batch:
                    if isinstance(ev, PositionUpdate):
                        changed |= await self._on_position(ev.position, now)
                    elif isinstance(ev, SignalVerdict):
                        changed |= self._on_verdict(ev)
                if changed:
                    await self._emit(await self._evaluate(now))
            self.handled["events"] += len(batch)

    async def _control_loop(self) -> None:
        while True:
            for item in await self.control.receive_batch():
                if isinstance(item, FlattenAll):
                    await self.emergency_close_all(
                        item.reason, exit_reason=item.exit_reason, symbol=item.symbol
                    )
                else:
                    await self._reject(
                        "bad_control",
                        f"{names.LIFECYCLE_CONTROL}: unexpected {type(item).__name__}",
                    )
                self.handled["control"] += 1

    async def _timer_loop(self) -> None:
        """Sleeps until the next time-driven duty: end of day, a time stop, a retry."""
        while True:
            self._wake = anyio.Event()
            async with self._lock:
                deadline = self._next_deadline(self.clock.now_ns())
            if deadline is None:
                await self._wake.wait()
                continue
            if self._wake.is_set():  # rescheduled while we were computing
                continue
            with anyio.CancelScope() as scope:
                self._timer_scope = scope
                await self.clock.sleep_until(deadline)
            self._timer_scope = None
            if scope.cancel_called:
                continue
            async with self._lock:
                await self._on_timer(self.clock.now_ns())

    def _kick(self) -> None:
        """Make the timer loop recompute its deadline (something may now be due sooner)."""
        self._wake.set()
        if self._timer_scope is not None:
            self._timer_scope.cancel()

    # -- market data -----------------------------------------------------------------------

    async def _on_market(self, batch: list[Any]) -> None:
        if len(batch) == 1 and isinstance(batch[0], MarketBatch):
            cols = columns_of(batch[0])
            if cols is not None and self._columns_ok(cols):
                await self._on_columns(cols)
                return
        rows = self.book.rows
        marker = self.marker
        touched: set[int] = set()
        for msg in batch:
            items = msg.items if isinstance(msg, MarketBatch) else (msg,)
            for item in items:
                r = rows.get(item.symbol)
                if r is not None and r in touched:
                    # The same position again in this batch: check what we have first.
                    await self._check(touched)
                if isinstance(item, Tick):
                    try:
                        check_price(f"{item.symbol} tick price", item.price)
                    except KernelInputError as exc:
                        await self._reject("bad_market_data", str(exc))
                        continue
                    if r is not None:
                        marker.tick(r, item.price)
                        touched.add(r)
                elif isinstance(item, Bar):
                    try:
                        check_bar(item.high, item.low, item.close, item.open)
                    except KernelInputError as exc:
                        await self._reject("bad_market_data", f"{item.symbol} bar: {exc}")
                        continue
                    marker.bar(r, item)
                    if r is not None:
                        touched.add(r)
        await self._check(touched)

    def _columns_ok(self, cols: MarketColumns) -> bool:
        """True when a batch can take the compiled path: every price valid (a bad one is
        rejected item by item, with its own message) and a book small enough to check
        on the loop."""
        return self.book.n < self.cfg.offload_positions and bool(cols.prices_ok().all())

    def _stream_args(self, cols: MarketColumns) -> tuple[Any, ...]:
        """``(row, col, tick, opens)`` of ``cols`` for :func:`mark_and_check`, allocating
        indicator columns for symbols with bars of our interval (as the marker does)."""
        rows = self.book.rows
        row = np.array([rows.get(s, -1) for s in cols.symbols], np.int64)[cols.sym]
        ours = (cols.interval_s == self.marker.bar_interval_s) & ~cols.tick
        col = np.full(cols.n, -1, np.int64)
        if ours.any():
            bank = self.bank
            wanted = np.zeros(len(cols.symbols), np.bool_)
            wanted[cols.sym[ours]] = True
            code_col = np.array(
                [
                    bank.column(s) if w else -1
                    for s, w in zip(cols.symbols, wanted.tolist(), strict=True)
                ],
                np.int64,
            )
            col = np.where(ours, code_col[cols.sym], -1)
        opens = cols.ts - cols.interval_s * NS_PER_S
        return row, col, cols.tick, opens

    async def _on_columns(self, cols: MarketColumns) -> None:
        """One batch through :func:`mark_and_check`: the same marks, indicator updates,
        checks and exits as item by item (see the module docstring), in compiled code."""
        self.marker.flush()
        book, bank = self.book, self.bank
        row, col, tick, opens = self._stream_args(cols)
        self._size_scratch()
        now = self.clock.now_ns()
        step = np.zeros(cols.n, np.int64)
        step_now = np.array([now], np.int64)
        k, m = 0, cols.n
        while True:
            k, fired = mark_and_check(
                book.fb, book.ib, book.n, row, col, tick, opens, cols.high, cols.low,
                cols.close, step, step_now, k, m, bank.ema_state, bank.atr_state,
                bank.ema_period, bank.atr_period, self._touched, self._reason, self._trigger,
            )  # fmt: skip
            if fired:
                await self._emit(self._collect(fired, now))
            if k >= m:
                return

    def horizon(self, stretch: Stretch) -> int:
        """The first step of ``stretch`` at which an exit might fire (``steps``: none).

        Runs :func:`mark_and_check` over the stretch step by step, on copies of the
        positions and indicators, exactly as separate deliveries would be handled; the
        replay hands the steps before it over as one batch (see docs/replay.md).
        """
        book, bank = self.book, self.bank
        n = book.n
        cols = stretch.cols
        if n == 0 or cols.n == 0:
            return stretch.steps
        bad = ~cols.prices_ok()
        m = int(np.argmax(bad)) if bad.any() else cols.n
        rows = book.rows
        row = np.array([rows.get(s, -1) for s in cols.symbols], np.int64)[cols.sym[:m]]
        ours = (cols.interval_s[:m] == self.marker.bar_interval_s) & ~cols.tick[:m]
        # Indicator columns of the copies: the bank's own, then fresh ones for symbols
        # it has not seen (the bank itself is not touched).
        known = bank.ema_state.shape[1]
        extra = 0
        code_col = np.full(len(cols.symbols), -1, np.int64)
        for c, s in enumerate(cols.symbols):
            j = bank.find(s)
            if j is None:
                j = known + extra
                extra += 1
            code_col[c] = j
        col = np.where(ours, code_col[cols.sym[:m]], -1)
        ema, atr = bank.ema_state, bank.atr_state
        if extra:
            ema = np.concatenate([ema, new_state(EMA_FIELDS, extra)], axis=1)
            atr = np.concatenate([atr, new_state(ATR_FIELDS, extra)], axis=1)
        else:
            ema, atr = ema.copy(), atr.copy()
        opens = cols.ts[:m] - cols.interval_s[:m] * NS_PER_S
        reason = np.zeros(n, np.int64)
        trigger = np.zeros(n, np.float64)
        touched = np.zeros(n, np.int64)
        k, fired = mark_and_check(
            book.fb[:, :n].copy(), book.ib[:, :n].copy(), n, row, col, cols.tick[:m], opens,
            cols.high[:m], cols.low[:m], cols.close[:m], stretch.step[:m], stretch.step_ts,
            0, m, ema, atr, bank.ema_period, bank.atr_period, touched, reason, trigger,
        )  # fmt: skip
        if fired:
            return int(stretch.step[k - 1])
        # A bad price ends the stretch: that step is handled on its own (and rejected).
        return int(stretch.step[m]) if m < cols.n else stretch.steps

    async def _check(self, touched: set[int]) -> None:
        self.marker.flush()
        touched.clear()
        await self._emit(await self._evaluate(self.clock.now_ns()))

    # -- evaluation ------------------------------------------------------------------------

    def _size_scratch(self) -> None:
        cap = self.book.capacity
        if self._reason.shape[0] < cap:
            self._reason = np.zeros(cap, np.int64)
            self._trigger = np.zeros(cap, np.float64)
            self._touched = np.zeros(cap, np.int64)

    async def _evaluate(self, now: int) -> list[ExitIntent]:
        """Run the exit kernel over every position and turn what fired into intents."""
        book = self.book
        n = book.n
        if n == 0:
            return []
        self._size_scratch()
        fb, ib, reason, trigger = book.fb, book.ib, self._reason, self._trigger
        if n >= self.cfg.offload_positions:
            fired = await anyio.to_thread.run_sync(evaluate_exits, fb, ib, n, now, reason, trigger)
        else:
            fired = evaluate_exits(fb, ib, n, now, reason, trigger)
        return self._collect(fired, now)

    def _collect(self, fired: int, now: int) -> list[ExitIntent]:
        """Intents for what the last check fired; then consume the ranges and flags."""
        book = self.book
        n = book.n
        fb, ib, reason, trigger = book.fb, book.ib, self._reason, self._trigger
        intents: list[ExitIntent] = []
        if fired:
            for r in np.flatnonzero(reason[:n]).tolist():
                intent = self._decide(r, int(reason[r]), float(trigger[r]), now)
                if intent is not None:
                    intents.append(intent)
        # The next update starts a fresh range; flags are consumed.
        fb[F_HIGH, :n] = fb[F_LAST, :n]
        fb[F_LOW, :n] = fb[F_LAST, :n]
        ib[I_BAR_CLOSED, :n] = 0
        ib[I_EXIT_SIGNAL, :n] = 0
        return intents

    def _decide(self, r: int, code: int, trig: float, now: int) -> ExitIntent | None:
        book = self.book
        meta = book.meta[r]
        reason = REASONS[code]
        assert reason is not None  # the kernel reports only codes with a reason
        trigger = trig if math.isfinite(trig) else float(book.fb[F_LAST, r])
        if code == CODE_SCALE_OUT:
            _price, share = meta.scale_out.pop(0)
            book.fb[F_SCALE_TARGET, r] = meta.scale_out[0][0] if meta.scale_out else math.nan
            qty = _share_of(meta.opened_qty, share)
            if qty <= 0:
                self.log.info(
                    "scale-out level skipped: its share rounds to no quantity",
                    extra={"event": "scale_out_skipped", "symbol": meta.symbol, "share": share},
                )
                return None
            if qty < abs(meta.qty):
                return self._intent(meta, reason, qty, trigger, now)
        self._mark_pending(r, reason, now)
        return self._intent(meta, reason, None, trigger, now)

    def _mark_pending(self, r: int, reason: ExitReason, now: int) -> None:
        meta = self.book.meta[r]
        self.book.ib[I_PENDING, r] = 1
        meta.pending = reason
        meta.pending_since_ns = now
        self._kick()

    def _intent(
        self, meta: RowMeta, reason: ExitReason, qty: Decimal | None, trigger: float, now: int
    ) -> ExitIntent:
        meta.exits_sent += 1
        return ExitIntent(
            exit_id=f"{meta.key}:x{meta.exits_sent}:{reason}",
            symbol=meta.symbol,
            side=meta.side.opposite,
            qty=qty,
            reason=reason,
            trigger_price=trigger,
            correlation_id=meta.correlation_id,
            ts=now,
        )

    async def _emit(self, intents: list[ExitIntent]) -> None:
        for intent in intents:
            await self.exits.send(intent)
            await self.events.publish(intent)
            self.exits_sent += 1
            self.log.info(
                "exit",
                extra={
                    "event": "exit_intent",
                    "exit_id": intent.exit_id,
                    "symbol": intent.symbol,
                    "reason": str(intent.reason),
                    "qty": "all" if intent.qty is None else str(intent.qty),
                    "trigger_price": intent.trigger_price,
                },
            )

    def _flatten(self, symbol: str, reason: ExitReason, now: int) -> list[ExitIntent]:
        book = self.book
        if symbol:
            r = book.row(symbol)
            rows = [] if r is None else [r]
        else:
            rows = list(range(book.n))
        intents: list[ExitIntent] = []
        for r in rows:
            if book.ib[I_PENDING, r]:
                continue
            self._mark_pending(r, reason, now)
            intents.append(self._intent(book.meta[r], reason, None, float(book.fb[F_LAST, r]), now))
        return intents

    # -- time --------------------------------------------------------------------------------

    def _next_deadline(self, now: int) -> int | None:
        book = self.book
        n = book.n
        if n == 0:
            return None
        best = _NO_DEADLINE
        if self.cfg.eod_flatten and self._intraday:
            if self._next_eod <= now:
                return now
            best = self._next_eod
        ib = book.ib
        hold = ib[I_MAX_HOLD_NS, :n]
        if hold.any():
            # Positions with an exit in flight are waited for by the retry deadline.
            live = (hold > 0) & (ib[I_PENDING, :n] == 0)
            due = np.where(live, ib[I_OPENED_NS, :n] + hold, _NO_DEADLINE)
            best = min(best, int(due.min()))
        for r in np.flatnonzero(ib[I_PENDING, :n]).tolist():
            best = min(best, book.meta[r].pending_since_ns + self._retry_ns)
        return None if best == _NO_DEADLINE else max(best, now)

    async def _on_timer(self, now: int) -> None:
        book = self.book
        intents: list[ExitIntent] = []
        if now >= self._next_eod:
            if self.cfg.eod_flatten and self._intraday:
                for r in range(book.n):
                    meta = book.meta[r]
                    if meta.trade_type is TradeType.INTRADAY and not book.ib[I_PENDING, r]:
                        self._mark_pending(r, ExitReason.END_OF_DAY, now)
                        last = float(book.fb[F_LAST, r])
                        intents.append(self._intent(meta, ExitReason.END_OF_DAY, None, last, now))
            self._next_eod = self._eod.next_after(now)
        for r in np.flatnonzero(book.ib[I_PENDING, : book.n]).tolist():
            meta = book.meta[r]
            if meta.pending is not None and now - meta.pending_since_ns >= self._retry_ns:
                meta.pending_since_ns = now
                await self._alert(
                    Severity.WARNING,
                    "exit_retry",
                    f"{meta.symbol}: still open {self.cfg.exit_retry_s:g}s after a "
                    f"{meta.pending} exit; sending it again",
                )
                last = float(book.fb[F_LAST, r])
                intents.append(self._intent(meta, meta.pending, None, last, now))
        intents.extend(await self._evaluate(now))
        await self._emit(intents)

    # -- positions and signals ----------------------------------------------------------------

    async def _on_position(self, p: PositionSnapshot, now: int) -> bool:
        """Apply a position change; True when a new position needs checking now."""
        book = self.book
        sym = p.symbol
        r = book.row(sym)
        if p.qty == 0:
            if r is not None:
                self._drop(sym)
            return False
        entry = float(p.avg_price)
        if not math.isfinite(entry) or entry <= 0.0:
            await self._reject("bad_position", f"{sym}: average price {p.avg_price} is not a price")
            return False
        if r is not None:
            meta = book.meta[r]
            flipped = (p.qty > 0) != (meta.qty > 0)
            reopened = p.opened_ns != 0 and meta.opened_ns != 0 and p.opened_ns != meta.opened_ns
            if not (flipped or reopened):
                self._update_row(r, p, entry)
                return False
            self._drop(sym)
        await self._open(p, entry, now)
        return True

    def _update_row(self, r: int, p: PositionSnapshot, entry: float) -> None:
        book = self.book
        meta = book.meta[r]
        meta.qty = p.qty
        book.fb[F_ENTRY, r] = entry
        # A stop or target moved by the strategy (or the orchestrator) replaces ours.
        if p.stop_price is not None and math.isfinite(p.stop_price) and p.stop_price > 0:
            book.fb[F_STOP, r] = p.stop_price
        if p.target_price is not None and math.isfinite(p.target_price) and p.target_price > 0:
            book.fb[F_TARGET, r] = p.target_price

    async def _open(self, p: PositionSnapshot, entry: float, now: int) -> None:
        cfg = self.cfg
        rules = cfg.intraday if p.trade_type is TradeType.INTRADAY else cfg.swing
        side = 1 if p.qty > 0 else -1
        levels, problems = levels_for(
            side=side, entry=entry, rules=rules, stop=p.stop_price, target=p.target_price
        )
        col = self.bank.column(p.symbol)
        last = p.last_price if p.last_price is not None and p.last_price > 0 else entry
        meta = RowMeta(
            symbol=p.symbol,
            qty=p.qty,
            opened_qty=abs(p.qty),
            correlation_id=p.correlation_id,
            source=p.source,
            trade_type=p.trade_type,
            opened_ns=p.opened_ns or now,
            indicator_col=col,
        )
        self.book.add(
            meta, levels, entry=entry, last=last, atr=self.bank.atr(col), ema=self.bank.ema(col)
        )
        if p.trade_type is TradeType.INTRADAY:
            if self._intraday == 0 and self._next_eod <= now:
                self._next_eod = self._eod.next_after(now)
            self._intraday += 1
        if levels.max_hold_ns or p.trade_type is TradeType.INTRADAY:
            self._kick()
        for problem in problems:
            await self._alert(Severity.WARNING, "exit_levels", f"{p.symbol}: {problem}")
        self.log.info(
            "watching position",
            extra={
                "event": "position_watched",
                "symbol": p.symbol,
                "qty": str(p.qty),
                "entry": entry,
                "stop": levels.stop,
                "target": levels.target,
                "trade_type": str(p.trade_type),
            },
        )

    def _drop(self, symbol: str) -> None:
        meta = self.book.remove(symbol)
        if meta is not None and meta.trade_type is TradeType.INTRADAY:
            self._intraday -= 1

    def _on_verdict(self, v: SignalVerdict) -> bool:
        """Flag an exit signal on the position it closes; True when one was flagged."""
        if not v.accepted:
            return False
        sig = v.signal
        r = self.book.row(sig.symbol)
        if r is None:
            return False
        meta = self.book.meta[r]
        if sig.source != meta.source:
            return False
        if sig.is_exit:
            wanted = self.cfg.exit_on_flagged_signal and sig.side is meta.side.opposite
        else:
            wanted = self.cfg.exit_on_opposite_signal and sig.side is meta.side.opposite
        if wanted:
            self.book.ib[I_EXIT_SIGNAL, r] = 1
        return wanted

    async def _adopt(self) -> None:
        """Take the broker's open positions so that a restart leaves nothing unprotected."""
        found = await broker_positions(self.bus, self.clock, self.cfg.adopt_timeout_s, self.log)
        if found is None:
            await self._alert(
                Severity.WARNING,
                "adopt_failed",
                "open positions could not be read from the broker at start; they are "
                "protected once the orchestrator reports them",
            )
            return
        now = self.clock.now_ns()
        async with self._lock:
            for p in found:
                if p.qty != 0 and self.book.row(p.symbol) is None:
                    await self._on_position(p, now)
        self.log.info("adopted positions", extra={"event": "adopted", "positions": len(found)})

    # -- records --------------------------------------------------------------------------------

    async def _reject(self, code: str, text: str) -> None:
        self.rejected += 1
        self.log.warning(text, extra={"event": code, "rejected": self.rejected})
        # A feed gone bad can send thousands of bad prints: alert on the 1st, 2nd, 4th,
        # 8th... so people hear about it without the alert stream drowning.
        if self.rejected & (self.rejected - 1) == 0:
            await self._alert(Severity.WARNING, code, f"{text} ({self.rejected} rejected so far)")

    async def _alert(self, severity: Severity, code: str, text: str) -> None:
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"lifecycle-{code}-{now}", severity=severity, code=code, text=text, ts=now
            )
        )


def _share_of(opened: Decimal, share: float) -> Decimal:
    """``share`` of ``opened`` rounded down to the quantity's own precision."""
    exponent = opened.as_tuple().exponent
    step = Decimal(1).scaleb(min(0, exponent) if isinstance(exponent, int) else 0)
    return (opened * Decimal(repr(share))).quantize(step, rounding=ROUND_DOWN)
