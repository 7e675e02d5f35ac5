"""Structured logging: JSON lines with stable field names, or a console format on a TTY.

Fields (documented in docs/observability.md): ``time`` (RFC 3339 UTC), ``level``,
``logger``, ``msg``, and when known ``actor``, ``event``, ``correlation_id``, ``symbol``,
``order_id``, plus any other ``extra`` given by the caller. The current actor and
correlation id are carried in context variables so deep code need not pass them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import msgspec

correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default=""
)
"""The correlation id of the signal being processed (set by the pipeline)."""

_STD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_json = msgspec.json.Encoder(decimal_format="string")
_REDACT_KEYS = ("password", "secret", "token", "api_key", "apikey")
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@/\s]+@")
MIN_SECRET_LEN = 4
"""Configured secrets shorter than this are not searched for (they would garble lines)."""
_secrets: frozenset[str] = frozenset()


def hide_secrets(values: Iterable[str]) -> None:
    """Never print any of ``values`` (configured credentials) in a log line: each is ``***``.

    The runtime registers the credentials in its configuration (daemon/redaction.py) at
    start and on reload. Lines are also cleared of ``scheme://user:password@`` URL
    credentials, whoever logged them.
    """
    global _secrets
    _secrets = _secrets | {v for v in values if len(v) >= MIN_SECRET_LEN}


def redact_text(text: str) -> str:
    """``text`` without URL passwords or registered secrets."""
    text = _URL_CREDENTIALS.sub(r"\1:***@", text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _default(obj: Any) -> Any:
    return str(obj)


_json_default = msgspec.json.Encoder(enc_hook=_default, decimal_format="string")


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the documented field names."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a JSON line."""
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="microseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        cid = correlation_id_var.get()
        if cid:
            out["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                out[key] = "***" if any(s in key.lower() for s in _REDACT_KEYS) else value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        # Values first (a secret is found before JSON escaping changes it), then the line.
        for key, value in out.items():
            if isinstance(value, str):
                out[key] = redact_text(value)
        return redact_text(_json_default.encode(out).decode())


class ConsoleFormatter(logging.Formatter):
    """Readable single lines for a human at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as ``HH:MM:SS level actor msg key=value...``."""
        t = dt.datetime.fromtimestamp(record.created, tz=dt.UTC).strftime("%H:%M:%S")
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in _STD_ATTRS and not k.startswith("_") and k != "actor"
        }
        actor = getattr(record, "actor", record.name.removeprefix("tradingd."))
        kv = " ".join(f"{k}={v}" for k, v in extras.items())
        line = f"{t} {record.levelname:<7} {actor:<14} {record.getMessage()}"
        if kv:
            line += f"  {kv}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact_text(line)


class _ActorAdapter(logging.LoggerAdapter[logging.Logger]):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = kwargs.get("extra") or {}
        kwargs["extra"] = {**(self.extra or {}), **extra}
        return msg, kwargs


def actor_logger(name: str) -> logging.LoggerAdapter[logging.Logger]:
    """A logger that stamps every line with ``actor=name``."""
    return _ActorAdapter(logging.getLogger(f"tradingd.{name}"), {"actor": name})


def setup_logging(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Configure the root ``tradingd`` logger once, for the daemon process."""
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    root = logging.getLogger("tradingd")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
