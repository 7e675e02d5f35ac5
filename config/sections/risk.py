"""``[risk]``: the risk gate's limits."""

from __future__ import annotations

from config.sections._base import Percent, PosInt, Section


class RiskSettings(Section, frozen=True, kw_only=True):
    """Limits every entry is checked against."""

    max_position_pct: Percent = 10.0
    """Largest position in one symbol, as % of equity."""
    daily_loss_limit_pct: Percent = 3.0
    """Realized + unrealized loss for the day, as % of start-of-day equity."""
    max_open_positions: PosInt = 10
