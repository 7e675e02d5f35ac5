"""``[metrics]``: Prometheus metrics and the health endpoints (``/healthz``, ``/readyz``).

The metrics actor derives counters and histograms from the domain events on ``events``
and reads state (channel depths, actor health, safety state, storage, Redis) when
scraped. ``listen`` serves ``/metrics``, ``/healthz`` and ``/readyz`` over HTTP; the
same exposition is available through ``tradingctl metrics``. See docs/observability.md.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import msgspec

from config.sections._base import NonNegFloat, PosInt, Seconds, Section

Buckets = Annotated[tuple[float, ...], msgspec.Meta(min_length=1, max_length=64)]
"""Histogram bucket upper bounds, strictly increasing (``+Inf`` is added)."""


class MetricsSettings(Section, frozen=True, kw_only=True):
    """Whether metrics are collected, where they are served, and how much is remembered."""

    enabled: bool = False
    """Run the metrics actor (``tradingctl metrics``, and HTTP when ``listen`` is set)."""
    listen: str = "127.0.0.1:9464"
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) serving ``/metrics``, ``/healthz`` and
    ``/readyz``; empty serves no HTTP. Keep it on a local or private address: the
    endpoints have no authentication. Port 0 picks a free port (tests)."""
    buffer: PosInt = 65_536
    """Events waiting for the metrics actor; beyond it events are shed and counted (the
    metrics actor never slows trading)."""
    flush_interval_s: NonNegFloat = 0.05
    """The actor takes events at most this often, so a burst is counted in one pass
    instead of waking the actor between every two pipeline steps; every scrape first
    takes everything buffered, so scrapes are always current. 0: take events at once."""
    max_tracked_signals: PosInt = 10_000
    """Signals remembered while waiting for their order's acceptance (the signal-to-order
    latency); beyond it the oldest is forgotten and counted."""
    max_tracked_orders: PosInt = 100_000
    """Working orders remembered for ``tradingd_orders_working``; beyond it the oldest is
    forgotten and counted."""
    latency_buckets_s: Buckets = (
        0.0001,
        0.00025,
        0.0005,
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        10.0,
    )
    """Buckets of ``tradingd_signal_to_order_seconds``."""
    slippage_buckets_bps: Buckets = (
        -50.0,
        -20.0,
        -10.0,
        -5.0,
        -2.0,
        -1.0,
        0.0,
        1.0,
        2.0,
        5.0,
        10.0,
        20.0,
        50.0,
        100.0,
    )
    """Buckets of ``tradingd_slippage_bps`` (positive: filled worse than expected)."""
    redis_probe_interval_s: NonNegFloat = 15.0
    """How often the signal stream's lag and pending entries are read from Redis
    (``XINFO GROUPS``); 0 turns the probe off. Only when ``redis.url`` is set."""
    max_connections: PosInt = 8
    """HTTP requests served at once; more wait for a free slot."""
    request_timeout_s: Seconds = 5.0
    """An HTTP client must send its request and read the answer within this (real time)."""

    def __post_init__(self) -> None:
        if self.listen:
            parse_listen(self.listen)  # raises ValueError with the reason
        for name in ("latency_buckets_s", "slippage_buckets_bps"):
            b: tuple[float, ...] = getattr(self, name)
            if any(x >= y for x, y in itertools.pairwise(b)):
                raise ValueError(f"metrics.{name} must be strictly increasing")


def parse_listen(listen: str) -> tuple[str, int]:
    """``(host, port)`` of a ``HOST:PORT`` or ``[V6]:PORT`` address; ValueError if malformed."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f"metrics.listen must be HOST:PORT, got {listen!r}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"metrics.listen: unbalanced brackets in {listen!r}")
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"metrics.listen: write IPv6 addresses as [ADDR]:PORT, got {listen!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"metrics.listen: port must be a number, got {port_text!r}") from None
    if not 0 <= port <= 65_535:
        raise ValueError(f"metrics.listen: port must be 0-65535, got {port}")
    return host, port
