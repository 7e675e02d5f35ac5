"""The spool: append/peek/consume in order, segments, torn tails, mid-file corruption."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.messages import Event
from storage import Spool, SpoolError
from storage.spool import (
    FRAME_MAGIC,
    HEADER_SIZE,
    SEGMENT_MAGIC,
    decode_payload,
    encode_frame,
    scan_segment,
)
from tests.integration.storage.events import pipeline_events


def replay_all(spool: Spool) -> list[Event]:
    out: list[Event] = []
    while spool.backlog:
        refs, payloads = spool.peek(1000)
        for p in payloads:
            out.extend(decode_payload(p))
        spool.consume(refs)
    return out


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool")
    assert s.open() == []
    yield s
    s.close()


def test_frames_come_back_in_order_and_spool_empties(spool: Spool, tmp_path: Path) -> None:
    batches = [pipeline_events(2)[i : i + 7] for i in range(0, 26, 7)]
    for b in batches:
        spool.append(b)
    assert spool.backlog
    assert spool.pending_frames == len(batches)
    assert replay_all(spool) == [e for b in batches for e in b]
    assert not spool.backlog
    assert spool.segments() == []  # replayed segments are deleted


def test_reopened_spool_still_holds_unreplayed_frames(tmp_path: Path) -> None:
    evs = pipeline_events(3)
    s = Spool(tmp_path)
    s.open()
    s.append(evs[:10])
    s.append(evs[10:])
    refs, _ = s.peek(1)
    s.consume(refs[:1])
    s.close()

    again = Spool(tmp_path)
    assert again.open() == []
    # Consumption is not persisted by the spool: both frames come back (the store
    # recognises the already-written one as a duplicate).
    assert replay_all(again) == evs
    again.close()


def test_segments_rotate_and_are_deleted_as_replayed(tmp_path: Path) -> None:
    s = Spool(tmp_path, segment_bytes=4096)
    s.open()
    evs = pipeline_events(20)
    for i in range(0, len(evs), 10):
        s.append(evs[i : i + 10])
    assert len(s.segments()) > 3
    refs, _ = s.peek(40)
    assert len({r.segment for r in refs}) > 1
    s.consume(refs)
    # Segments whose frames were all replayed are gone; the rest are untouched.
    assert all(n >= refs[-1].segment for n in s.segments())
    assert refs[0].segment not in s.segments()
    assert replay_all(s) == evs[40:]
    assert s.segments() == []
    s.append(evs[:3])  # a new outage starts a fresh segment
    assert replay_all(s) == evs[:3]
    s.close()


def test_torn_last_frame_is_cut_off_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    evs = pipeline_events(2)
    s = Spool(tmp_path)
    s.open()
    s.append(evs[:5])
    s.append(evs[5:])
    s.close()
    seg = tmp_path / f"{1:012d}.seg"
    full = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(full - 9)  # died in the middle of writing the second frame

    again = Spool(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tradingd.storage.spool"):
        problems = again.open()
    assert [p.kind for p in problems] == ["torn_tail"]
    assert "torn last frame" in caplog.text
    assert (
        problems[0].offset
        == len(SEGMENT_MAGIC) + HEADER_SIZE + len(encode_frame(evs[:5])) - HEADER_SIZE
    )
    assert replay_all(again) == evs[:5]
    # The tail was cut, so new appends follow a clean frame boundary.
    again.append(evs[5:7])
    again.close()
    third = Spool(tmp_path)
    assert third.open() == []
    assert replay_all(third) == evs[5:7]
    third.close()


def test_corruption_in_the_middle_is_reported_with_its_offset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    evs = pipeline_events(3)
    s = Spool(tmp_path)
    s.open()
    refs = [s.append(evs[i : i + 10]) for i in range(0, 30, 10)]
    s.close()
    seg = tmp_path / f"{1:012d}.seg"
    data = bytearray(seg.read_bytes())
    bad = refs[1].offset + HEADER_SIZE + 5
    data[bad] ^= 0xFF  # flip a byte inside the second frame's payload
    seg.write_bytes(bytes(data))

    again = Spool(tmp_path)
    with caplog.at_level(logging.ERROR, logger="tradingd.storage.spool"):
        problems = again.open()
    assert len(problems) == 1
    p = problems[0]
    assert (p.kind, p.offset, p.resume_at) == ("corrupt", refs[1].offset, refs[2].offset)
    assert f"offset {refs[1].offset}" in p.describe()
    assert "checksum mismatch" in caplog.text
    assert (tmp_path / f"{1:012d}.seg.corrupt").exists()  # kept for inspection
    assert replay_all(again) == evs[:10] + evs[20:30]
    again.close()


def test_scan_reports_bad_marker_and_impossible_length() -> None:
    evs = pipeline_events(1)
    f1, f2, f3 = encode_frame(evs[:3]), encode_frame(evs[3:6]), encode_frame(evs[6:9])
    data = bytearray(SEGMENT_MAGIC + f1 + f2 + f3)
    at = len(SEGMENT_MAGIC) + len(f1)
    data[at : at + 4] = b"XXXX"
    scan = scan_segment(bytes(data), 1, "seg")
    assert [(p.kind, p.offset, p.reason) for p in scan.problems] == [
        ("corrupt", at, "bad frame marker")
    ]
    assert len(scan.frames) == 2

    data = bytearray(SEGMENT_MAGIC + f1 + f2 + f3)
    data[at + 4 : at + 8] = (2**31).to_bytes(4, "big")
    scan = scan_segment(bytes(data), 1, "seg")
    assert "impossible frame length" in scan.problems[0].reason
    assert scan.problems[0].resume_at == at + len(f2)


def test_damaged_end_of_an_older_segment_is_corruption_not_a_torn_tail() -> None:
    evs = pipeline_events(1)
    data = SEGMENT_MAGIC + encode_frame(evs[:3]) + FRAME_MAGIC + b"\x00\x00"
    assert scan_segment(data, 1, "seg", last=True).problems[0].kind == "torn_tail"
    assert scan_segment(data, 1, "seg", last=False).problems[0].kind == "corrupt"


def test_a_second_process_cannot_open_the_same_spool(spool: Spool) -> None:
    other = Spool(spool.directory)
    with pytest.raises(SpoolError, match="in use"):
        other.open()


def test_consuming_out_of_order_is_refused(spool: Spool) -> None:
    spool.append(pipeline_events(1))
    spool.append(pipeline_events(1))
    refs, _ = spool.peek(1000)
    with pytest.raises(SpoolError, match="out of order"):
        spool.consume([refs[1]])
