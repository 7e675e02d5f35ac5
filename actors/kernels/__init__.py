"""Compiled numeric kernels (numba) for the hot paths, each beside a plain-Python reference.

Not an actor: shared code listed in ``actors.LIBRARIES``. Everything here is a pure
function over numpy arrays — no hidden state, no I/O; results go to return values or
to output arrays the caller owns. See docs/kernels.md for what is compiled, why, how
it is verified and what start-up costs.

* exits: :func:`evaluate_exits` (+ :func:`evaluate_exits_reference`) over the position
  matrices laid out by the ``F_*``/``I_*`` constants; :func:`mark_and_check` (+ its
  reference) marks positions and checks them over a whole batch of market updates;
* market data as arrays: :class:`MarketColumns` (:func:`columns_of` a MarketBatch),
  and :class:`HorizonBoard`, where price-driven actors say how far a stretch of market
  data can go before they might act (replay batching);
* indicators: :func:`ema_update`, :func:`atr_update`, :func:`adx_update`, wrapped by
  :class:`IndicatorBank`;
* risk: :func:`portfolio_var`, :func:`rolling_corr`, :func:`max_abs_corr`;
* performance: :func:`performance`, :func:`returns_from_equity`;
* :func:`warm_up` compiles or loads all of them before the daemon reports ready.
"""

from actors.kernels._api import PerformanceStats as PerformanceStats
from actors.kernels._api import max_abs_corr as max_abs_corr
from actors.kernels._api import performance as performance
from actors.kernels._api import portfolio_var as portfolio_var
from actors.kernels._api import returns_from_equity as returns_from_equity
from actors.kernels._api import rolling_corr as rolling_corr
from actors.kernels._bank import IndicatorBank as IndicatorBank
from actors.kernels._bank import batch_buffers as batch_buffers
from actors.kernels._columns import Horizon as Horizon
from actors.kernels._columns import HorizonBoard as HorizonBoard
from actors.kernels._columns import MarketColumns as MarketColumns
from actors.kernels._columns import Stretch as Stretch
from actors.kernels._columns import columns_of as columns_of
from actors.kernels._columns import remember_columns as remember_columns
from actors.kernels._exits import (
    CODE_END_OF_DAY as CODE_END_OF_DAY,
)
from actors.kernels._exits import (
    CODE_EXIT_SIGNAL as CODE_EXIT_SIGNAL,
)
from actors.kernels._exits import (
    CODE_PATTERN_STOP as CODE_PATTERN_STOP,
)
from actors.kernels._exits import (
    CODE_PROFIT_TARGET as CODE_PROFIT_TARGET,
)
from actors.kernels._exits import (
    CODE_SCALE_OUT as CODE_SCALE_OUT,
)
from actors.kernels._exits import (
    CODE_STOP_LOSS as CODE_STOP_LOSS,
)
from actors.kernels._exits import (
    CODE_TIME_STOP as CODE_TIME_STOP,
)
from actors.kernels._exits import (
    CODE_TRAILING_STOP as CODE_TRAILING_STOP,
)
from actors.kernels._exits import (
    CODE_VOLATILITY_STOP as CODE_VOLATILITY_STOP,
)
from actors.kernels._exits import NO_EXIT as NO_EXIT
from actors.kernels._exits import REASON_CODES as REASON_CODES
from actors.kernels._exits import REASONS as REASONS
from actors.kernels._exits import PositionRow as PositionRow
from actors.kernels._exits import evaluate_exits as evaluate_exits
from actors.kernels._exits import evaluate_exits_reference as evaluate_exits_reference
from actors.kernels._exits import evaluate_position as evaluate_position
from actors.kernels._exits import new_book as new_book
from actors.kernels._indicators import adx_update as adx_update
from actors.kernels._indicators import atr_update as atr_update
from actors.kernels._indicators import ema_update as ema_update
from actors.kernels._stream import mark_and_check as mark_and_check
from actors.kernels._stream import mark_and_check_reference as mark_and_check_reference
from actors.kernels._validate import KernelInputError as KernelInputError
from actors.kernels._validate import as_float_array as as_float_array
from actors.kernels._validate import as_price_array as as_price_array
from actors.kernels._validate import check_bar as check_bar
from actors.kernels._validate import check_price as check_price
from actors.kernels._warmup import KernelWarmUp as KernelWarmUp
from actors.kernels._warmup import WarmUpReport as WarmUpReport
from actors.kernels._warmup import warm_up as warm_up

__all__ = (
    "CODE_END_OF_DAY",
    "CODE_EXIT_SIGNAL",
    "CODE_PATTERN_STOP",
    "CODE_PROFIT_TARGET",
    "CODE_SCALE_OUT",
    "CODE_STOP_LOSS",
    "CODE_TIME_STOP",
    "CODE_TRAILING_STOP",
    "CODE_VOLATILITY_STOP",
    "NO_EXIT",
    "REASONS",
    "REASON_CODES",
    "Horizon",
    "HorizonBoard",
    "IndicatorBank",
    "KernelInputError",
    "KernelWarmUp",
    "MarketColumns",
    "PerformanceStats",
    "PositionRow",
    "Stretch",
    "WarmUpReport",
    "adx_update",
    "as_float_array",
    "as_price_array",
    "atr_update",
    "batch_buffers",
    "check_bar",
    "check_price",
    "columns_of",
    "ema_update",
    "evaluate_exits",
    "evaluate_exits_reference",
    "evaluate_position",
    "mark_and_check",
    "mark_and_check_reference",
    "max_abs_corr",
    "new_book",
    "performance",
    "portfolio_var",
    "remember_columns",
    "returns_from_equity",
    "rolling_corr",
    "warm_up",
)
