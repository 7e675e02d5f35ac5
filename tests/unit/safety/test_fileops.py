"""The atomic write: whole new content or the old file intact, whatever step fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from daemon.safety.fileops import OsFileOps, tmp_path_for, write_atomic
from tests.unit.safety.support import FaultyOps, enospc


def test_write_replaces_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    write_atomic(OsFileOps(), path, b"one")
    write_atomic(OsFileOps(), path, b"two")
    assert Path(path).read_bytes() == b"two"
    assert not os.path.exists(tmp_path_for(path))
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_steps_run_in_the_durable_order(tmp_path: Path) -> None:
    ops = FaultyOps()
    write_atomic(ops, str(tmp_path / "s"), b"x")
    assert ops.calls == ["open_new", "write", "fsync", "close", "replace", "fsync_dir"]


@pytest.mark.parametrize("step", ["open_new", "write", "fsync", "replace"])
def test_failure_before_the_rename_keeps_the_old_file(tmp_path: Path, step: str) -> None:
    path = str(tmp_path / "s")
    write_atomic(OsFileOps(), path, b"old")
    ops = FaultyOps()
    ops.fail[step] = enospc()
    with pytest.raises(OSError, match="No space"):
        write_atomic(ops, path, b"new content")
    assert Path(path).read_bytes() == b"old"
    if step in ("write", "fsync"):
        assert not os.path.exists(tmp_path_for(path)), "temp file should be discarded"


def test_short_writes_are_completed(tmp_path: Path) -> None:
    class Dribble(FaultyOps):
        def __getattr__(self, name: str) -> Any:
            if name == "write":
                return lambda fd, data: os.write(fd, data[:3])
            return super().__getattr__(name)

    path = str(tmp_path / "s")
    write_atomic(Dribble(), path, b"0123456789abcdef")
    assert Path(path).read_bytes() == b"0123456789abcdef"


def test_a_zero_length_write_is_an_error_not_a_hang(tmp_path: Path) -> None:
    class Stuck(FaultyOps):
        def __getattr__(self, name: str) -> Any:
            if name == "write":
                return lambda fd, data: 0
            return super().__getattr__(name)

    with pytest.raises(OSError, match="short write") as info:
        write_atomic(Stuck(), str(tmp_path / "s"), b"data")
    assert info.value.errno == errno.EIO


def test_lock_is_exclusive_across_descriptors(tmp_path: Path) -> None:
    ops = OsFileOps()
    fd = ops.lock(str(tmp_path / "l"))
    try:
        with pytest.raises(BlockingIOError):
            ops.lock(str(tmp_path / "l"))
    finally:
        ops.close(fd)
    ops.close(ops.lock(str(tmp_path / "l")))  # free again once released
