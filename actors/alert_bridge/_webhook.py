"""A generic JSON webhook sink (e.g. a chat incoming-webhook), with retries and timeouts.

Each alert is POSTed as JSON. An attempt that does not finish within ``timeout_s`` (on
the daemon's clock) is abandoned; timeouts, connection errors, 408, 429 and 5xx answers
are retried after a jittered backoff — or after the receiver's ``Retry-After``, capped —
up to ``max_attempts``; other 4xx answers are final. Alerts are sent one at a time, in
order; while the receiver hangs, newer alerts wait in the bounded inbox and the excess is
shed and counted. Nothing here can slow trading down.
"""

from __future__ import annotations

import functools
import logging
from typing import final

import httpx
import msgspec

from actors.alert_bridge._sinks import Sink
from config.sections.alerts import WebhookSettings
from daemon.backoff import Backoff
from daemon.clock import Clock
from daemon.messages import Alert
from daemon.messages.codec import to_builtins
from daemon.progress import ClockTimeout, run_within

_RETRYABLE = frozenset({408, 425, 429})
_json = msgspec.json.Encoder()


def render(alert: Alert, account: str, fmt: str) -> bytes:
    """The request body for ``alert``: ``{"text"}`` or ``{"text", "account", "alert"}``."""
    text = f"[{account}] {alert.severity.upper()} {alert.code}: {alert.text}"
    if fmt == "text":
        return _json.encode({"text": text})
    return _json.encode({"text": text, "account": account, "alert": to_builtins(alert)})


@final
class WebhookSink(Sink):
    """POSTs alerts to one URL."""

    def __init__(
        self,
        cfg: WebhookSettings,
        *,
        account: str,
        clock: Clock,
        log: logging.LoggerAdapter[logging.Logger],
        seed: int = 0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__("webhook", cfg.min_severity, cfg.buffer)
        self.cfg = cfg
        self.account = account
        self.clock = clock
        self.log = log
        self.backoff = Backoff(
            min(cfg.backoff_initial_s, cfg.backoff_max_s), cfg.backoff_max_s, 0.2, seed=seed
        )
        # Timeouts are ours (on the clock), so httpx gets none of its own.
        self.client = httpx.AsyncClient(
            timeout=None,
            headers={"content-type": "application/json", **cfg.headers},
            transport=transport,
            follow_redirects=False,
        )

    async def run(self) -> None:
        """Deliver alerts one at a time until cancelled."""
        try:
            while True:
                alert = await self.inbox.receive()
                self.busy = True
                self._done(await self.deliver(alert))
        finally:
            await self.client.aclose()

    async def deliver(self, alert: Alert) -> bool:
        """Send ``alert``, retrying as configured; True once the receiver accepted it."""
        body = render(alert, self.account, self.cfg.format)
        post = functools.partial(self.client.post, self.cfg.url, content=body)
        self.backoff.reset()
        error = ""
        for attempt in range(1, self.cfg.max_attempts + 1):
            if attempt > 1:
                self.stats.retries += 1
            wait: float | None = None
            try:
                resp = await run_within(self.clock, self.cfg.timeout_s, post)
            except ClockTimeout:
                error = f"no answer within {self.cfg.timeout_s:g}s"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return True
                error = f"HTTP {status}"
                if status not in _RETRYABLE and status < 500:
                    self.log.error(
                        "webhook refused an alert; not retrying",
                        extra={"event": "webhook_refused", "status": status, "code": alert.code},
                    )
                    return False
                wait = _retry_after(resp, self.cfg.backoff_max_s)
            self.stats.errors += 1
            self.progress.notify()
            if attempt < self.cfg.max_attempts:
                self.log.warning(
                    "webhook delivery failed; retrying",
                    extra={"event": "webhook_retry", "attempt": attempt, "error": error},
                )
                await self.clock.sleep(wait if wait is not None else self.backoff.next_delay())
        self.log.error(
            "webhook delivery failed; alert dropped",
            extra={"event": "webhook_failed", "code": alert.code, "error": error},
        )
        return False


def _retry_after(resp: httpx.Response, cap: float) -> float | None:
    value = resp.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(cap, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff
