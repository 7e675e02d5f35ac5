"""The feedback actor's state: per-source trade windows, statistics, confidence, weights.

Owned by the actor; pure and synchronous so tests and the restart path drive it
directly. Memory is bounded: ``window_trades`` outcomes per source and
``dedup_capacity`` remembered trade ids.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import final

from actors.feedback._stats import WindowStats, window_stats
from actors.feedback._weights import compute_weights
from config.sections.feedback import FeedbackSettings
from storage.feedback import FeedbackSource, FeedbackState, FeedbackTrade


@dataclass(frozen=True, slots=True)
class Published:
    """The content of one ``SourceWeights`` event."""

    weights: dict[str, float]
    win_rate: dict[str, float]
    payoff: dict[str, float]
    sharpe: dict[str, float]
    trades: dict[str, int]


@final
class FeedbackBook:
    """Per-source performance and the weights derived from it."""

    __slots__ = (
        "_cfg",
        "_seen",
        "confidence",
        "stats",
        "total_trades",
        "totals",
        "weights",
        "windows",
    )

    def __init__(self, cfg: FeedbackSettings) -> None:
        self._cfg = cfg
        self._reset()

    def _reset(self) -> None:
        self.windows: dict[str, deque[FeedbackTrade]] = {}
        self.totals: dict[str, int] = {}
        self.stats: dict[str, WindowStats] = {}
        self.confidence: dict[str, float] = {}
        self.weights: dict[str, float] = {}
        self.total_trades = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    @property
    def cfg(self) -> FeedbackSettings:
        """The settings in force."""
        return self._cfg

    def configure(self, cfg: FeedbackSettings) -> None:
        """Take new settings (reload): windows are re-bounded, statistics recomputed."""
        self._cfg = cfg
        for source, win in list(self.windows.items()):
            self.windows[source] = deque(win, maxlen=cfg.window_trades)
            self.stats[source] = self._stats(source)
        while len(self._seen) > cfg.dedup_capacity:
            self._seen.popitem(last=False)

    def load(self, state: FeedbackState) -> None:
        """Take the state persisted by a previous run (replaces anything held)."""
        cfg = self._cfg
        self._reset()
        for rec in state.sources:
            self.totals[rec.source] = rec.trades_total
            self.confidence[rec.source] = rec.confidence
            if rec.weight is not None:
                self.weights[rec.source] = rec.weight
        for source, trades in state.windows.items():
            self.windows[source] = deque(trades, maxlen=cfg.window_trades)
            if trades:
                self.stats[source] = self._stats(source)
        self.total_trades = sum(self.totals.values())
        for tid in state.recent_ids:
            self._remember(tid)

    def seen(self, trade_id: str) -> bool:
        """True when ``trade_id`` was credited already (within the remembered ids)."""
        return trade_id in self._seen

    def credit(self, o: FeedbackTrade) -> FeedbackTrade | None:
        """Credit a closed trade to its source; the outcome with its ``seq``, or None for
        a trade already credited."""
        if o.trade_id in self._seen:
            return None
        self._remember(o.trade_id)
        seq = self.totals.get(o.source, 0) + 1
        self.totals[o.source] = seq
        self.total_trades += 1
        o = dataclasses.replace(o, seq=seq)
        win = self.windows.get(o.source)
        if win is None:
            win = self.windows[o.source] = deque(maxlen=self._cfg.window_trades)
        win.append(o)
        self.stats[o.source] = self._stats(o.source)
        return o

    @property
    def recompute_due(self) -> bool:
        """True after every ``recompute_every``-th credited trade."""
        return self.total_trades > 0 and self.total_trades % self._cfg.recompute_every == 0

    def qualified(self) -> list[str]:
        """Sources with at least ``min_trades`` trades in their window, sorted."""
        need = self._cfg.min_trades
        return sorted(s for s, st in self.stats.items() if st.trades >= need)

    def recompute(self) -> Published:
        """New confidence and weights for the qualified sources; what to publish."""
        q = self.qualified()
        result = compute_weights(self._cfg, {s: self.stats[s].sharpe for s in q}, self.confidence)
        self.confidence.update(result.confidence)
        self.weights.update(result.weights)
        return self.published(q)

    def published(self, sources: list[str] | None = None) -> Published:
        """The weights and statistics of ``sources`` (default: those with a weight)."""
        names = sorted(self.weights) if sources is None else sources
        names = [s for s in names if s in self.weights and s in self.stats]
        return Published(
            weights={s: self.weights[s] for s in names},
            win_rate={s: self.stats[s].win_rate for s in names},
            payoff={s: self.stats[s].payoff for s in names},
            sharpe={s: self.stats[s].sharpe for s in names},
            trades={s: self.stats[s].trades for s in names},
        )

    def record(self, source: str, now_ns: int) -> FeedbackSource:
        """The persisted form of ``source``'s state."""
        st = self.stats.get(source)
        return FeedbackSource(
            source=source,
            trades_total=self.totals.get(source, 0),
            window=st.trades if st else 0,
            win_rate=st.win_rate if st else 0.0,
            payoff=st.payoff if st else 0.0,
            sharpe=st.sharpe if st else 0.0,
            confidence=self.confidence.get(source, 1.0),
            weight=self.weights.get(source),
            updated_ns=now_ns,
        )

    def _stats(self, source: str) -> WindowStats:
        cfg = self._cfg
        return window_stats(
            [o.ret for o in self.windows[source]],
            sharpe_cap=cfg.sharpe_cap,
            payoff_cap=cfg.payoff_cap,
        )

    def _remember(self, trade_id: str) -> None:
        seen = self._seen
        seen[trade_id] = None
        seen.move_to_end(trade_id)
        while len(seen) > self._cfg.dedup_capacity:
            seen.popitem(last=False)
