"""The signal guard's rules as plain synchronous code: one call per signal.

Checks run in a fixed order and the first failure decides the verdict:

1. validity — symbol, side, trade type, conviction, source, prices (finite, positive,
   below the fat-finger cap, stop and target on the correct side of the entry),
2. freshness — age against the trade type's maximum, and not from the future,
3. duplicates — the same ``(source, signal_id)``, or the same content, in the window,
4. cooldown — an accepted entry on the same key recently.

Configuration is turned into plain attributes once (:class:`GuardRules`), so the hot
path reads locals, not nested settings structs.
"""

from __future__ import annotations

import enum
import math
import re
from typing import final

from actors.signal_guard._ttl import ExpiringSet
from config.sections.guard import GuardSettings
from daemon.clock import NS_PER_S
from daemon.messages import Side, Signal, TradeType

_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9._/:\-]{0,31}")


class GuardReason(enum.StrEnum):
    """Why the guard rejected a signal (``SignalVerdict.reason``)."""

    BAD_SYMBOL = "bad_symbol"
    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_SIDE = "bad_side"
    BAD_TRADE_TYPE = "bad_trade_type"
    BAD_CONVICTION = "bad_conviction"
    LOW_CONVICTION = "low_conviction"
    UNKNOWN_SOURCE = "unknown_source"
    BAD_PRICE = "bad_price"
    PRICE_SIDE_MISMATCH = "price_side_mismatch"
    BAD_STOP = "bad_stop"
    BAD_TIME = "bad_time"
    STALE = "stale"
    FROM_FUTURE = "from_future"
    DUPLICATE_ID = "duplicate_id"
    DUPLICATE_CONTENT = "duplicate_content"
    COOLDOWN = "cooldown"
    INVALID = "invalid"
    """The signal could not be examined at all (a malformed object): see the detail."""


Rejection = tuple[GuardReason, str]
"""A reason code and a human-readable detail."""


def _price_ok(p: float | None, cap: float) -> bool:
    return p is None or (isinstance(p, int | float) and math.isfinite(p) and 0.0 < p <= cap)


