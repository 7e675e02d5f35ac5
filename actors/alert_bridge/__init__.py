"""Alert bridge: seven handlers turn events into alerts (trades, closed positions, order
problems, kill switch, loss limits, reconciliation, actor and service health), which are
throttled, stored (published on ``events``) and routed by severity to the log, Redis
pub/sub and an optional JSON webhook — never slowing trading. Optional, on by default.
See docs/actors/alert_bridge.md.
"""

from actors.alert_bridge._actor import AlertBridge as AlertBridge
from actors.alert_bridge._actor import BridgeStats as BridgeStats
from actors.alert_bridge._handlers import AlertDraft as AlertDraft
from actors.alert_bridge._handlers import default_handlers as default_handlers
from actors.alert_bridge._sinks import LogSink as LogSink
from actors.alert_bridge._sinks import RedisSink as RedisSink
from actors.alert_bridge._sinks import Sink as Sink
from actors.alert_bridge._sinks import SinkStats as SinkStats
from actors.alert_bridge._throttle import Throttle as Throttle
from actors.alert_bridge._webhook import WebhookSink as WebhookSink
from actors.alert_bridge._webhook import render as render
from daemon.actor import ActorDefinition

DEFINITION = ActorDefinition(
    name="alert_bridge",
    factory=AlertBridge,
    description="turns events into throttled alerts for the log, Redis and a webhook",
    core=False,
    enabled_by_default=True,
)

__all__ = (
    "DEFINITION",
    "AlertBridge",
    "AlertDraft",
    "BridgeStats",
    "LogSink",
    "RedisSink",
    "Sink",
    "SinkStats",
    "Throttle",
    "WebhookSink",
    "default_handlers",
    "render",
)
