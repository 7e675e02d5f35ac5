"""Built-in example signal sources, so anyone can replay their own bars with a strategy.

A source sees each bar once, in time order, and answers with the signals a strategy
would have published at that bar's close. Sources are deliberately simple, long-only
by default, and keep per-symbol state only, so their signals are easy to check by hand:

* ``ema-cross:fast=10,slow=30`` — trend following: buy when the fast EMA of the closes
  crosses above the slow one, exit when it crosses back below (``short=1``: go short
  instead of flat).
* ``breakout:entry=20,exit=10`` — Donchian channel: buy when the close exceeds the
  highest high of the previous ``entry`` bars, exit when it falls below the lowest low of
  the previous ``exit`` bars.
* ``mean-reversion:period=14,buy_below=30,sell_above=55`` — Wilder RSI: buy when the RSI
  drops below ``buy_below``, exit when it rises above ``sell_above``.

Every source also takes ``stop_pct`` (default 8) and ``target_pct`` (default 0): a
stop / target this % from the entry carried on the signal (0: none, the lifecycle's
defaults apply). With the default sizing — 1 % of equity at risk down to the stop — an
8 % stop makes a position of 12.5 % of equity before the regime multiplier, inside the
default 10 % position limit in the default sideways regime; ``conviction`` (0–100) and
``trade_type``
(``swing`` or ``intraday``); ``interval`` limits it to bars of that many seconds (0: any).
Signal ids are derived from source, symbol and bar time, so a replay is repeatable.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from daemon.messages import Bar, Side, Signal, TradeType


class SignalSpecError(ValueError):
    """Raised when a ``--signals`` spec names an unknown source or a bad parameter."""


@dataclass
class _Common:
    stop_pct: float = 8.0
    target_pct: float = 0.0
    conviction: int = 60
    trade_type: TradeType = TradeType.SWING
    interval: int = 0
    short: bool = False


class SignalSource:
    """Base of the built-in sources: per-symbol state, signal construction, parameters."""

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, float]] = {}
    """Own parameters and their defaults (besides the common ones)."""

    def __init__(self, **values: float) -> None:
        self.common = _Common()
        self.p = dict(self.params)
        for key, value in values.items():
            if key in self.p:
                self.p[key] = value
            elif key in ("stop_pct", "target_pct"):
                setattr(self.common, key, float(value))
            elif key == "conviction":
                self.common.conviction = int(value)
            elif key == "interval":
                self.common.interval = int(value)
            elif key == "short":
                self.common.short = bool(value)
            else:
                raise SignalSpecError(f"{self.name}: unknown parameter {key!r}; {self.describe()}")
        if not 0 <= self.common.conviction <= 100:
            raise SignalSpecError(f"{self.name}: conviction must be in 0..100")
        self._pos: dict[str, int] = {}
        self.emitted = 0
        self.id_suffix = ""
        """Appended to every signal id (the demo tags each run, so ids stay unique)."""
        self._check()

    def _check(self) -> None:
        """Validate the parameters (subclasses)."""

    @classmethod
    def describe(cls) -> str:
        """The parameters with their defaults, for error messages and --help."""
        own = ", ".join(f"{k}={_fmt(v)}" for k, v in cls.params.items())
        return (
            f"parameters: {own}, stop_pct=8, target_pct=0, conviction=60, "
            "trade_type=swing|intraday, interval=0, short=0"
        )

    @property
    def spec(self) -> str:
        """The canonical spec string of this source and its parameters."""
        vals = ",".join(f"{k}={_fmt(v)}" for k, v in self.p.items())
        return f"{self.name}:{vals}" if vals else self.name

    def on_bar(self, bar: Bar, now_ns: int) -> list[Signal]:
        """The signals this bar's close triggers (usually none)."""
        if self.common.interval and bar.interval_s != self.common.interval:
            return []
        have = self._pos.get(bar.symbol, 0)
        want = self.update(bar, have)
        if want is None:
            return []
        if not self.common.short:
            want = max(want, 0)
        if want == have:
            return []
        out: list[Signal] = []
        if have != 0:
            out.append(self._signal(bar, now_ns, Side.SELL if have > 0 else Side.BUY, True))
        if want != 0:
            out.append(self._signal(bar, now_ns, Side.BUY if want > 0 else Side.SELL, False))
        self._pos[bar.symbol] = want
        self.emitted += len(out)
        return out

    def forget_positions(self) -> None:
        """Start again from flat (after a warm-up whose signals were not sent)."""
        self._pos.clear()

    def update(self, bar: Bar, held: int) -> int | None:
        """Feed ``bar`` (``held``: the position signalled so far); the wanted position
        (+1 long, -1 short, 0 flat), or None for no view."""
        raise NotImplementedError

    def _signal(self, bar: Bar, now_ns: int, side: Side, is_exit: bool) -> Signal:
        c = self.common
        px = bar.close
        stop = target = None
        if not is_exit:
            sign = side.sign
            if c.stop_pct > 0:
                stop = round(px * (1 - sign * c.stop_pct / 100.0), 6)
            if c.target_pct > 0:
                target = round(px * (1 + sign * c.target_pct / 100.0), 6)
        tag = "x" if is_exit else "e"
        return Signal(
            signal_id=f"{self.name}-{bar.symbol}-{bar.ts}-{tag}{self.id_suffix}",
            source=self.name,
            symbol=bar.symbol,
            side=side,
            trade_type=c.trade_type,
            conviction=c.conviction,
            entry_price=px,
            stop_price=stop,
            target_price=target,
            created_ns=now_ns,
            is_exit=is_exit,
            note=self.spec,
        )


