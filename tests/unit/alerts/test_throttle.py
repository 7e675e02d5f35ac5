"""Alert throttling: deduplication by (code, subject), per-code rate limit, bounded memory."""

from __future__ import annotations

from actors.alert_bridge import Throttle
from daemon.clock import SimClock
from daemon.messages import Severity

W, E, C = Severity.WARNING, Severity.ERROR, Severity.CRITICAL


def test_repeats_within_the_window_are_suppressed_and_counted_on_the_next_one() -> None:
    clock = SimClock()
    t = Throttle(clock, window_s=60, rate_per_minute=100, max_tracked=100)
    assert t.admit("actor_crashed", "regime", W) == 0
    assert t.admit("actor_crashed", "regime", W) is None
    assert t.admit("actor_crashed", "regime", W) is None
    assert t.admit("actor_crashed", "lifecycle", W) == 0  # another subject is another alert
    clock.advance(59)
    assert t.admit("actor_crashed", "regime", W) is None
    clock.advance(1)
    assert t.admit("actor_crashed", "regime", W) == 3
    assert t.admit("actor_crashed", "regime", W) is None
    assert t.suppressed == 4


def test_a_zero_window_turns_deduplication_off() -> None:
    t = Throttle(SimClock(), window_s=0, rate_per_minute=100, max_tracked=100)
    assert [t.admit("x", "s", W) for _ in range(3)] == [0, 0, 0]


def test_the_rate_limit_holds_back_a_flood_of_one_code_but_never_critical_alerts() -> None:
    clock = SimClock()
    t = Throttle(clock, window_s=0, rate_per_minute=3, max_tracked=100)
    assert [t.admit("order_rejected", f"o{i}", W) for i in range(5)] == [0, 0, 0, None, None]
    assert t.admit("fill_problem", "o1", W) == 0  # per code
    assert t.admit("kill_switch_engaged", "1", C) == 0
    assert [t.admit("x_critical", str(i), C) for i in range(5)] == [0] * 5
    clock.advance(60)
    assert t.admit("order_rejected", "o9", E) == 2  # the two held back are reported


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    clock = SimClock()
    t = Throttle(clock, window_s=300, rate_per_minute=10_000, max_tracked=10)
    for i in range(1000):
        assert t.admit(f"code{i % 50}", f"s{i}", W) == 0
    assert len(t._seen) == 10
    assert len(t._sent) == 10
    assert t.admit("code49", "s999", W) is None  # the most recent is remembered
    assert t.admit("code0", "s0", W) == 0  # the oldest was forgotten
