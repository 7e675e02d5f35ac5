"""``[broker]``: which broker executes orders."""

from __future__ import annotations

from typing import Literal

from config.sections._base import Section


class BrokerSettings(Section, frozen=True, kw_only=True):
    """Broker selection; each kind has its own sub-section."""

    kind: Literal["paper"] = "paper"
    initial_cash: float = 100_000.0
    seed: int = 42
