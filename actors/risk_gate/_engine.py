"""The risk checks: one :meth:`RiskEngine.evaluate` per request, every check reported.

Checks, each a :class:`~daemon.messages.RiskCheck` whose ``name`` is also the reason
code when it fails (docs/actors/risk_gate.md has the config keys):

1. ``pdt`` — intraday entries below the PDT equity threshold: day trades in the last
   five business days must stay below ``pdt_max_day_trades``;
2. ``buying_power`` — cost of the order within buying power net of reserved entries;
3. ``position_symbol`` / ``position_sector`` — exposure after the trade, % of equity;
4. ``correlation`` — max |ρ| of daily returns against every open position;
5. ``liquidity_adv`` / ``liquidity_participation`` / ``liquidity_min_price``;
6. ``var`` — portfolio 1-day historical VaR after the trade, % of equity;

(VaR and correlation run on the ``actors.kernels`` numba kernels over return matrices
aligned on common periods and cached by history version.)
7. ``regime`` — the regime matrix allows this side;
8. ``max_open_positions``;

plus ``daily_loss``, ``circuit_breaker`` and ``order_rate``. Every check is computed
even after one fails, so a decision shows the whole picture.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import final
from zoneinfo import ZoneInfo

import numpy as np

from actors.kernels import max_abs_corr
from actors.kernels._risk import historical_var
from actors.risk_gate._history import F64, MarketHistory, Series
from actors.risk_gate._portfolio import Portfolio
from config.sections.risk import RegimeRule
from config.settings import Settings
from daemon.clock import NS_PER_S
from daemon.messages import RiskCheck, RiskDecision, RiskRequest, Side, TradeType
from daemon.safety import SafetySnapshot

CHECK_NAMES = (
    "pdt",
    "buying_power",
    "position_symbol",
    "position_sector",
    "correlation",
    "liquidity_adv",
    "liquidity_participation",
    "liquidity_min_price",
    "var",
    "regime",
    "max_open_positions",
    "daily_loss",
    "circuit_breaker",
    "order_rate",
)
"""Every check in the order reported; a failed check's name is its reason code."""


