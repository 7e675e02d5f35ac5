"""The feedback actor: TradeClosed in, SourceWeights out, state kept in the database."""

from __future__ import annotations

from typing import Any, final

import anyio
from anyio.abc import TaskStatus

from actors.feedback._book import FeedbackBook, Published
from actors.feedback._state import FeedbackStore
from actors.feedback._stats import BadTrade, outcome
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.messages import Alert, Severity, SourceWeights, TradeClosed
from storage import Database, StorageError, StorageRejected
from storage.feedback import FeedbackTrade, SqlFeedbackStore


@final
class FeedbackActor(Actor):
    """Credits every closed trade to its signal source and re-weights the sources.

    Follows ``events`` losslessly for ``TradeClosed``. After every
    ``recompute_every`` credited trades it publishes ``SourceWeights`` (fusion weights
    and the Kelly statistics, which the orchestrator applies). State is loaded from the
    :class:`FeedbackStore` before the first trade is credited and saved after each
    batch; while the database is down, trades wait in the subscription (at start) or
    in memory (later) and saving is retried every ``retry_s`` — publishing never waits.
    """

    def __init__(self, ctx: ActorContext, store: FeedbackStore | None = None) -> None:
        super().__init__(ctx)
        self.cfg = ctx.settings.feedback
        self.account = ctx.settings.daemon.account
        self.book = FeedbackBook(self.cfg)
        self.events = self.bus.topic(names.EVENTS)
        self.trades = self.events.subscribe("feedback", types=(TradeClosed,))
        self.store = store if store is not None else resolve_store(ctx)
        self.loaded = anyio.Event()
        self._pending: list[FeedbackTrade] = []
        # Source -> change number of its latest change; a save clears only what it wrote.
        self._dirty: dict[str, int] = {}
        self._changes = 0
        self._wake = anyio.Event()
        self._outage = False
        self.credited = 0
        self.rejected = 0
        self.duplicates = 0
        self.dropped = 0
        self.published = 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load the persisted state, then credit trades until cancelled."""
        own_db: Database | None = None
        if self.store is None and self.cfg.persist:
            shared = self.ctx.maybe_resource(Database)
            db = shared or Database.open(self.ctx.settings.storage)
            own_db = None if shared is not None else db
            self.store = SqlFeedbackStore(db)
        elif self.store is None:
            self.log.info(
                "feedback.persist is off: statistics and weights start from zero each run",
                extra={"event": "feedback_not_persisted"},
            )
        try:
            # Ready without waiting for the database: trades wait in the subscription.
            task_status.started()
            await self._serve()
        finally:
            if own_db is not None:
                with anyio.CancelScope(shield=True):
                    await own_db.dispose()

    async def _serve(self) -> None:
        await self._load()
        if self.book.weights:
            await self._publish(self.book.published())
        async with anyio.create_task_group() as tg:
            if self.store is not None:
                tg.start_soon(self._saver)
            while True:
                batch: list[Any] = await self.next_batch(self.trades)
                for ev in batch:
                    await self._on_trade(ev)
                if self._dirty or self._pending:
                    self._wake.set()

    async def _on_trade(self, ev: object) -> None:
        if not isinstance(ev, TradeClosed):
            return
        book = self.book
        if book.seen(ev.trade_id):
            self.duplicates += 1
            return
        try:
            o = outcome(ev)
        except BadTrade as exc:
            self.rejected += 1
            self.log.warning(
                "closed trade not credited",
                extra={"event": "feedback_bad_trade", "trade_id": ev.trade_id, "error": str(exc)},
            )
            return
        credited = book.credit(o)
        if credited is None:
            self.duplicates += 1
            return
        self.credited += 1
        if self.store is not None:
            self._pending.append(credited)
            self._mark(credited.source)
            excess = len(self._pending) - self.cfg.dedup_capacity
            if excess > 0:
                # A database down this long: keep memory bounded and say what was lost.
                del self._pending[:excess]
                self.dropped += excess
        if book.recompute_due:
            pub = book.recompute()
            for source in pub.weights:
                self._mark(source)
            if pub.weights:
                await self._publish(pub)

    async def _publish(self, pub: Published) -> None:
        self.published += 1
        self.log.info(
            "source weights",
            extra={"event": "source_weights", "weights": pub.weights, "sharpe": pub.sharpe},
        )
        await self.events.publish(
            SourceWeights(
                weights=pub.weights,
                win_rate=pub.win_rate,
                payoff=pub.payoff,
                sharpe=pub.sharpe,
                trades=pub.trades,
                ts=self.clock.now_ns(),
            )
        )

    # -- persistence ----------------------------------------------------------------------

    async def _load(self) -> None:
        store = self.store
        if store is None:
            self.loaded.set()
            return
        cfg = self.cfg
        while True:
            try:
                state = await store.load(
                    self.account, window=cfg.window_trades, recent=cfg.dedup_capacity
                )
            except StorageError as exc:
                await self._outage_begins("load", exc)
                await self.clock.sleep(cfg.retry_s)
                continue
            break
        self._outage_over()
        self.book.load(state)
        self.loaded.set()
        self.log.info(
            "feedback state loaded",
            extra={
                "event": "feedback_loaded",
                "sources": len(state.sources),
                "trades": self.book.total_trades,
                "weights": self.book.weights,
            },
        )

    async def _saver(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            while self._pending or self._dirty:
                if await self.save():
                    break
                await self.clock.sleep(self.cfg.retry_s)

    async def save(self) -> bool:
        """Write pending trades and changed sources once; False when it must be retried."""
        store = self.store
        if store is None or not (self._pending or self._dirty):
            return True
        trades = list(self._pending)
        dirty = dict(self._dirty)
        now = self.clock.now_ns()
        records = [self.book.record(s, now) for s in sorted(dirty)]
        try:
            await store.save(self.account, trades, records)
        except StorageRejected as exc:
            # These rows will never go in as they are: say so and do not retry forever.
            await self._alert(
                Severity.ERROR,
                "feedback_save_rejected",
                f"feedback state rejected by the database, {len(trades)} trade(s) not saved: {exc}",
            )
            self._forget(trades, dirty)
            self.dropped += len(trades)
            return True
        except StorageError as exc:
            await self._outage_begins("save", exc)
            return False
        self._forget(trades, dirty)
        self._outage_over()
        return True

    def _mark(self, source: str) -> None:
        self._changes += 1
        self._dirty[source] = self._changes

    def _forget(self, trades: list[FeedbackTrade], dirty: dict[str, int]) -> None:
        saved = {t.trade_id for t in trades}
        self._pending = [t for t in self._pending if t.trade_id not in saved]
        # A source that changed again while the write was in flight stays dirty.
        for source, change in dirty.items():
            if self._dirty.get(source) == change:
                del self._dirty[source]

    async def _outage_begins(self, what: str, exc: Exception) -> None:
        self.log.warning(
            "feedback store unavailable; retrying",
            extra={"event": "feedback_store_unavailable", "op": what, "error": str(exc)},
        )
        if not self._outage:
            self._outage = True
            await self._alert(
                Severity.WARNING,
                "feedback_store_unavailable",
                f"feedback state cannot be {what}ed ({exc}); retrying every {self.cfg.retry_s:g}s",
            )

    def _outage_over(self) -> None:
        if self._outage:
            self._outage = False
            self.log.info("feedback store back", extra={"event": "feedback_store_recovered"})

    async def _alert(self, severity: Severity, code: str, text: str) -> None:
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"feedback-{code}-{now}", severity=severity, code=code, text=text, ts=now
            )
        )

    async def on_stop(self) -> None:
        """One last attempt to save what is pending (the bus has drained)."""
        if self.store is not None and self.loaded.is_set():
            await self.save()

    async def on_reload(self, settings: Settings) -> None:
        """Take new ``[feedback]`` settings; windows are re-bounded, nothing is lost.

        The current weights are published again: a reload rebuilds the orchestrator's
        fusion weights and Kelly statistics from its configuration.
        """
        await super().on_reload(settings)
        self.cfg = settings.feedback
        self.book.configure(self.cfg)
        if self.loaded.is_set() and self.book.weights:
            await self._publish(self.book.published())


def resolve_store(ctx: ActorContext) -> FeedbackStore | None:
    """A store the runtime provides explicitly (None: the actor uses the database)."""
    store: FeedbackStore | None = ctx.maybe_resource(FeedbackStore)  # type: ignore[type-abstract]
    return store
