"""Base class and shared vocabulary for every message that crosses an actor boundary.

Representation (documented in docs/architecture.md, "Numbers and time"):

* Times are ``int`` nanoseconds since the Unix epoch, UTC, taken from the injected clock.
* Accounting values — order quantities, fill prices, cash, fees, P&L — are ``Decimal``.
  They are exact, and on the JSON edge they travel as strings so no subscriber loses
  precision to a binary float.
* Observations and analytics — market prices, indicator values, stop/target hints on a
  signal, risk-check measurements — are ``float`` (IEEE-754 double), the type the numba
  kernels compute in. They become ``Decimal`` only when they turn into an order, quantised
  to the instrument's tick.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, TypeAlias

import msgspec

Nanos: TypeAlias = int
"""Nanoseconds since the Unix epoch, UTC."""

Money: TypeAlias = Decimal
"""Cash, P&L, fees and fill prices: exact decimal."""

Qty: TypeAlias = Decimal
"""Order and position quantities: exact decimal (fractional for crypto)."""

Symbol: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False):
    """Root of the catalogue: frozen, keyword-only, tagged by class name.

    ``gc=False`` is safe because messages are immutable trees of scalars and tuples,
    so they can never form reference cycles, and it takes them off the GC's hot list.
    """


class Side(enum.StrEnum):
    """Direction of a signal, an order or a fill."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buys, -1 for sells."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        """The side that closes a position opened on this side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class TradeType(enum.StrEnum):
    """Holding horizon of a trade: intraday trades are flattened at the close."""

    INTRADAY = "intraday"
    SWING = "swing"


class Regime(enum.StrEnum):
    """Market regime as classified by the regime actor (or set in configuration)."""

    BULL = "bull"
    BEAR = "bear"
    SIDEWAYS = "sideways"
    CRISIS = "crisis"


class Severity(enum.StrEnum):
    """Alert severity, lowest to highest."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


ZERO = Decimal(0)
