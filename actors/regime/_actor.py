"""The regime actor: reference bars from ``market`` in, ``RegimeUpdate`` on ``events`` out."""

from __future__ import annotations

from typing import final

import anyio
from anyio.abc import TaskStatus

from actors.kernels import KernelInputError, check_bar, check_price
from actors.regime._detector import RegimeChange, RegimeDetector
from actors.regime._history import HistoryBar, read_bars
from config.sections.regime import RegimeSettings
from config.settings import Settings
from daemon import names
from daemon.actor import Actor, ActorContext
from daemon.messages import Bar, MarketBatch, RegimeUpdate, Tick

_MARKET = (Bar, Tick, MarketBatch)


def _indicator_key(cfg: RegimeSettings) -> tuple[object, ...]:
    return (
        cfg.symbol,
        cfg.bar_interval_s,
        cfg.ema_period,
        cfg.slope_bars,
        cfg.adx_period,
        cfg.atr_period,
        cfg.vol_window,
        cfg.periods_per_year,
        cfg.drawdown_window,
        tuple(sorted(cfg.history_files.items())),
    )


@final
class RegimeActor(Actor):
    """Classifies the market regime from the reference symbol's bars; publishes changes.

    Listens losslessly to ``market`` for bars of ``[regime] symbol`` (of
    ``bar_interval_s``) and ticks or bars of ``volatility_symbol``. Bad market data is
    logged and counted, never fatal. On start it replays ``history_files`` so it is
    warm at once, and publishes the regime in force at the end of that history.
    """

    def __init__(self, ctx: ActorContext) -> None:
        super().__init__(ctx)
        self.cfg = ctx.settings.regime
        self.detector = RegimeDetector(self.cfg)
        self.events = self.bus.topic(names.EVENTS)
        self.market = self.bus.topic(names.MARKET).subscribe("regime", types=_MARKET)
        self._interval_s = self.cfg.bar_interval_s
        self.changes = 0
        self.bars_applied = 0
        self.bad_data = 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Warm up from history files, then follow the market until cancelled."""
        await self._preload()
        task_status.started()
        while True:
            batch = await self.next_batch(self.market)
            for item in batch:
                if isinstance(item, MarketBatch):
                    for x in item.items:
                        await self._on_market(x)
                else:
                    await self._on_market(item)

    async def _on_market(self, item: object) -> None:
        cfg = self.cfg
        if isinstance(item, Bar):
            if item.symbol == cfg.symbol:
                if item.interval_s != self._interval_s:
                    return
                try:
                    check_bar(item.high, item.low, item.close)
                except KernelInputError as exc:
                    self._bad(item, str(exc))
                    return
                self.bars_applied += 1
                change = self.detector.on_bar(item.ts, item.high, item.low, item.close)
                if change is not None:
                    await self._publish(change)
            elif item.symbol == cfg.volatility_symbol:
                self._on_volatility(item, item.ts, item.close)
        elif isinstance(item, Tick):
            if item.symbol == cfg.volatility_symbol and cfg.volatility_symbol:
                self._on_volatility(item, item.ts, item.price)
        else:
            self._bad(item, f"unexpected {type(item).__name__} on the market topic")

    def _on_volatility(self, item: Tick | Bar, ts: int, level: float) -> None:
        try:
            check_price("volatility level", level)
        except KernelInputError as exc:
            self._bad(item, str(exc))
            return
        self.detector.on_volatility(ts, level)

    def _bad(self, item: object, error: str) -> None:
        self.bad_data += 1
        self.log.warning(
            "market data rejected",
            extra={
                "event": "regime_bad_data",
                "symbol": getattr(item, "symbol", "?"),
                "error": error,
                "rejected": self.bad_data,
            },
        )

    async def _publish(self, change: RegimeChange, *, note: str = "") -> None:
        self.changes += 1
        reason = f"{note}{change.reason}"
        self.log.info(
            "regime changed",
            extra={
                "event": "regime_changed",
                "regime": change.regime.value,
                "previous": change.previous.value if change.previous else None,
                "reason": reason,
            },
        )
        await self.events.publish(
            RegimeUpdate(
                regime=change.regime,
                previous=change.previous,
                inputs=change.inputs,
                reason=reason,
                ts=self.clock.now_ns(),
            )
        )

    async def _preload(self) -> None:
        cfg = self.cfg
        files = cfg.history_files
        if not files:
            return
        merged: list[tuple[int, int, HistoryBar]] = []
        for symbol, path in sorted(files.items()):
            if symbol not in (cfg.symbol, cfg.volatility_symbol):
                self.log.warning(
                    "history file for a symbol the regime actor does not use",
                    extra={"event": "regime_history_ignored", "symbol": symbol},
                )
                continue
            try:
                bars = await anyio.to_thread.run_sync(read_bars, path)
            except (OSError, ValueError) as exc:
                self.log.error(
                    "cannot preload regime history",
                    extra={"event": "regime_history_failed", "symbol": symbol, "error": str(exc)},
                )
                continue
            # The volatility level of a day applies to the reference bar of that day.
            rank = 0 if symbol == cfg.volatility_symbol else 1
            merged.extend((b.ts, rank, b) for b in bars)
        merged.sort(key=lambda r: (r[0], r[1]))
        det = self.detector
        for _, rank, b in merged:
            if rank == 0:
                det.on_volatility(b.ts, b.close)
            else:
                det.on_bar(b.ts, b.high, b.low, b.close)
        self.log.info(
            "regime history preloaded",
            extra={
                "event": "regime_history_preloaded",
                "bars": det.bars,
                "warm_up_bars": det.warm_up_bars,
                "regime": det.current.value if det.current else None,
            },
        )
        snap = det.snapshot()
        if snap is not None:
            await self._publish(snap, note="preloaded history: ")

    async def on_reload(self, settings: Settings) -> None:
        """Take new rules at once; new indicator settings restart the warm-up."""
        await super().on_reload(settings)
        new = settings.regime
        old, self.cfg = self.cfg, new
        self._interval_s = new.bar_interval_s
        if _indicator_key(old) == _indicator_key(new) and new.symbol == old.symbol:
            self.detector.configure(new)
            return
        self.log.warning(
            "regime indicator settings changed: the detector warms up again",
            extra={"event": "regime_rewarm", "warm_up_bars": RegimeDetector(new).warm_up_bars},
        )
        self.detector = RegimeDetector(new)
        await self._preload()
