"""Writing journal segments: append-only files, one or more per trading day.

:class:`SegmentWriter` does the file work and nothing else; the journal actor calls it
from a worker thread so the event loop never waits on the disk. A segment is never
appended to after it is closed: a restart, a new trading day or the size limit opens
a new file (``journal-YYYY-MM-DD-NNNN.tdj``, numbered within its day), so the torn tail a
crash may leave stays the last thing in its segment.

A failed write is undone (the file is cut back to where it was) so that writing the
same batch again never duplicates a frame; if even that fails, the segment is
abandoned and the next write opens a fresh one.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import final

from daemon.journal._format import MAGIC
from daemon.journal._reader import list_segments, parse_segment_name, segment_name

HeaderFactory = Callable[[str, int], bytes]
"""``(day, segment number) -> the encoded header frame`` opening a new segment."""


@dataclass
class Chunk:
    """Encoded frames that all belong to trading day ``day``."""

    day: str
    data: bytearray = field(default_factory=bytearray)
    frames: int = 0


@final
class SegmentWriter:
    """Appends chunks of frames to the right segment file; see the module docstring."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        header: HeaderFactory,
        *,
        fsync: bool = True,
        max_segment_bytes: int = 1 << 30,
        keep_days: int = 0,
    ) -> None:
        self.directory = Path(directory)
        self._header = header
        self._fsync = fsync
        self._max = max_segment_bytes
        self._keep_days = keep_days
        self._fd: int | None = None
        self._day = ""
        self._size = 0
        self.path: Path | None = None
        """The segment being written."""
        self.bytes_written = 0
        self.frames_written = 0
        self.segments_opened = 0

    def write(self, chunks: Sequence[Chunk]) -> None:
        """Append every chunk to its day's segment and (optionally) fsync; raises OSError."""
        for chunk in chunks:
            if not chunk.data:
                continue
            if (
                self._fd is None
                or chunk.day != self._day
                or (self._size > len(MAGIC) and self._size + len(chunk.data) > self._max)
            ):
                self._open(chunk.day)
            self._append(chunk.data)
            self.frames_written += chunk.frames
        if self._fd is not None and self._fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        """Flush and close the open segment (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)

    # -- internals -----------------------------------------------------------------------

    def _append(self, data: bytearray) -> None:
        fd = self._fd
        assert fd is not None
        before = self._size
        try:
            view = memoryview(data)
            done = 0
            while done < len(view):
                done += os.write(fd, view[done:])
        except OSError:
            self._undo(before)
            raise
        self._size += len(data)
        self.bytes_written += len(data)

    def _undo(self, size: int) -> None:
        """Cut the segment back to ``size`` after a failed write (or give it up)."""
        fd = self._fd
        assert fd is not None
        try:
            os.ftruncate(fd, size)
            os.lseek(fd, size, os.SEEK_SET)
        except OSError:
            # Cannot restore it: leave it with a torn tail and start a fresh segment, so
            # the retried frames are not written after the damage.
            self._fd = None
            os.close(fd)

    def _open(self, day: str) -> None:
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prune(day)
        number = 1 + max(
            (
                key[1]
                for p in self.directory.iterdir()
                if (key := parse_segment_name(p.name)) and key[0] == day
            ),
            default=0,
        )
        path = self.directory / segment_name(day, number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._fd, self._day, self._size, self.path = fd, day, 0, path
        self.segments_opened += 1
        self._append(bytearray(MAGIC) + self._header(day, number))
        if self._fsync:
            os.fsync(fd)
            dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _prune(self, today: str) -> None:
        if self._keep_days <= 0:
            return
        try:
            cutoff = (dt.date.fromisoformat(today) - dt.timedelta(days=self._keep_days)).isoformat()
        except ValueError:
            return
        for p in list_segments(self.directory):
            key = parse_segment_name(p.name)
            if key is not None and key[0] < cutoff:
                p.unlink(missing_ok=True)
