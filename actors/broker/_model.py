"""The paper venue's market model: prices on a tick grid, lots, slippage, commission,
per-symbol market state, and the trading session. Pure and deterministic."""

from __future__ import annotations

import enum
import random
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import final
from zoneinfo import ZoneInfo

from config.sections.broker import PaperBrokerSettings, PaperSessionSettings
from daemon.clock import NS_PER_S
from daemon.messages import ZERO, Bar, Side, Tick
from daemon.messages.codec import as_decimal

_BPS = Decimal(10_000)


class PaperReason(enum.StrEnum):
    """Reason codes the paper venue puts on rejections, cancellations and expiries."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    """No market price has been seen for the symbol yet."""
    MARKET_CLOSED = "market_closed"
    INSUFFICIENT_BUYING_POWER = "insufficient_buying_power"
    INVALID_QUANTITY = "invalid_quantity"
    """Not positive, or less than one lot."""
    INVALID_PRICE = "invalid_price"
    """A limit/stop order without a positive limit/stop price."""
    SHORT_NOT_ALLOWED = "short_not_allowed"
    FAULT_REJECT = "fault_reject"
    FAULT_PARTIAL = "fault_partial"
    IOC_REMAINDER = "ioc_remainder"
    CANCELLED = "cancel_requested"
    DAY_EXPIRED = "day_expired"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"


@final
class CostModel:
    """Tick and lot grids, slippage (fixed + seeded noise, always against the order),
    and commission (per share + bps of notional, with a per-order minimum)."""

    __slots__ = (
        "_bps",
        "_comm_bps",
        "_comm_min",
        "_comm_q",
        "_noise",
        "_per_share",
        "_rng",
        "lot",
        "tick",
    )

    def __init__(self, cfg: PaperBrokerSettings, rng: random.Random) -> None:
        self.tick = as_decimal(cfg.tick_size)
        self.lot = as_decimal(cfg.lot_size)
        self._bps = cfg.slippage_bps
        self._noise = cfg.slippage_noise_bps
        self._per_share = as_decimal(cfg.commission_per_share)
        self._comm_bps = as_decimal(cfg.commission_bps)
        self._comm_min = as_decimal(cfg.commission_min)
        self._comm_q = as_decimal(cfg.commission_quantum)
        self._rng = rng

    def lots(self, qty: Decimal) -> Decimal:
        """``qty`` rounded down to a whole number of lots."""
        return (qty / self.lot).to_integral_value(ROUND_FLOOR) * self.lot

    def on_tick(self, price: Decimal) -> Decimal:
        """``price`` on the tick grid, rounded to the nearest tick (for limit/stop prices)."""
        return (price / self.tick).to_integral_value(ROUND_HALF_UP) * self.tick

    def against(self, price: Decimal, side: Side) -> Decimal:
        """``price`` on the tick grid, rounded against the order (buys up, sells down)."""
        rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
        return (price / self.tick).to_integral_value(rounding) * self.tick

    def slipped(self, ref: Decimal, side: Side) -> Decimal:
        """``ref`` moved against ``side`` by the fixed slippage plus seeded noise."""
        # Always draw, so the noise sequence does not depend on which orders had noise.
        noise = self._rng.random() * self._noise
        bps = as_decimal(self._bps + noise)
        moved = ref * (1 + side.sign * bps / _BPS)
        return max(self.tick, self.against(moved, side))

    def commission(self, filled: Decimal, notional: Decimal) -> Decimal:
        """Total commission of an order that has filled ``filled`` for ``notional``."""
        if filled <= 0:
            return ZERO
        raw = self._per_share * filled + self._comm_bps * notional / _BPS
        return max(self._comm_min, raw).quantize(self._comm_q, rounding=ROUND_HALF_UP)


@final
class MarketState:
    """The latest market picture of one symbol, and the volume left to trade in it."""

    __slots__ = ("ask", "bar", "bid", "budget", "last", "ts")

    def __init__(self) -> None:
        self.last = ZERO
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        self.bar: tuple[Decimal, Decimal, Decimal] | None = None
        """``(open, high, low)`` of the latest update when it was a bar."""
        self.budget: Decimal | None = None
        """Quantity our orders may still take from the latest update (None: no limit)."""
        self.ts = 0

    def price_for(self, side: Side, use_quotes: bool) -> Decimal:
        """The price a marketable order on ``side`` trades at now."""
        if use_quotes:
            quote = self.ask if side is Side.BUY else self.bid
            if quote is not None:
                return quote
        return self.last


def valid_update(item: Tick | Bar) -> bool:
    """False for updates a venue could not have printed (non-finite, <= 0, high < low)."""
    if isinstance(item, Tick):
        prices = [item.price] + [q for q in (item.bid, item.ask) if q is not None]
        volume = item.size
    else:
        prices = [item.open, item.high, item.low, item.close]
        volume = item.volume
        if not item.low <= min(item.open, item.close) <= max(item.open, item.close) <= item.high:
            return False
    return all(p > 0.0 and p < float("inf") for p in prices) and 0.0 <= volume < float("inf")


def update_state(
    st: MarketState, item: Tick | Bar, participation_pct: float, costs: CostModel
) -> None:
    """Replace ``st`` with what ``item`` says (``item`` must be valid)."""
    st.ts = item.ts
    if isinstance(item, Tick):
        st.last = as_decimal(item.price)
        st.bid = None if item.bid is None else as_decimal(item.bid)
        st.ask = None if item.ask is None else as_decimal(item.ask)
        st.bar = None
        volume = item.size
    else:
        st.last = as_decimal(item.close)
        st.bid = st.ask = None
        st.bar = (as_decimal(item.open), as_decimal(item.high), as_decimal(item.low))
        volume = item.volume
    st.budget = None if volume <= 0.0 else costs.lots(as_decimal(volume * participation_pct / 100))


@final
class Session:
    """When the venue is open (always, unless ``enforce`` is set)."""

    __slots__ = ("_close", "_days", "_open", "_tz", "enforce")

    def __init__(self, cfg: PaperSessionSettings) -> None:
        self.enforce = cfg.enforce
        self._tz = ZoneInfo(cfg.timezone)
        self._open = time.fromisoformat(cfg.open)
        self._close = time.fromisoformat(cfg.close)
        self._days = frozenset(cfg.weekdays)

    def _local(self, ns: int) -> datetime:
        return datetime.fromtimestamp(ns // NS_PER_S, tz=UTC).astimezone(self._tz)

    def is_open(self, ns: int) -> bool:
        """True when orders may reach the venue at ``ns``."""
        if not self.enforce:
            return True
        local = self._local(ns)
        return local.weekday() in self._days and self._open <= local.time() < self._close

    def close_ns(self, ns: int) -> int | None:
        """End of the session that is open at ``ns`` (None when not enforced)."""
        if not self.enforce:
            return None
        local = self._local(ns)
        close = datetime.combine(local.date(), self._close, tzinfo=self._tz)
        if close <= local:
            close += timedelta(days=1)
        return int(close.timestamp()) * NS_PER_S
