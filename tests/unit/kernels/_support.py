"""Shared test settings and comparison helpers for the kernel property tests."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import HealthCheck, settings

PROPERTY = settings(
    derandomize=True,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Deterministic (derandomized) hypothesis runs; no deadline, since the first example of
a session may load a kernel from numba's cache."""

REL_TOL = 1e-9
"""Stated tolerance between a kernel and its reference (relative)...."""
ABS_TOL = 1e-12
"""...and absolute, for values near zero. Identical IEEE operations in the same order
make most results bit-equal; the slack covers reassociation by LLVM and sums whose
order differs between the vectorised and the plain implementation."""


def close(a: float, b: float, rel: float = REL_TOL, abs_: float = ABS_TOL) -> bool:
    """Equal within tolerance, NaN equal to NaN, infinities equal to themselves."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def assert_close_seq(
    got: Sequence[float] | np.ndarray, want: Sequence[float] | np.ndarray, what: str
) -> None:
    """Element-wise :func:`close`, naming the first index that differs."""
    g = [float(x) for x in got]
    w = [float(x) for x in want]
    assert len(g) == len(w), f"{what}: length {len(g)} != {len(w)}"
    for i, (x, y) in enumerate(zip(g, w, strict=True)):
        assert close(x, y), f"{what}[{i}]: kernel {x!r} != reference {y!r}"
