"""The input journal: what a session received, frame by frame, so it can be replayed.

* :mod:`daemon.journal._format` — frames (length, CRC-32, msgpack payload), the record
  kinds and the segment header;
* :mod:`daemon.journal._writer` — :class:`SegmentWriter`, append-only segment files;
* :mod:`daemon.journal._reader` — :func:`read_journal`, which checks every frame,
  ignores a torn tail with a warning and locates damage in the middle.

The journal actor (``actors/journal``) writes it; ``tradingd replay`` reads it.
docs/replay.md describes the format.
"""

from daemon.journal._format import FORMAT_VERSION as FORMAT_VERSION
from daemon.journal._format import MAGIC as MAGIC
from daemon.journal._format import MAX_FRAME as MAX_FRAME
from daemon.journal._format import JournalCorrupt as JournalCorrupt
from daemon.journal._format import JournalError as JournalError
from daemon.journal._format import JournalGap as JournalGap
from daemon.journal._format import JournalHeader as JournalHeader
from daemon.journal._format import Kind as Kind
from daemon.journal._format import Record as Record
from daemon.journal._format import append_frame as append_frame
from daemon.journal._format import decode_payload as decode_payload
from daemon.journal._reader import ReadStats as ReadStats
from daemon.journal._reader import list_segments as list_segments
from daemon.journal._reader import parse_segment_name as parse_segment_name
from daemon.journal._reader import read_journal as read_journal
from daemon.journal._reader import read_segment as read_segment
from daemon.journal._reader import segment_name as segment_name
from daemon.journal._writer import Chunk as Chunk
from daemon.journal._writer import SegmentWriter as SegmentWriter

__all__ = (
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_FRAME",
    "Chunk",
    "JournalCorrupt",
    "JournalError",
    "JournalGap",
    "JournalHeader",
    "Kind",
    "ReadStats",
    "Record",
    "SegmentWriter",
    "append_frame",
    "decode_payload",
    "list_segments",
    "parse_segment_name",
    "read_journal",
    "read_segment",
    "segment_name",
)
