"""BENCH=replay: replay throughput end to end, its memory, and the journal's cost.

* ``throughput`` (``spy_minutes_looped``): the real SPY minute bars of January 2011,
  looped (timestamps shifted a month per loop) to at least ``BENCH_REPLAY_EVENTS``
  market events (default 1,000,000), replayed through the whole daemon on the
  simulated clock with the ``breakout`` source trading them and the lifecycle managing
  a stop and a target on every open position. Events per second of wall time.
  Baseline: decoding and iterating the same events from a journal (CRC + msgpack).
* ``peak_rss`` (same run): the process's peak resident memory while replaying, against
  its resident memory once the daemon has started; ``extra`` has samples over the run
  and the growth after its first quarter, to show it stays flat.
* ``throughput`` / ``peak_rss`` (``daily_six_symbols``): the six shared daily files
  merged (one MarketBatch per trading day), ``ema-cross``; same baseline.
* ``journal_throughput``: market events per second the journal actor takes off a
  topic and writes (msgpack + CRC into batches, written and fsynced by a worker
  thread). Baseline: encoding the same frames alone.

Requires the shared market data (/work/shared/data); without it nothing is measured.
"""

from __future__ import annotations

import math
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import msgspec

from config import Settings
from daemon.clock import NS_PER_S
from daemon.journal import Chunk, JournalHeader, Kind, SegmentWriter, append_frame, read_journal
from daemon.messages import Bar, MarketBatch
from daemon.replay import (
    MarketItem,
    Progress,
    ReplayConfig,
    bar_steps,
    load_ninjatrader,
    load_yahoo,
    merge,
    parse_signals,
    run_replay,
)
from tests.bench._common import Baseline, Result, throughput_result

DATA = Path("/work/shared/data")
MINUTES = DATA / "intraday" / "pyalgotrade" / "nt-spy-minute-2011.csv"
DAILY = {
    "AAPL": "yahoofinance-AAPL-20040819-20180120.csv",
    "GOOG": "yahoofinance-GOOG-20040819-20180120.csv",
    "SPY": "yahoofinance-SPY-20080101-20180101.csv",
    "NVDA": "nvda-1999-2014.txt",
    "ORCL": "orcl-1995-2014.txt",
    "YHOO": "yhoo-1996-2014.txt",
}
PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE / 2**20


def _settings(sources: list[str], interval: int) -> Settings:
    from config import settings_from_mapping

    return settings_from_mapping(
        {
            "guard": {"sources": sources},
            "sizing": {"method": "fixed_dollar", "fixed_dollar": 5000.0},
            "risk": {
                "require_history": False,
                "bar_interval_s": interval,
                "min_adv": 0.0,
                "max_adv_pct": 100.0,
                "max_correlation": 1.0,
            },
            "lifecycle": {"bar_interval_s": interval},
            # Trading must go on for the whole run: a kill or a tripped breaker would
            # turn the rest into cheap flat stretches and flatter the figure.
            "safety": {"daily_loss_kill": False, "breaker_max_losses": 0},
        },
        "bench_replay",
    )


def _looped(bars: list[Bar], n: int) -> Iterator[list[MarketItem]]:
    """``bars`` again and again, a month later each time, until ``n`` events."""
    span = bars[-1].ts - bars[0].ts + 86_400 * NS_PER_S
    loops = math.ceil(n / len(bars))
    for k in range(loops):
        shift = k * span
        for b in bars:
            yield [msgspec.structs.replace(b, ts=b.ts + shift)]


def _bare_decode(groups: Iterator[list[MarketItem]]) -> tuple[float, int]:
    """Events/s of reading the same events back from a journal (best of two)."""
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        buf = bytearray()
        header = JournalHeader(account="bench", day="2011-01-03", segment=1, started_ns=0)
        append_frame(buf, -1, 0, Kind.HEADER, header)
        w = SegmentWriter(tmp, lambda d, n: bytes(buf), fsync=False)
        n = 0
        chunk = Chunk("2011-01-03")
        for seq, g in enumerate(groups):
            msg = g[0] if len(g) == 1 else MarketBatch(items=tuple(g), ts=g[0].ts)
            append_frame(chunk.data, seq, g[0].ts, Kind.MARKET, msg)
            chunk.frames += 1
            n += len(g)
            if len(chunk.data) > 1 << 24:
                w.write([chunk])
                chunk = Chunk("2011-01-03")
        w.write([chunk])
        w.close()
        best = math.inf
        for _ in range(2):
            t0 = time.perf_counter()
            events = 0
            for rec in read_journal(tmp):
                ev = rec.event
                events += len(ev.items) if isinstance(ev, MarketBatch) else 1
            best = min(best, time.perf_counter() - t0)
        return events / best, events


