"""Journal segments: round trip, torn tails (ignored with a warning), corruption located."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.journal import (
    MAGIC,
    Chunk,
    JournalCorrupt,
    JournalError,
    JournalHeader,
    Kind,
    ReadStats,
    SegmentWriter,
    append_frame,
    list_segments,
    read_journal,
    read_segment,
)
from daemon.messages import Bar, Side, Signal

DAY = "2024-01-02"


def _header(day: str, number: int) -> bytes:
    buf = bytearray()
    append_frame(
        buf, -1, 0, Kind.HEADER, JournalHeader(account="t", day=day, segment=number, started_ns=0)
    )
    return bytes(buf)


def _bar(i: int) -> Bar:
    return Bar(symbol="SPY", open=100.0, high=101.0, low=99.0, close=100.0 + i, ts=i)


def _write(path: Path, n: int, day: str = DAY) -> Path:
    w = SegmentWriter(path, _header)
    chunk = Chunk(day)
    for i in range(n):
        append_frame(chunk.data, i, 1_000 + i, Kind.MARKET, _bar(i))
        chunk.frames += 1
    w.write([chunk])
    w.close()
    assert w.path is not None
    return w.path


def _frames(path: Path, *, resync: bool = False) -> tuple[list[int], list[str]]:
    warnings: list[str] = []
    records = read_segment(path, warn=warnings.append, resync=resync)
    seqs = [r.seq for r in records if r.seq >= 0]
    return seqs, warnings


def test_frames_round_trip_with_header_first(tmp_path: Path) -> None:
    seg = _write(tmp_path, 5)
    recs = list(read_journal(tmp_path))
    assert recs[0].kind is Kind.HEADER
    assert isinstance(recs[0].event, JournalHeader)
    assert [r.seq for r in recs[1:]] == [0, 1, 2, 3, 4]
    assert [r.ts for r in recs[1:]] == [1000, 1001, 1002, 1003, 1004]
    assert recs[3].event == _bar(2)
    assert seg.read_bytes().startswith(MAGIC)


def test_every_message_kind_survives(tmp_path: Path) -> None:
    w = SegmentWriter(tmp_path, _header)
    chunk = Chunk(DAY)
    sig = Signal(signal_id="a", source="s", symbol="X", side=Side.BUY, created_ns=1, note="é")
    append_frame(chunk.data, 0, 5, Kind.SIGNAL, sig)
    chunk.frames = 1
    w.write([chunk])
    w.close()
    recs = list(read_journal(tmp_path))
    assert recs[-1].event == sig
    assert recs[-1].kind is Kind.SIGNAL


@pytest.mark.parametrize("cut", [1, 4, 9, 20])
def test_a_torn_last_frame_is_ignored_with_a_warning(tmp_path: Path, cut: int) -> None:
    seg = _write(tmp_path, 4)
    size = seg.stat().st_size
    with open(seg, "r+b") as fh:
        fh.truncate(size - cut)
    seqs, warnings = _frames(seg)
    assert seqs == [0, 1, 2]
    assert len(warnings) == 1
    assert "torn last frame" in warnings[0]


def test_a_last_frame_with_a_bad_checksum_is_a_torn_tail(tmp_path: Path) -> None:
    seg = _write(tmp_path, 3)
    data = bytearray(seg.read_bytes())
    data[-2] ^= 0xFF  # inside the last payload: written length, unwritten bytes
    seg.write_bytes(bytes(data))
    seqs, warnings = _frames(seg)
    assert seqs == [0, 1]
    assert "checksum mismatch" in warnings[0]


def test_a_zero_filled_tail_is_a_torn_tail(tmp_path: Path) -> None:
    seg = _write(tmp_path, 3)
    with open(seg, "ab") as fh:
        fh.write(b"\0" * 4096)
    stats = ReadStats()
    seqs: list[int] = []
    warnings: list[str] = []
    for r in read_segment(seg, warn=warnings.append, stats=stats):
        seqs.append(r.seq)
    assert seqs[1:] == [0, 1, 2]
    assert stats.torn_tail_bytes == 4096
    assert len(warnings) == 1


def _middle_offset(seg: Path, frame: int) -> int:
    """Byte offset of data frame ``frame`` (0-based) in ``seg``."""
    offsets = []
    data = seg.read_bytes()
    pos = len(MAGIC)
    while pos < len(data):
        offsets.append(pos)
        n = int.from_bytes(data[pos : pos + 4], "little")
        pos += 8 + n
    return offsets[1 + frame]  # skip the header frame


def test_corruption_in_the_middle_is_reported_with_its_offset(tmp_path: Path) -> None:
    seg = _write(tmp_path, 5)
    off = _middle_offset(seg, 2)
    data = bytearray(seg.read_bytes())
    data[off + 10] ^= 0x55
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt) as err:
        list(read_segment(seg))
    assert err.value.offset == off
    assert err.value.path == str(seg)
    assert f"byte offset {off}" in str(err.value)
    assert "checksum mismatch" in str(err.value)


def test_resync_skips_a_damaged_frame_and_keeps_the_rest(tmp_path: Path) -> None:
    seg = _write(tmp_path, 5)
    off = _middle_offset(seg, 1)
    data = bytearray(seg.read_bytes())
    data[off] = 0xFF  # an impossible length
    data[off + 3] = 0xFF
    seg.write_bytes(bytes(data))
    seqs, warnings = _frames(seg, resync=True)
    assert seqs == [0, 2, 3, 4]
    assert f"byte offset {off}" in warnings[0]
    assert "skipped" in warnings[0]


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "journal-2024-01-02-0001.tdj"
    p.write_bytes(b"Date,Open,High\n1,2,3\n")
    with pytest.raises(JournalError, match="bad magic"):
        list(read_segment(p))


def test_segments_are_per_day_never_reopened_and_read_in_order(tmp_path: Path) -> None:
    w = SegmentWriter(tmp_path, _header)
    a, b = Chunk("2024-01-02"), Chunk("2024-01-03")
    append_frame(a.data, 0, 1, Kind.MARKET, _bar(0))
    append_frame(b.data, 1, 2, Kind.MARKET, _bar(1))
    w.write([a, b])
    w.close()
    again = SegmentWriter(tmp_path, _header)  # a restart on the same day: a new segment
    c = Chunk("2024-01-03")
    append_frame(c.data, 0, 3, Kind.MARKET, _bar(2))
    again.write([c])
    again.close()
    names = [p.name for p in list_segments(tmp_path)]
    assert names == [
        "journal-2024-01-02-0001.tdj",
        "journal-2024-01-03-0001.tdj",
        "journal-2024-01-03-0002.tdj",
    ]
    ts = [r.ts for r in read_journal(tmp_path) if r.kind is Kind.MARKET]
    assert ts == [1, 2, 3]


def test_a_full_segment_continues_in_a_new_one(tmp_path: Path) -> None:
    w = SegmentWriter(tmp_path, _header, max_segment_bytes=200)
    for i in range(6):
        c = Chunk(DAY)
        append_frame(c.data, i, i, Kind.MARKET, _bar(i))
        w.write([c])
    w.close()
    assert len(list_segments(tmp_path)) > 1
    assert [r.seq for r in read_journal(tmp_path) if r.seq >= 0] == list(range(6))


def test_keep_days_prunes_old_segments(tmp_path: Path) -> None:
    for day in ("2024-01-01", "2024-01-05"):
        _write(tmp_path, 1, day)
    w = SegmentWriter(tmp_path, _header, keep_days=3)
    c = Chunk("2024-01-06")
    append_frame(c.data, 0, 0, Kind.MARKET, _bar(0))
    w.write([c])
    w.close()
    assert [p.name[8:18] for p in list_segments(tmp_path)] == ["2024-01-05", "2024-01-06"]


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal segments"):
        list(read_journal(tmp_path))


def test_a_failed_write_leaves_no_partial_frames(tmp_path: Path) -> None:
    seg = _write(tmp_path, 2)
    # A write that cannot complete (read-only descriptor) must not leave half a batch.
    w = SegmentWriter(tmp_path, _header)
    c = Chunk(DAY)
    append_frame(c.data, 9, 9, Kind.MARKET, _bar(9))
    w.write([c])
    assert w.path is not None
    path = w.path
    fd = os.open(path, os.O_RDONLY)
    w._fd, real = fd, w._fd  # the next write fails with EBADF
    d = Chunk(DAY)
    append_frame(d.data, 10, 10, Kind.MARKET, _bar(10))
    with pytest.raises(OSError, match="Bad file descriptor"):
        w.write([d])
    assert real is not None
    os.close(real)
    assert [r.seq for r in read_segment(path)][1:] == [9]
    assert seg != path
