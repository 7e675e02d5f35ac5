"""Validation at the kernel boundary: kernels trust their inputs, so check them here.

Compiled kernels do not raise useful errors: a NaN price silently turns every
comparison false, which for an exit check means "never exit". So every array that
comes from outside (market data, returns, P&L) passes one of these functions first,
and a bad value becomes a :class:`KernelInputError` naming the array, the index and
the value.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class KernelInputError(ValueError):
    """Raised when an input handed to a kernel is malformed (NaN/inf, non-positive price,
    wrong shape or a parameter out of range); the text names the input and the index."""


def _first_bad(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    flat = int(np.flatnonzero(mask.ravel())[0])
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _where(idx: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in idx)


def as_float_array(name: str, values: Any, *, ndim: int = 1) -> FloatArray:
    """``values`` as a C-contiguous float64 array of ``ndim`` dimensions, all finite."""
    try:
        arr = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise KernelInputError(f"{name}: not numeric: {exc}") from exc
    if arr.ndim != ndim:
        raise KernelInputError(f"{name}: expected {ndim} dimension(s), got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        idx = _first_bad(~finite)
        raise KernelInputError(
            f"{name}: value at [{_where(idx)}] is {float(arr[idx])!r}; must be a finite number"
        )
    return arr


def as_price_array(name: str, values: Any, *, ndim: int = 1) -> FloatArray:
    """Like :func:`as_float_array`, and every value must be a price: greater than 0."""
    arr = as_float_array(name, values, ndim=ndim)
    bad = arr <= 0.0
    if bad.any():
        idx = _first_bad(bad)
        raise KernelInputError(
            f"{name}: price at [{_where(idx)}] is {float(arr[idx])!r}; must be > 0"
        )
    return arr


def check_price(name: str, value: float) -> float:
    """One price from outside (a tick, a bar field): finite and greater than 0."""
    if not isinstance(value, float | int) or isinstance(value, bool):
        raise KernelInputError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise KernelInputError(f"{name}: price is {v!r}; must be a finite number > 0")
    return v


def check_bar(high: float, low: float, close: float, open_: float | None = None) -> None:
    """OHLC fields of one bar: each a valid price, and ``low <= close <= high``.

    ``open`` is only range-checked as a price: real feeds (Yahoo's SPY file has two such
    rows) occasionally print an open outside the bar's range, and that must not stop
    the bar's close from marking positions.
    """
    check_price("high", high)
    check_price("low", low)
    check_price("close", close)
    if open_ is not None:
        check_price("open", open_)
    if not low <= close <= high:
        raise KernelInputError(
            f"bar: close {close!r} outside [low {low!r}, high {high!r}]; the bar is inconsistent"
        )


def check_same_length(**arrays: FloatArray | IntArray) -> int:
    """The common length of ``arrays`` (first axis); raises when they differ."""
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise KernelInputError(f"arrays must have the same length: {detail}")
    return next(iter(lengths.values()), 0)
