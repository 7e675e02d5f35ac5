"""The exit levels of one position: from its signal where given, else from configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.sections.lifecycle import ExitRules
from daemon.clock import NS_PER_S

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Levels:
    """Everything the exit kernel needs about one position besides prices and state.

    Unset levels are NaN and unset limits 0 (the kernel's conventions).
    """

    stop: float
    target: float
    trail_pct: float
    trail_atr: float
    vol_k: float
    pattern_band: float
    max_hold_ns: int
    max_bars: int
    scale_out: tuple[tuple[float, float], ...]
    """Partial targets as ``(price, qty_fraction)``, nearest first."""


def _given(value: float | None) -> float | None:
    """A level from the signal when it is a usable price (finite, > 0), else None."""
    if value is None or not math.isfinite(value) or value <= 0.0:
        return None
    return float(value)


def _off(x: float) -> float:
    return x if x > 0.0 else NAN


def levels_for(
    *,
    side: int,
    entry: float,
    rules: ExitRules,
    stop: float | None = None,
    target: float | None = None,
) -> tuple[Levels, list[str]]:
    """The levels of a position opened at ``entry`` on ``side`` (+1/-1), and any problems.

    ``stop``/``target`` are the signal's; a missing one takes the configured default
    distance. A given level that is not a usable price is replaced by the default, and
    the replacement is reported so that it gets recorded.
    """
    problems: list[str] = []
    s_stop, s_target = _given(stop), _given(target)
    if stop is not None and s_stop is None:
        problems.append(f"stop {stop!r} is not a usable price; using the default")
    if target is not None and s_target is None:
        problems.append(f"target {target!r} is not a usable price; using the default")
    if s_stop is None and rules.stop_loss_pct > 0.0:
        s_stop = entry * (1.0 - side * rules.stop_loss_pct / 100.0)
    if s_target is None and rules.profit_target_pct > 0.0:
        s_target = entry * (1.0 + side * rules.profit_target_pct / 100.0)
    if s_stop is not None and side * (s_stop - entry) >= 0.0:
        problems.append(f"stop {s_stop:g} is already through the entry {entry:g}; it fires now")
    scale: list[tuple[float, float]] = []
    if s_target is not None and side * (s_target - entry) > 0.0:
        for lvl in sorted(rules.scale_out, key=lambda x: x.at_target_fraction):
            price = entry + lvl.at_target_fraction * (s_target - entry)
            scale.append((price, lvl.qty_fraction))
    elif rules.scale_out:
        problems.append("scale-out needs a target beyond the entry; scale-out is off")
    return (
        Levels(
            stop=NAN if s_stop is None else s_stop,
            target=NAN if s_target is None else s_target,
            trail_pct=_off(rules.trailing_stop_pct / 100.0),
            trail_atr=_off(rules.trailing_atr_multiple),
            vol_k=_off(rules.volatility_stop_atr),
            pattern_band=_off(rules.pattern_band_pct / 100.0),
            max_hold_ns=round(rules.max_holding_s * NS_PER_S),
            max_bars=rules.max_holding_bars,
            scale_out=tuple(scale),
        ),
        problems,
    )