async def _replay(
    name: str,
    groups: Callable[[], Iterator[list[MarketItem]]],
    settings: Settings,
    signals: str,
    expected: int,
) -> list[Result]:
    samples: list[tuple[float, float]] = []

    def sample(p: Progress) -> None:
        samples.append((p.market_events, round(_rss_mb(), 1)))

    before = _rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        cfg = ReplayConfig(
            settings=settings, out_dir=Path(tmp), progress=sample, progress_every_s=2.0
        )
        res = await run_replay(cfg, bar_steps(groups(), parse_signals(signals)))
    peak = max([s[1] for s in samples] + [_rss_mb()])
    # The baseline is the daemon started and idle (interpreter, numba, SQLAlchemy...):
    # what a replay adds on top of it is the question, and whether it keeps growing.
    started = samples[0][1] if samples else before
    extra = {
        "events": res.market_events,
        "deliveries": res.deliveries,
        "timer_steps": res.timer_steps,
        "trades": res.by_kind.get("TradeClosed", 0),
        "exits": res.by_kind.get("ExitIntent", 0),
        "decisions": res.decisions,
        "wall_s": round(res.wall_s, 1),
        "final_flush_s": round(res.stop_s, 1),
        "per_delivery_us": round(res.wall_s / max(1, res.deliveries) * 1e6, 1),
        "digest": res.digest[:16],
    }
    rss_extra = {
        "rss_before_mb": round(before, 1),
        "samples_events_mb": samples[:: max(1, len(samples) // 12)],
        "growth_after_first_quarter_mb": _growth(samples, res.market_events),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    assert res.market_events >= expected, (res.market_events, expected)
    base, _ = _bare_decode(groups())
    return [
        throughput_result(
            f"replay.{name}",
            "throughput",
            round(res.events_per_s, 1),
            "events/s",
            "decode and iterate the same events from a journal",
            round(base, 1),
            **extra,
        ),
        Result(
            f"replay.{name}",
            "peak_rss",
            round(peak, 1),
            "MB",
            Baseline("resident memory of the started, idle daemon", round(started, 1)),
            round(peak / started, 4) if started else math.inf,
            rss_extra,
        ),
    ]


def _growth(samples: list[tuple[float, float]], total: int) -> float:
    late = [mb for ev, mb in samples if ev >= total / 4]
    return round(max(late) - min(late), 1) if len(late) >= 2 else 0.0


async def _journal_throughput(n: int = 200_000) -> Result:
    from actors.journal import JournalActor
    from config import settings_from_mapping
    from daemon import names
    from daemon.actor import ActorContext, Health
    from daemon.bus import Bus
    from daemon.clock import LiveClock
    from daemon.logs import actor_logger

    bars, _ = load_ninjatrader(MINUTES, "SPY")
    events = [bars[i % len(bars)] for i in range(n)]
    buf = bytearray()
    t0 = time.perf_counter()
    for i, ev in enumerate(events):
        append_frame(buf, i, ev.ts, Kind.MARKET, ev)
    bare = n / (time.perf_counter() - t0)
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        settings = settings_from_mapping({"daemon": {"state_dir": tmp}}, "bench")
        clock = LiveClock()
        bus = Bus()
        ctx = ActorContext(
            name="journal",
            settings=settings,
            clock=clock,
            bus=bus,
            log=actor_logger("journal"),
            health=Health(clock),
        )
        actor = JournalActor(ctx)
        topic = bus.topic(names.MARKET)
        async with anyio.create_task_group() as tg:
            await tg.start(actor.run)
            t0 = time.perf_counter()
            for ev in events:
                await topic.publish(ev)
            # Drained, as the supervisor waits for at a stop; then the final write.
            await anyio.wait_all_tasks_blocked()
            await actor.on_stop()
            elapsed = time.perf_counter() - t0
            tg.cancel_scope.cancel()
        assert actor.stats.frames == actor.stats.written_frames == n
        size = actor.stats.written_bytes
    return throughput_result(
        "replay.journal",
        "journal_throughput",
        round(n / elapsed, 1),
        "events/s",
        "msgpack + CRC-32 encoding of the same frames alone",
        round(bare, 1),
        events=n,
        bytes_per_event=round(size / n, 1),
        batches=actor.stats.batches,
        fsync="batch",
    )


async def _main() -> list[Result]:
    target = int(os.environ.get("BENCH_REPLAY_EVENTS", "1000000"))
    results: list[Result] = []
    minutes, _ = load_ninjatrader(MINUTES, "SPY")
    signals = "breakout:entry=120,exit=60,stop_pct=0.25,target_pct=0.5"
    results += await _replay(
        "spy_minutes_looped",
        lambda: _looped(minutes, target),
        _settings(["breakout"], 60),
        signals,
        target,
    )
    series = [load_yahoo(DATA / "daily" / f, s)[0] for s, f in DAILY.items()]
    results += await _replay(
        "daily_six_symbols",
        lambda: merge(series),
        _settings(["ema-cross"], 86_400),
        "ema-cross:fast=10,slow=30",
        sum(len(s) for s in series),
    )
    results.append(await _journal_throughput())
    return results


def run() -> list[Result]:
    """Run the replay benchmarks (needs the shared data; returns nothing without it)."""
    if not MINUTES.is_file() or not all((DATA / "daily" / f).is_file() for f in DAILY.values()):
        return []
    # The standard asyncio loop: replay inspects its ready queue (daemon.replay._settle).
    results: list[Result] = anyio.run(_main)
    return results
