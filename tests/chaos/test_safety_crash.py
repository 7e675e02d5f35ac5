"""SIGKILL the safety-state writer at random moments; the file must always be whole and
equal the last acknowledged change (or the one being written when the kill landed).

Each trial starts :mod:`tests.chaos.safety_driver` on the same state directory (so every
trial is also a restart after a crash), reads a seeded random number of its progress
lines, kills it with SIGKILL, reads what it had printed before dying, and checks the
file with the daemon's own loader.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from config import settings_from_mapping
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.safety import SafetyStore
from daemon.safety.fileops import tmp_path_for
from daemon.safety.state import decode_state
from tests.chaos.safety_driver import T0, summary

ROOT = Path(__file__).resolve().parents[2]


def _prime(state_dir: Path) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        settings = settings_from_mapping({"daemon": {"state_dir": str(state_dir)}})
        store = await SafetyStore.open(settings, clock=SimClock(T0), bus=Bus())
        store.close()
        return summary(store.state)

    return anyio.run(main)


def _trial(state_dir: Path, seed: int, lines_before_kill: int, prev: dict[str, Any]) -> Any:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.chaos.safety_driver", str(state_dir), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    raw: list[bytes] = []
    try:
        for _ in range(lines_before_kill):
            line = proc.stdout.readline()
            if not line:
                break
            raw.append(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"driver died on its own: {err.decode()}"
    raw += out.splitlines(keepends=True)
    lines = [json.loads(r) for r in raw if r.endswith(b"\n")]  # a torn last line is unacked

    acked, pending = prev, None
    for line in lines:
        if line["kind"] == "loaded":
            assert line["state"] == {**prev, "seq": prev["seq"] + 1}, "restart lost a change"
        if line["kind"] in ("loaded", "ack"):
            acked, pending = line["state"], None
        else:
            assert pending is None, "one write at a time"
            pending = line["state"]

    path = state_dir / "safety.state"
    on_disk = summary(decode_state(path.read_bytes(), path=str(path)))  # whole, or raises
    allowed = [acked] if pending is None else [acked, pending]
    assert on_disk in allowed, f"seed {seed}: file {on_disk} is neither acked nor in flight"
    assert not [p for p in state_dir.iterdir() if ".damaged-" in p.name]
    return on_disk, len(lines), os.path.exists(tmp_path_for(str(path)))


def _run(tmp_path: Path, trials: int, seed: int) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    prev = _prime(state_dir)
    rng = random.Random(seed)
    changes = 0
    for i in range(trials):
        prev, seen, _ = _trial(state_dir, seed * 1000 + i, rng.randrange(1, 80), prev)
        changes += seen
    assert changes > trials, "the driver made progress between kills"


def test_sigkill_never_leaves_a_torn_or_stale_state_file(tmp_path: Path) -> None:
    _run(tmp_path, trials=6, seed=7)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_soak_sixty_trials(tmp_path: Path) -> None:
    _run(tmp_path, trials=60, seed=20240301)
