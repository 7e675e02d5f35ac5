"""A recorded live session, replayed, reproduces the live session's decisions.

The daemon runs as a process on the live clock: the demo feed plays real S&P 500 and
NASDAQ bars (from the ``arch`` package) and trades them with the built-in source, while
the test sends manual signals and pause/resume/flatten commands through the admin socket
(``tradingctl``). After SIGTERM, ``tradingd replay`` runs the journal through a fresh
daemon on the simulated clock and must report the same verdicts, orders, fills, exits
and trades; the test also checks that against the live database itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.replay import arch_available, outcomes, read_normalised

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(not arch_available(), reason="the demo extra (arch) is absent")

CONFIG = """
[daemon]
state_dir = "{tmp}/state"
socket_path = "{tmp}/run/tradingd.sock"
log_format = "json"

[storage]
url = "sqlite+aiosqlite:///{tmp}/live.db"
auto_migrate = true

[redis]
url = ""

[safety]
create_state_dir = true

[broker.paper]
# Fills happen inside the submit: no timer races with the next bar (docs/replay.md).
ack_latency_ms = 0.0
fill_latency_ms = 0.0

[risk]
max_correlation = 1.0

[guard]
sources = ["ema-cross", "operator"]
cooldown_s = 0.0

[actors]
enabled = ["demo_feed"]

[demo]
series = ["sp500", "nasdaq"]
start = "2007-03-01"
end = "2008-03-31"
bars_per_second = 25.0
signals = "ema-cross:fast=5,slow=15"
status_interval_s = 1.0
"""


class Daemon:
    """``tradingd run`` as a process; stderr (JSON lines) read by a thread."""

    def __init__(self, cfg: Path, tmp: Path) -> None:
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "run", "--config", str(cfg)],
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            try:
                rec = json.loads(raw)
            except ValueError:
                rec = {"msg": raw}
            with self._cond:
                self.lines.append(rec)
                self._cond.notify_all()

    def wait_for(self, event: str, timeout: float = 120.0) -> dict[str, Any]:
        """The first log record with ``event`` (waits for it, bounded)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for rec in self.lines:
                    if rec.get("event") == event:
                        return rec
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no {event!r} in the log: {self.lines[-20:]}")
                self._cond.wait(left)

    def ctl(self, *args: str) -> dict[str, Any]:
        sock = str(self.sock)
        out = subprocess.run(
            [sys.executable, "-m", "daemon.ctl", "-s", sock, "--json", "-y", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert out.returncode == 0, out.stderr + out.stdout
        result: dict[str, Any] = json.loads(out.stdout) if out.stdout.strip() else {}
        return result

    def close(self) -> None:
        """Kill the process if it still runs, and close its pipe."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    sock: Path = Path()


def test_a_live_session_replays_to_the_same_decisions(tmp_path: Path) -> None:
    cfg = tmp_path / "live.toml"
    cfg.write_text(CONFIG.format(tmp=tmp_path))
    d = Daemon(cfg, tmp_path)
    d.sock = tmp_path / "run" / "tradingd.sock"
    try:
        d.wait_for("daemon_ready")
        d.wait_for("demo_status")  # the demo is playing
        # While bars arrive: mode changes (replayed at the moment they took effect) and
        # a signal refused while paused.
        d.ctl("pause", "--reason", "checking the replay of a pause")
        d.ctl("signal", "COMP", "buy", "--id", "manual-2")
        d.ctl("resume", "--reason", "done checking")
        d.wait_for("demo_summary", timeout=180)  # every bar played
        # After the last bar, orders from the socket: nothing races their fills (an
        # input arriving while the daemon is still reacting to another is the one case
        # a replay cannot order as live did; docs/replay.md).
        d.ctl("signal", "SPX", "buy", "--id", "manual-1", "--stop", "1000")
        d.ctl("signal", "COMP", "sell", "--id", "manual-3", "--stop", "5000")
        d.ctl("flatten", "--reason", "end of the manual part")
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=60) == 0
    finally:
        d.close()
    journal = tmp_path / "state" / "journal"
    out = tmp_path / "replay"
    run = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "replay", str(journal), "--out", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "replay reproduced the live session's decisions" in run.stdout

    # Independently of the replay's own check: the replay's decisions against the live
    # database's records.
    decisions = read_normalised(out / "decisions.jsonl")
    with sqlite3.connect(tmp_path / "live.db") as db:
        live_fills = db.execute("select client_order_id, qty, price from fills order by audit_seq")
        live = [(c, float(q), float(p)) for c, q, p in live_fills]
        manual = db.execute(
            "select count(*) from signal_verdicts where signal_id like 'manual-%'"
        ).fetchone()[0]
    got = [(f["coid"], float(f["qty"]), float(f["price"])) for f in decisions if f["k"] == "fill"]
    assert got == live
    assert len(live) > 4
    verdicts = {v["signal"]: v for v in outcomes(decisions)}
    assert manual >= 3
    assert verdicts["operator/manual-2"]["reason"] == "paused"  # sent while paused
    assert {"operator/manual-1", "operator/manual-3"} <= verdicts.keys()
    # pause, resume and flatten were replayed as commands
    assert re.search(r" ([3-9]|\d\d+) commands in ", run.stdout), run.stdout[:2000]
