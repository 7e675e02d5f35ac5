"""daemon.gctune: the start-up heap is frozen and gen-0 collections are made rarer."""

from __future__ import annotations

import gc

from daemon.gctune import GEN0_THRESHOLD, tune_after_startup


def test_tune_freezes_the_heap_and_raises_only_the_gen0_threshold() -> None:
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        alive = [object() for _ in range(3)]  # something long-lived to freeze
        tune_after_startup()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GEN0_THRESHOLD, before[1], before[2])
        assert alive
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
