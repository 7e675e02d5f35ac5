"""The local spool: where records wait, on disk, while the database cannot take them.

A spool is a directory of segment files ``<number>.seg``, replayed in number order.
Each segment starts with :data:`SEGMENT_MAGIC` and holds frames::

    b"TDF1" | length (u32) | count (u32) | crc32(length, count, payload) (u32) | payload

(big-endian) where the payload is one batch of ``count`` catalogue events, encoded by
``daemon.messages.codec`` (a list of tagged messages). Every append is followed by
``fsync``; a new segment also fsyncs the directory. Replayed segments are deleted.

Opening a spool scans every segment:

* a **torn last frame** (the process died mid-append: the file ends inside a frame, or
  the final frame fails its checksum) is cut off with a warning — it was never
  acknowledged, so nothing that was promised is lost;
* **corruption in the middle** of a segment (bad marker, impossible length, checksum
  mismatch with more data after it) is reported with its byte offset; the reader
  resynchronises on the next frame that checks out, the damaged segment is copied to
  ``<number>.seg.corrupt`` for inspection, and the bytes in between are reported lost.

One process at a time: the directory is locked (``flock``) while open.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import struct
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, final

import msgspec

from daemon.messages import Event
from daemon.messages.codec import msgpack_encoder
from storage._errors import SpoolCorrupt, SpoolError, SpoolUnencodable

SEGMENT_MAGIC = b"TDSPOOL1"
FRAME_MAGIC = b"TDF1"
_HEADER = struct.Struct(">4sIII")
_SIZES = struct.Struct(">II")
HEADER_SIZE = _HEADER.size
MAX_FRAME = 256 * 1024 * 1024
"""Largest payload a frame may claim; anything bigger is corruption."""
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024

_batch_decoder = msgspec.msgpack.Decoder(list[Event])
_log = logging.getLogger("tradingd.storage.spool")


def encode_frame(events: Sequence[Event]) -> bytes:
    """One frame holding ``events``."""
    payload = msgpack_encoder.encode(list(events))
    crc = zlib.crc32(payload, zlib.crc32(_SIZES.pack(len(payload), len(events))))
    return _HEADER.pack(FRAME_MAGIC, len(payload), len(events), crc) + payload


def decode_payload(payload: bytes) -> list[Event]:
    """The events of one frame's payload (raises ``msgspec`` errors if invalid)."""
    events: list[Event] = _batch_decoder.decode(payload)
    return events


@dataclass(frozen=True, slots=True)
class FrameRef:
    """Where one frame's payload lives."""

    segment: int
    offset: int
    """Offset of the frame header in the segment file."""
    length: int
    """Payload length."""
    count: int
    """Events in the frame."""

    @property
    def end(self) -> int:
        """Offset just past this frame."""
        return self.offset + HEADER_SIZE + self.length


@dataclass(frozen=True, slots=True)
class SpoolProblem:
    """Something found while scanning a segment."""

    kind: str
    """``torn_tail`` (warning) or ``corrupt`` (error)."""
    path: str
    offset: int
    reason: str
    resume_at: int | None = None
    lost_bytes: int = 0

    def describe(self) -> str:
        """One line for logs and alerts."""
        if self.kind == "torn_tail":
            return (
                f"spool {self.path}: torn last frame at offset {self.offset} "
                f"({self.lost_bytes} bytes, never acknowledged) ignored: {self.reason}"
            )
        return str(SpoolCorrupt(self.path, self.offset, self.reason, self.resume_at)) + (
            f"; {self.lost_bytes} bytes skipped"
        )


@dataclass(slots=True)
class SegmentScan:
    """The frames of one segment and what was wrong with it."""

    frames: list[FrameRef] = field(default_factory=list)
    problems: list[SpoolProblem] = field(default_factory=list)
    valid_end: int = len(SEGMENT_MAGIC)
    """Offset just past the last good frame (where appends may continue)."""


def _frame_at(data: memoryview, pos: int) -> tuple[int, int, str]:
    """Payload length and event count of a valid frame at ``pos`` (or -1 and why not)."""
    size = len(data)
    if size - pos < HEADER_SIZE:
        return -1, 0, "incomplete frame header"
    magic, length, count, crc = _HEADER.unpack_from(data, pos)
    if magic != FRAME_MAGIC:
        return -1, 0, "bad frame marker"
    if length > MAX_FRAME:
        return -1, 0, f"impossible frame length {length}"
    end = pos + HEADER_SIZE + length
    if end > size:
        return -1, 0, f"frame of {length} bytes runs past the end of the file"
    payload = data[pos + HEADER_SIZE : end]
    if zlib.crc32(payload, zlib.crc32(_SIZES.pack(length, count))) != crc:
        return -1, 0, "checksum mismatch"
    return length, count, ""


