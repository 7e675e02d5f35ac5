"""The regime detector: features → rules → hysteresis → a change, or nothing.

Pure and synchronous: the actor feeds it validated bars and publishes what it returns;
tests and the history preload feed it the same way, so live, replayed and preloaded
bars give the same regimes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import final

from actors.regime._features import Features, FeatureTracker
from actors.regime._hysteresis import Hysteresis
from actors.regime._rules import RegimeRules, Verdict
from config.sections.regime import RegimeSettings
from daemon.clock import NS_PER_S
from daemon.messages import Regime


@dataclass(frozen=True, slots=True)
class RegimeChange:
    """A confirmed change of regime, with the inputs of the bar that confirmed it."""

    regime: Regime
    previous: Regime | None
    reason: str
    inputs: dict[str, float]
    bar_ts: int


@final
class RegimeDetector:
    """Classifies each reference bar and confirms changes with hysteresis."""

    __slots__ = (
        "_hyst",
        "_rules",
        "_tracker",
        "_vix",
        "_vix_max_age_ns",
        "_vix_ts",
        "features",
        "last_bar_ts",
        "last_verdict",
    )

    def __init__(self, cfg: RegimeSettings) -> None:
        self._tracker = FeatureTracker(cfg)
        self._rules = RegimeRules(cfg)
        self._hyst = Hysteresis(cfg.confirm_bars, cfg.crisis_confirm_bars)
        self._vix = math.nan
        self._vix_ts = 0
        self._vix_max_age_ns = int(cfg.volatility_max_age_s * NS_PER_S)
        self.features: Features | None = None
        """The latest bar's features (None while warming up)."""
        self.last_verdict: Verdict | None = None
        """The latest bar's classification, before hysteresis."""
        self.last_bar_ts = -1
        """Timestamp of the latest reference bar applied (-1 before the first)."""

    def configure(self, cfg: RegimeSettings) -> None:
        """Take new rule and hysteresis settings, keeping the indicator state.

        Only for settings whose indicator parameters are unchanged (the actor builds a
        new detector otherwise). A pending candidate keeps its count.
        """
        self._rules = RegimeRules(cfg)
        self._hyst.confirm_bars = cfg.confirm_bars
        self._hyst.crisis_confirm_bars = cfg.crisis_confirm_bars
        self._vix_max_age_ns = int(cfg.volatility_max_age_s * NS_PER_S)

    @property
    def current(self) -> Regime | None:
        """The regime in force (None until the first one is confirmed)."""
        return self._hyst.current

    @property
    def pending(self) -> tuple[Regime | None, int]:
        """The candidate regime and how many bars in a row it has been seen."""
        return self._hyst.candidate, self._hyst.count

    @property
    def bars(self) -> int:
        """Reference bars applied so far."""
        return self._tracker.bars

    @property
    def warm_up_bars(self) -> int:
        """Reference bars needed before the first classification."""
        return self._tracker.warm_up_bars

    def on_volatility(self, ts: int, level: float) -> None:
        """Record the volatility index's latest (validated) level at ``ts``."""
        if ts >= self._vix_ts:
            self._vix = level
            self._vix_ts = ts

    def volatility_at(self, ts: int) -> float | None:
        """The volatility-index level usable at ``ts`` (None when unknown or stale)."""
        if math.isnan(self._vix) or ts - self._vix_ts > self._vix_max_age_ns:
            return None
        return self._vix

    def on_bar(self, ts: int, high: float, low: float, close: float) -> RegimeChange | None:
        """Apply one validated reference bar ending at ``ts``; a change when one is confirmed.

        Bars must come in time order; one at or before the last applied bar is ignored
        (returns None) so a re-delivered bar is never counted twice.
        """
        if ts <= self.last_bar_ts:
            return None
        self.last_bar_ts = ts
        f = self.features = self._tracker.update(high, low, close)
        if f is None:
            return None
        vix = self.volatility_at(ts)
        verdict = self.last_verdict = self._rules.classify(f, vix, self._hyst.current)
        previous = self._hyst.current
        confirmed = self._hyst.feed(verdict.regime)
        if confirmed is None:
            return None
        regime, seen = confirmed
        inputs = self._inputs(f, vix)
        inputs["confirm_bars"] = float(seen)
        return RegimeChange(
            regime=regime, previous=previous, reason=verdict.reason, inputs=inputs, bar_ts=ts
        )

    def snapshot(self) -> RegimeChange | None:
        """The regime in force with the latest bar's inputs (None before the first)."""
        f = self.features
        current = self._hyst.current
        if current is None or f is None:
            return None
        verdict = self.last_verdict
        reason = ""
        if verdict is not None:
            reason = verdict.reason
            if verdict.regime is not current:
                reason = (
                    f"{current} in force; the latest bar points to {verdict.regime} "
                    f"({self._hyst.count} bar(s) so far): {reason}"
                )
        return RegimeChange(
            regime=current,
            previous=None,
            reason=reason,
            inputs=self._inputs(f, self.volatility_at(self.last_bar_ts)),
            bar_ts=self.last_bar_ts,
        )

    @staticmethod
    def _inputs(f: Features, vix: float | None) -> dict[str, float]:
        inputs = f.as_inputs()
        if vix is not None:
            inputs["vix"] = vix
        return inputs
