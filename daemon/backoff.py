"""Jittered exponential backoff for reconnects and retries, driven by the injected clock.

A reconnect loop asks :meth:`Backoff.next_delay` how long to wait and sleeps that long on
its :class:`~daemon.clock.Clock`, so a test on a simulated clock decides when the retry
happens. The jitter comes from a seeded generator: a run is reproducible, and many
clients restarting together still spread their retries out.
"""

from __future__ import annotations

import random
from typing import final


@final
class Backoff:
    """Delays ``initial * 2**n`` capped at ``maximum``, each stretched by up to ``jitter``.

    ``jitter`` is a fraction: 0.2 means each delay is multiplied by a factor drawn
    uniformly from [1.0, 1.2). :meth:`reset` after a success starts over from ``initial``.
    """

    __slots__ = ("_rng", "attempts", "initial", "jitter", "maximum")

    def __init__(self, initial: float, maximum: float, jitter: float, *, seed: int = 0) -> None:
        if initial <= 0 or maximum < initial or jitter < 0:
            raise ValueError(
                f"backoff needs 0 < initial <= maximum and jitter >= 0, "
                f"got initial={initial} maximum={maximum} jitter={jitter}"
            )
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.attempts = 0
        self._rng = random.Random(seed)

    def next_delay(self) -> float:
        """The wait before the next attempt (grows with each call until :meth:`reset`)."""
        base = min(self.maximum, self.initial * 2.0 ** min(self.attempts, 62))
        self.attempts += 1
        return base * (1.0 + self.jitter * self._rng.random())

    def reset(self) -> None:
        """Forget past failures: the next delay is ``initial`` again."""
        self.attempts = 0