@dataclass
class _Ema:
    fast: float = math.nan
    slow: float = math.nan
    n: int = 0


class EmaCross(SignalSource):
    """Long while the fast EMA is above the slow one (see the module docstring)."""

    name = "ema-cross"
    params: ClassVar[dict[str, float]] = {"fast": 10, "slow": 30}

    def _check(self) -> None:
        fast, slow = self.p["fast"], self.p["slow"]
        if not (1 <= fast < slow):
            raise SignalSpecError(f"{self.name}: need 1 <= fast < slow, got {fast}, {slow}")
        self._af = 2.0 / (fast + 1.0)
        self._as = 2.0 / (slow + 1.0)
        self._state: dict[str, _Ema] = {}

    def update(self, bar: Bar, held: int) -> int | None:
        st = self._state.get(bar.symbol)
        if st is None:
            st = self._state[bar.symbol] = _Ema()
        c = bar.close
        if st.n == 0:
            st.fast = st.slow = c
        else:
            st.fast += self._af * (c - st.fast)
            st.slow += self._as * (c - st.slow)
        st.n += 1
        if st.n < self.p["slow"]:
            return None
        if st.fast > st.slow:
            return 1
        if st.fast < st.slow:
            return -1
        return None


class _Extreme:
    """The highest (or lowest) of the last ``window`` values pushed, in O(1) amortised.

    A monotonic deque of ``(index, value)``: a value beaten by a newer one can never be
    the extreme again and is dropped as it is beaten, so a query only trims expired
    entries off the front. Replays push every bar of long series; the slice-and-scan
    this replaces cost ~17 µs a bar with a 120-bar channel.
    """

    __slots__ = ("_q", "_sign", "window")

    def __init__(self, window: int, *, highest: bool) -> None:
        self.window = window
        self._sign = 1.0 if highest else -1.0
        self._q: deque[tuple[int, float]] = deque()

    def push(self, i: int, value: float) -> None:
        """Add the value of bar number ``i`` (numbers increase by one per bar)."""
        q, s = self._q, self._sign
        while q and s * q[-1][1] <= s * value:
            q.pop()
        q.append((i, value))

    def over_last(self, i: int) -> float:
        """The extreme of the values pushed for bars ``i - window .. i - 1``."""
        q = self._q
        start = i - self.window
        while q[0][0] < start:
            q.popleft()
        return q[0][1]


@dataclass
class _Channel:
    entry_high: _Extreme
    entry_low: _Extreme
    exit_high: _Extreme
    exit_low: _Extreme
    seen: int = 0


