"""``tradingctl status`` shows readiness: yes, or NO with what is not ready."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from daemon.control._render import render_status
from daemon.metrics import Check, Readiness


def _render(ready: dict[str, Any]) -> str:
    out = io.StringIO()
    render_status(
        Console(file=out, width=200, color_system=None), {"healthy": True, "ready": ready}
    )
    return out.getvalue()


def test_ready_daemon() -> None:
    r = Readiness(True, (Check("started", True), Check("kill_switch", True, "off")))
    (line,) = [line for line in _render(r.as_dict()).splitlines() if line.startswith("ready")]
    assert line.split() == ["ready", "yes"]


def test_not_ready_daemon_names_each_failing_check() -> None:
    r = Readiness(
        False,
        (
            Check("started", True),
            Check("kill_switch", False, "engaged (operator by ops): desk says stop"),
            Check("progress", False, "core actor(s) busy ...: orchestrator"),
        ),
    )
    (line,) = [line for line in _render(r.as_dict()).splitlines() if line.startswith("ready")]
    assert "NO: kill_switch: engaged (operator by ops): desk says stop" in line
    assert "progress: core actor(s) busy ...: orchestrator" in line


def test_readiness_text_and_dict_agree() -> None:
    r = Readiness(False, (Check("started", True), Check("holds", False, "x: y")))
    assert r.text() == "not ready\nok   started\nFAIL holds: x: y\n"
    assert r.as_dict() == {
        "ready": False,
        "checks": {"started": {"ok": True, "detail": ""}, "holds": {"ok": False, "detail": "x: y"}},
        "not_ready": ["holds: x: y"],
    }
    assert r.failing == (Check("holds", False, "x: y"),)
