"""Metrics actor: Prometheus metrics derived from the domain events, state read at scrape
time, and the ``/metrics``, ``/healthz`` and ``/readyz`` endpoints. Optional; runs when
``[metrics] enabled = true``. See docs/observability.md.
"""

from actors.metrics._actor import MetricsActor as MetricsActor
from actors.metrics._recorder import Buckets as Buckets
from actors.metrics._recorder import EventRecorder as EventRecorder
from actors.metrics._redis_probe import StreamFigures as StreamFigures
from actors.metrics._redis_probe import StreamProbe as StreamProbe
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="metrics",
    factory=MetricsActor,
    description="Prometheus metrics and the health endpoints (never slows trading)",
    core=False,
    enabled_when=lambda settings: settings.metrics.enabled,
)

__all__ = (
    "DEFINITION",
    "Buckets",
    "EventRecorder",
    "MetricsActor",
    "StreamFigures",
    "StreamProbe",
)