class Breakout(SignalSource):
    """Donchian channel breakout (see the module docstring)."""

    name = "breakout"
    params: ClassVar[dict[str, float]] = {"entry": 20, "exit": 10}

    def _check(self) -> None:
        if self.p["entry"] < 1 or self.p["exit"] < 1:
            raise SignalSpecError(f"{self.name}: entry and exit must be at least 1")
        self._n = int(max(self.p["entry"], self.p["exit"]))
        self._state: dict[str, _Channel] = {}

    def update(self, bar: Bar, held: int) -> int | None:
        st = self._state.get(bar.symbol)
        if st is None:
            ne, nx = int(self.p["entry"]), int(self.p["exit"])
            st = self._state[bar.symbol] = _Channel(
                _Extreme(ne, highest=True),
                _Extreme(ne, highest=False),
                _Extreme(nx, highest=True),
                _Extreme(nx, highest=False),
            )
        i = st.seen
        want: int | None = None
        if i >= self._n:
            c = bar.close
            if c > st.entry_high.over_last(i):
                want = 1
            elif self.common.short and c < st.entry_low.over_last(i):
                want = -1
            elif (held > 0 and c < st.exit_low.over_last(i)) or (
                held < 0 and c > st.exit_high.over_last(i)
            ):
                want = 0
        h, lo = bar.high, bar.low
        st.entry_high.push(i, h)
        st.entry_low.push(i, lo)
        st.exit_high.push(i, h)
        st.exit_low.push(i, lo)
        st.seen = i + 1
        return want


@dataclass
class _Rsi:
    prev: float = math.nan
    gain: float = 0.0
    loss: float = 0.0
    n: int = 0


class MeanReversion(SignalSource):
    """Buy oversold, sell recovered, by Wilder's RSI (see the module docstring)."""

    name = "mean-reversion"
    params: ClassVar[dict[str, float]] = {"period": 14, "buy_below": 30, "sell_above": 55}

    def _check(self) -> None:
        if self.p["period"] < 2:
            raise SignalSpecError(f"{self.name}: period must be at least 2")
        if not 0 < self.p["buy_below"] < self.p["sell_above"] < 100:
            raise SignalSpecError(f"{self.name}: need 0 < buy_below < sell_above < 100")
        self._state: dict[str, _Rsi] = {}

    def update(self, bar: Bar, held: int) -> int | None:
        st = self._state.get(bar.symbol)
        if st is None:
            st = self._state[bar.symbol] = _Rsi()
        c = bar.close
        if st.n == 0:
            st.prev, st.n = c, 1
            return None
        period = self.p["period"]
        d = c - st.prev
        st.prev = c
        g, lo = max(d, 0.0), max(-d, 0.0)
        if st.n <= period:
            st.gain += g / period
            st.loss += lo / period
            st.n += 1
            if st.n <= period:
                return None
        else:
            st.gain = (st.gain * (period - 1) + g) / period
            st.loss = (st.loss * (period - 1) + lo) / period
        rsi = 100.0 if st.loss == 0.0 else 100.0 - 100.0 / (1.0 + st.gain / st.loss)
        if rsi < self.p["buy_below"]:
            return 1
        if rsi > self.p["sell_above"]:
            return 0
        return None


SOURCES: dict[str, Callable[..., SignalSource]] = {
    s.name: s for s in (EmaCross, Breakout, MeanReversion)
}
"""The built-in sources by name."""


def parse_signals(spec: str) -> SignalSource:
    """Build a source from ``name:key=value,...`` (e.g. ``ema-cross:fast=10,slow=30``)."""
    name, _, rest = spec.strip().partition(":")
    cls: Any = SOURCES.get(name.strip())
    if cls is None:
        raise SignalSpecError(
            f"unknown signal source {name!r}; built in: {', '.join(sorted(SOURCES))}"
        )
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep:
            raise SignalSpecError(f"{name}: expected key=value, got {part!r}; {cls.describe()}")
        if key == "trade_type":
            if raw not in ("swing", "intraday"):
                raise SignalSpecError(f"{name}: trade_type must be swing or intraday")
            values[key] = TradeType(raw)
            continue
        try:
            values[key] = float(raw)
        except ValueError:
            raise SignalSpecError(f"{name}: {key}={raw!r} is not a number") from None
    trade_type = values.pop("trade_type", TradeType.SWING)
    source: SignalSource = cls(**values)
    source.common.trade_type = trade_type
    return source


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"
