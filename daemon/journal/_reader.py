"""Reading journal segments: every frame checked, a torn tail tolerated, damage located.

A crash while a frame is being written leaves a *torn tail*: the last frame's header or
payload cut short, or a final frame whose checksum fails because its bytes never all
reached the disk (sometimes followed only by zeros the file system allocated). That is
expected after a crash; the reader ignores it and warns. A bad frame with valid data
after it is *corruption in the middle*: the reader raises :class:`JournalCorrupt` with
the byte offset, or, when asked to resynchronise, skips to the next valid frame and
warns with both offsets.
"""

from __future__ import annotations

import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

from daemon.journal._format import (
    FRAME_HEAD,
    MAGIC,
    MAX_FRAME,
    JournalCorrupt,
    JournalError,
    Record,
    decode_payload,
)

Warn = Callable[[str], None]
"""Receives one warning line (the reader never prints)."""

_HEAD = FRAME_HEAD.size
_unpack_head = FRAME_HEAD.unpack_from


@dataclass
class ReadStats:
    """What reading a segment found."""

    frames: int = 0
    bytes: int = 0
    torn_tail_bytes: int = 0
    skipped_bytes: int = 0


def read_segment(
    path: str | os.PathLike[str],
    *,
    warn: Warn | None = None,
    resync: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Yield every valid frame of one segment, in order.

    Raises :class:`JournalError` when the file is not a journal segment and
    :class:`JournalCorrupt` on damage in the middle (unless ``resync``).
    """
    name = str(path)
    st = stats if stats is not None else ReadStats()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            _warn(warn, f"{name}: empty segment (created just before a crash?)")
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if size < len(MAGIC):
                _warn(warn, f"{name}: torn header ({size} bytes); segment ignored")
                st.torn_tail_bytes += size
                return
            if mm[: len(MAGIC)] != MAGIC:
                raise JournalError(f"{name}: not a tradingd journal segment (bad magic)")
            view = memoryview(mm)
            try:
                yield from _frames(name, view, size, warn, resync, st)
            finally:
                view.release()


def _frames(
    name: str, view: memoryview, size: int, warn: Warn | None, resync: bool, st: ReadStats
) -> Iterator[Record]:
    pos = len(MAGIC)
    while pos < size:
        problem = _check(view, pos, size)
        if problem is None:
            n = _unpack_head(view, pos)[0]
            end = pos + _HEAD + n
            try:
                rec = decode_payload(view[pos + _HEAD : end])
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # The checksum matched, so these are the bytes that were written: a frame
                # from an incompatible writer, not a torn one.
                raise JournalCorrupt(name, pos, f"undecodable frame: {exc}") from exc
            st.frames += 1
            st.bytes += _HEAD + n
            yield rec
            pos = end
            continue
        if _is_tail(view, pos, size, problem):
            _warn(
                warn,
                f"{name}: torn last frame at byte offset {pos} ({size - pos} bytes, "
                f"{problem}); ignored (the daemon stopped while writing it)",
            )
            st.torn_tail_bytes += size - pos
            return
        if not resync:
            raise JournalCorrupt(name, pos, problem)
        nxt = _next_valid(view, pos + 1, size)
        _warn(
            warn,
            f"{name}: corrupt frame at byte offset {pos} ({problem}); skipped "
            f"{(nxt if nxt is not None else size) - pos} bytes"
            + (f" to the next valid frame at {nxt}" if nxt is not None else " to the end"),
        )
        st.skipped_bytes += (nxt if nxt is not None else size) - pos
        if nxt is None:
            return
        pos = nxt


def _check(view: memoryview, pos: int, size: int) -> str | None:
    """Why the frame at ``pos`` is not valid, or None when it is."""
    if size - pos < _HEAD:
        return "frame header cut short"
    n, crc = _unpack_head(view, pos)
    if n == 0 or n > MAX_FRAME:
        return f"impossible frame length {n}"
    if pos + _HEAD + n > size:
        return f"frame of {n} bytes runs past the end of the file"
    if zlib.crc32(view[pos + _HEAD : pos + _HEAD + n]) != crc:
        return "checksum mismatch"
    return None


def _is_tail(view: memoryview, pos: int, size: int, problem: str) -> bool:
    """True when a bad frame at ``pos`` is what a crash mid-write leaves behind."""
    if problem in ("frame header cut short",) or problem.endswith("past the end of the file"):
        return True
    if problem == "checksum mismatch":
        # The last frame, or the last one before zeros the file system allocated but the
        # crashed writer never filled.
        end = pos + _HEAD + _unpack_head(view, pos)[0]
        return _all_zero(view, end, size)
    return _all_zero(view, pos, size)


def _all_zero(view: memoryview, start: int, end: int) -> bool:
    return start >= end or view[start:end].tobytes().count(0) == end - start


def _next_valid(view: memoryview, start: int, size: int) -> int | None:
    for pos in range(start, size - _HEAD):
        if _check(view, pos, size) is None:
            return pos
    return None


def _warn(warn: Warn | None, text: str) -> None:
    if warn is not None:
        warn(text)


SEGMENT_SUFFIX = ".tdj"


def segment_name(day: str, number: int) -> str:
    """File name of segment ``number`` of trading day ``day``."""
    return f"journal-{day}-{number:04d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> tuple[str, int] | None:
    """``(day, number)`` of a segment file name, or None for any other file."""
    if not (name.startswith("journal-") and name.endswith(SEGMENT_SUFFIX)):
        return None
    core = name[len("journal-") : -len(SEGMENT_SUFFIX)]
    day, _, num = core.rpartition("-")
    if len(day) != 10 or not num.isdigit():
        return None
    return day, int(num)


def list_segments(directory: str | os.PathLike[str]) -> list[Path]:
    """Every segment in ``directory``, oldest first (by day, then number)."""
    d = Path(directory)
    found: list[tuple[str, int, Path]] = []
    for p in d.iterdir():
        key = parse_segment_name(p.name)
        if key is not None and p.is_file():
            found.append((key[0], key[1], p))
    found.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in found]


def read_journal(
    source: str | os.PathLike[str],
    *,
    warn: Warn | None = None,
    resync: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[Record]:
    """Every frame of a journal: one segment file, or every segment in a directory."""
    p = Path(source)
    paths = list_segments(p) if p.is_dir() else [p]
    if not paths:
        raise JournalError(f"{p}: no journal segments (journal-YYYY-MM-DD-NNNN.tdj) here")
    for path in paths:
        yield from read_segment(path, warn=warn, resync=resync, stats=stats)
