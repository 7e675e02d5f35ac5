"""Hysteresis, bars in a row: a new classification must repeat before it takes over."""

from __future__ import annotations

import pytest

from actors.regime._hysteresis import Hysteresis
from daemon.messages import Regime

B, S, R, C = Regime.BULL, Regime.SIDEWAYS, Regime.BEAR, Regime.CRISIS


def feed(h: Hysteresis, seq: list[Regime]) -> list[tuple[int, Regime, int]]:
    """(bar index, new regime, bars seen) for every confirmed change."""
    out = []
    for i, r in enumerate(seq):
        got = h.feed(r)
        if got is not None:
            out.append((i, *got))
    return out


def test_first_regime_needs_the_same_confirmation() -> None:
    h = Hysteresis(3, 2)
    assert feed(h, [S, S, S, S]) == [(2, S, 3)]
    assert h.current is S


def test_a_short_excursion_does_not_flip() -> None:
    h = Hysteresis(3, 2)
    feed(h, [B, B, B])
    assert feed(h, [S, S, B, S, S, B, R, R, B]) == []
    assert h.current is B
    assert h.candidate is None
    assert h.count == 0


def test_a_different_candidate_restarts_the_count() -> None:
    h = Hysteresis(3, 2)
    feed(h, [B, B, B])
    assert feed(h, [S, S, R, R, R]) == [(4, R, 3)]


def test_crisis_is_confirmed_faster() -> None:
    h = Hysteresis(5, 2)
    feed(h, [S] * 5)
    assert feed(h, [C, C, C]) == [(1, C, 2)]
    # Leaving a crisis takes the ordinary count.
    assert feed(h, [R, R, R, R, R]) == [(4, R, 5)]


def test_one_bar_confirmation_is_no_hysteresis() -> None:
    h = Hysteresis(1, 1)
    assert [r for _, r, _ in feed(h, [B, S, B, C, S])] == [B, S, B, C, S]


def test_rejects_a_zero_count() -> None:
    with pytest.raises(ValueError, match="confirm_bars"):
        Hysteresis(0, 1)
