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
7. ``regime`` — the regime matrix allows this side;
8. ``max_open_positions``;

plus ``daily_loss``, ``circuit_breaker`` and ``order_rate``. Every check is computed
even after one fails, so a decision shows the whole picture.

VaR and correlation run on the ``actors.kernels`` numba kernels over return matrices
aligned on common periods. A request costs a few microseconds because everything that
does not depend on the request's quantity and price is kept between requests, each
piece against exactly what it depends on:

* :class:`_Facts` — one symbol's history facts (enough history, last close, ADV and the
  liquidity checks that follow from it), valid while the symbol's series is unchanged;
* :class:`_Context` — a symbol against one set of open symbols: the open-positions
  check, the aligned return matrix, the correlation check, the prices and a reusable
  weight buffer for VaR; found through :attr:`Portfolio.open_version` and valid while
  the series of every symbol involved is unchanged;
* small memos for checks whose inputs repeat (equity, buying power, the safety
  snapshot's day figures), since formatting a float costs more than the check.

The caches are dropped on :meth:`RiskEngine.configure`, since limits appear in them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import MutableSequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast, final
from zoneinfo import ZoneInfo

import numpy as np

from actors.kernels import max_abs_corr
from actors.kernels._risk import historical_var
from actors.risk_gate._history import F64, MarketHistory, Series
from actors.risk_gate._portfolio import Portfolio
from config.settings import Settings
from daemon.clock import NS_PER_S
from daemon.messages import Regime, RiskCheck, RiskDecision, RiskRequest, Side, TradeType
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

_CACHE_MAX = 4096
"""Entries a cache may hold before it starts over (keys embed versions, so old entries
are dead weight; starting over is cheaper than tracking which)."""


def _float_view(a: F64) -> MutableSequence[float]:
    # A memoryview of a float64 array takes and gives Python floats (typeshed types
    # memoryview items as int).
    return cast("MutableSequence[float]", a.data)


@final
class _Facts:
    """What the checks need from one symbol's history, valid while its series is."""

    __slots__ = (
        "adv",
        "adv_check",
        "corr_short",
        "enough",
        "history_version",
        "no_sector",
        "participation",
        "price",
        "series",
        "short_detail",
        "thin_checks",
        "version",
    )

    def __init__(self, sym: str, s: Series | None, engine: RiskEngine) -> None:
        cfg = engine.cfg
        self.history_version = engine.history.version
        self.series = s
        self.version = s.version if s is not None else -1
        self.enough = engine.history.returns_count(sym) >= cfg.min_history
        self.price = s.last_close if s is not None and s.n else math.nan
        """The history's price of the symbol (NaN without bars)."""
        self.short_detail = f"{sym}: too little history"
        self.no_sector = f"no sector configured for {sym}"
        self.corr_short = RiskCheck(
            name="correlation",
            value=0.0,
            limit=cfg.max_correlation,
            passed=not cfg.require_history,
            detail=self.short_detail,
        )
        adv = s.adv(cfg.adv_window) if s is not None else math.nan
        self.adv = adv
        self.thin_checks: tuple[RiskCheck, RiskCheck] | None = None
        self.adv_check: RiskCheck | None = None
        if not math.isfinite(adv):
            ok = not cfg.require_history
            why = f"fewer than {cfg.adv_window} bars of volume"
            self.thin_checks = (
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
            )
        else:
            self.adv_check = RiskCheck(
                name="liquidity_adv",
                value=round(adv, 2),
                limit=cfg.min_adv,
                passed=adv >= cfg.min_adv,
                detail=f"average volume over {cfg.adv_window} bars",
            )
        self.participation: dict[float, RiskCheck] = {}
        """The participation check by order quantity (sizes repeat)."""


@final
class _Context:
    """A symbol against one set of open symbols (``held``, the symbol left out).

    The history part (``others`` … ``var_suffix``) is filled only for a symbol with
    enough history, and kept while every series in ``watch`` is unchanged.
    """

    __slots__ = (
        "corr_check",
        "held",
        "history_version",
        "mat",
        "open_check",
        "others",
        "priced",
        "sector",
        "sector_peers",
        "short_detail",
        "slots",
        "var_suffix",
        "watch",
        "weights",
    )

    def __init__(self, sym: str, held: tuple[str, ...], engine: RiskEngine) -> None:
        cfg = engine.cfg
        self.held = held
        limit = cfg.max_open_positions
        after = len(held) + 1
        self.open_check = RiskCheck(
            name="max_open_positions",
            value=float(after),
            limit=float(limit),
            passed=after <= limit,
            detail=f"open positions and working entries after {sym}",
        )
        sectors = cfg.sectors
        self.sector = sectors.get(sym)
        self.sector_peers = (
            tuple(o for o in held if sectors.get(o) == self.sector)
            if self.sector is not None
            else ()
        )
        self.watch: tuple[tuple[str, Series | None, int], ...] | None = None
        self.history_version = -1
        """The history's version when ``watch`` was last found fresh."""
        self.others: tuple[str, ...] = ()
        self.priced: tuple[tuple[int, str, float], ...] = ()
        """(column, symbol, last close) of each other symbol in the matrix."""
        self.mat: F64 = np.zeros((0, 1))
        self.weights: F64 = np.zeros(1)
        self.slots = _float_view(self.weights)
        """``weights`` as a memoryview: a float stored through it costs half as much."""
        self.corr_check: RiskCheck | None = None
        self.short_detail = ""
        self.var_suffix = ""

    def fresh(self, series: dict[str, Series]) -> bool:
        """True while the history part is filled and every series it used is unchanged."""
        watch = self.watch
        if watch is None:
            return False
        for name, s, version in watch:
            cur = series.get(name)
            if cur is not s or (s is not None and s.version != version):
                return False
        return True

    def fill(self, sym: str, engine: RiskEngine) -> None:
        """(Re)compute the history part; ``sym`` must have enough history."""
        held = self.held
        cfg = engine.cfg
        hist = engine.history
        series = hist.series
        self.watch = tuple(
            (name, s, s.version if s is not None else -1)
            for name in (sym, *held)
            for s in (series.get(name),)
        )
        others = tuple(o for o in held if hist.returns_count(o) >= cfg.min_history)
        skipped = tuple(o for o in held if o not in others)
        _, mat = hist.aligned((sym, *others), cfg.var_window)
        self.others = others
        self.mat = mat
        # min_history >= 2, so every symbol in the matrix has bars and a last close.
        self.priced = tuple((k, o, series[o].last_close) for k, o in enumerate(others, start=1))
        self.weights = np.empty(len(others) + 1, dtype=np.float64)
        self.slots = _float_view(self.weights)
        limit = cfg.max_correlation
        if not held:
            corr = RiskCheck(
                name="correlation", value=0.0, limit=limit, passed=True, detail="no positions"
            )
        elif not others:
            corr = RiskCheck(
                name="correlation",
                value=0.0,
                limit=limit,
                passed=True,
                detail="no open position has history",
            )
        else:
            rho = max_abs_corr(mat[:, 0], mat[:, 1:], cfg.correlation_window)
            if not math.isfinite(rho):
                corr = RiskCheck(
                    name="correlation",
                    value=0.0,
                    limit=limit,
                    passed=not cfg.require_history,
                    detail="correlation undefined (too few common periods or no variance)",
                )
            else:
                corr = RiskCheck(
                    name="correlation",
                    value=rho,
                    limit=limit,
                    passed=rho <= limit,
                    detail=f"max |rho| against {len(others)} open position(s)",
                )
        self.corr_check = corr
        self.short_detail = f"only {mat.shape[0]} common periods"
        suffix = f" over {mat.shape[0]} days, {len(others) + 1} symbols"
        if skipped:
            suffix += f"; no history: {','.join(skipped)}"
        self.var_suffix = suffix


@final
class RiskEngine:
    """Evaluates risk requests against the portfolio view, history and safety state."""

    def __init__(self, settings: Settings, history: MarketHistory, portfolio: Portfolio) -> None:
        self.history = history
        self.portfolio = portfolio
        self._approvals: deque[int] = deque()
        self._facts: dict[str, _Facts] = {}
        self._contexts: dict[tuple[str, tuple[str, ...]], _Context] = {}
        self._last_context: dict[str, tuple[int, _Context]] = {}
        self._regimes: dict[tuple[Regime, bool], tuple[float, RiskCheck]] = {}
        self._pdt_day: tuple[int, int, frozenset[str]] = (0, 0, frozenset())
        self._pdt_count: tuple[tuple[str, ...], frozenset[str], float] = ((), frozenset(), 0.0)
        self._equity_details: tuple[float, str, str] = (math.nan, "", "")
        self._bp_memo: tuple[float, float, float, float, str] = (math.nan, 0.0, 0.0, 0.0, "")
        self._loss_memo: tuple[str, float, RiskCheck | None] = ("", math.nan, None)
        self._breaker_checks: dict[int, RiskCheck] = {}
        self._qty: dict[Decimal, float] = {}
        self.configure(settings)

    def configure(self, settings: Settings) -> None:
        """Take new limits (reload)."""
        self.cfg = cfg = settings.risk
        self.tz = ZoneInfo(settings.daemon.timezone)
        self.rate_window_ns = int(cfg.order_rate_window_s * NS_PER_S)
        self.portfolio.ttl_ns = int(cfg.reservation_ttl_s * NS_PER_S)
        self._pdt_day = (0, 0, frozenset())
        self._pdt_count = ((), frozenset(), 0.0)
        self._facts.clear()
        self._contexts.clear()
        self._last_context.clear()
        self._regimes.clear()
        self._equity_details = (math.nan, "", "")
        self._bp_memo = (math.nan, 0.0, 0.0, 0.0, "")
        self._loss_memo = ("", math.nan, None)
        self._breaker_checks.clear()
        self._rate_detail = f"approved entries in the last {cfg.order_rate_window_s:g}s"
        self._alone = RiskCheck(
            name="correlation",
            value=0.0,
            limit=cfg.max_correlation,
            passed=True,
            detail="no positions",
        )
        self._no_day_start = RiskCheck(
            name="daily_loss",
            value=0.0,
            limit=cfg.daily_loss_limit_pct,
            passed=True,
            detail="no start-of-day equity yet",
        )

    # -- the decision ------------------------------------------------------------------

    def evaluate(self, req: RiskRequest, safety: SafetySnapshot, now_ns: int) -> RiskDecision:
        """Run every check on ``req``; approve (and reserve) only if all pass."""
        pf = self.portfolio
        pf.expire(now_ns)
        equity = pf.equity
        qty = self._float(req.qty)
        price = req.price
        buy = req.side is Side.BUY
        signed_qty = (1.0 if buy else -1.0) * qty
        sym = req.symbol
        mult, regime_check = self._regime(req.regime, buy)
        facts = self._facts_of(sym)
        ctx = self._context(sym, facts)
        holdings = pf.holdings
        reserved = pf.reserved_qty
        h = holdings.get(sym)
        exposure = (h.qty if h is not None else 0.0) + reserved.get(sym, 0.0)

        pdt = self._pdt(req, safety, equity, now_ns)
        power = self._buying_power(qty * price)
        position, sector = self._position(
            sym, exposure, signed_qty, price, equity, mult, facts, ctx
        )
        corr = self._correlation(facts, ctx)
        adv, part, min_px = self._liquidity(facts, qty, price)
        var = self._var(facts, ctx, exposure, signed_qty * price, equity, mult)
        loss = self._daily_loss(safety, equity)
        breaker = self._breaker(safety, now_ns)
        rate = self._order_rate(now_ns)
        checks = (
            pdt,
            power,
            position,
            sector,
            corr,
            adv,
            part,
            min_px,
            var,
            regime_check,
            ctx.open_check,
            loss,
            breaker,
            rate,
        )
        # A chain of attribute tests: most requests pass, and this is several times
        # cheaper than collecting the failed names, which only a denial needs.
        if not (
            pdt.passed
            and power.passed
            and position.passed
            and sector.passed
            and corr.passed
            and adv.passed
            and part.passed
            and min_px.passed
            and var.passed
            and regime_check.passed
            and ctx.open_check.passed
            and loss.passed
            and breaker.passed
            and rate.passed
        ):
            failed = [c.name for c in checks if not c.passed]
            return RiskDecision(
                correlation_id=req.correlation_id,
                symbol=sym,
                approved=False,
                checks=checks,
                reason=",".join(failed),
                ts=now_ns,
            )
        pf.reserve(req.correlation_id, sym, signed_qty, price, req.stop_price, now_ns)
        self._approvals.append(now_ns)
        return RiskDecision(
            correlation_id=req.correlation_id, symbol=sym, approved=True, checks=checks, ts=now_ns
        )

    # -- what is kept between requests ------------------------------------------------------

    def _facts_of(self, sym: str) -> _Facts:
        hist = self.history
        f = self._facts.get(sym)
        if f is not None and f.history_version == hist.version:
            return f
        s = hist.series.get(sym)
        if f is None or f.series is not s or (s is not None and s.version != f.version):
            if len(self._facts) >= _CACHE_MAX:
                self._facts.clear()
            f = self._facts[sym] = _Facts(sym, s, self)
        f.history_version = hist.version
        return f

    def _context(self, sym: str, facts: _Facts) -> _Context:
        pf = self.portfolio
        version = pf.open_version
        last = self._last_context.get(sym)
        if last is not None and last[0] == version:
            ctx = last[1]
        else:
            opened = pf.open_sorted()
            held = tuple(o for o in opened if o != sym) if sym in opened else opened
            key = (sym, held)
            found = self._contexts.get(key)
            if found is None:
                if len(self._contexts) >= _CACHE_MAX:
                    self._contexts.clear()
                    self._last_context.clear()
                found = self._contexts[key] = _Context(sym, held, self)
            ctx = found
            self._last_context[sym] = (version, ctx)
        hist = self.history
        if facts.enough and ctx.history_version != hist.version:
            if not ctx.fresh(hist.series):
                ctx.fill(sym, self)
            ctx.history_version = hist.version
        return ctx

    def _float(self, qty: Decimal) -> float:
        # float(Decimal) goes through text (~0.25 us) and order sizes repeat. Zero is
        # not kept (Decimal 0 and -0 are one key but convert apart), nor are NaNs; a
        # signalling NaN cannot be hashed and fails in float() as it always did.
        memo = self._qty
        try:
            value = memo.get(qty)
        except TypeError:
            value = None
        if value is None:
            value = float(qty)
            if value != 0.0 and math.isfinite(value):
                if len(memo) >= 1024:
                    memo.clear()
                memo[qty] = value
        return value

    def _regime(self, regime: Regime, buy: bool) -> tuple[float, RiskCheck]:
        hit = self._regimes.get((regime, buy))
        if hit is not None:
            return hit
        rule = self.cfg.regimes.get(regime)
        mult = rule.limit_multiplier if rule is not None else 1.0
        allowed = True
        if rule is not None:
            allowed = rule.allow_long if buy else rule.allow_short
        kind = "long" if buy else "short"
        check = RiskCheck(
            name="regime",
            value=1.0 if allowed else 0.0,
            limit=1.0,
            passed=allowed,
            detail=f"new {kind} entries {'allowed' if allowed else 'not allowed'} in {regime}",
        )
        self._regimes[(regime, buy)] = (mult, check)
        return mult, check

    def _equity_detail(self, equity: float) -> tuple[str, str]:
        """``equity`` formatted as the pdt details show it, for both of them."""
        last, above, below = self._equity_details
        if last != equity or equity == 0.0:  # 0.0 and -0.0 print apart
            text = f"{equity:.2f}"
            above = f"equity {text} at or above {self.cfg.pdt_equity_threshold:g}"
            below = f"equity {text}"
            self._equity_details = (equity, above, below)
        return above, below

    # -- the checks ----------------------------------------------------------------------

    def _pdt(
        self, req: RiskRequest, safety: SafetySnapshot, equity: float, now_ns: int
    ) -> RiskCheck:
        cfg = self.cfg
        limit = float(cfg.pdt_max_day_trades)
        window = self._pdt_window(now_ns)
        trades = safety.day_trades
        seen, seen_window, count = self._pdt_count
        if trades is not seen or window is not seen_window:
            count = float(sum(1 for d in trades if d in window))
            self._pdt_count = (trades, window, count)
        if not cfg.pdt_enabled:
            return RiskCheck(name="pdt", value=count, limit=limit, passed=True, detail="disabled")
        if equity >= cfg.pdt_equity_threshold:
            return RiskCheck(
                name="pdt",
                value=count,
                limit=limit,
                passed=True,
                detail=self._equity_detail(equity)[0],
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
            detail=f"{int(count)} day trades in 5 business days, {self._equity_detail(equity)[1]}",
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
        power = pf.buying_power
        held_back = pf.reserved_notional
        last_power, last_held_back, avail, limit, detail = self._bp_memo
        if power != last_power or held_back != last_held_back or power == 0.0:
            avail = power * (1.0 - self.cfg.buying_power_buffer_pct / 100.0)
            avail -= held_back
            limit = round(avail, 2)
            detail = f"order cost vs buying power net of {held_back:.2f} reserved"
            self._bp_memo = (power, held_back, avail, limit, detail)
        return RiskCheck(
            name="buying_power",
            value=round(cost, 2),
            limit=limit,
            passed=cost <= avail,
            detail=detail,
        )

    def _position(
        self,
        sym: str,
        exposure: float,
        signed_qty: float,
        price: float,
        equity: float,
        mult: float,
        facts: _Facts,
        ctx: _Context,
    ) -> tuple[RiskCheck, RiskCheck]:
        cfg = self.cfg
        after = abs(exposure + signed_qty) * price
        pct = after / equity * 100.0 if equity > 0 else math.inf
        limit = cfg.max_position_pct * mult
        detail = f"{sym} exposure {after:.2f} after the trade"
        sym_check = RiskCheck(
            name="position_symbol",
            value=pct if math.isfinite(pct) else -1.0,
            limit=limit,
            passed=pct <= limit,
            detail=detail if equity > 0 else detail + "; no equity",
        )
        sector = ctx.sector
        slimit = cfg.max_sector_pct * mult
        if sector is None:
            return sym_check, RiskCheck(
                name="position_sector",
                value=0.0,
                limit=slimit,
                passed=True,
                detail=facts.no_sector,
            )
        pf = self.portfolio
        total = after
        # Peers in sorted order, so the sum (and its last bit) is the same in every run.
        for other in ctx.sector_peers:
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

    def _correlation(self, facts: _Facts, ctx: _Context) -> RiskCheck:
        if not ctx.held:
            return self._alone
        if not facts.enough:
            return facts.corr_short
        assert ctx.corr_check is not None  # filled with the history part
        return ctx.corr_check

    def _liquidity(
        self, facts: _Facts, qty: float, price: float
    ) -> tuple[RiskCheck, RiskCheck, RiskCheck]:
        cfg = self.cfg
        min_px = RiskCheck(
            name="liquidity_min_price",
            value=price,
            limit=cfg.min_price,
            passed=price >= cfg.min_price,
            detail="order price vs minimum",
        )
        thin = facts.thin_checks
        if thin is not None:
            return thin[0], thin[1], min_px
        adv_check = facts.adv_check
        assert adv_check is not None  # set whenever thin_checks is not
        part_check = facts.participation.get(qty)
        if part_check is None:
            adv = facts.adv
            part = qty / adv * 100.0 if adv > 0 else math.inf
            part_check = RiskCheck(
                name="liquidity_participation",
                value=part if math.isfinite(part) else -1.0,
                limit=cfg.max_adv_pct,
                passed=part <= cfg.max_adv_pct,
                detail=f"{qty:g} of ADV {adv:.0f}",
            )
            if qty != 0.0:  # 0.0 and -0.0 are one key but print apart
                if len(facts.participation) >= 256:
                    facts.participation.clear()
                facts.participation[qty] = part_check
        return adv_check, part_check, min_px

    def _var(
        self,
        facts: _Facts,
        ctx: _Context,
        exposure: float,
        notional: float,
        equity: float,
        mult: float,
    ) -> RiskCheck:
        cfg = self.cfg
        limit = cfg.var_limit_pct * mult
        if not facts.enough:
            return RiskCheck(
                name="var",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail=facts.short_detail,
            )
        mat = ctx.mat
        if mat.shape[0] < cfg.min_history:
            return RiskCheck(
                name="var",
                value=0.0,
                limit=limit,
                passed=not cfg.require_history,
                detail=ctx.short_detail,
            )
        weights = ctx.slots
        weights[0] = exposure * facts.price + notional
        pf = self.portfolio
        holdings = pf.holdings
        reserved = pf.reserved_qty
        for k, other, px in ctx.priced:
            h = holdings.get(other)
            weights[k] = ((h.qty if h is not None else 0.0) + reserved.get(other, 0.0)) * px
        # The matrix and weights are built here from finite history, so the compiled
        # kernel is called directly, without the checked wrapper's per-call validation.
        var = max(0.0, historical_var(mat, ctx.weights, cfg.var_confidence))
        pct = var / equity * 100.0 if equity > 0 else math.inf
        return RiskCheck(
            name="var",
            value=pct if math.isfinite(pct) else -1.0,
            limit=limit,
            passed=pct <= limit,
            detail=f"VaR {var:.2f}{ctx.var_suffix}",
        )

    def _daily_loss(self, safety: SafetySnapshot, equity: float) -> RiskCheck:
        text = safety.day.start_equity
        last_text, last_equity, check = self._loss_memo
        if check is not None and text == last_text and equity == last_equity and equity != 0.0:
            return check
        try:
            start = float(text)
        except ValueError:
            start = 0.0
        if start <= 0.0:
            check = self._no_day_start
        else:
            limit = self.cfg.daily_loss_limit_pct
            loss = max(0.0, start - equity) / start * 100.0
            check = RiskCheck(
                name="daily_loss",
                value=loss,
                limit=limit,
                passed=loss < limit,
                detail=f"equity {equity:.2f} vs start of day {start:.2f}",
            )
        self._loss_memo = (text, equity, check)
        return check

    def _breaker(self, safety: SafetySnapshot, now_ns: int) -> RiskCheck:
        losses = safety.consecutive_losses
        if safety.breaker_until_ns <= now_ns:
            check = self._breaker_checks.get(losses)
            if check is None:
                if len(self._breaker_checks) >= 64:
                    self._breaker_checks.clear()
                check = self._breaker_checks[losses] = RiskCheck(
                    name="circuit_breaker",
                    value=0.0,
                    limit=0.0,
                    passed=True,
                    detail=f"{losses} consecutive losing trades",
                )
            return check
        left = (safety.breaker_until_ns - now_ns) / NS_PER_S
        return RiskCheck(
            name="circuit_breaker",
            value=round(left, 3),
            limit=0.0,
            passed=left <= 0.0,
            detail=f"{losses} consecutive losing trades",
        )

    def _order_rate(self, now_ns: int) -> RiskCheck:
        appr = self._approvals
        horizon = now_ns - self.rate_window_ns
        while appr and appr[0] <= horizon:
            appr.popleft()
        limit = self.cfg.max_orders_per_window
        n = len(appr)
        return RiskCheck(
            name="order_rate",
            value=float(n),
            limit=float(limit),
            passed=n < limit,
            detail=self._rate_detail,
        )