@final
class GuardRules:
    """Stateful guard logic: configuration, dedup windows and cooldowns.

    :meth:`check` is the whole guard for one signal; it never raises for bad input.
    """

    __slots__ = (
        "_by_content",
        "_by_id",
        "_cooldown",
        "_cooldown_per_source",
        "_future_ns",
        "_max_age_intraday_ns",
        "_max_age_swing_ns",
        "_max_price",
        "_max_stop_frac",
        "_min_conviction",
        "_sources",
        "_symbols",
    )

    def __init__(self, cfg: GuardSettings) -> None:
        self._by_id = ExpiringSet(int(cfg.dedup_window_s * NS_PER_S), cfg.dedup_capacity)
        self._by_content = ExpiringSet(int(cfg.dedup_window_s * NS_PER_S), cfg.dedup_capacity)
        self._cooldown = ExpiringSet(int(cfg.cooldown_s * NS_PER_S), cfg.dedup_capacity)
        self.configure(cfg)

    def configure(self, cfg: GuardSettings) -> None:
        """Take new limits (reload) while keeping the dedup and cooldown memory."""
        self._sources = frozenset(cfg.sources)
        self._symbols = frozenset(cfg.symbols)
        self._max_age_intraday_ns = int(cfg.max_age_intraday_s * NS_PER_S)
        self._max_age_swing_ns = int(cfg.max_age_swing_s * NS_PER_S)
        self._future_ns = int(cfg.max_future_s * NS_PER_S)
        self._min_conviction = cfg.min_conviction
        self._max_price = cfg.max_price
        self._max_stop_frac = cfg.max_stop_distance_pct / 100.0
        self._cooldown_per_source = cfg.cooldown_key == "source_symbol"
        self._cooldown.ttl_ns = int(cfg.cooldown_s * NS_PER_S)
        window = int(cfg.dedup_window_s * NS_PER_S)
        self._by_id.ttl_ns = window
        self._by_content.ttl_ns = window
        for s in (self._by_id, self._by_content, self._cooldown):
            s.capacity = cfg.dedup_capacity

    def check(self, sig: Signal, now_ns: int) -> Rejection | None:
        """``None`` if ``sig`` is accepted (and remembered), else why it is rejected."""
        bad = self.validate(sig)
        if bad is None:
            bad = self.freshness(sig, now_ns)
        if bad is not None:
            return bad
        id_key = (sig.source, sig.signal_id)
        if self._by_id.contains(id_key, now_ns):
            return GuardReason.DUPLICATE_ID, f"signal {sig.signal_id!r} already seen"
        # Remembered from here on whatever the outcome: a re-delivery of a signal that was
        # turned down must not be accepted later just because the cooldown ran out.
        self._by_id.add(id_key, now_ns)
        content = (
            sig.source,
            sig.symbol,
            sig.side,
            sig.trade_type,
            sig.is_exit,
            sig.entry_price,
            sig.stop_price,
            sig.target_price,
        )
        if self._by_content.contains(content, now_ns):
            return GuardReason.DUPLICATE_CONTENT, "same signal content seen within the window"
        if not sig.is_exit and self._cooldown.ttl_ns > 0:
            ckey = (sig.source, sig.symbol) if self._cooldown_per_source else sig.symbol
            until = self._cooldown.expires_at(ckey)
            if until is not None and until > now_ns:
                return GuardReason.COOLDOWN, (
                    f"{sig.symbol} in cooldown for another {(until - now_ns) / NS_PER_S:.3f}s"
                )
            self._cooldown.add(ckey, now_ns)
        self._by_content.add(content, now_ns)
        return None

    def validate(self, sig: Signal) -> Rejection | None:
        """Static validity of one signal (no state, no time)."""
        sym = sig.symbol
        if not isinstance(sym, str) or _SYMBOL_RE.fullmatch(sym) is None:
            return GuardReason.BAD_SYMBOL, f"symbol {sym!r} is not an upper-case ticker"
        if self._symbols and sym not in self._symbols:
            return GuardReason.UNKNOWN_SYMBOL, f"symbol {sym} is not in guard.symbols"
        if not isinstance(sig.side, Side):
            return GuardReason.BAD_SIDE, f"side {sig.side!r} is not buy or sell"
        if not isinstance(sig.trade_type, TradeType):
            return GuardReason.BAD_TRADE_TYPE, f"trade type {sig.trade_type!r} is unknown"
        conv = sig.conviction
        if not isinstance(conv, int) or not 0 <= conv <= 100:
            return GuardReason.BAD_CONVICTION, f"conviction {conv!r} is not 0..100"
        if conv < self._min_conviction:
            return GuardReason.LOW_CONVICTION, (
                f"conviction {conv} below guard.min_conviction {self._min_conviction}"
            )
        if sig.source not in self._sources:
            return GuardReason.UNKNOWN_SOURCE, f"source {sig.source!r} is not in guard.sources"
        entry, stop, target = sig.entry_price, sig.stop_price, sig.target_price
        cap = self._max_price
        if not (_price_ok(entry, cap) and _price_ok(stop, cap) and _price_ok(target, cap)):
            return GuardReason.BAD_PRICE, (
                f"prices must be finite, > 0 and <= {cap:g}: "
                f"entry={entry!r} stop={stop!r} target={target!r}"
            )
        if sig.is_exit or entry is None:
            return None
        if sig.side is Side.BUY:
            wrong = (stop is not None and stop >= entry) or (target is not None and target <= entry)
        else:
            wrong = (stop is not None and stop <= entry) or (target is not None and target >= entry)
        if wrong:
            want = "stop < entry < target" if sig.side is Side.BUY else "target < entry < stop"
            return GuardReason.PRICE_SIDE_MISMATCH, (
                f"a {sig.side} needs {want}: entry={entry} stop={stop} target={target}"
            )
        if stop is not None and abs(entry - stop) > self._max_stop_frac * entry:
            return GuardReason.BAD_STOP, (
                f"stop {stop} is more than {self._max_stop_frac * 100:g}% from entry {entry}"
            )
        return None

    def freshness(self, sig: Signal, now_ns: int) -> Rejection | None:
        """Age of the signal against the limit for its trade type."""
        created = sig.created_ns
        if not isinstance(created, int) or created <= 0:
            return GuardReason.BAD_TIME, f"created_ns {created!r} is not a positive integer"
        age = now_ns - created
        if age < -self._future_ns:
            return GuardReason.FROM_FUTURE, f"created {-age / NS_PER_S:.3f}s in the future"
        limit = (
            self._max_age_intraday_ns
            if sig.trade_type is TradeType.INTRADAY
            else self._max_age_swing_ns
        )
        if age > limit:
            return GuardReason.STALE, (
                f"{age / NS_PER_S:.3f}s old; {sig.trade_type} limit is {limit / NS_PER_S:g}s"
            )
        return None
