"""BENCH=pipeline: signal-to-order latency and sustained throughput of the whole pipeline.

The real actors — signal guard, orchestrator, risk gate, broker actor with the paper
broker — run on a real bus, a live clock and uvloop, as in the daemon. Real daily bars
(/work/shared/data) preload the risk gate's history for three symbols; one tick per
symbol gives the paper broker a price. Signals alternate buy and sell per symbol, so
positions open and close (fills, books, trades and the risk gate's view all work) and
no limit is reached.

* ``signal_to_order_p50`` / ``_p99`` / ``_p999``: one signal in flight at a time (the
  next is sent once the previous order has filled); from putting the signal on
  ``guard.in`` to the moment the paper broker accepted the order — the timestamp the
  venue puts on its ``OrderUpdate(ACCEPTED)``, read from the same wall clock
  (``LiveClock``, ``time.time_ns``) as the start. The venue acknowledges at once and
  executes 1 ms later. The extras ``roundtrip_p50_us``/``_p99_us`` add the way back: until
  a subscriber on ``events`` holds that acceptance, republished by the orchestrator
  after it came through the broker actor.
* ``throughput``: signals/s sustained — a producer offers signals in chunks (yielding
  between chunks) and the clock stops when the last acceptance is seen.

Baselines, measured in the same run: the raw channel hop — a bare anyio memory stream,
``send_nowait`` then ``receive`` in another task — one message in flight (latency) and
streamed with a draining receiver (throughput).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import anyio
from anyio import WouldBlock

from actors import broker, orchestrator, risk_gate, signal_guard
from config import Settings
from daemon import names
from daemon.bus import Bus
from daemon.clock import LiveClock
from daemon.gctune import tune_after_startup
from daemon.messages import (
    OrderStatus,
    OrderUpdate,
    Side,
    Signal,
    SignalVerdict,
    Tick,
    TradeType,
)
from daemon.safety import SafetyGate
from tests.bench._common import (
    Result,
    latency_result,
    percentile,
    raw_hop_latency,
    raw_hop_throughput,
    throughput_result,
)
from tests.pipeline_support import (
    MemorySafety,
    data_path,
    have_data,
    read_bars,
    start_actors,
    with_settings,
)

BENCH = "pipeline"
LAT_N = 10_000
LAT_WARMUP = 1_000
TPUT_N = 60_000
CHUNK = 500
HOP_N = 200_000


SYMBOLS = ("AAPL", "GOOG", "SPY")
"""Symbols whose real histories end together (the risk gate needs common periods)."""


def _settings(fill_latency_ms: float) -> Settings:
    syms = list(SYMBOLS)
    return with_settings(
        Settings(),
        daemon={"channel_capacity": 262_144},
        guard={"sources": ["bench"], "cooldown_s": 0.0, "dedup_capacity": 200_000},
        # Fees of ~80k one-share round trips would otherwise trip the drawdown tiers.
        sizing={"method": "fixed_shares", "fixed_shares": 1.0, "drawdown_tiers": []},
        risk={
            "history_files": {s: str(data_path(s)) for s in syms},
            "max_orders_per_window": 10_000_000,
            "max_open_positions": 50,
        },
        orchestrator={"initial_regime": "bull", "fills": {"max_finished_orders": 10_000}},
        broker={
            "initial_cash": 10_000_000.0,
            "paper": {"ack_latency_ms": 0.0, "fill_latency_ms": fill_latency_ms},
        },
    )


class _Feed:
    """Builds the alternating buy/sell signals, one symbol after another."""

    def __init__(self, clock: LiveClock) -> None:
        self.clock = clock
        self.syms = list(SYMBOLS)
        self.px = {s: read_bars(s, 1)[0][4] for s in self.syms}
        self.n = 0

    def make(self) -> Signal:
        i = self.n
        self.n += 1
        sym = self.syms[i % len(self.syms)]
        px = self.px[sym] * (1.0 + i * 1e-9)  # distinct content per signal
        buy = (i // len(self.syms)) % 2 == 0
        return Signal(
            signal_id=f"b{i}",
            source="bench",
            symbol=sym,
            side=Side.BUY if buy else Side.SELL,
            trade_type=TradeType.SWING,
            conviction=60,
            entry_price=px,
            stop_price=px * (0.95 if buy else 1.05),
            target_price=px * (1.10 if buy else 0.90),
            created_ns=self.clock.now_ns(),
        )


async def _pipeline_run(
    phase: str, roundtrip: list[float]
) -> tuple[list[float], float, dict[str, Any]]:
    # Latency: the venue acknowledges at once and executes 1 ms later, as a real one
    # acknowledges before it fills. Throughput: zero venue latency, so that the paper
    # broker's per-order timers do not stand in for our own cost.
    settings = _settings(1.0 if phase == "latency" else 0.0)
    clock = LiveClock()
    bus = Bus(default_capacity=settings.daemon.channel_capacity)
    resources: dict[type[Any], Any] = {SafetyGate: MemorySafety()}
    accepted = bus.topic(names.EVENTS).subscribe("bench", types=(OrderUpdate, SignalVerdict))
    inbox = bus.channel(names.SIGNALS_IN)
    feed = _Feed(clock)
    defs = [
        risk_gate.DEFINITION,
        orchestrator.DEFINITION,
        broker.DEFINITION,
        signal_guard.DEFINITION,
    ]
    async with anyio.create_task_group() as tg:
        actors = await start_actors(tg, defs, settings, clock, bus, resources)
        market = bus.topic(names.MARKET)
        for s in feed.syms:
            await market.publish(Tick(symbol=s, price=feed.px[s], size=1e12, ts=clock.now_ns()))
        # As the daemon does once it is ready (daemon/runtime.py): freeze the start-up
        # heap and raise the gen-0 collection threshold.
        tune_after_startup()

        counts = {OrderStatus.ACCEPTED: 0, OrderStatus.FILLED: 0}
        accepted_ns = [0]

        async def wait_for(status: OrderStatus, total: int) -> None:
            """Wait until ``total`` orders have reached ``status`` since the start."""
            while counts[status] < total:
                for u in await accepted.receive_batch():
                    if isinstance(u, SignalVerdict):
                        if not u.accepted:
                            raise RuntimeError(f"signal turned down: {u.reason} {u.detail}")
                    elif u.status in counts:
                        counts[u.status] += 1
                        if u.status is OrderStatus.ACCEPTED:
                            accepted_ns[0] = u.ts

        # Latency: one signal in flight at a time; the next goes in once the previous
        # order has filled, so no sample carries another's work.
        lat: list[float] = []
        for k in range(LAT_WARMUP + LAT_N if phase == "latency" else 0):
            sig = feed.make()
            t0 = clock.now_ns()
            inbox.send_nowait(sig)
            await wait_for(OrderStatus.ACCEPTED, k + 1)
            if k >= LAT_WARMUP:
                back = clock.now_ns()
                lat.append((accepted_ns[0] - t0) / 1000.0)
                roundtrip.append((back - t0) / 1000.0)
            await wait_for(OrderStatus.FILLED, k + 1)

        # Throughput: chunks offered back to back, yielding between chunks.
        n_tput = TPUT_N if phase == "throughput" else 0
        sigs = [feed.make() for _ in range(n_tput)]
        done = anyio.Event()

        base = counts[OrderStatus.ACCEPTED]

        async def consume() -> None:
            await wait_for(OrderStatus.ACCEPTED, base + n_tput)
            done.set()

        tg.start_soon(consume)
        t_start = time.perf_counter()
        for i in range(0, n_tput, CHUNK):
            for sig in sigs[i : i + CHUNK]:
                try:
                    inbox.send_nowait(sig)
                except WouldBlock:
                    await inbox.send(sig)
            await anyio.lowlevel.checkpoint()
        await done.wait()
        elapsed = time.perf_counter() - t_start
        orch = actors["orchestrator"]
        assert isinstance(orch, orchestrator.Orchestrator)
        extra = {
            "working_orders": len(orch.execution.orders.working),
            "finished_kept": len(orch.execution.orders.finished),
            "open_positions": orch.execution.books.open_positions,
            "signals_total": feed.n,
        }
        tg.cancel_scope.cancel()
    return lat, (n_tput / elapsed if n_tput else 0.0), extra


async def _main() -> list[Result]:
    hop_lat = await raw_hop_latency(LAT_N)
    hop_tput = await raw_hop_throughput(HOP_N, 4096)
    roundtrip: list[float] = []
    lat, _, _ = await _pipeline_run("latency", roundtrip)
    _, tput, extra = await _pipeline_run("throughput", [])
    base_what = "raw anyio memory-stream hop (send_nowait + receive, one in flight)"
    p50 = percentile(hop_lat, 0.5)
    out = [
        latency_result(
            BENCH,
            f"signal_to_order_{name}",
            round(percentile(lat, q), 2),
            "us",
            base_what,
            round(percentile(hop_lat, q), 2),
            samples=len(lat),
            hop_p50_us=round(p50, 2),
            roundtrip_p50_us=round(percentile(roundtrip, 0.5), 2),
            roundtrip_p99_us=round(percentile(roundtrip, 0.99), 2),
        )
        for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999))
    ]
    out.append(
        throughput_result(
            BENCH,
            "throughput",
            round(tput, 1),
            "signals/s",
            "raw anyio memory-stream hop, streamed with a draining receiver",
            round(hop_tput, 1),
            signals=TPUT_N,
            chunk=CHUNK,
            **extra,
        )
    )
    return out


def run() -> list[Result]:
    """Run the pipeline benchmark (skipped with a note when the market data is absent)."""
    if not have_data():
        raise SystemExit("bench pipeline: /work/shared/data is absent; cannot preload history")
    gc.collect()
    return anyio.run(_main, backend="asyncio", backend_options={"use_uvloop": True})
