"""Helpers that turn plain dicts and bucket counts into prometheus_client metric families.

Only prometheus_client renders the exposition; these helpers build the families its
custom-collector API takes (``CounterMetricFamily`` and friends).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from prometheus_client import utils as _prom_utils
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)

from actors.metrics._recorder import Buckets

_go_float: Callable[[float], str] = _prom_utils.floatToGoString
"""How Prometheus clients spell bucket bounds (``+Inf``, ``1e+06``...)."""


def _labels(key: Any) -> list[str]:
    return [str(k) for k in key] if isinstance(key, tuple) else [str(key)]


def counter(
    name: str, doc: str, labels: Sequence[str], data: Mapping[Any, float]
) -> CounterMetricFamily:
    """A counter family with one sample per key of ``data`` (keys: value or tuple)."""
    fam = CounterMetricFamily(name, doc, labels=list(labels))
    for key, value in sorted(data.items()):
        fam.add_metric(_labels(key), float(value))
    return fam


def counter_value(name: str, doc: str, value: float | Decimal) -> CounterMetricFamily:
    """A counter without labels."""
    return CounterMetricFamily(name, doc, value=float(value))


def gauge(
    name: str, doc: str, labels: Sequence[str], data: Mapping[Any, float]
) -> GaugeMetricFamily:
    """A gauge family with one sample per key of ``data``."""
    fam = GaugeMetricFamily(name, doc, labels=list(labels))
    for key, value in sorted(data.items()):
        fam.add_metric(_labels(key), float(value))
    return fam


def gauge_value(name: str, doc: str, value: float) -> GaugeMetricFamily:
    """A gauge without labels."""
    return GaugeMetricFamily(name, doc, value=float(value))


def histogram(name: str, doc: str, buckets: Buckets) -> HistogramMetricFamily:
    """A histogram family from :class:`~actors.metrics._recorder.Buckets`."""
    fam = HistogramMetricFamily(name, doc)
    fam.add_metric(
        [],
        [(_go_float(bound), float(n)) for bound, n in buckets.cumulative()],
        sum_value=buckets.sum,
    )
    return fam


def summary(name: str, doc: str, count: int, total: float) -> SummaryMetricFamily:
    """A summary without quantiles: how many and how much in total (rate them)."""
    return SummaryMetricFamily(name, doc, count_value=count, sum_value=total)
