"""``[metrics]``: defaults, validation, and the shipped files (off for paper, on in production)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings, settings_from_mapping
from config.sections.metrics import parse_listen

ROOT = Path(__file__).resolve().parents[3]


def test_paper_config_keeps_metrics_off() -> None:
    assert load_settings(ROOT / "config" / "paper.toml", env={}).metrics.enabled is False


def test_production_example_serves_metrics_on_a_local_address() -> None:
    m = load_settings(ROOT / "config" / "production.example.toml", env={}).metrics
    assert m.enabled is True
    host, _ = parse_listen(m.listen)
    assert host in ("127.0.0.1", "::1", "localhost")


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:0", ("::1", 0)),
        ("localhost:80", ("localhost", 80)),
    ],
)
def test_listen_addresses(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize(
    ("listen", "why"),
    [
        ("9464", "HOST:PORT"),
        ("::1:9464", "[ADDR]:PORT"),
        ("127.0.0.1:http", "port must be a number"),
        ("127.0.0.1:70000", "0-65535"),
        ("[::1:9464", "brackets"),
    ],
)
def test_bad_listen_addresses_are_refused_with_the_reason(listen: str, why: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.listen") as err:
        settings_from_mapping({"metrics": {"listen": listen}})
    assert why in str(err.value)


def test_buckets_must_increase() -> None:
    with pytest.raises(ConfigError, match="strictly increasing"):
        settings_from_mapping({"metrics": {"latency_buckets_s": [0.1, 0.1, 1.0]}})
    with pytest.raises(ConfigError, match="metrics"):
        settings_from_mapping({"metrics": {"slippage_buckets_bps": []}})


def test_empty_listen_serves_no_http() -> None:
    assert settings_from_mapping({"metrics": {"listen": ""}}).metrics.listen == ""
