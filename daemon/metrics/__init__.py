"""Observability plumbing the runtime and the metrics actor share.

* :class:`HealthProbe` — liveness and readiness (``/healthz``, ``/readyz``, ``status``),
  a shared resource the runtime provides (``Daemon.resources[HealthProbe]``);
* :class:`HttpServer` — the small HTTP server on the event loop that serves them and
  ``/metrics``;
* :func:`exposition` — a prometheus_client registry rendered for a request's ``Accept``;
* :func:`bind_metrics_command` — the ``metrics`` admin-socket command.

The metrics themselves live in the metrics actor (``actors/metrics``). See
docs/observability.md.
"""

from daemon.metrics._control import COMMAND as COMMAND
from daemon.metrics._control import CONTENT_TYPE as CONTENT_TYPE
from daemon.metrics._control import SPEC as SPEC
from daemon.metrics._control import bind_metrics_command as bind_metrics_command
from daemon.metrics._control import declare_metrics_command as declare_metrics_command
from daemon.metrics._control import unbind_metrics_command as unbind_metrics_command
from daemon.metrics._exposition import exposition as exposition
from daemon.metrics._health import Check as Check
from daemon.metrics._health import HealthProbe as HealthProbe
from daemon.metrics._health import Readiness as Readiness
from daemon.metrics._health import RuntimeView as RuntimeView
from daemon.metrics._http import Handler as Handler
from daemon.metrics._http import HttpServer as HttpServer
from daemon.metrics._http import Request as Request
from daemon.metrics._http import Response as Response

__all__ = (
    "COMMAND",
    "CONTENT_TYPE",
    "SPEC",
    "Check",
    "Handler",
    "HealthProbe",
    "HttpServer",
    "Readiness",
    "Request",
    "Response",
    "RuntimeView",
    "bind_metrics_command",
    "declare_metrics_command",
    "exposition",
    "unbind_metrics_command",
)
