"""Garbage-collector settings for the running daemon (applied once start-up is done).

Why: CPython's cyclic collector runs a generation-0 pass every 700 net container
allocations. The trading hot path allocates a dozen short-lived messages, dicts and
lists per signal, so with the default threshold a gen-0 pass ran every few signals and
every tenth one also re-walked generation 1 — a measurable share of the per-signal CPU
(docs/actors/orchestrator.md, "Performance"). Two changes:

* :func:`gc.freeze` after start-up moves everything alive then (modules, settings,
  preloaded bar histories, compiled kernels) to the permanent generation, so later full
  collections no longer traverse that long-lived heap.
* A gen-0 threshold of :data:`GEN0_THRESHOLD` makes young collections ~14x rarer. Each
  pass then looks at more objects, but its cost is proportional to the survivors it
  scans, not the threshold, and the pause stays well under a millisecond (10,000
  mostly-dead objects). Reference counting still frees acyclic garbage at once; only
  cycles wait a little longer, and memory stays bounded.
"""

from __future__ import annotations

import gc

__all__ = ("GEN0_THRESHOLD", "tune_after_startup")

GEN0_THRESHOLD = 10_000
"""Net container allocations between generation-0 collections (CPython default 700)."""


def tune_after_startup() -> None:
    """Collect once, freeze the surviving start-up heap, raise the gen-0 threshold.

    Idempotent: calling it again freezes whatever has been created since.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