@final
class RiskEngine:
    """Evaluates risk requests against the portfolio view, history and safety state."""

    def __init__(self, settings: Settings, history: MarketHistory, portfolio: Portfolio) -> None:
        self.history = history
        self.portfolio = portfolio
        self._approvals: deque[int] = deque()
        self._ctx_cache: dict[
            tuple[str, tuple[str, ...]],
            tuple[tuple[int, ...], tuple[tuple[str, ...], tuple[str, ...], F64, float]],
        ] = {}
        self._pdt_day: tuple[int, int, frozenset[str]] = (0, 0, frozenset())
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Take new limits (reload)."""
        self.cfg = settings.risk
        self.tz = ZoneInfo(settings.daemon.timezone)
        self.rate_window_ns = int(self.cfg.order_rate_window_s * NS_PER_S)
        self.portfolio.ttl_ns = int(self.cfg.reservation_ttl_s * NS_PER_S)
        self._pdt_day = (0, 0, frozenset())

    # -- the decision ------------------------------------------------------------------

    def evaluate(self, req: RiskRequest, safety: SafetySnapshot, now_ns: int) -> RiskDecision:
        """Run every check on ``req``; approve (and reserve) only if all pass."""
        cfg = self.cfg
        pf = self.portfolio
        pf.expire(now_ns)
        equity = pf.equity
        qty = float(req.qty)
        price = req.price
        sign = 1.0 if req.side is Side.BUY else -1.0
        sym = req.symbol
        rule = cfg.regimes.get(req.regime)
        mult = rule.limit_multiplier if rule is not None else 1.0
        held = pf.open_symbols()
        held.discard(sym)
        hist = self.history
        series = hist.get(sym)
        n_ret = hist.returns_count(sym)
        enough = n_ret >= cfg.min_history

        checks = [
            self._pdt(req, safety, equity, now_ns),
            self._buying_power(qty * price),
            *self._position(sym, sign * qty, price, equity, mult),
            self._correlation(sym, held, enough),
            *self._liquidity(series, qty, price),
            self._var(sym, held, sign * qty * price, equity, mult, enough),
            self._regime(req, rule),
            self._open_positions(sym, held),
            self._daily_loss(safety, equity),
            self._breaker(safety, now_ns),
            self._order_rate(now_ns),
        ]
        failed = [c.name for c in checks if not c.passed]
        approved = not failed
        if approved:
            pf.reserve(req.correlation_id, sym, sign * qty, price, req.stop_price, now_ns)
            self._approvals.append(now_ns)
        return RiskDecision(
            correlation_id=req.correlation_id,
            symbol=sym,
            approved=approved,
            checks=tuple(checks),
            reason=",".join(failed),
            ts=now_ns,
        )

    # -- the checks ----------------------------------------------------------------------

    def _pdt(
        self, req: RiskRequest, safety: SafetySnapshot, equity: float, now_ns: int
    ) -> RiskCheck:
        cfg = self.cfg
        limit = float(cfg.pdt_max_day_trades)
        window = self._pdt_window(now_ns)
        count = float(sum(1 for d in safety.day_trades if d in window))
        if not cfg.pdt_enabled:
            return RiskCheck(name="pdt", value=count, limit=limit, passed=True, detail="disabled")
        if equity >= cfg.pdt_equity_threshold:
            return RiskCheck(
                name="pdt",
                value=count,
                limit=limit,
                passed=True,
                detail=f"equity {equity:.2f} at or above {cfg.pdt_equity_threshold:g}",
            )
        if req.trade_type is not TradeType.INTRADAY:
            return RiskCheck(
                name="pdt", value=count, limit=limit, passed=True, detail="not a day trade"
            )
        return RiskCheck(
            name="pdt",
            value=count,
            limit=limit,
            passed=count < limit,
            detail=f"{int(count)} day trades in 5 business days, equity {equity:.2f}",
        )

    def _pdt_window(self, now_ns: int) -> frozenset[str]:
        lo, hi, days = self._pdt_day
        if lo <= now_ns < hi:
            return days
        today = datetime.fromtimestamp(now_ns / NS_PER_S, tz=self.tz).date()
        window: list[str] = []
        d = today
        while len(window) < 5:
            if d.weekday() < 5:
                window.append(d.isoformat())
            d -= timedelta(days=1)
        start = datetime(today.year, today.month, today.day, tzinfo=self.tz)
        lo = int(start.timestamp()) * NS_PER_S
        hi = int((start + timedelta(days=1)).timestamp()) * NS_PER_S
        self._pdt_day = (lo, hi, frozenset(window))
        return self._pdt_day[2]

    def _buying_power(self, cost: float) -> RiskCheck:
        pf = self.portfolio
        avail = pf.buying_power * (1.0 - self.cfg.buying_power_buffer_pct / 100.0)
        avail -= pf.reserved_notional
        return RiskCheck(
            name="buying_power",
            value=round(cost, 2),
            limit=round(avail, 2),
            passed=cost <= avail,
            detail=f"order cost vs buying power net of {pf.reserved_notional:.2f} reserved",
        )

    def _position(
        self, sym: str, signed_qty: float, price: float, equity: float, mult: float
    ) -> tuple[RiskCheck, RiskCheck]:
        cfg = self.cfg
        pf = self.portfolio
        after = abs(pf.exposure(sym) + signed_qty) * price
        pct = after / equity * 100.0 if equity > 0 else math.inf
        limit = cfg.max_position_pct * mult
        sym_check = RiskCheck(
            name="position_symbol",
            value=pct if math.isfinite(pct) else -1.0,
            limit=limit,
            passed=pct <= limit,
            detail=f"{sym} exposure {after:.2f} after the trade"
            + ("" if equity > 0 else "; no equity"),
        )
        sector = cfg.sectors.get(sym)
        slimit = cfg.max_sector_pct * mult
        if sector is None:
            return sym_check, RiskCheck(
                name="position_sector",
                value=0.0,
                limit=slimit,
                passed=True,
                detail=f"no sector configured for {sym}",
            )
        total = after
        for other in pf.open_symbols():
            if other != sym and cfg.sectors.get(other) == sector:
                total += abs(pf.exposure(other)) * self._price(other)
        spct = total / equity * 100.0 if equity > 0 else math.inf
        return sym_check, RiskCheck(
            name="position_sector",
            value=spct if math.isfinite(spct) else -1.0,
            limit=slimit,
            passed=spct <= slimit,
            detail=f"sector {sector} exposure {total:.2f} after the trade",
        )

    def _price(self, sym: str) -> float:
        s = self.history.get(sym)
        if s is not None and s.n:
            return s.last_close
        h = self.portfolio.holdings.get(sym)
        if h is not None:
            return h.last_price
        r = next((r for r in self.portfolio.reservations.values() if r.symbol == sym), None)
        return r.price if r is not None else 0.0

    def _correlation(self, sym: str, held: set[str], enough: bool) -> RiskCheck:
        cfg = self.cfg
        limit = cfg.max_correlation
        if not held:
            return RiskCheck(
                name="correlation", value=0.0, limit=limit, passed=True, detail="no positions"
            )
        if not enough:
            return RiskCheck(
                name="correlation",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail=f"{sym}: too little history",
            )
        others, _, _, rho = self._context(sym, held)
        if not others:
            return RiskCheck(
                name="correlation",
                value=0.0,
                limit=limit,
                passed=True,
                detail="no open position has history",
            )
        if not math.isfinite(rho):
            return RiskCheck(
                name="correlation",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail="correlation undefined (too few common periods or no variance)",
            )
        return RiskCheck(
            name="correlation",
            value=rho,
            limit=limit,
            passed=rho <= limit,
            detail=f"max |rho| against {len(others)} open position(s)",
        )

    def _context(
        self, sym: str, held: set[str]
    ) -> tuple[tuple[str, ...], tuple[str, ...], F64, float]:
        """Open symbols with and without history, the aligned return matrix of
        ``(sym, *with)`` and the max |ρ| of ``sym`` against them.

        All of it depends on the histories only, not on quantities, so it is cached
        against the versions of the series involved; ``sym`` must have history.
        """
        hist = self.history
        series = hist.series
        key = (sym, tuple(sorted(held)))
        versions = tuple(series[s].version if s in series else -1 for s in (sym, *key[1]))
        hit = self._ctx_cache.get(key)
        if hit is not None and hit[0] == versions:
            return hit[1]
        cfg = self.cfg
        others = tuple(o for o in key[1] if hist.returns_count(o) >= cfg.min_history)
        skipped = tuple(o for o in key[1] if o not in others)
        _, mat = hist.aligned((sym, *others), cfg.var_window)
        rho = max_abs_corr(mat[:, 0], mat[:, 1:], cfg.correlation_window) if others else 0.0
        ctx = (others, skipped, mat, rho)
        if len(self._ctx_cache) >= 4096:
            self._ctx_cache.clear()
        self._ctx_cache[key] = (versions, ctx)
        return ctx

    def _liquidity(
        self, s: Series | None, qty: float, price: float
    ) -> tuple[RiskCheck, RiskCheck, RiskCheck]:
        cfg = self.cfg
        adv = s.adv(cfg.adv_window) if s is not None else math.nan
        min_px = RiskCheck(
            name="liquidity_min_price",
            value=price,
            limit=cfg.min_price,
            passed=price >= cfg.min_price,
            detail="order price vs minimum",
        )
        if not math.isfinite(adv):
            ok = not cfg.require_history
            why = f"fewer than {cfg.adv_window} bars of volume"
            return (
                RiskCheck(
                    name="liquidity_adv", value=0.0, limit=cfg.min_adv, passed=ok, detail=why
                ),
                RiskCheck(
                    name="liquidity_participation",
                    value=0.0,
                    limit=cfg.max_adv_pct,
                    passed=ok,
                    detail=why,
                ),
                min_px,
            )
        part = qty / adv * 100.0 if adv > 0 else math.inf
        return (
            RiskCheck(
                name="liquidity_adv",
                value=round(adv, 2),
                limit=cfg.min_adv,
                passed=adv >= cfg.min_adv,
                detail=f"average volume over {cfg.adv_window} bars",
            ),
            RiskCheck(
                name="liquidity_participation",
                value=part if math.isfinite(part) else -1.0,
                limit=cfg.max_adv_pct,
                passed=part <= cfg.max_adv_pct,
                detail=f"{qty:g} of ADV {adv:.0f}",
            ),
            min_px,
        )

    def _var(
        self, sym: str, held: set[str], notional: float, equity: float, mult: float, enough: bool
    ) -> RiskCheck:
        cfg = self.cfg
        limit = cfg.var_limit_pct * mult
        if not enough:
            return RiskCheck(
                name="var",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail=f"{sym}: too little history",
            )
        pf = self.portfolio
        price = self._price
        others, skipped, mat, _ = self._context(sym, held)
        weights = np.empty(len(others) + 1, dtype=np.float64)
        weights[0] = pf.exposure(sym) * price(sym) + notional
        for k, other in enumerate(others, start=1):
            weights[k] = pf.exposure(other) * price(other)
        if mat.shape[0] < cfg.min_history:
            return RiskCheck(
                name="var",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail=f"only {mat.shape[0]} common periods",
            )
        # The matrix and weights are built here from finite history, so the compiled
        # kernel is called directly, without the checked wrapper's per-call validation.
        var = max(0.0, historical_var(mat, weights, cfg.var_confidence))
        pct = var / equity * 100.0 if equity > 0 else math.inf
        detail = f"VaR {var:.2f} over {mat.shape[0]} days, {len(others) + 1} symbols"
        if skipped:
            detail += f"; no history: {','.join(skipped)}"
        return RiskCheck(
            name="var",
            value=pct if math.isfinite(pct) else -1.0,
            limit=limit,
            passed=pct <= limit,
            detail=detail,
        )

    def _regime(self, req: RiskRequest, rule: RegimeRule | None) -> RiskCheck:
        allowed = True
        if rule is not None:
            allowed = rule.allow_long if req.side is Side.BUY else rule.allow_short
        kind = "long" if req.side is Side.BUY else "short"
        return RiskCheck(
            name="regime",
            value=1.0 if allowed else 0.0,
            limit=1.0,
            passed=allowed,
            detail=f"new {kind} entries {'allowed' if allowed else 'not allowed'} in {req.regime}",
        )

    def _open_positions(self, sym: str, held: set[str]) -> RiskCheck:
        limit = self.cfg.max_open_positions
        after = len(held) + 1
        return RiskCheck(
            name="max_open_positions",
            value=float(after),
            limit=float(limit),
            passed=after <= limit,
            detail=f"open positions and working entries after {sym}",
        )

    def _daily_loss(self, safety: SafetySnapshot, equity: float) -> RiskCheck:
        limit = self.cfg.daily_loss_limit_pct
        try:
            start = float(safety.day.start_equity)
        except ValueError:
            start = 0.0
        if start <= 0.0:
            return RiskCheck(
                name="daily_loss",
                value=0.0,
                limit=limit,
                passed=True,
                detail="no start-of-day equity yet",
            )
        loss = max(0.0, start - equity) / start * 100.0
        return RiskCheck(
            name="daily_loss",
            value=loss,
            limit=limit,
            passed=loss < limit,
            detail=f"equity {equity:.2f} vs start of day {start:.2f}",
        )

    def _breaker(self, safety: SafetySnapshot, now_ns: int) -> RiskCheck:
        left = max(0, safety.breaker_until_ns - now_ns) / NS_PER_S
        return RiskCheck(
            name="circuit_breaker",
            value=round(left, 3),
            limit=0.0,
            passed=left <= 0.0,
            detail=f"{safety.consecutive_losses} consecutive losing trades",
        )

    def _order_rate(self, now_ns: int) -> RiskCheck:
        appr = self._approvals
        horizon = now_ns - self.rate_window_ns
        while appr and appr[0] <= horizon:
            appr.popleft()
        limit = self.cfg.max_orders_per_window
        return RiskCheck(
            name="order_rate",
            value=float(len(appr)),
            limit=float(limit),
            passed=len(appr) < limit,
            detail=f"approved entries in the last {self.cfg.order_rate_window_s:g}s",
        )
