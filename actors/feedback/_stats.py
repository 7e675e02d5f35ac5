"""One closed trade as a return, and the statistics of a source's recent returns.

A trade's return is its net P&L over its entry notional, ``pnl / (entry_price · |qty|)``:
scale-free, so a source that trades large is not judged better than one that trades
small. Over a source's last ``n`` returns ``r``:

* win rate ``#(r > 0) / n``;
* payoff ``mean(r | r > 0) / mean(−r | r < 0)`` clamped to ``[0, payoff_cap]``
  (``payoff_cap`` with wins and no losses, 0 without wins) — Kelly's ``R``;
* Sharpe ``mean(r) / std(r, ddof=1)`` per trade, clamped to ``±sharpe_cap``
  (``±sharpe_cap`` by the sign of the mean when every return is the same, 0 when all
  are zero).

Plain Python over at most ``window_trades`` floats: a closed trade is rare and the
window small, so there is nothing for a compiled kernel to win here; ``math.fsum``
keeps the sums exact enough to compare with hand-computed values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.messages import TradeClosed
from storage.feedback import FeedbackTrade


class BadTrade(ValueError):
    """Raised when a TradeClosed cannot be turned into a return (no source, no notional)."""


def outcome(trade: TradeClosed) -> FeedbackTrade:
    """The return of ``trade``; raises :class:`BadTrade` when it has none."""
    if not trade.source:
        raise BadTrade(f"trade {trade.trade_id}: no signal source to credit")
    notional = trade.entry_price * abs(trade.qty)
    if not notional.is_finite() or notional <= 0 or not trade.pnl.is_finite():
        raise BadTrade(
            f"trade {trade.trade_id}: entry notional {notional} or pnl {trade.pnl} unusable"
        )
    ret = float(trade.pnl / notional)
    if not math.isfinite(ret):
        raise BadTrade(f"trade {trade.trade_id}: return {ret} is not finite")
    return FeedbackTrade(
        trade_id=trade.trade_id,
        source=trade.source,
        ret=ret,
        pnl=trade.pnl,
        exit_ns=trade.exit_ns,
    )


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Statistics of one source's recent trade returns."""

    trades: int
    win_rate: float
    payoff: float
    sharpe: float
    mean: float


def window_stats(returns: Sequence[float], *, sharpe_cap: float, payoff_cap: float) -> WindowStats:
    """The statistics of ``returns`` (at least one; Sharpe needs two, else 0)."""
    n = len(returns)
    if n == 0:
        raise ValueError("window_stats needs at least one return")
    wins = [r for r in returns if r > 0.0]
    losses = [-r for r in returns if r < 0.0]
    if not wins:
        payoff = 0.0
    elif not losses:
        payoff = payoff_cap
    else:
        payoff = min(payoff_cap, (math.fsum(wins) / len(wins)) / (math.fsum(losses) / len(losses)))
    mean = math.fsum(returns) / n
    if n < 2:
        sharpe = 0.0
    else:
        sd = math.sqrt(math.fsum((r - mean) ** 2 for r in returns) / (n - 1))
        # Equal returns leave only rounding noise in sd: treat as no dispersion.
        if sd <= 1e-12 * max(1.0, abs(mean)):
            sharpe = 0.0 if mean == 0.0 else math.copysign(sharpe_cap, mean)
        else:
            sharpe = max(-sharpe_cap, min(sharpe_cap, mean / sd))
    return WindowStats(trades=n, win_rate=len(wins) / n, payoff=payoff, sharpe=sharpe, mean=mean)
