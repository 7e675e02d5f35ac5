"""Hysteresis, part two: a new classification must repeat before it takes over.

A classification different from the regime in force becomes a *candidate*; it takes
over only after it has been the classification for ``confirm_bars`` bars in a row
(``crisis_confirm_bars`` for CRISIS, because protection should not wait a week). A bar
that classifies as the regime in force, or as another candidate, starts the count
again. The first regime is established the same way (its ``previous`` is None).
Part one (margins around thresholds) is in ``_rules``.
"""

from __future__ import annotations

from typing import final

from daemon.messages import Regime


@final
class Hysteresis:
    """Confirms regime changes after enough bars in a row."""

    __slots__ = ("candidate", "confirm_bars", "count", "crisis_confirm_bars", "current")

    def __init__(self, confirm_bars: int, crisis_confirm_bars: int) -> None:
        if confirm_bars < 1 or crisis_confirm_bars < 1:
            raise ValueError("confirm_bars and crisis_confirm_bars must be >= 1")
        self.confirm_bars = confirm_bars
        self.crisis_confirm_bars = crisis_confirm_bars
        self.current: Regime | None = None
        """The regime in force (None until the first is confirmed)."""
        self.candidate: Regime | None = None
        """A different regime seen on the latest bars, not yet confirmed."""
        self.count = 0
        """How many bars in a row the candidate has been seen."""

    def needed(self, regime: Regime) -> int:
        """Bars in a row ``regime`` needs to take over."""
        return self.crisis_confirm_bars if regime is Regime.CRISIS else self.confirm_bars

    def feed(self, raw: Regime) -> tuple[Regime, int] | None:
        """Take one bar's classification; ``(new regime, bars seen)`` once confirmed."""
        if raw is self.current:
            self.candidate, self.count = None, 0
            return None
        if raw is self.candidate:
            self.count += 1
        else:
            self.candidate, self.count = raw, 1
        if self.count < self.needed(raw):
            return None
        seen = self.count
        self.current = raw
        self.candidate, self.count = None, 0
        return raw, seen