def _resync(data: bytes, start: int) -> int | None:
    """Offset of the next frame at or after ``start`` that checks out, if any."""
    view = memoryview(data)
    pos = start
    while True:
        pos = data.find(FRAME_MAGIC, pos)
        if pos < 0:
            return None
        if _frame_at(view, pos)[0] >= 0:
            return pos
        pos += 1


def scan_segment(data: bytes, segment: int, path: str, *, last: bool = True) -> SegmentScan:
    """Check every frame of a segment's bytes; see the module docstring for the rules.

    Only the ``last`` segment can have a torn tail (older ones were complete and fsynced
    before the next was started); a damaged end of an older segment is corruption.
    """
    scan = SegmentScan()
    if not data.startswith(SEGMENT_MAGIC):
        if last and len(data) < len(SEGMENT_MAGIC) and SEGMENT_MAGIC.startswith(data):
            # Died while writing the header of a new segment: nothing in it yet.
            scan.problems.append(
                SpoolProblem("torn_tail", path, 0, "incomplete segment header", None, len(data))
            )
            scan.valid_end = 0
            return scan
        resume = _resync(data, 0)
        scan.problems.append(
            SpoolProblem("corrupt", path, 0, "bad segment header", resume, resume or len(data))
        )
        pos = resume if resume is not None else len(data)
    else:
        pos = len(SEGMENT_MAGIC)
    view = memoryview(data)
    size = len(data)
    while pos < size:
        length, count, why = _frame_at(view, pos)
        if length >= 0:
            ref = FrameRef(segment, pos, length, count)
            scan.frames.append(ref)
            pos = ref.end
            scan.valid_end = pos
            continue
        resume = _resync(data, pos + 1)
        if resume is None:
            # Nothing valid after it: in the last segment, the process died mid-append and
            # the frame was never acknowledged; anywhere else the end was damaged.
            kind = "torn_tail" if last else "corrupt"
            scan.problems.append(SpoolProblem(kind, path, pos, why, None, size - pos))
            break
        scan.problems.append(SpoolProblem("corrupt", path, pos, why, resume, resume - pos))
        pos = resume
    return scan


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@final
class Spool:
    """An append-only, checksummed, segmented spool in one directory.

    All methods do blocking file I/O: call them from a worker thread
    (``anyio.to_thread.run_sync``), one at a time.
    """

    def __init__(self, directory: str | os.PathLike[str], *, segment_bytes: int = 0) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes or DEFAULT_SEGMENT_BYTES
        self._frames: deque[FrameRef] = deque()
        self._lock_fd: int | None = None
        self._active: int = 0
        self._active_fd: int | None = None
        self._active_size = 0
        self.pending_bytes = 0
        """Payload bytes waiting to be replayed."""

    # -- opening and closing ---------------------------------------------------------------

    def open(self) -> list[SpoolProblem]:
        """Lock the directory, scan every segment, cut torn tails; returns what was found."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"cannot open spool directory {self.directory}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise SpoolError(
                f"spool directory {self.directory} is in use by another process"
            ) from exc
        self._lock_fd = fd
        problems: list[SpoolProblem] = []
        segments = self.segments()
        for n in segments:
            path = self._path(n)
            data = path.read_bytes()
            scan = scan_segment(data, n, str(path), last=n == segments[-1])
            for p in scan.problems:
                problems.append(p)
                if p.kind == "corrupt":
                    _log.error(p.describe(), extra={"event": "spool_corrupt"})
                else:
                    _log.warning(p.describe(), extra={"event": "spool_torn_tail"})
            if any(p.kind == "corrupt" for p in scan.problems):
                shutil.copyfile(path, path.with_name(path.name + ".corrupt"))
            if scan.valid_end < len(data) and n == segments[-1]:
                with open(path, "r+b") as f:
                    f.truncate(scan.valid_end)
                    os.fsync(f.fileno())
            self._frames.extend(scan.frames)
            self.pending_bytes += sum(f.length for f in scan.frames)
            if not scan.frames and n != segments[-1]:
                path.unlink()
        self._active = segments[-1] if segments else 0
        if segments and self._path(self._active).exists():
            self._active_size = self._path(self._active).stat().st_size
            if self._active_size < len(SEGMENT_MAGIC):
                self._path(self._active).unlink()
                self._active_size = 0
        return problems

    def close(self) -> None:
        """Close files and release the directory lock."""
        if self._active_fd is not None:
            os.close(self._active_fd)
            self._active_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- state -------------------------------------------------------------------------------

    @property
    def backlog(self) -> bool:
        """True while any frame waits to be replayed."""
        return bool(self._frames)

    @property
    def pending_frames(self) -> int:
        """Frames waiting to be replayed."""
        return len(self._frames)

    def segments(self) -> list[int]:
        """Segment numbers present, oldest first."""
        out: list[int] = []
        for p in self.directory.glob("*.seg"):
            stem = p.stem
            if stem.isdigit():
                out.append(int(stem))
        return sorted(out)

    def _path(self, n: int) -> Path:
        return self.directory / f"{n:012d}.seg"

    # -- writing -----------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> FrameRef:
        """Append one frame holding ``events`` and fsync it; returns where it went."""
        if self._lock_fd is None:
            raise SpoolError("spool is not open")
        try:
            frame = encode_frame(events)
        except (OverflowError, TypeError, msgspec.EncodeError) as exc:
            raise SpoolUnencodable(f"cannot encode records for the spool: {exc}") from exc
        try:
            if self._active_fd is None or self._active_size + len(frame) > self.segment_bytes:
                self._rotate()
            assert self._active_fd is not None
            offset = self._active_size
            os.write(self._active_fd, frame)
            os.fsync(self._active_fd)
        except OSError as exc:
            raise SpoolError(f"cannot write spool {self._path(self._active)}: {exc}") from exc
        self._active_size += len(frame)
        ref = FrameRef(self._active, offset, len(frame) - HEADER_SIZE, len(events))
        self._frames.append(ref)
        self.pending_bytes += ref.length
        return ref

    def _rotate(self) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
            self._active_fd = None
        path = self._path(self._active)
        if self._active == 0 or (path.exists() and self._active_size > len(SEGMENT_MAGIC)):
            self._active += 1
            path = self._path(self._active)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        size = os.fstat(fd).st_size
        if size == 0:
            os.write(fd, SEGMENT_MAGIC)
            os.fsync(fd)
            _fsync_dir(self.directory)
            size = len(SEGMENT_MAGIC)
        self._active_fd = fd
        self._active_size = size

    # -- reading -----------------------------------------------------------------------------

    def peek(self, max_events: int) -> tuple[list[FrameRef], list[Any]]:
        """The oldest frames (at least one, about ``max_events`` events) and their payloads.

        Returns raw payloads; decode them with :func:`decode_payload`. Nothing is consumed
        until :meth:`consume` is called with the same frames.
        """
        refs: list[FrameRef] = []
        payloads: list[bytes] = []
        total = 0
        handles: dict[int, Any] = {}
        try:
            for ref in self._frames:
                f = handles.get(ref.segment)
                if f is None:
                    f = handles[ref.segment] = open(self._path(ref.segment), "rb")  # noqa: SIM115
                f.seek(ref.offset + HEADER_SIZE)
                payload = f.read(ref.length)
                if len(payload) != ref.length:
                    raise SpoolError(f"spool {self._path(ref.segment)} shrank under us")
                refs.append(ref)
                payloads.append(payload)
                total += ref.count
                if total >= max_events:
                    break
        except OSError as exc:
            raise SpoolError(f"cannot read spool: {exc}") from exc
        finally:
            for f in handles.values():
                f.close()
        return refs, payloads

    def consume(self, refs: Sequence[FrameRef]) -> None:
        """Mark the oldest frames ``refs`` as replayed; deletes segments left with none."""
        for ref in refs:
            if not self._frames or self._frames[0] != ref:
                raise SpoolError("spool frames consumed out of order")
            self._frames.popleft()
            self.pending_bytes -= ref.length
        oldest_needed = self._frames[0].segment if self._frames else None
        for n in self.segments():
            if oldest_needed is not None and n >= oldest_needed:
                break
            if n == self._active:
                # Everything replayed: the next outage starts on a fresh segment.
                if self._active_fd is not None:
                    os.close(self._active_fd)
                    self._active_fd = None
                self._active_size = 0
            self._path(n).unlink(missing_ok=True)
        if oldest_needed is None:
            _fsync_dir(self.directory)
