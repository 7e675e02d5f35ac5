"""The risk gate's view of the account: positions, equity and approved-but-open entries.

Positions and equity come from the orchestrator's ``PositionUpdate`` and
``AccountSnapshot`` events. Between an approval and the fills that turn it into a
position, the approved quantity is *reserved*, so a burst of signals cannot each pass a
limit that together they break. A reservation shrinks with each ``Fill`` of its order,
ends with the order's terminal ``OrderUpdate``, and lapses after a TTL as a backstop.
Aggregates are kept incrementally, so no request scans the reservations, and
:attr:`Portfolio.open_version` changes whenever the set of open symbols may have, so
the risk engine can keep what it derives from that set until it does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import final

from daemon.messages import AccountSnapshot, Fill, OrderUpdate, PositionUpdate


@dataclass(slots=True)
class Reservation:
    """An approved entry not yet filled: ``qty`` signed (+ buy, − sell), at ``price``."""

    symbol: str
    qty: float
    price: float
    stop: float | None
    expires_ns: int


@dataclass(slots=True)
class Holding:
    """A position as the risk gate sees it (signed quantity)."""

    qty: float
    avg_price: float
    last_price: float


@final
class Portfolio:
    """Positions, equity, buying power and reservations, kept up to date by events."""

    __slots__ = (
        "_expiry",
        "_open",
        "_open_sorted",
        "buying_power",
        "equity",
        "holdings",
        "open_version",
        "peak_equity",
        "reservations",
        "reserved_notional",
        "reserved_qty",
        "ttl_ns",
    )

    def __init__(self, equity: float, ttl_ns: int) -> None:
        self.equity = equity
        self.peak_equity = equity
        self.buying_power = equity
        self.ttl_ns = ttl_ns
        self.holdings: dict[str, Holding] = {}
        self.reservations: dict[str, Reservation] = {}
        self.reserved_qty: dict[str, float] = {}
        self.reserved_notional = 0.0
        self._expiry: deque[tuple[int, str]] = deque()
        self._open: set[str] = set()
        self.open_version = 0
        """Changes whenever the set of :meth:`open_symbols` changes."""
        self._open_sorted: tuple[int, tuple[str, ...]] = (-1, ())

    # -- events ------------------------------------------------------------------------

    def on_position(self, ev: PositionUpdate) -> None:
        """A position changed (a zero quantity closes it)."""
        p = ev.position
        qty = float(p.qty)
        if qty == 0.0:
            self.holdings.pop(p.symbol, None)
        else:
            last = p.last_price if p.last_price is not None else float(p.avg_price)
            self.holdings[p.symbol] = Holding(qty, float(p.avg_price), last)
        self._touch(p.symbol)

    def on_account(self, ev: AccountSnapshot) -> None:
        """New equity and buying power."""
        self.equity = float(ev.equity)
        self.buying_power = float(ev.buying_power)
        self.peak_equity = max(self.peak_equity, self.equity)

    def on_fill(self, ev: Fill) -> None:
        """A fill moves its quantity from the reservation into the position.

        Account snapshots are throttled, so a fill that grows exposure is debited from
        buying power at once (never credited: a reduction waits for the next snapshot,
        which errs on the safe side).
        """
        q = float(ev.qty)
        h = self.holdings.get(ev.symbol)
        held = h.qty if h is not None else 0.0
        growth = abs(held + q * ev.side.sign) - abs(held)
        if growth > 0.0:
            self.buying_power -= growth * float(ev.price)
        r = self.reservations.get(ev.correlation_id)
        if r is None:
            return
        left = abs(r.qty) - q
        if left <= 1e-12:
            self.release(ev.correlation_id)
        else:
            self._adjust(r, -q if r.qty > 0 else q)

    def on_order(self, ev: OrderUpdate) -> None:
        """A finished order frees whatever is still reserved for it."""
        if ev.status.is_terminal:
            self.release(ev.correlation_id)

    # -- reservations --------------------------------------------------------------------

    def reserve(
        self,
        correlation_id: str,
        symbol: str,
        qty: float,
        price: float,
        stop: float | None,
        now_ns: int,
    ) -> None:
        """Count an approved entry (signed ``qty``) against the limits until it resolves."""
        self.release(correlation_id)
        exp = now_ns + self.ttl_ns
        r = Reservation(symbol, 0.0, price, stop, exp)
        self.reservations[correlation_id] = r
        expiry = self._expiry
        expiry.append((exp, correlation_id))
        if len(expiry) > 2 * len(self.reservations) + 1024:
            self._compact_expiry()
        self._adjust(r, qty)

    def release(self, correlation_id: str) -> None:
        """Drop a reservation (no-op when there is none)."""
        r = self.reservations.pop(correlation_id, None)
        if r is not None:
            self._adjust(r, -r.qty)
            if abs(self.reserved_qty.get(r.symbol, 0.0)) < 1e-9:
                self.reserved_qty.pop(r.symbol, None)
                self._touch(r.symbol)

    def expire(self, now_ns: int) -> None:
        """Drop reservations past their TTL (their orders never reported an end)."""
        exp = self._expiry
        while exp and exp[0][0] <= now_ns:
            t, cid = exp.popleft()
            r = self.reservations.get(cid)
            if r is not None and r.expires_ns == t:
                self.release(cid)

    def _compact_expiry(self) -> None:
        # Released reservations leave their expiry entries behind (removing them from
        # the middle of the deque would cost a scan each); at thousands of approvals a
        # second and a TTL of an hour they would pile up by the million. Dropping the
        # dead ones once they outnumber the live ones keeps the deque proportional to
        # the reservations, at O(1) amortised per reservation, and keeps the order.
        res = self.reservations
        kept: deque[tuple[int, str]] = deque()
        seen: set[str] = set()
        for t, cid in self._expiry:
            # One entry per live reservation: a correlation id reserved again at the
            # same instant leaves twins that would otherwise all look alive.
            r = res.get(cid)
            if r is not None and r.expires_ns == t and cid not in seen:
                seen.add(cid)
                kept.append((t, cid))
        self._expiry = kept

    def _touch(self, symbol: str) -> None:
        # Called after anything that may open or close ``symbol``: the open set is
        # kept as it changes, so no request has to build it.
        is_open = symbol in self.holdings or self.reserved_qty.get(symbol, 0.0) != 0.0
        if is_open != (symbol in self._open):
            if is_open:
                self._open.add(symbol)
            else:
                self._open.discard(symbol)
            self.open_version += 1

    def _adjust(self, r: Reservation, dq: float) -> None:
        before = abs(r.qty) * r.price
        r.qty += dq
        old = self.reserved_qty.get(r.symbol, 0.0)
        new = self.reserved_qty[r.symbol] = old + dq
        if (old != 0.0) != (new != 0.0):
            self._touch(r.symbol)
        # Clamped: float residue must never make reserved money negative.
        self.reserved_notional = max(0.0, self.reserved_notional + abs(r.qty) * r.price - before)

    # -- views ---------------------------------------------------------------------------

    def exposure(self, symbol: str) -> float:
        """Signed quantity held plus reserved in ``symbol``."""
        h = self.holdings.get(symbol)
        return (h.qty if h is not None else 0.0) + self.reserved_qty.get(symbol, 0.0)

    def open_symbols(self) -> set[str]:
        """Symbols with a position or a working approved entry."""
        return set(self._open)

    def open_sorted(self) -> tuple[str, ...]:
        """:meth:`open_symbols` in sorted order, remembered until :attr:`open_version` moves."""
        version, syms = self._open_sorted
        if version != self.open_version:
            syms = tuple(sorted(self._open))
            self._open_sorted = (self.open_version, syms)
        return syms
