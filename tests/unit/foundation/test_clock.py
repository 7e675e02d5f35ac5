"""Clocks: simulated time moves only when told; autojump finishes long waits instantly."""

from __future__ import annotations

import time

import anyio
import pytest

from daemon.clock import NS_PER_S, Clock, LiveClock, SimClock


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(LiveClock(), Clock)
    assert isinstance(SimClock(), Clock)


def test_live_clock_reads_wall_time() -> None:
    before = time.time_ns()
    assert LiveClock().now_ns() >= before


async def test_sim_clock_wakes_timers_in_deadline_then_set_order(sim_clock: SimClock) -> None:
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await sim_clock.sleep(seconds)
        woke.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "late", 2.0)
        tg.start_soon(sleeper, "early-1", 1.0)
        tg.start_soon(sleeper, "early-2", 1.0)
        await anyio.wait_all_tasks_blocked()
        assert woke == []
        start = sim_clock.now_ns()
        await sim_clock.run_until(start + NS_PER_S)
        assert woke == ["early-1", "early-2"]
        await sim_clock.run_until(start + 2 * NS_PER_S)
    assert woke == ["early-1", "early-2", "late"]


async def test_sim_clock_never_goes_backwards(sim_clock: SimClock) -> None:
    sim_clock.advance(5)
    with pytest.raises(ValueError, match="backwards"):
        sim_clock.advance_to(sim_clock.now_ns() - 1)


async def test_autojump_runs_a_ten_minute_timeout_at_once(sim_clock: SimClock) -> None:
    start_real = time.monotonic()
    start = sim_clock.now_ns()
    async with sim_clock.autojumping():
        await sim_clock.sleep(600)
    assert sim_clock.now_ns() - start == 600 * NS_PER_S
    # Not a timing assertion on our code: a guard that no real ten minutes passed.
    assert time.monotonic() - start_real < 600


async def test_sleep_until_past_deadline_returns_without_advancing(sim_clock: SimClock) -> None:
    now = sim_clock.now_ns()
    await sim_clock.sleep_until(now - 1)
    assert sim_clock.now_ns() == now
    assert sim_clock.next_deadline is None


async def test_a_cancelled_sleep_is_no_deadline_to_step_to(sim_clock: SimClock) -> None:
    start = sim_clock.now_ns()
    early = anyio.CancelScope()

    async def sleep_cancelled_early() -> None:
        with early:
            await sim_clock.sleep(1.0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleep_cancelled_early)
        await anyio.wait_all_tasks_blocked()
        early.cancel()
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(sim_clock.sleep, 5.0)
        await anyio.wait_all_tasks_blocked()
        # The cancelled 1 s sleep wakes nobody: the next deadline is the 5 s one.
        assert sim_clock.next_deadline == start + 5 * NS_PER_S
        assert sim_clock.advance(2.0) == 0
        assert sim_clock.advance(3.0) == 1
    assert sim_clock.next_deadline is None
