"""Exit evaluation and indicator throughput: numba kernels vs plain Python, same run.

``make bench BENCH=exit``. For N open positions (1, 100, 10 000, 100 000) one price
update is evaluated by

* the numba kernel over the position matrices (our figure),
* the plain-Python reference over the same matrices,
* the per-position Python loop an actor would otherwise run (objects, attribute access),
* a bare numpy pass over the same arrays (``np.less`` of the price column against the
  stop column) — the raw limit of touching that memory once.

Each size yields two lines named ``eval_<N>_positions``: one against the per-position
loop (how much the kernel saves) and one against the bare numpy pass (how close it is
to the limit). Targets: 10 000 positions in under 100 µs, and the kernel at least 30×
faster than the Python reference at 10 000.

Indicator throughput (EMA + ATR + ADX, updates/s) runs on the real SPY minute bars,
batched and one bar per call. Warm-up is measured cold (empty numba cache) and warm in
fresh processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from actors.kernels import (
    IndicatorBank,
    PositionRow,
    evaluate_exits,
    evaluate_exits_reference,
    evaluate_position,
    new_book,
    warm_up,
)
from actors.kernels._exits import (
    F_ATR,
    F_EMA,
    F_ENTRY,
    F_HIGH,
    F_HIGH_WATER,
    F_LAST,
    F_LOW,
    F_LOW_WATER,
    F_PATTERN_BAND,
    F_STOP,
    F_TARGET,
    F_TRAIL_PCT,
    F_VOL_K,
    I_BAR_CLOSED,
    I_MAX_HOLD_NS,
    I_OPENED_NS,
    I_SIDE,
    row_from_book,
)
from actors.kernels._indicators import adx_reference, atr_reference, ema_reference
from tests.bench._common import Result, latency_result, now, throughput_result

BENCH = "exit"
SIZES = (1, 100, 10_000, 100_000)
T0 = 1_700_000_000_000_000_000
SPY_MINUTES = Path(__file__).resolve().parents[3] / "shared/data/intraday/pyalgotrade"
SPY_FILE = SPY_MINUTES / "nt-spy-minute-2011.csv"


def _book(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """N positions with every rule armed and a price update that fires none of them."""
    rng = np.random.default_rng(seed)
    fb, ib = new_book(n)
    side = rng.choice(np.array([1, -1], dtype=np.int64), n)
    entry = rng.uniform(20.0, 500.0, n)
    ib[I_SIDE, :n] = side
    ib[I_OPENED_NS, :n] = T0
    ib[I_MAX_HOLD_NS, :n] = 3600 * 10**9
    ib[I_BAR_CLOSED, :n] = 1
    fb[F_ENTRY, :n] = entry
    fb[F_STOP, :n] = entry * (1 - side * 0.05)
    fb[F_TARGET, :n] = entry * (1 + side * 0.10)
    fb[F_TRAIL_PCT, :n] = 0.04
    fb[F_VOL_K, :n] = 3.0
    fb[F_PATTERN_BAND, :n] = 0.01
    fb[F_ATR, :n] = entry * 0.005
    fb[F_EMA, :n] = entry
    fb[F_HIGH_WATER, :n] = fb[F_LOW_WATER, :n] = entry
    px = entry * (1 + rng.uniform(-0.002, 0.002, n))
    fb[F_LAST, :n] = fb[F_HIGH, :n] = fb[F_LOW, :n] = px
    return fb, ib


def _time_per_call(fn: Callable[[], object], min_total_s: float = 0.05, repeats: int = 5) -> float:
    """Seconds per call: the best of ``repeats`` runs of enough calls to fill ``min_total_s``."""
    fn()
    calls = 1
    while True:
        t0 = now()
        for _ in range(calls):
            fn()
        if now() - t0 >= min_total_s / 5 or calls >= 1 << 20:
            break
        calls *= 4
    best = float("inf")
    for _ in range(repeats):
        t0 = now()
        for _ in range(calls):
            fn()
        best = min(best, (now() - t0) / calls)
    return best


def _measure_size(n: int) -> dict[str, float]:
    """Seconds per evaluation of ``n`` positions by each implementation."""
    fb, ib = _book(n)
    reason = np.zeros(n, np.int64)
    trig = np.zeros(n)
    mask = np.zeros(n, np.bool_)
    last, stop = fb[F_LAST, :n], fb[F_STOP, :n]
    out = {
        "kernel": _time_per_call(lambda: evaluate_exits(fb, ib, n, T0, reason, trig)),
        "numpy": _time_per_call(lambda: np.less(last, stop, out=mask)),
    }
    fb_ref, ib_ref = fb.copy(), ib.copy()
    budget = 0.2 if n <= 10_000 else 1.0
    repeats = 2 if n >= 10_000 else 5
    out["reference"] = _time_per_call(
        lambda: evaluate_exits_reference(fb_ref, ib_ref, n, T0, reason, trig),
        min_total_s=budget,
        repeats=repeats,
    )
    rows: list[PositionRow] = [row_from_book(fb, ib, i) for i in range(n)]

    def loop() -> None:
        for p in rows:
            evaluate_position(p, T0)

    out["loop"] = _time_per_call(loop, min_total_s=budget, repeats=repeats)
    return out


def _exit_results() -> Iterator[Result]:
    us = 1e6
    for n in SIZES:
        t = _measure_size(n)
        kernel_us = round(t["kernel"] * us, 3)
        extra: dict[str, object] = {
            "positions": n,
            "kernel_us": kernel_us,
            "python_reference_us": round(t["reference"] * us, 3),
            "per_position_loop_us": round(t["loop"] * us, 3),
            "numpy_pass_us": round(t["numpy"] * us, 3),
            "speedup_vs_reference": round(t["reference"] / t["kernel"], 1),
            "speedup_vs_loop": round(t["loop"] / t["kernel"], 1),
            "ns_per_position": round(t["kernel"] * 1e9 / n, 2),
        }
        if n == 10_000:
            extra["target_under_100us"] = kernel_us < 100.0
            extra["target_30x_reference"] = t["reference"] / t["kernel"] >= 30.0
        metric = f"eval_{n}_positions"
        yield latency_result(
            BENCH,
            metric,
            kernel_us,
            "us",
            "per-position Python loop",
            round(t["loop"] * us, 3),
            **extra,
        )
        yield latency_result(
            BENCH,
            metric,
            kernel_us,
            "us",
            "bare numpy pass (np.less price vs stop column)",
            round(t["numpy"] * us, 3),
            **extra,
        )


def _spy_bars() -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if not SPY_FILE.exists():
        return None
    highs: list[float] = []
    lows: list[float] = []
    closes: list[float] = []
    for line in SPY_FILE.read_text().splitlines():
        _ts, _o, h, lo, c, _v = line.split(";")
        highs.append(float(h))
        lows.append(float(lo))
        closes.append(float(c))
    return np.array(highs), np.array(lows), np.array(closes)


def _indicator_results() -> Iterator[Result]:
    data = _spy_bars()
    if data is None:
        print(f"bench exit: {SPY_FILE} absent; indicator throughput skipped", file=sys.stderr)
        return
    high, low, close = data
    m = close.shape[0]
    sym = np.zeros(m, np.int64)

    def batched() -> None:
        bank = IndicatorBank(ema_period=9, atr_period=14, adx_period=14)
        bank.column("SPY")
        bank.update(sym, high, low, close, m)

    one_sym, one_h, one_l, one_c = (np.zeros(1, np.int64), np.zeros(1), np.zeros(1), np.zeros(1))

    def per_bar() -> None:
        bank = IndicatorBank(ema_period=9, atr_period=14, adx_period=14)
        bank.column("SPY")
        for t in range(m):
            one_h[0], one_l[0], one_c[0] = high[t], low[t], close[t]
            bank.update(one_sym, one_h, one_l, one_c, 1)

    hl, ll, cl = high.tolist(), low.tolist(), close.tolist()

    def reference() -> None:
        ema_reference(cl, 9)
        atr_reference(hl, ll, cl, 14)
        adx_reference(hl, ll, cl, 14)

    scratch = np.empty(m)
    batched_s = _time_per_call(batched, 0.2)
    per_bar_s = _time_per_call(per_bar, 0.5, repeats=3)
    ref_s = _time_per_call(reference, 0.5, repeats=3)
    bare_s = _time_per_call(lambda: np.cumsum(close, out=scratch), 0.05)
    extra = {
        "bars": m,
        "indicators": "EMA(9) + ATR(14) + ADX(14)",
        "per_bar_call_updates_per_s": round(m / per_bar_s),
        "python_reference_updates_per_s": round(m / ref_s),
        "speedup_vs_reference": round(ref_s / batched_s, 1),
        "source": str(SPY_FILE.name),
    }
    yield throughput_result(
        BENCH,
        "indicator_updates_spy_minutes",
        round(m / batched_s),
        "updates/s",
        "bare numpy pass (np.cumsum of the closes)",
        round(m / bare_s),
        **extra,
    )


_WARM_PROBE = (
    "import json, time; t=time.perf_counter(); from actors.kernels import warm_up; "
    "r=warm_up(); print(json.dumps({'total': time.perf_counter()-t, 'kernels': r.seconds, "
    "'cold': r.cold}))"
)


def _warm_up_results() -> Iterator[Result]:
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(root)}
        runs = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _WARM_PROBE],
                env=env,
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["cold"], runs
    assert not warm["cold"], runs
    # In this process every kernel is already in memory: the floor of a warm-up call.
    warm_up()
    in_memory = warm_up().seconds
    yield latency_result(
        BENCH,
        "warm_up_cold",
        round(cold["kernels"], 3),
        "s",
        "warm_up loading from numba's cache",
        round(warm["kernels"], 3),
        import_and_warm_up_s=round(cold["total"], 3),
    )
    yield latency_result(
        BENCH,
        "warm_up_warm",
        round(warm["kernels"], 3),
        "s",
        "warm_up with every kernel already in memory",
        round(in_memory, 6),
        import_and_warm_up_s=round(warm["total"], 3),
    )


def run() -> Iterator[Result]:
    """Every figure of this benchmark, in order."""
    warm_up()
    yield from _exit_results()
    yield from _indicator_results()
    yield from _warm_up_results()
