"""systemd/: the unit verifies, is hardened as documented, and the snippets are valid."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config import load_settings
from config.sections.daemon import DaemonSettings

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "systemd" / "tradingd.service"
SYSUSERS = ROOT / "systemd" / "sysusers.d" / "tradingd.conf"
TMPFILES = ROOT / "systemd" / "tmpfiles.d" / "tradingd.conf"
# verify only needs ExecStart's program to exist and be executable.
TRADINGD = shutil.which("tradingd") or str(Path(sys.executable).with_name("tradingd"))
if not Path(TRADINGD).exists():
    TRADINGD = sys.executable

needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (.ci/run installs the systemd package)",
)


def _entries() -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (systemd allows repeats)."""
    out: list[tuple[str, str, str]] = []
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def _get(key: str) -> list[str]:
    return [v for _, k, v in _entries() if k == key]


def _seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(s|min)?", value)
    assert m, value
    return float(m.group(1)) * (60 if m.group(2) == "min" else 1)


def _installable(tmp_path: Path) -> Path:
    # verify checks that ExecStart's program exists; point it at this checkout's.
    unit = tmp_path / "tradingd.service"
    unit.write_text(UNIT.read_text().replace("/opt/tradingd/bin/tradingd", TRADINGD))
    return unit


@needs_systemd
def test_systemd_analyze_verify_passes(tmp_path: Path) -> None:
    res = subprocess.run(
        ["systemd-analyze", "verify", str(_installable(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", res.stderr


@needs_systemd
def test_security_exposure_is_low_and_matches_the_deploy_doc(tmp_path: Path) -> None:
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(_installable(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for tradingd\.service: ([\d.]+)", res.stdout)
    assert m, res.stdout + res.stderr
    score = float(m.group(1))
    assert score <= 2.0
    doc = (ROOT / "docs" / "deploy.md").read_text()
    assert f"exposure level {score}" in doc, "record the new score in docs/deploy.md"


def test_unit_is_a_watched_notify_service_that_reloads_and_restarts() -> None:
    assert _get("Type") == ["notify"]
    assert _get("NotifyAccess") == ["main"]
    assert _seconds(_get("WatchdogSec")[0]) > 0
    assert _get("Restart") == ["on-failure"]
    assert _get("StartLimitBurst")
    assert _get("StartLimitIntervalSec")
    assert _get("ExecReload") == ["/bin/kill -HUP $MAINPID"]
    assert _get("RestartPreventExitStatus") == ["2"]  # a bad config will not fix itself
    for d in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory", "LogsDirectory"):
        assert _get(d) == ["tradingd"], d
    assert _get("User") == ["tradingd"]


def test_stop_timeout_exceeds_the_daemons_graceful_stop() -> None:
    stop = _seconds(_get("TimeoutStopSec")[0])
    production = load_settings(ROOT / "config" / "production.example.toml", env={})
    assert stop > production.daemon.stop_timeout_s
    assert stop > DaemonSettings().stop_timeout_s


def test_hardening_is_on_but_never_memory_deny_write_execute() -> None:
    for key, value in (
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("SystemCallFilter", "@system-service"),
        ("RestrictNamespaces", "yes"),
        ("LockPersonality", "yes"),
    ):
        assert _get(key) == [value], key
    # numba JITs into executable memory: W^X would break the kernels.
    assert _get("MemoryDenyWriteExecute") in ([], ["no"])
    text = UNIT.read_text()
    assert "NOT MemoryDenyWriteExecute" in text
    assert "numba" in text
    # The socket path and state dir the unit provides are where the daemon looks.
    assert "TRADINGD_DAEMON__SOCKET_PATH=%t/tradingd/tradingd.sock" in _get("Environment")


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers missing")
def test_sysusers_snippet_creates_the_service_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    res = subprocess.run(
        ["systemd-sysusers", "--dry-run", f"--root={tmp_path}", str(SYSUSERS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "Creating user 'tradingd'" in out
    assert "Creating group 'tradingd-ops'" in out


@pytest.mark.skipif(shutil.which("systemd-tmpfiles") is None, reason="systemd-tmpfiles missing")
def test_tmpfiles_snippet_creates_private_directories(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\ntradingd:x:990:990::/:/sbin/nologin\n")
    (etc / "group").write_text("root:x:0:\ntradingd:x:990:\n")
    res = subprocess.run(
        ["systemd-tmpfiles", "--create", f"--root={tmp_path}", str(TMPFILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    modes = {
        p: stat.S_IMODE((tmp_path / p).stat().st_mode)
        for p in (
            "var/lib/tradingd",
            "var/lib/tradingd/spool",
            "var/cache/tradingd",
            "run/tradingd",
        )
    }
    assert modes == {
        "var/lib/tradingd": 0o700,
        "var/lib/tradingd/spool": 0o700,
        "var/cache/tradingd": 0o700,
        "run/tradingd": 0o755,
    }
    assert (tmp_path / "var/lib/tradingd").stat().st_uid == 990
