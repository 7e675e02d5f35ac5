"""``[broker.paper]`` configuration: defaults, TOML round trip, clear errors."""

from __future__ import annotations

import pytest

from config import ConfigError
from config.loader import settings_from_mapping


def test_defaults_are_a_realistic_venue() -> None:
    paper = settings_from_mapping({}).broker.paper
    assert paper.ack_latency_ms > 0
    assert paper.fill_latency_ms > 0
    assert paper.commission_min > 0
    assert not paper.faults.enabled
    assert not paper.session.enforce


def test_nested_sections_load() -> None:
    s = settings_from_mapping(
        {
            "broker": {
                "seed": 3,
                "paper": {
                    "tick_size": 0.05,
                    "session": {"enforce": True, "timezone": "Europe/London", "weekdays": [0]},
                    "faults": {"enabled": True, "lost_rate": 0.5},
                },
            }
        }
    )
    assert s.broker.paper.tick_size == 0.05
    assert s.broker.paper.session.weekdays == (0,)
    assert s.broker.paper.faults.lost_rate == 0.5


@pytest.mark.parametrize(
    ("paper", "message"),
    [
        ({"faults": {"reject_rate": 1.5}}, "broker.paper.faults.reject_rate"),
        ({"session": {"timezone": "Mars/Olympus"}}, "unknown timezone"),
        ({"session": {"open": "17:00"}}, "must be before close"),
        ({"session": {"close": "4pm"}}, "broker.paper.session.close"),
        ({"max_participation_pct": 0}, "broker.paper.max_participation_pct"),
        ({"slipage_bps": 1}, "slipage_bps"),
    ],
)
def test_bad_values_are_clear_errors(paper: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_mapping({"broker": {"paper": paper}})
