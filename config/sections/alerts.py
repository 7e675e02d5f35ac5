"""``[alerts]``: how the alert bridge throttles alerts and where it sends them.

Sinks: the log (always), Redis pub/sub (when ``redis.url`` is set) and an optional
JSON webhook. Each sink takes alerts at or above its ``min_severity``. See
docs/actors/alert_bridge.md for the alert codes.
"""

from __future__ import annotations

from typing import Literal

from config.sections._base import NonNegFloat, PosInt, Seconds, Section

SeverityName = Literal["info", "warning", "error", "critical"]
"""An alert severity, lowest to highest."""


class WebhookSettings(Section, frozen=True, kw_only=True):
    """``[alerts.webhook]``: a generic JSON webhook (e.g. a chat incoming-webhook)."""

    url: str = ""
    """Where alerts are POSTed; empty turns the webhook off. Tokens in the URL are
    secrets: set it through ``TRADINGD_ALERTS__WEBHOOK__URL``."""
    format: Literal["generic", "text"] = "generic"
    """``generic``: ``{"text", "account", "alert"}``; ``text``: only ``{"text"}``, for chat
    webhooks that reject unknown fields."""
    min_severity: SeverityName = "warning"
    timeout_s: Seconds = 5.0
    """Each attempt (connect, send and answer) must finish within this."""
    max_attempts: PosInt = 4
    """Attempts per alert, including the first; then it is dropped and counted."""
    backoff_initial_s: Seconds = 0.5
    backoff_max_s: Seconds = 30.0
    headers: dict[str, str] = {}
    """Extra request headers (e.g. an authorization header)."""
    buffer: PosInt = 256
    """Alerts waiting for this sink; beyond it new ones are shed and counted."""


class AlertsSettings(Section, frozen=True, kw_only=True):
    """Throttling, deduplication and routing of alerts."""

    dedup_window_s: NonNegFloat = 300.0
    """The same alert (code and subject) within this window is suppressed and counted;
    the next one delivered says how many were suppressed. 0 turns it off."""
    rate_per_minute: PosInt = 30
    """Most alerts of one code delivered per minute; critical alerts are never rate-limited."""
    max_tracked: PosInt = 10_000
    """Most (code, subject) pairs remembered for deduplication (oldest forgotten first)."""
    disabled_codes: list[str] = []
    """Alert codes never raised (e.g. ``["trade_executed"]`` for a quieter log)."""
    buffer: PosInt = 8192
    """Events waiting for the bridge; beyond it events are shed and counted (never blocks)."""
    flush_timeout_s: Seconds = 5.0
    """At shutdown, how long sinks may take to send what they hold."""
    log_min_severity: SeverityName = "info"
    redis_min_severity: SeverityName = "info"
    """Alerts at or above this go to ``<prefix>:<account>:alerts:<severity>`` (if Redis is set)."""
    sink_buffer: PosInt = 1024
    """Alerts waiting for the log sink and for the Redis sink; beyond it they are shed."""
    webhook: WebhookSettings = WebhookSettings()
