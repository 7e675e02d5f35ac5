"""warm_up compiles every kernel once, loads them from the cache next time, and the
public entry points never make numba compile a second specialisation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TypedDict

import msgspec
import pytest

from actors.kernels import KernelInputError, warm_up
from actors.kernels._jit import COMPILED

ROOT = Path(__file__).resolve().parents[3]

_PROBE = textwrap.dedent(
    """
    import json, numpy as np
    from actors.kernels import (IndicatorBank, evaluate_exits, new_book, performance,
        portfolio_var, rolling_corr, max_abs_corr, returns_from_equity, warm_up)
    from actors.kernels._jit import COMPILED
    report = warm_up()
    # Production-shaped calls through the public entry points, from plain Python values.
    bank = IndicatorBank(ema_period=3, atr_period=3, adx_period=3)
    j = bank.column("SPY")
    bank.update(np.array([j]), np.array([2.0]), np.array([1.0]), np.array([1.5]), 1)
    fb, ib = new_book(8)
    evaluate_exits(fb, ib, 8, 1_700_000_000_000_000_000, np.zeros(8, np.int64), np.zeros(8))
    portfolio_var([[0.01, 0.02], [-0.01, 0.0]], [100, 200])
    rolling_corr([0.1, 0.2, 0.3], [0.3, 0.1, 0.2], 2)
    max_abs_corr([0.1, 0.2, 0.3], [[0.3], [0.1], [0.2]], 3)
    performance(returns_from_equity([100, 101, 99]), [1, -2])
    print(json.dumps({
        "sources": {k.name: k.source for k in report.kernels},
        "cold": report.cold,
        "signatures": {name: len(d.signatures) for name, d in COMPILED.items()},
    }))
    """
)


class _ProbeResult(TypedDict):
    """What the probe prints: each kernel's source, whether any was cold, signatures each."""

    sources: dict[str, str]
    cold: bool
    signatures: dict[str, int]


def _probe(cache_dir: Path) -> _ProbeResult:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=110,
    )
    return msgspec.json.decode(out.stdout.strip().splitlines()[-1], type=_ProbeResult)


def test_every_kernel_is_warmed() -> None:
    report = warm_up()
    assert {k.name for k in report.kernels} == set(COMPILED)
    again = warm_up()
    assert {k.source for k in again.kernels} == {"memory"}
    assert not again.cold
    assert set(again.as_log()["kernels"]) == set(COMPILED)


def test_cold_then_cached_and_no_second_specialisation(tmp_path: Path) -> None:
    cold = _probe(tmp_path)
    assert cold["cold"] is True
    assert set(cold["sources"].values()) == {"compiled"}
    warm = _probe(tmp_path)
    assert warm["cold"] is False
    assert set(warm["sources"].values()) == {"cache"}
    # Had any entry point passed a different dtype or layout, numba would have compiled
    # (on the hot path) a second specialisation next to the warmed one.
    assert set(warm["signatures"].values()) == {1}


def test_validation_messages_name_the_input() -> None:
    from actors.kernels import as_price_array, check_bar, check_price

    with pytest.raises(KernelInputError, match=r"close: value at \[2\] is nan"):
        as_price_array("close", [1.0, 2.0, float("nan")])
    with pytest.raises(KernelInputError, match="expected 1 dimension"):
        as_price_array("close", [[1.0]])
    with pytest.raises(KernelInputError, match="not numeric"):
        as_price_array("close", ["x"])
    with pytest.raises(KernelInputError, match="tick price: price is nan"):
        check_price("tick price", float("nan"))
    with pytest.raises(KernelInputError, match="expected a number"):
        check_price("tick price", True)
    with pytest.raises(KernelInputError, match=r"close 12\.0 outside"):
        check_bar(11.0, 9.0, 12.0)
    check_bar(11.0, 9.0, 10.0, open_=12.0)  # open outside the range: real data does this
