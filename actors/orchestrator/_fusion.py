"""Stage 4, fusion: recent signals on one symbol combined by source weight and age.

Each source's latest signal on a symbol within ``window_s`` takes part with weight
``w_source · 0.5^(age / half_life)``. The fused score is the weighted mean of
``side · conviction``; its sign is the fused side and its magnitude the fused
conviction. A symbol with one contributing source passes straight through (its own
side and conviction). Memory is bounded: per symbol one entry per source, and at most
``max_symbols`` symbols (least recently seen forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import final

import msgspec

from config.sections.orchestrator import FusionSettings
from daemon.clock import NS_PER_S
from daemon.messages import FusionComponent, Side, Signal


class Fused(msgspec.Struct, frozen=True):
    """The outcome of fusing a symbol's recent signals."""

    side: Side
    conviction: float
    components: tuple[FusionComponent, ...]


@final
class Fusion:
    """Per-symbol memory of the latest signal from each source."""

    __slots__ = ("_cfg", "_half_life_ns", "_recent", "_window_ns", "published", "weights")

    def __init__(self, cfg: FusionSettings) -> None:
        self._recent: OrderedDict[str, dict[str, tuple[Signal, int]]] = OrderedDict()
        self.weights: dict[str, float] = {}
        self.published: dict[str, float] = {}
        """Weights from ``SourceWeights`` events; they win over the configured ones."""
        self.configure(cfg)

    def configure(self, cfg: FusionSettings) -> None:
        """Take new settings (reload); recent signals and published weights are kept."""
        self._cfg = cfg
        self._window_ns = int(cfg.window_s * NS_PER_S)
        self._half_life_ns = cfg.half_life_s * NS_PER_S
        self.weights = {**cfg.weights, **self.published}

    def publish_weights(self, weights: dict[str, float]) -> None:
        """Take weights from a ``SourceWeights`` event."""
        self.published.update(weights)
        self.weights.update(weights)

    def weight(self, source: str) -> float:
        """The configured (or last published) weight of ``source``."""
        return self.weights.get(source, self._cfg.default_weight)

    def fuse(self, sig: Signal, now_ns: int) -> Fused:
        """Remember ``sig`` and fuse it with the symbol's other recent signals."""
        recent = self._recent.get(sig.symbol)
        if recent is None:
            recent = self._recent[sig.symbol] = {}
            if len(self._recent) > self._cfg.max_symbols:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(sig.symbol)
        recent[sig.source] = (sig, now_ns)
        horizon = now_ns - self._window_ns
        if len(recent) == 1:
            comp = FusionComponent(
                signal_id=sig.signal_id,
                source=sig.source,
                side=sig.side,
                conviction=sig.conviction,
                weight=self.weight(sig.source),
                age_s=0.0,
            )
            return Fused(sig.side, float(sig.conviction), (comp,))
        num = 0.0
        den = 0.0
        comps: list[FusionComponent] = []
        for source in list(recent):
            other, seen_ns = recent[source]
            if seen_ns < horizon:
                del recent[source]
                continue
            age = now_ns - seen_ns
            w = self.weight(source) * 0.5 ** (age / self._half_life_ns)
            num += w * other.side.sign * other.conviction
            den += w
            comps.append(
                FusionComponent(
                    signal_id=other.signal_id,
                    source=source,
                    side=other.side,
                    conviction=other.conviction,
                    weight=round(w, 6),
                    age_s=age / NS_PER_S,
                )
            )
        if den <= 0.0:
            return Fused(sig.side, 0.0, tuple(comps))
        score = num / den
        side = Side.BUY if score > 0 else Side.SELL if score < 0 else sig.side
        return Fused(side, abs(score), tuple(comps))
