"""Helpers for the replay tests: a transparent configuration, real bars, an independent
model of the example strategy's trades, and a one-call replay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config import Settings, settings_from_mapping
from daemon.messages import Bar
from daemon.replay import (
    MarketItem,
    ReplayConfig,
    ReplayResult,
    bar_steps,
    load_ninjatrader,
    load_yahoo,
    parse_signals,
    read_normalised,
    run_replay,
)

DATA = Path("/work/shared/data")
DAILY = DATA / "daily"
MINUTES = DATA / "intraday" / "pyalgotrade" / "nt-spy-minute-2011.csv"
NY = ZoneInfo("America/New_York")
TICK = Decimal("0.01")


def have(*paths: Path) -> bool:
    """True when every file of the shared real data is present."""
    return all(p.is_file() for p in paths)


def transparent_settings(qty: float = 100.0, **extra: dict[str, Any]) -> Settings:
    """A configuration under which the example strategy's signals become orders one for
    one: fixed size, no costs, no slippage, no partial fills, no exit levels, every risk
    limit wide open, and the guard's content de-duplication shortened to a second (a
    10/30 cross on minute bars can signal the same price twice within its default
    ten minutes, which the guard would rightly call a duplicate). What the daemon then
    trades can be computed by hand from the bars.
    """
    raw: dict[str, Any] = {
        "guard": {"sources": ["ema-cross", "breakout"], "cooldown_s": 0.0, "dedup_window_s": 1.0},
        "risk": {
            "require_history": False,
            "pdt_enabled": False,
            "min_adv": 0.0,
            "max_adv_pct": 100.0,
            "min_price": 0.0,
            "var_limit_pct": 100.0,
            "max_correlation": 1.0,
            "max_position_pct": 100.0,
            "max_sector_pct": 100.0,
            "daily_loss_limit_pct": 100.0,
            "max_orders_per_window": 100_000,
        },
        "safety": {"daily_loss_kill": False, "breaker_max_losses": 0},
        "sizing": {"method": "fixed_shares", "fixed_shares": qty, "heat_cap_pct": 100.0},
        "orchestrator": {"initial_regime": "bull"},
        "broker": {
            "paper": {
                "slippage_bps": 0.0,
                "slippage_noise_bps": 0.0,
                "commission_per_share": 0.0,
                "commission_min": 0.0,
                "max_participation_pct": 100.0,
            }
        },
        "lifecycle": {
            "swing": {"stop_loss_pct": 0.0, "profit_target_pct": 0.0},
            "intraday": {
                "stop_loss_pct": 0.0,
                "profit_target_pct": 0.0,
                "volatility_stop_atr": 0.0,
            },
        },
    }
    for section, values in extra.items():
        _merge(raw.setdefault(section, {}), values)
    return settings_from_mapping(raw, "transparent test settings")


def _merge(node: dict[str, Any], values: dict[str, Any]) -> None:
    for k, v in values.items():
        if isinstance(v, dict) and isinstance(node.get(k), dict):
            _merge(node[k], v)
        else:
            node[k] = v


def daily_bars(name: str, symbol: str) -> list[Bar]:
    """Real daily bars of one shared file."""
    bars, _ = load_yahoo(DAILY / name, symbol)
    return bars


def regular_hours(bars: Sequence[Bar]) -> list[Bar]:
    """Minute bars closing 09:31–16:00 New York (the liquid session)."""
    out = []
    for b in bars:
        t = dt.datetime.fromtimestamp(b.ts / 1e9, NY).time()
        if dt.time(9, 31) <= t <= dt.time(16, 0):
            out.append(b)
    return out


def spy_minutes() -> list[Bar]:
    """The real SPY minute bars of January 2011."""
    bars, _ = load_ninjatrader(MINUTES, "SPY")
    return bars


def _groups(items: Iterable[MarketItem] | Iterable[list[MarketItem]]) -> Iterator[list[MarketItem]]:
    for item in items:
        yield item if isinstance(item, list) else [item]


async def replay(
    bars: Iterable[MarketItem] | Iterable[list[MarketItem]],
    settings: Settings,
    out: Path,
    signals: str = "ema-cross:fast=10,slow=30,stop_pct=0",
) -> ReplayResult:
    """Replay ``bars`` (or time groups of bars, as ``merge`` makes) with a built-in source."""
    cfg = ReplayConfig(settings=settings, out_dir=out)
    return await run_replay(cfg, bar_steps(_groups(bars), parse_signals(signals)))


def trades_of(result: ReplayResult) -> list[dict[str, Any]]:
    """The closed trades the replay recorded, in order."""
    return [d for d in read_normalised(result.decisions_path) if d["k"] == "trade"]


@dataclass
class ExpectedTrade:
    """A round trip as the plain model below computes it."""

    symbol: str
    entry: Decimal
    exit: Decimal
    qty: Decimal

    @property
    def pnl(self) -> Decimal:
        return (self.exit - self.entry) * self.qty


def expected_ema_cross(
    bars: Sequence[Bar], fast: int, slow: int, qty: Decimal
) -> list[ExpectedTrade]:
    """The example strategy traded without costs, written out independently.

    Long while EMA(fast) > EMA(slow) of the closes, judged from the ``slow``-th bar on,
    both seeded with the first close; entries and exits fill at the signal bar's close,
    on the 0.01 grid rounded against the order (the paper broker's rule).
    """
    trades: list[ExpectedTrade] = []
    af, a_s = 2.0 / (fast + 1), 2.0 / (slow + 1)
    by_symbol: dict[str, list[Bar]] = {}
    for b in bars:
        by_symbol.setdefault(b.symbol, []).append(b)
    done: list[tuple[int, ExpectedTrade]] = []
    for symbol, series in by_symbol.items():
        ef = es = series[0].close
        long_since: Decimal | None = None
        for n, b in enumerate(series, start=1):
            if n > 1:
                ef = ef + af * (b.close - ef)
                es = es + a_s * (b.close - es)
            if n < slow:
                continue
            price = Decimal(repr(b.close))
            if ef > es and long_since is None:
                long_since = (price / TICK).to_integral_value(ROUND_CEILING) * TICK
            elif ef < es and long_since is not None:
                out = (price / TICK).to_integral_value(ROUND_FLOOR) * TICK
                done.append((b.ts, ExpectedTrade(symbol, long_since, out, qty)))
                long_since = None
    done.sort(key=lambda t: t[0])
    trades = [t for _, t in done]
    return trades
