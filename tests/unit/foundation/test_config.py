"""Configuration: shipped files load; each class of bad value gives the documented error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings, settings_from_mapping
from config.loader import env_overrides

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["paper.toml", "production.example.toml"])
def test_shipped_files_are_valid(name: str) -> None:
    s = load_settings(ROOT / "config" / name, env={})
    assert isinstance(s, Settings)


def test_paper_defaults_are_embedded() -> None:
    s = load_settings(ROOT / "config" / "paper.toml", env={})
    assert s.broker.kind == "paper"
    assert s.storage.url.startswith("sqlite+aiosqlite:///")
    assert s.redis.url == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"risk": {"max_position_pct": 150}},
            "risk.max_position_pct: expected a number in (0, 100], got 150",
        ),
        (
            {"risk": {"max_position_pct": 0}},
            "risk.max_position_pct: expected a number in (0, 100], got 0",
        ),
        (
            {"risk": {"max_open_positions": 0}},
            "risk.max_open_positions: expected an integer >= 1, got 0",
        ),
        (
            {"risk": {"max_open_positions": "ten"}},
            "risk.max_open_positions: expected an integer >= 1, got 'ten'",
        ),
        ({"risk": {"colour": "red"}}, "risk.colour: unknown key"),
        (
            {"daemon": {"log_level": "loud"}},
            "daemon.log_level: expected one of 'debug', 'error', 'info', 'warning', got 'loud'",
        ),
        ({"daemon": {"state_dir": 5}}, "daemon.state_dir: expected a string, got 5"),
        ({"actors": {"enabled": [1]}}, "actors.enabled[0]: expected a string, got 1"),
        ({"risk": 3}, "risk: expected a table, got 3"),
    ],
)
def test_each_class_of_bad_value_names_the_key_and_expectation(
    raw: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(raw)
    assert info.value.errors == [expected]


def test_unknown_section_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"riks": {}})
    assert info.value.errors[0].startswith("riks: unknown section (known: ")
    assert "risk" in info.value.errors[0]


def test_errors_in_several_sections_are_all_reported() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"risk": {"max_open_positions": 0}, "daemon": {"log_level": 1}})
    assert len(info.value.errors) == 2


def test_environment_overrides_file_values(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[risk]\nmax_position_pct = 5.0\n[redis]\nurl = ""\n')
    s = load_settings(
        f,
        env={
            "TRADINGD_RISK__MAX_POSITION_PCT": "7.5",
            "TRADINGD_REDIS__URL": "redis://127.0.0.1:6379/0",
            "TRADINGD_ACTORS__ENABLED": '["x"]',
            "UNRELATED": "1",
        },
    )
    assert s.risk.max_position_pct == 7.5
    assert s.redis.url == "redis://127.0.0.1:6379/0"
    assert s.actors.enabled == ["x"]


def test_environment_override_is_validated_too() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"TRADINGD_RISK__MAX_POSITION_PCT": "250"})
    assert info.value.errors == ["risk.max_position_pct: expected a number in (0, 100], got 250"]


def test_env_overrides_nest_on_double_underscore() -> None:
    assert env_overrides({"TRADINGD_A__B__C": "1", "TRADINGD_X": "ignored"}) == {
        "a": {"b": {"c": 1}}
    }


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml", env={})


def test_check_config_command_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_position_pct = 150\n")
    ok = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "check-config", str(ROOT / "config/paper.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    res = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "check-config", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    assert "risk.max_position_pct: expected a number in (0, 100], got 150" in res.stderr


def test_configuration_reference_is_in_sync_with_the_structs() -> None:
    from config.docs import render

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == render(), (
        "docs/configuration.md is stale: run `python -m config.docs > docs/configuration.md`"
    )
