"""The daemon as a process: `tradingd run` starts, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _start(tmp_path: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "TRADINGD_DAEMON__STATE_DIR": str(tmp_path / "state"),
        "TRADINGD_DAEMON__SOCKET_PATH": str(tmp_path / "run" / "tradingd.sock"),
        "TRADINGD_DAEMON__LOG_FORMAT": "json",
        "TRADINGD_STORAGE__URL": f"sqlite+aiosqlite:///{tmp_path / 'tradingd.db'}",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "daemon.cli", "run", "--config", str(ROOT / "config/paper.toml")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_event(proc: subprocess.Popen[str], event: str) -> list[dict[str, object]]:
    """Read JSON log lines from stderr until one has ``event``; returns all lines read."""
    assert proc.stderr is not None
    lines: list[dict[str, object]] = []
    for raw in proc.stderr:
        rec = json.loads(raw)
        lines.append(rec)
        if rec.get("event") == event:
            return lines
    raise AssertionError(f"process ended before logging {event}: {lines}")


def test_sigterm_stops_the_daemon_cleanly_with_exit_code_0(tmp_path: Path) -> None:
    with _start(tmp_path) as proc:
        try:
            _wait_for_event(proc, "daemon_ready")
            proc.send_signal(signal.SIGTERM)
            tail = _wait_for_event(proc, "daemon_stopped")
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    events = [r.get("event") for r in tail]
    assert "daemon_stopping" in events
    assert tail[-1]["code"] == 0
    assert all(r["level"] != "error" for r in tail), tail


def test_sigint_also_stops_cleanly(tmp_path: Path) -> None:
    with _start(tmp_path) as proc:
        try:
            _wait_for_event(proc, "daemon_ready")
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_invalid_configuration_exits_2_without_starting(tmp_path: Path) -> None:
    with _start(tmp_path, {"TRADINGD_RISK__MAX_POSITION_PCT": "150"}) as proc:
        assert proc.wait(timeout=60) == 2
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert "risk.max_position_pct: expected a number in (0, 100], got 150" in err
