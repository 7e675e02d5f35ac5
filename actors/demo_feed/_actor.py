"""The demo feed: real daily index bars played as if live, and a strategy trading them.

At start it reads the configured series from the ``arch`` package (in a worker thread)
and then, day by day, publishes each day's bars on the ``market`` topic — stamped with
their historical close, so the risk gate's daily history and the indicators see real
days — runs the built-in signal source over them and sends its signals to the signal
guard, like any strategy would. ``warmup_bars`` days go first at full speed with their
signals held back (indicators and risk history need a few weeks); the rest are paced at
``bars_per_second`` on the daemon's clock.

Every ``status_interval_s`` it logs a status line (day played, equity, open positions,
trades); when it is stopped (Ctrl-C) or runs out of data it logs a summary. Without the
``arch`` package it says how to install it, raises an alert and stays idle: the daemon
runs on regardless.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, final
from zoneinfo import ZoneInfo

import anyio
from anyio.abc import TaskStatus

from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.bus import Subscription
from daemon.clock import NS_PER_S
from daemon.messages import AccountSnapshot, Alert, Bar, Severity, TradeClosed
from daemon.progress import run_within
from daemon.replay import (
    DataFileError,
    MarketItem,
    SignalSource,
    SignalSpecError,
    as_message,
    load_arch_series,
    merge,
    parse_signals,
)

SUBSCRIBER = "demo_feed"


@dataclass
class DemoStats:
    """What the demo has played and what came of it (status line and summary)."""

    days: int = 0
    total_days: int = 0
    first_day: str = ""
    day: str = ""
    signals: int = 0
    trades: int = 0
    wins: int = 0
    pnl: Decimal = Decimal(0)
    gross_win: Decimal = Decimal(0)
    gross_loss: Decimal = Decimal(0)
    start_equity: float = 0.0
    equity: float = 0.0
    peak: float = 0.0
    max_drawdown: float = 0.0
    open_positions: int = 0
    closes: dict[str, float] = field(default_factory=dict)
    finished: bool = False

    def on_equity(self, equity: float) -> None:
        """Track equity and its deepest fall from a peak."""
        self.equity = equity
        self.peak = max(self.peak, equity)
        if self.peak > 0:
            self.max_drawdown = max(self.max_drawdown, 1.0 - equity / self.peak)

    def on_trade(self, t: TradeClosed) -> None:
        """Count a closed trade."""
        self.trades += 1
        self.pnl += t.pnl
        if t.pnl > 0:
            self.wins += 1
            self.gross_win += t.pnl
        elif t.pnl < 0:
            self.gross_loss -= t.pnl


@final
class DemoFeed(Actor):
    """Plays real history on the market topic and trades it; see the module docstring."""

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        s = ctx.settings
        self.cfg = s.demo
        self.tz = ZoneInfo(s.daemon.timezone)
        self.market = self.bus.topic(names.MARKET)
        self.signals = self.bus.channel(names.SIGNALS_IN)
        self.events = self.bus.topic(names.EVENTS)
        # Best effort: the status line may miss an event under load; trading never waits.
        self.sub: Subscription[Any] = self.events.subscribe(
            SUBSCRIBER, types=(TradeClosed, AccountSnapshot), lossless=False, capacity=4096
        )
        self.stats = DemoStats(start_equity=s.broker.initial_cash, equity=s.broker.initial_cash)
        self.stats.peak = s.broker.initial_cash
        self.source: SignalSource | None = None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load the data, then play it until done or stopped."""
        try:
            self.source = parse_signals(self.cfg.signals)
            groups = await anyio.to_thread.run_sync(self._load)
        except (DataFileError, SignalSpecError) as exc:
            task_status.started()
            await self._unavailable(str(exc))
            return
        self.source.id_suffix = f"-r{self.clock.now_ns() // NS_PER_S}"
        self.stats.total_days = len(groups)
        task_status.started()
        self.log.info(
            f"demo: playing {len(groups)} trading days of {', '.join(self.cfg.series)} "
            f"at {self.cfg.bars_per_second:g} days/s, trading them with {self.source.spec}",
            extra={"event": "demo_started", "days": len(groups)},
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._follow)
            tg.start_soon(self._status_loop)
            await self._wait_for_journal()
            await self._play(groups)
            self.stats.finished = True
            if not self.stop_requested.is_set():
                await self._refresh()
                self._summary("demo finished: every day played; positions stay open, Ctrl-C stops")
            await self.stop_requested.wait()
            tg.cancel_scope.cancel()

    async def on_stop(self) -> None:
        """Log the summary (once)."""
        self._summary("demo stopped")

    # -- data ----------------------------------------------------------------------------

    def _load(self) -> list[list[MarketItem]]:
        cfg = self.cfg
        series = []
        for name in cfg.series:
            symbol = cfg.symbols.get(name, name.upper())
            bars, _ = load_arch_series(name, symbol, timezone=str(self.tz))
            series.append(bars)
        lo = self._bound(cfg.start, 0)
        hi = self._bound(cfg.end, 1)
        groups = [g for g in merge(series) if lo <= g[0].ts < hi]
        if not groups:
            raise DataFileError(
                f"no demo data between {cfg.start or 'start'} and {cfg.end or 'end'}"
            )
        return groups

    def _bound(self, day: str, after: int) -> int:
        if not day:
            return 0 if after == 0 else 2**63 - 1
        d = dt.date.fromisoformat(day) + dt.timedelta(days=after)
        return int(dt.datetime.combine(d, dt.time(), self.tz).timestamp()) * NS_PER_S

    # -- playing -------------------------------------------------------------------------

    async def _wait_for_journal(self) -> None:
        """Hold the first bar until the journal listens (it starts after this actor), so
        the session can be replayed from its very first input."""
        if "journal" in self.ctx.settings.actors.disabled:
            return
        wanted = f"{names.MARKET}->journal"
        for _ in range(200):
            if any(sub.channel.name == wanted for sub in self.market.subscriptions):
                return
            await self.clock.sleep(0.05)
        self.log.warning(
            "the journal is not listening; playing anyway (this session's journal will "
            "miss its first bars)",
            extra={"event": "demo_no_journal"},
        )

    async def _play(self, groups: list[list[MarketItem]]) -> None:
        source = self.source
        assert source is not None
        pause = 1.0 / self.cfg.bars_per_second
        warm = self.cfg.warmup_bars
        for i, group in enumerate(groups):
            if self.stop_requested.is_set():
                return
            self.health.busy(len(group))
            await self.market.publish(as_message(group))
            now = self.clock.now_ns()
            for item in group:
                if isinstance(item, Bar):
                    self.stats.closes[item.symbol] = item.close
                    for sig in source.on_bar(item, now):
                        if i >= warm:
                            await self.signals.send(sig)
                            self.stats.signals += 1
            if i + 1 == warm:
                source.forget_positions()
            st = self.stats
            st.days = i + 1
            st.day = self._day(group[0].ts)
            st.first_day = st.first_day or st.day
            self.health.idle()
            if i >= warm:
                await self.clock.sleep(pause)

    def _day(self, ts: int) -> str:
        return dt.datetime.fromtimestamp(ts / NS_PER_S, self.tz).date().isoformat()

    async def _follow(self) -> None:
        st = self.stats
        while True:
            for ev in await self.sub.receive_batch(256):
                if isinstance(ev, TradeClosed):
                    st.on_trade(ev)
                elif isinstance(ev, AccountSnapshot):
                    st.on_equity(float(ev.equity))

    async def _status_loop(self) -> None:
        while not self.stats.finished:
            await self.clock.sleep(self.cfg.status_interval_s)
            await self._refresh()
            self.log.info(self._status_line(), extra={"event": "demo_status"})

    async def _refresh(self) -> None:
        """Equity and open positions as the broker has them (skipped if it is slow)."""
        from actors.broker.queries import BrokerClient

        client = BrokerClient(self.bus)
        try:
            acct = await run_within(self.clock, 1.0, client.account)
            positions = await run_within(self.clock, 1.0, client.positions)
        except Exception:  # a slow or failing broker must never take the demo down
            return
        self.stats.on_equity(float(acct.equity))
        self.stats.open_positions = sum(1 for p in positions if p.qty != 0)

    def _status_line(self) -> str:
        st = self.stats
        ret = st.equity / st.start_equity - 1.0 if st.start_equity else 0.0
        prices = " ".join(f"{k} {v:,.2f}" for k, v in sorted(st.closes.items()))
        return (
            f"demo {st.day} ({st.days}/{st.total_days}) · {prices} · equity "
            f"{st.equity:,.2f} ({100 * ret:+.2f}%) · {st.open_positions} open · "
            f"{st.trades} trades ({st.wins} won) · P&L {float(st.pnl):+,.2f}"
        )

    def _summary(self, why: str) -> None:
        if self.stats.days == 0:
            return
        st = self.stats
        ret = st.equity / st.start_equity - 1.0 if st.start_equity else 0.0
        pf = (
            f"{float(st.gross_win / st.gross_loss):.2f}"
            if st.gross_loss
            else ("inf" if st.gross_win else "n/a")
        )
        win = f"{100 * st.wins / st.trades:.1f}%" if st.trades else "n/a"
        lines = [
            f"{why}. Summary of the demo session:",
            f"  played        {st.first_day} to {st.day} ({st.days} of {st.total_days} days)",
            f"  signals       {st.signals} from {self.source.spec if self.source else '?'}",
            f"  equity        {st.start_equity:,.2f} -> {st.equity:,.2f} ({100 * ret:+.2f}%)",
            f"  max drawdown  {100 * st.max_drawdown:.2f}%",
            f"  trades        {st.trades} closed, win rate {win}, profit factor {pf}, "
            f"P&L {float(st.pnl):+,.2f}",
            f"  open          {st.open_positions} position(s)",
            "  more          tradingd report --config config/paper.toml (charts in "
            "./var/report); the session's journal is in <state_dir>/journal",
        ]
        self.log.info("\n".join(lines), extra={"event": "demo_summary"})

    async def _unavailable(self, why: str) -> None:
        self.log.warning(f"demo feed not started: {why}", extra={"event": "demo_unavailable"})
        now = self.clock.now_ns()
        await self.events.publish(
            Alert(
                alert_id=f"demo_feed-unavailable-{now}",
                severity=Severity.WARNING,
                code="demo_unavailable",
                text=f"demo feed not started: {why}",
                ts=now,
            )
        )
        await self.stop_requested.wait()
