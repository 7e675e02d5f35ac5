"""Opening the state: first start, restart, and every kind of damage starts killed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from config import ConfigError, settings_from_mapping
from daemon import names
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.messages import Alert, KillSwitchEvent, OrderPurpose, TradingMode
from daemon.safety import KillTrigger, SafetyStore, StateDamage
from daemon.safety.state import (
    FORMAT,
    DayRecord,
    Envelope,
    KillRecord,
    ModeRecord,
    SafetyState,
    decode_state,
    encode_state,
)
from tests.unit.safety.support import FaultyOps, enospc, erofs, make_settings, ns, open_store

ROOT = Path(__file__).resolve().parents[3]
T0 = ns(2024, 3, 1, 10)
DAY = "2024-03-01"


def state_dir(tmp_path: Path) -> Path:
    d = tmp_path / "state"
    d.mkdir()
    return d


def write_raw(d: Path, data: bytes) -> Path:
    p = d / "safety.state"
    p.write_bytes(data)
    return p


def good_state(**kw: object) -> SafetyState:
    base = SafetyState(seq=3, account="paper", day=DayRecord(trading_day=DAY))
    return msgspec.structs.replace(base, **kw)


async def test_first_start_initialises_and_says_so(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    bus = Bus()
    sub = bus.topic(names.EVENTS).subscribe("t")
    store = await open_store(make_settings(d), SimClock(T0), bus)
    try:
        assert store.initialised
        assert store.damage is None
        assert not store.snapshot().killed
        assert store.may_submit(OrderPurpose.ENTRY) is None
        on_disk = decode_state((d / "safety.state").read_bytes())
        assert on_disk.seq == 1
        assert on_disk.account == "paper"
        assert on_disk.day.trading_day == DAY
        await store.announce()
        alert = await sub.receive()
        assert isinstance(alert, Alert)
        assert alert.code == "safety_state_initialised"
    finally:
        store.close()


async def test_restart_carries_kill_and_pause_over(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    kill = KillRecord(engaged=True, reason="manual", trigger="operator", by="ops", since_ns=1)
    mode = ModeRecord(mode=TradingMode.PAUSED, reason="news", by="ops")
    write_raw(d, encode_state(good_state(kill=kill, mode=mode)))
    store = await open_store(make_settings(d), SimClock(T0))
    try:
        snap = store.snapshot()
        assert snap.killed
        assert snap.kill_reason == "manual"
        assert snap.mode is TradingMode.PAUSED
        assert snap.seq == 4, "a start writes the state once (proves the dir writable)"
        assert store.damage is None
        assert store.may_submit(OrderPurpose.ENTRY) is not None
        assert store.may_submit(OrderPurpose.EXIT) is None
        assert store.may_submit(OrderPurpose.FLATTEN) is None
    finally:
        store.close()


async def test_new_trading_day_on_start_resets_figures_not_kill(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    kill = KillRecord(engaged=True, reason="loss", trigger="daily_loss")
    day = DayRecord(trading_day="2024-02-29", realized_pnl=Decimal(-50), trade_count=3)
    write_raw(d, encode_state(good_state(kill=kill, day=day)))
    store = await open_store(make_settings(d), SimClock(T0))
    try:
        assert store.state.day == DayRecord(trading_day=DAY)
        assert store.state.kill == kill
    finally:
        store.close()


def _damaged_version() -> bytes:
    body = msgspec.msgpack.encode(good_state())
    env = Envelope(format=FORMAT, version=99, sha256=hashlib.sha256(body).digest(), body=body)
    return msgspec.msgpack.encode(env)


def _wrong_checksum() -> bytes:
    env = msgspec.msgpack.decode(encode_state(good_state()), type=Envelope)
    return msgspec.msgpack.encode(msgspec.structs.replace(env, sha256=b"\0" * 32))


CASES = [
    ("truncated", lambda: encode_state(good_state())[:20], StateDamage.TRUNCATED, "truncated"),
    ("empty", lambda: b"", StateDamage.TRUNCATED, "empty"),
    ("garbage", lambda: b"\x93garbage\xff\x00" * 7, StateDamage.GARBAGE, "not a"),
    ("checksum", _wrong_checksum, StateDamage.CHECKSUM, "checksum"),
    ("version", _damaged_version, StateDamage.VERSION, "version 99"),
    (
        "account",
        lambda: encode_state(good_state(account="live-main")),
        StateDamage.ACCOUNT,
        "'live-main'",
    ),
]


@pytest.mark.parametrize(("name", "make", "damage", "text"), CASES, ids=[c[0] for c in CASES])
async def test_damaged_file_starts_killed_and_keeps_the_bytes(
    tmp_path: Path, name: str, make: Callable[[], bytes], damage: StateDamage, text: str
) -> None:
    d = state_dir(tmp_path)
    raw = make()
    write_raw(d, raw)
    bus = Bus()
    sub = bus.topic(names.EVENTS).subscribe("t")
    store = await open_store(make_settings(d), SimClock(T0), bus)
    try:
        assert store.damage is not None
        assert store.damage.damage is damage
        snap = store.snapshot()
        assert snap.killed
        assert snap.kill_trigger == KillTrigger.STATE_FILE
        assert text in snap.kill_reason
        assert store.may_submit(OrderPurpose.ENTRY) is not None
        assert store.may_submit(OrderPurpose.EXIT) is None
        kept = [p for p in d.iterdir() if ".damaged-" in p.name]
        assert len(kept) == 1
        assert kept[0].read_bytes() == raw
        # A fresh file now records the kill, so a restart cannot forget it.
        on_disk = decode_state((d / "safety.state").read_bytes())
        assert on_disk.kill.engaged
        assert on_disk.kill.trigger == KillTrigger.STATE_FILE
        await store.announce()
        alert, event = await sub.receive(), await sub.receive()
        assert isinstance(alert, Alert)
        assert alert.code == "safety_state_damaged"
        assert alert.payload["damage"] == str(damage)
        assert isinstance(event, KillSwitchEvent)
        assert event.engaged
    finally:
        store.close()
    again = await open_store(make_settings(d), SimClock(T0))
    try:
        assert again.damage is None
        assert again.snapshot().killed, "never a silent reset"
        # No condition holds once the file is whole again: an operator may reset.
        reply = await again.reset("checked the broker's figures", by="ops")
        assert reply.ok
        assert not again.snapshot().killed
    finally:
        again.close()


async def test_missing_directory_starts_killed_and_writes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "not-mounted"
    store = await open_store(make_settings(d), SimClock(T0))
    try:
        assert store.damage is not None
        assert store.damage.damage is StateDamage.MISSING_DIR
        snap = store.snapshot()
        assert snap.killed
        assert "does not exist" in snap.kill_reason
        assert not snap.writable
        assert not d.exists()
        refused = await store.reset("go", by="ops")
        assert not refused.ok
        assert "state_file" in refused.conditions[0]
        forced = await store.reset("go", by="ops", force=True)
        assert not forced.ok, "a reset that cannot be persisted is not made"
        assert store.snapshot().killed
    finally:
        store.close()


async def test_missing_directory_is_created_when_configured(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    store = await open_store(make_settings(d, create_state_dir=True), SimClock(T0))
    try:
        assert store.damage is None
        assert store.initialised
        assert (d / "safety.state").exists()
    finally:
        store.close()


async def test_read_only_directory_starts_killed(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    write_raw(d, encode_state(good_state()))
    before = (d / "safety.state").read_bytes()
    ops = FaultyOps()
    ops.fail["lock"] = erofs()
    ops.fail["open_new"] = erofs()
    store = await open_store(make_settings(d), SimClock(T0), ops=ops)
    try:
        assert store.damage is not None
        assert store.damage.damage is StateDamage.NOT_WRITABLE
        snap = store.snapshot()
        assert snap.killed
        assert "Read-only file system" in snap.kill_reason
        assert not snap.writable
        assert snap.day.trading_day == DAY, "the figures are still read"
        assert (d / "safety.state").read_bytes() == before
    finally:
        store.close()


async def test_full_disk_at_start_starts_killed(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    write_raw(d, encode_state(good_state()))
    ops = FaultyOps()
    ops.fail["write"] = enospc()
    store = await open_store(make_settings(d), SimClock(T0), ops=ops)
    try:
        assert store.damage is not None
        assert store.damage.damage is StateDamage.NOT_WRITABLE
        assert "No space left" in store.snapshot().kill_reason
        assert store.may_submit(OrderPurpose.ENTRY) is not None
    finally:
        store.close()


async def test_unreadable_file_starts_killed(tmp_path: Path) -> None:
    d = state_dir(tmp_path)
    write_raw(d, encode_state(good_state()))
    ops = FaultyOps()
    ops.fail["read_bytes"] = PermissionError(13, "Permission denied")
    store = await open_store(make_settings(d), SimClock(T0), ops=ops)
    try:
        assert store.damage is not None
        assert store.damage.damage is StateDamage.UNREADABLE
        assert "Permission denied" in store.snapshot().kill_reason
    finally:
        store.close()


async def test_second_process_on_the_same_file_starts_killed_and_never_writes(
    tmp_path: Path,
) -> None:
    d = state_dir(tmp_path)
    first = await open_store(make_settings(d), SimClock(T0))
    try:
        before = (d / "safety.state").read_bytes()
        second = await open_store(make_settings(d), SimClock(T0))
        try:
            assert second.damage is not None
            assert second.damage.damage is StateDamage.LOCKED
            assert second.snapshot().killed
            await second.engage("try", by="t")
            assert (d / "safety.state").read_bytes() == before
            assert not first.snapshot().killed
        finally:
            second.close()
    finally:
        first.close()


async def test_unknown_time_zone_is_a_configuration_error(tmp_path: Path) -> None:
    settings = settings_from_mapping(
        {"daemon": {"state_dir": str(tmp_path), "timezone": "Mars/Olympus"}}
    )
    with pytest.raises(ConfigError, match=r"daemon\.timezone"):
        await SafetyStore.open(settings, clock=SimClock(T0), bus=Bus())


_PROBE = """
import anyio, json, sys
from daemon.bus import Bus
from daemon.clock import SimClock
from daemon.safety import SafetyStore
from config import settings_from_mapping
async def main():
    s = settings_from_mapping({"daemon": {"state_dir": sys.argv[1]}})
    store = await SafetyStore.open(s, clock=SimClock(), bus=Bus())
    snap = store.snapshot()
    print(json.dumps({"damage": str(store.damage.damage) if store.damage else None,
                      "killed": snap.killed, "reason": snap.kill_reason}))
anyio.run(main)
"""


def test_really_read_only_bind_mount_starts_killed(tmp_path: Path) -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to bind-mount the directory read-only")
    d = state_dir(tmp_path)
    write_raw(d, encode_state(good_state(account="")))
    script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
    res = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(d), sys.executable, "-c", _PROBE, str(d)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    if res.returncode != 0 and "mount" in res.stderr and "permission" in res.stderr.lower():
        pytest.skip(f"bind mounts not permitted here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["damage"] == "not_writable"
    assert out["killed"]
    assert "Read-only file system" in out["reason"]
