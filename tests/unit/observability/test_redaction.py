"""Configured credentials are found in the settings and never printed by either formatter."""

from __future__ import annotations

import json
import logging

from config import settings_from_mapping
from daemon.logs import ConsoleFormatter, JsonFormatter, hide_secrets, redact_text
from daemon.redaction import configured_secrets

SETTINGS = settings_from_mapping(
    {
        "storage": {"url": "postgresql+asyncpg://trader:Pg%2FPass-771@db.internal:5432/td"},
        "redis": {"url": "redis://:RedisPass-882@cache.internal:6379/0"},
        "alerts": {
            "webhook": {
                "url": "https://hooks.example/services/T0AAA/B0BBB/WebhookPathToken993?sig=QuerySig-114",
                "headers": {"authorization": "Bearer HeaderToken-225", "x-api-key": "ApiKey-336"},
            }
        },
    }
)


def test_every_kind_of_configured_credential_is_found() -> None:
    found = set(configured_secrets(SETTINGS))
    assert {
        "Pg/Pass-771",
        "RedisPass-882",
        "WebhookPathToken993",
        "QuerySig-114",
        "Bearer HeaderToken-225",
        "HeaderToken-225",
        "ApiKey-336",
    } <= found
    assert "Pg%2FPass-771" in found  # as it appears inside a URL
    assert "services" in found  # path segments of 8+ characters count as possible tokens
    assert "T0AAA" not in found  # too short to be a token


def test_no_secret_of_an_empty_configuration() -> None:
    assert configured_secrets(settings_from_mapping({})) == []


def _record(msg: str, **extra: object) -> logging.LogRecord:
    return logging.makeLogRecord(
        {"name": "tradingd.test", "levelname": "ERROR", "msg": msg, "actor": "x", **extra}
    )


def test_formatters_hide_registered_secrets_wherever_they_appear() -> None:
    hide_secrets(configured_secrets(SETTINGS))
    rec = _record(
        "posting to https://hooks.example/services/T0AAA/B0BBB/WebhookPathToken993 failed",
        headers={"authorization": "Bearer HeaderToken-225"},
        detail="redis said RedisPass-882 is wrong",
    )
    for line in (JsonFormatter().format(rec), ConsoleFormatter().format(rec)):
        for secret in ("WebhookPathToken993", "HeaderToken-225", "RedisPass-882"):
            assert secret not in line
        assert "***" in line
    parsed = json.loads(JsonFormatter().format(rec))
    assert parsed["detail"] == "redis said *** is wrong"


def test_url_passwords_are_hidden_even_when_not_registered() -> None:
    text = "cannot connect to postgresql+asyncpg://u:NotRegistered-1@h/db and redis://:x9y8@h"
    assert redact_text(text) == (
        "cannot connect to postgresql+asyncpg://u:***@h/db and redis://:***@h"
    )
    rec = _record("dsn", url="postgresql://u:NotRegistered-1@h/db")
    assert "NotRegistered-1" not in JsonFormatter().format(rec)
